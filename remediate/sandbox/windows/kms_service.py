"""A world's KMS host as a machine of its own: the HostState a scenario serves over WinRM for it (`serve`: its
KMS host key installed and, as the world says, activated), what it answers a client (`activates`), and the
cumulative request counters it keeps (`record_request`), which slmgr /dlv and SoftwareLicensingService show.
"""

from __future__ import annotations

import random
from datetime import timedelta

from remediate.csvlk_groups import groups
from remediate.sandbox.windows import events
from remediate.sandbox.windows.editions import Edition, edition
from remediate.sandbox.windows.state import KMS_HOST, KMS_PORT, LICENSED, HostState, KeyRecord, KmsHost, World

# The OS the served machine of each CSVLK group runs: one the group "can be hosted on" (KMSPLAN). The build is
# what SoftwareLicensingService.Version and Win32_OperatingSystem show.
HOST_EDITIONS: dict[str | None, Edition] = {
    None: edition("ServerStandard"),
    "ws2025": Edition("ServerStandard", 7, "Microsoft Windows Server 2025 Standard", 26100, server=True),
    "ws2022": edition("ServerStandard"),
    "ws2019": Edition("ServerStandard", 7, "Microsoft Windows Server 2019 Standard", 17763, server=True),
    "ws2016": Edition("ServerStandard", 7, "Microsoft Windows Server 2016 Standard", 14393, server=True),
    "w10": Edition("Enterprise", 4, "Microsoft Windows 10 Enterprise", 19045, server=False),
}

# SoftwareLicensingService's counter for a request, by the client's LicenseStatus when it asked (ref §2a: the
# counters slmgr /dlv prints; [inf] extended grace counts in no status counter).
_STATUS_COUNTER = {
    0: "KeyManagementServiceUnlicensedRequests",
    1: "KeyManagementServiceLicensedRequests",
    2: "KeyManagementServiceOOBGraceRequests",
    3: "KeyManagementServiceOOTGraceRequests",
    4: "KeyManagementServiceNonGenuineGraceRequests",
    5: "KeyManagementServiceNotificationRequests",
}


def computer_name(kms: KmsHost) -> str:
    """The KMS host's computer name: the first label of its DNS name (kms01.corp.example -> KMS01)."""
    return kms.name.split(".")[0].upper()[:15]


def activates(kms: KmsHost, client: Edition) -> bool:
    """Whether this KMS host activates the client's edition: its families (ref §4: a client-OS KMS host activates
    only client OSes) and, when its CSVLK group is known, the builds the group activates (KMSPLAN)."""
    if client.family not in kms.families:
        return False
    if kms.csvlk is None:
        return True
    return groups()[kms.csvlk].can_activate(client.server, client.build)


E_CSVLK_TOO_OLD = 0xC004F015
E_KMS_ID_MISMATCH = 0xC004F042


def logged_code(kms: KmsHost, client: Edition, answer: int) -> int:
    """What the KMS host records in event 12290 for an answer: 0xC004F015 where its family would serve the client
    but its CSVLK is too old for the client's version (the client is told 0xC004F042; learn.microsoft.com/
    troubleshoot/windows-server/licensing-and-activation/error-0xc004f015-activate-windows-10: "Event ID 12290:
    0xC004F015 ... 0xc004f042 SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH"), else the answer itself."""
    if answer == E_KMS_ID_MISMATCH and client.family in kms.families:
        return E_CSVLK_TOO_OLD
    return answer


def record_request(kms: KmsHost, client: HostState, world: World, answer: int, act_id: str) -> None:
    """Count one client request, as the host's cumulative counters do, and log it (event 12290). Called with the
    world's lock held."""
    if kms.served:
        host_now = world.utc_now() + timedelta(seconds=kms.clock_offset_s)
        events.log_kms_host_request(kms.events, host_now, client, world, logged_code(kms, client.edition, answer),
                                    act_id)
    client_status = client.license_status
    counters = kms.requests
    counters["KeyManagementServiceTotalRequests"] = counters.get("KeyManagementServiceTotalRequests", 0) + 1
    if answer != 0:
        counters["KeyManagementServiceFailedRequests"] = counters.get("KeyManagementServiceFailedRequests", 0) + 1
    name = _STATUS_COUNTER.get(client_status)
    if name is not None:
        counters[name] = counters.get(name, 0) + 1


def description_token(kms: KmsHost | None) -> str | None:
    """The channel token of the served host's licence Description: its CSVLK group's (None: the plain
    VOLUME_KMS of the model without versions)."""
    if kms is None or kms.csvlk is None:
        return None
    return groups()[kms.csvlk].token


E_DNS_BADSIG = 0x80072338  # DNS_ERROR_RCODE_BADSIG: the _VLMCS record is another host's (event 12293)


def serve(kms: KmsHost, world: World, domain: str, publishing: bool, seed: str, dns_denied: bool = False) -> HostState:
    """The machine behind `kms`: its KMS host key installed (a made-up CSVLK the world knows), Licensed when the
    world says the host is activated (else still in its grace period: clients get 0xC004F041), listening on its
    port, DNS publishing as the scenario publishes its SRV record: event 12294 when it published, 12293 with
    0x80072338 when the _VLMCS record belongs to another KMS host and this one may not update it (learn.microsoft.
    com/troubleshoot/windows-server/licensing-and-activation/event-12293-error-0x800723-set-kms-host)."""
    from remediate.sandbox.windows import licensing
    from remediate.sandbox.windows.fault_recipes import fake_key

    host_edition = HOST_EDITIONS[kms.csvlk]
    state = HostState(computer_name(kms), edition=host_edition, domain=domain, ip_address=kms.address)
    key = fake_key(random.Random(f"{seed}:{kms.name}:csvlk"))
    world.add_key(KeyRecord(key, KMS_HOST, (host_edition.edition_id,)))
    licensing.install_product_key(state, world, key)
    if kms.activated:
        state.license_status, state.license_status_reason, state.grace_minutes = LICENSED, 0, 0
    state.kms_listening_port = 0 if kms.port == KMS_PORT else kms.port  # 0: the default port, as /sprt leaves it
    state.kms_dns_publishing = publishing
    state.kms_low_priority = kms.low_priority
    state.clock_offset_s = kms.clock_offset_s
    state.kms_service = kms
    state.events = kms.events  # one machine, one set of logs: what it answers clients is logged here
    kms.served = True
    if publishing:
        events.log_dns_publishing(state, world, domain, E_DNS_BADSIG if dns_denied else 0)
    return state
