"""The activation rules: what the Software Licensing Service does for each method, per the reference.

Every function here runs with the host's lock held by its caller; counts shared by the fleet (KMS host counts,
MAK and KMS host key activations) are changed under the world's lock.
"""

from __future__ import annotations

import re
from datetime import timedelta

from remediate.sandbox.windows import events, kms_service, phone_activation
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.network import DnsFailure, failed_tcp_connect, resolve, tcp_reachable
from remediate.sandbox.windows.state import (
    DEFAULT_ACTIVATION_INTERVAL,
    DEFAULT_RENEWAL_INTERVAL,
    EVAL,
    GVLK,
    KMS_HOST,
    KMS_PORT,
    KMS_VALIDITY_MINUTES,
    LICENSED,
    MAK,
    NOTIFICATION,
    OOB_GRACE,
    OOB_GRACE_MINUTES,
    UNLICENSED,
    Discovered,
    HostState,
    KmsHost,
    World,
    activation_id,
)

# HRESULTs the model produces (ref §1a, §1b).
S_OK = 0
OOB_GRACE_REASON = 0x4004F00C  # [inf] informational: in out-of-box grace
E_INVALIDARG = 0x80070057
E_ACCESS_DENIED = 0x80070005
E_RPC_UNAVAILABLE = 0x800706BA
E_DNS_NAME_ERROR = 0x8007232B
E_INTERNET_TIMEOUT = 0x80072EE2
E_INVALID_KEY_ONLINE = 0xC004C001
E_KEY_BLOCKED_ONLINE = 0xC004C003
E_KMS_KEY_LIMIT = 0xC004C008
E_MAK_LIMIT = 0xC004C020
E_REARMED = 0xC004D302  # "The security processor reported that the trusted data store was rearmed."
E_REARM_LIMIT = 0xC004D307
E_PKEY_INVALID_CONFIG = 0xC004E016
E_GRACE_EXPIRED = 0xC004F009
E_PKEY_NOT_INSTALLED = 0xC004F014
E_EUL_NOT_AVAILABLE = 0xC004F034
E_KMS_COUNT = 0xC004F038
E_KMS_NOT_ENABLED = 0xC004F039
E_KMS_NOT_ACTIVATED = 0xC004F041
E_KMS_ID_MISMATCH = 0xC004F042
E_INVALID_PRODUCT_KEY = 0xC004F050
E_BLOCKED_PRODUCT_KEY = 0xC004F051
E_VL_NOT_BOUND = 0xC004F056
E_MISMATCHED_SKU = 0xC004F069
E_INVALID_TIMESTAMP = 0xC004F06C
E_NO_KMS = 0xC004F074
E_NO_PRODUCT_KEY_FOUND = 0xC004F213

MAX_SKEW = timedelta(hours=4)  # ref §4 / F074: more than 4 hours of UTC skew -> 0xC004F06C
KMS_THRESHOLD = {"client": 25, "server": 5}  # ref §4 KMSPLAN: client OS >= 25, server >= 5
KMS_COUNT_KEEP = 50  # ref §4: the host keeps the 50 most recent CMIDs

_KEY_FORMAT = re.compile(r"^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$")


class LicensingError(Exception):
    """A failure of the licensing service, carrying its HRESULT (unsigned 32-bit)."""

    def __init__(self, hresult: int) -> None:
        super().__init__(f"0x{hresult:08X}")
        self.hresult = hresult

    @property
    def signed(self) -> int:
        return to_signed(self.hresult)


def to_signed(code: int) -> int:
    code &= 0xFFFFFFFF
    return code - (1 << 32) if code & 0x80000000 else code


def windows_activation_id(state: HostState) -> str:
    return activation_id(state.edition.edition_id, state.channel or GVLK)


# --- product keys -------------------------------------------------------------------------------------------


def install_product_key(state: HostState, world: World, key: str) -> None:
    """SoftwareLicensingService.InstallProductKey (ref §2 /ipk, §3)."""
    typed = key.strip().upper()
    if not _KEY_FORMAT.match(typed):
        raise LicensingError(E_INVALID_PRODUCT_KEY)  # ref §1a 0xC004F050: typo / wrong characters
    if state.edition.evaluation:
        raise LicensingError(E_MISMATCHED_SKU)  # ref §1b 0xC004F069: /ipk on an evaluation edition
    with world.lock:
        record = world.key_record(typed)
    if record is None:
        raise LicensingError(E_INVALID_PRODUCT_KEY)  # ref §1a 0xC004F050: not a valid key
    if record.blocked_at == "install":
        raise LicensingError(E_BLOCKED_PRODUCT_KEY)  # ref §1a 0xC004F051
    if state.edition.edition_id.lower() not in {e.lower() for e in record.editions}:
        raise LicensingError(E_PKEY_INVALID_CONFIG)  # ref §1b 0xC004E016: a key for a different edition
    state.key = key.strip()
    state.channel = record.channel
    state.key_installed_at = state.utc_now(world)
    state.discovered = None
    state.kms_epid = None
    state.hardware_changed = False
    _enter_unactivated(state, default_key=record.default_key)


def _enter_unactivated(state: HostState, default_key: bool = False) -> None:
    """The state of a freshly installed key: what is left of the out-of-box grace, else notification."""
    if default_key:
        # ref §1b 0xC004F034: "Notification Reason: 0xC004F034" on a Retail install with the generic default
        # key
        state.license_status, state.license_status_reason, state.grace_minutes = (
            NOTIFICATION,
            E_EUL_NOT_AVAILABLE,
            0,
        )
    elif state.oob_grace_minutes > 0:
        state.license_status, state.license_status_reason = OOB_GRACE, OOB_GRACE_REASON
        state.grace_minutes = state.oob_grace_minutes
    else:
        # ref §1b 0xC004F056: the normal notification reason of an unactivated GVLK client; others: §2a grace
        # expired
        reason = E_VL_NOT_BOUND if state.channel == GVLK else E_GRACE_EXPIRED
        state.license_status, state.license_status_reason, state.grace_minutes = NOTIFICATION, reason, 0


def uninstall_product_key(state: HostState) -> None:
    """SoftwareLicensingProduct.UninstallProductKey (ref §2 /upk)."""
    if state.key is None:
        raise LicensingError(E_PKEY_NOT_INSTALLED)
    state.key = None
    state.channel = None
    state.discovered = None
    # ref §3: LicenseStatusReason 0xC004F014 (product key not installed) seen on an unlicensed product
    state.license_status, state.license_status_reason, state.grace_minutes = (
        UNLICENSED,
        E_PKEY_NOT_INSTALLED,
        0,
    )


def clear_product_key_from_registry(state: HostState) -> None:
    """SoftwareLicensingService.ClearProductKeyFromRegistry (ref §2 /cpky): licence state is unchanged."""


def rearm(state: HostState) -> None:
    """SoftwareLicensingService.ReArmWindows (ref §2 /rearm): it takes effect at the next restart ("Please restart
    the system for the changes to take effect."). A second rearm before that restart fails with 0xC004D302, "the
    trusted data store was rearmed" [obs: slmgr /rearm on a rearmed, not yet restarted Windows 10,
    clong/DetectionLab#902]; with no rearms left, 0xC004D307 (ref §1b)."""
    if state.rearm_pending:
        raise LicensingError(E_REARMED)
    if state.rearm_count <= 0:
        raise LicensingError(E_REARM_LIMIT)
    state.rearm_count -= 1
    state.rearm_pending = True


def rearm_sku(state: HostState) -> None:
    """SoftwareLicensingProduct.ReArmsku (ref §2 /rearm-sku): the SKU's own counter (RemainingSkuReArmCount);
    [inf] the same pending rule as ReArmWindows."""
    if state.rearm_pending:
        raise LicensingError(E_REARMED)
    if state.sku_rearm_count <= 0:
        raise LicensingError(E_REARM_LIMIT)
    state.sku_rearm_count -= 1
    state.rearm_pending = True


def restart(state: HostState, world: World) -> None:
    """The host restarts: what waited for it takes effect. A rearm starts a new out-of-box grace period (ref §2
    /rearm); an edition conversion staged by DISM /Set-Edition completes with its key installed (ref §4 CONVERT:
    "Restart Windows to complete this operation."). The DNS client cache lives in memory and starts empty."""
    if state.pending_edition is not None:
        target, key = state.pending_edition
        state.pending_edition = None
        state.edition = edition(target)
        state.oob_grace_minutes = OOB_GRACE_MINUTES  # [inf] a converted edition starts a new grace period
        install_product_key(state, world, key)
    if state.rearm_pending:
        state.rearm_pending = False
        state.oob_grace_minutes = OOB_GRACE_MINUTES
        if state.license_status != LICENSED:
            _enter_unactivated(state)
    state.dns_cache.clear()


# --- KMS client settings (ref §2 /skms /ckms /skms-domain /ckms-domain /act-type, §3 methods) ---------------


def set_kms_machine(state: HostState, name: str) -> None:
    if not name.strip():
        raise LicensingError(E_INVALIDARG)
    state.kms_machine = name.strip()


def set_kms_port(state: HostState, port: int) -> None:
    if not 1 <= int(port) <= 65535:
        raise LicensingError(E_INVALIDARG)
    state.kms_port = int(port)


def clear_kms_machine(state: HostState) -> None:
    state.kms_machine = None


def clear_kms_port(state: HostState) -> None:
    state.kms_port = None


def set_lookup_domain(state: HostState, domain: str) -> None:
    if not domain.strip():
        raise LicensingError(E_INVALIDARG)
    state.lookup_domain = domain.strip()


def clear_lookup_domain(state: HostState) -> None:
    state.lookup_domain = None


def set_activation_type(state: HostState, kind: int) -> None:
    if int(kind) not in (0, 1, 2, 3):
        raise LicensingError(E_INVALIDARG)
    state.activation_type = int(kind)


# --- KMS host settings (ref §2 /sai /sri /sprt /sdns /cdns /spri /cpri, §3 methods) ----------------------

INTERVAL_RANGE = (15, 30 * 24 * 60)  # ref §2: /sai and /sri accept 15 minutes ... 30 days


def set_vl_interval(state: HostState, renewal: bool, minutes: int) -> None:
    """SetVLActivationInterval / SetVLRenewalInterval ([inf] out of range is an invalid argument)."""
    if not INTERVAL_RANGE[0] <= int(minutes) <= INTERVAL_RANGE[1]:
        raise LicensingError(E_INVALIDARG)
    if renewal:
        state.kms_renewal_interval = int(minutes)
    else:
        state.kms_activation_interval = int(minutes)


def set_listening_port(state: HostState, port: int) -> None:
    """SetKeyManagementServiceListeningPort."""
    if not 1 <= int(port) <= 65535:
        raise LicensingError(E_INVALIDARG)
    state.kms_listening_port = int(port)


# --- activation ---------------------------------------------------------------------------------------------


def activate(state: HostState, world: World) -> None:
    """SoftwareLicensingProduct.Activate (ref §2 /ato, §3). Raises LicensingError with the documented HRESULT.

    A failure leaves the licence state as it was — a licensed host stays licensed until its validity ends, an
    unactivated one keeps its state's own LicenseStatusReason (0xC004F056, 0x4004F00C, …; ref §1b 0xC004F056) —
    and is recorded in the Application log as event 8198 with its hr, which is where Windows shows it.
    """
    try:
        _activate(state, world)
    except LicensingError as failure:
        events.log_activation_failure(state, world, failure.hresult)
        raise


def _activate(state: HostState, world: World) -> None:
    if state.dcom_self_denied:
        # The 0x80070005 article: slmgr /ato fails with "Access denied" and the rules engine logs event 8229
        events.log_rules_engine_failure(state, world, E_ACCESS_DENIED)
        raise LicensingError(E_ACCESS_DENIED)
    if state.key is None:
        if state.hardware_changed:
            raise LicensingError(E_NO_PRODUCT_KEY_FOUND)  # ref §1b 0xC004F213: digital licence lost
        raise LicensingError(E_PKEY_NOT_INSTALLED)  # ref §1a 0xC004F014: no product key installed
    with world.lock:
        record = world.key_record(state.key)
    if record is not None and record.default_key:
        raise LicensingError(
            E_EUL_NOT_AVAILABLE
        )  # ref §1b 0xC004F034: the generic default key never activates
    if state.channel == EVAL:
        if state.grace_minutes <= 0:
            raise LicensingError(E_GRACE_EXPIRED)  # ref §1a 0xC004F009: the evaluation period is over
        state.license_status, state.license_status_reason = LICENSED, S_OK
        return
    if state.channel == GVLK:
        _activate_with_kms(state, world)
    else:
        _activate_online(state, world)


def _activate_online(state: HostState, world: World) -> None:
    """MAK, retail, OEM and KMS host keys activate against Microsoft's online service."""
    assert state.key is not None
    if not state.internet or not world.activation.reachable:
        raise LicensingError(E_INTERNET_TIMEOUT)  # ref §1b 0x80072EE2: online activation timed out
    with world.lock:
        record = world.activation.keys.get(state.key.strip().upper())
        if record is None:
            raise LicensingError(E_INVALID_KEY_ONLINE)  # ref §1a 0xC004C001: server says key invalid
        if record.blocked_at == "activation":
            raise LicensingError(E_KEY_BLOCKED_ONLINE)  # ref §1a 0xC004C003: key blocked on the server
        if record.remaining is not None:
            if record.remaining <= 0:
                if state.channel == KMS_HOST:
                    raise LicensingError(E_KMS_KEY_LIMIT)  # ref §1a 0xC004C008: KMS host key beyond its limit
                raise LicensingError(E_MAK_LIMIT)  # ref §1a 0xC004C020: MAK activations used up
            record.remaining -= 1
    state.license_status, state.license_status_reason, state.grace_minutes = LICENSED, S_OK, 0


def kms_candidates(state: HostState, world: World) -> list[tuple[str, int]]:
    """Which KMS hosts the client tries, in order (ref §4 discovery; ref §2 /skms, /skms-domain)."""
    if state.kms_machine:
        # ref §2: /skms disables auto-discovery (and overrides /skms-domain); port 0/unset means 1688
        return [(state.kms_machine, state.kms_port or KMS_PORT)]
    candidates: list[tuple[str, int]] = []
    if state.host_caching and state.discovered is not None:
        candidates.append((state.discovered.name, state.discovered.port))  # ref §4: caches the working host
    domain = state.lookup_domain or state.domain  # ref §2 /skms-domain: forces lookup in one DNS domain
    try:
        records = resolve(state, world, f"_vlmcs._tcp.{domain}", "SRV")
    except DnsFailure as failure:
        if candidates:
            return candidates
        # ref §1a 0x8007232B: the client can't find the KMS SRV records (9003 -> 0x8007232B; 9002 ->
        # 0x8007232A)
        raise LicensingError(failure.hresult) from None
    shuffled = list(records)
    state.rng.shuffle(shuffled)  # ref §4: the list comes in random order; priority/weight are not used
    for record in shuffled:
        if (record.target, record.port) not in candidates:
            candidates.append((record.target, record.port))
    return candidates


def _split_machine(machine: str) -> str:
    return machine.strip().strip("[]")


def _kms_response(state: HostState, world: World, kms: KmsHost) -> int:
    """What a reachable KMS host answers to this client's request; the host counts every request it answers."""
    if not kms.kms_enabled:
        return E_KMS_NOT_ENABLED  # ref §1a 0xC004F039: KMS did not respond / not enabled
    answer = _kms_answer(state, world, kms)
    kms_service.record_request(kms, state, world, answer, windows_activation_id(state))
    return answer


def _kms_answer(state: HostState, world: World, kms: KmsHost) -> int:
    kms_now = world.utc_now() + timedelta(seconds=kms.clock_offset_s)
    if abs(state.utc_now(world) - kms_now) > MAX_SKEW:
        return E_INVALID_TIMESTAMP  # ref §1a 0xC004F06C, §4: > 4 h UTC skew
    if not kms.activated:
        return E_KMS_NOT_ACTIVATED  # ref §1a 0xC004F041
    if not kms_service.activates(kms, state.edition):
        # ref §1a 0xC004F042: a host that can't activate this product (ref §4: a client-OS KMS host activates
        # only client OSes; KMSPLAN: a CSVLK group activates editions up to its own generation)
        return E_KMS_ID_MISMATCH
    family = state.edition.family
    if state.cmid not in kms.clients:
        kms.clients.add(state.cmid)
        kms.count = min(
            kms.count + 1, KMS_COUNT_KEEP
        )  # ref §4: counts unique CMIDs, keeps the 50 most recent
    if kms.count < KMS_THRESHOLD[family]:
        return E_KMS_COUNT  # ref §1a 0xC004F038: count below 25 (client) / 5 (server)
    return S_OK


def _activate_with_kms(state: HostState, world: World) -> None:
    """KMS client activation. Hosts that cannot be reached are skipped and logged (event 12288); the first
    host
    that answers decides, its error code returned as such; when none answers the result is 0xC004F074 and the
    reason of each attempt is in event 12288 (ref §1a 0xC004F074, §3 "Event log") [inf: the order of
    tries]."""
    act_id = windows_activation_id(state)
    last_inner = E_RPC_UNAVAILABLE
    for machine, port in kms_candidates(state, world):
        server = f"{machine}:{port}"
        try:
            address = resolve(state, world, _split_machine(machine), "A")[0]
        except DnsFailure as failure:
            last_inner = failure.hresult  # [inf] an unresolvable KMS name shows as 0x8007232B inside 12288
            events.log_kms_request(state, world, last_inner, server, act_id, state.grace_minutes)
            continue
        if not tcp_reachable(state, world, address, port):
            failed_tcp_connect(state, world, address, port)  # slmgr waits for the attempt to fail
            last_inner = E_RPC_UNAVAILABLE  # ref §1a 0x800706BA: firewall / stale SRV record
            events.log_kms_request(state, world, last_inner, server, act_id, state.grace_minutes)
            continue
        with world.lock:
            kms = world.kms_host_at(address)
            assert kms is not None
            answer = _kms_response(state, world, kms)
            epid, count = kms.epid, kms.count
        events.log_kms_request(state, world, answer, server, act_id, state.grace_minutes)
        if answer in (S_OK, E_KMS_COUNT):  # the responses whose event 12289 Microsoft documents
            events.log_kms_response(state, world, answer == S_OK, count, DEFAULT_ACTIVATION_INTERVAL,
                                    DEFAULT_RENEWAL_INTERVAL)
        if answer != S_OK:
            raise LicensingError(answer)
        state.license_status, state.license_status_reason = LICENSED, S_OK
        state.grace_minutes = KMS_VALIDITY_MINUTES  # ref §4: valid 180 days
        state.kms_epid = epid
        state.discovered = Discovered(machine, port, address)
        return
    raise LicensingError(E_NO_KMS)  # ref §1a 0xC004F074: no KMS could be contacted


E_INVALID_PRODUCT_KEY_TYPE = 0xC004F07D


def deposit_confirmation_id(state: HostState, world: World, installation_id: str, confirmation_id: str) -> None:
    """DepositOfflineConfirmationId (ref §2 /atp): phone activation. The confirmation ID must be the one the
    sandbox's activation centre gives for the licence's installation ID (phone_activation.py publishes the rule);
    a MAK, retail, OEM or KMS host key is then Licensed, whatever its online count says (the activation centre
    decided when it gave the confirmation ID)."""
    if state.key is None:
        raise LicensingError(E_PKEY_NOT_INSTALLED)
    if state.channel in (GVLK, EVAL):
        # [inf] SL_E_INVALID_PRODUCT_KEY_TYPE (SLERR-H): a KMS client or evaluation licence has no phone route
        raise LicensingError(E_INVALID_PRODUCT_KEY_TYPE)
    refused = phone_activation.check_deposit(
        installation_id, phone_activation.installation_id(state.computer_name, state.key), confirmation_id
    )
    if refused:
        raise LicensingError(refused)
    state.license_status, state.license_status_reason, state.grace_minutes = LICENSED, S_OK, 0


def refresh(state: HostState) -> None:
    """RefreshLicenseStatus (ref §3): the model's state is always current; there is nothing to recompute."""


def is_kms_client(state: HostState) -> bool:
    return state.channel == GVLK


def is_mak(state: HostState) -> bool:
    return state.channel == MAK
