"""Office beside Windows: a volume-licensed Office whose licence the same Software Protection service keeps.

Office 2013 and later on Windows 8 and later are licensed by Windows' own Software Protection Platform: their
licences are SoftwareLicensingProduct instances with Office's application ID (ref §2: `0ff1ce15-…`), managed with
ospp.vbs rather than slmgr.vbs. A volume Office is installed with its GVLK and activates against a KMS host that
has Office's own KMS host key (the Office volume licence pack); a KMS host with only a Windows host key cannot
activate it: 0xC004F042, "the client contacted a host that can't activate this product (mixed app/OS KMS hosts)"
(ref §1a 0xC004F042). An attempt is recorded as Windows records its own: event 12288 with the request's inner code
and Office's activation ID, and on failure event 8198 whose command line names Office's application ID
(`AppId=…;SkuId=…`, the shape of the Security-SPP 8198 sample in hayabusa-sample-evtx [obs]).
"""

from __future__ import annotations

from dataclasses import dataclass

from remediate.sandbox.windows import events
from remediate.sandbox.windows.licensing import LicensingError, kms_candidates
from remediate.sandbox.windows.network import DnsFailure, failed_tcp_connect, resolve, tcp_reachable
from remediate.sandbox.windows.state import (
    KMS_VALIDITY_MINUTES,
    LICENSED,
    NOTIFICATION,
    OOB_GRACE,
    HostState,
    World,
)

OFFICE_APPLICATION_ID = "0ff1ce15-a989-479d-af46-f275c6370663"  # ref §2: Office's ApplicationId (SPP)
# Office Professional Plus 2016 volume: its KMS client licence and GVLK. The SKU ID is the one ospp.vbs shows
# for Office16ProPlusVL_KMS_Client (SystemRage/py-kms KmsDataBase.xml [obs]); the GVLK is Microsoft's published
# key (learn.microsoft.com/office/volume-license-activation/gvlks), of which a licence shows the last five.
PRO_PLUS_2016 = {
    "id": "d450596f-894d-49e0-966a-fd39ed4c4c64",
    "name": "Office 16, Office16ProPlusVL_KMS_Client edition",
    "description": "Office 16, VOLUME_KMSCLIENT channel",
    "partial_product_key": "WFG99",
}
E_KMS_ID_MISMATCH = 0xC004F042
E_RPC_UNAVAILABLE = 0x800706BA
E_NO_KMS = 0xC004F074
E_VL_NOT_BOUND = 0xC004F056
OFFICE_REQUIRED_COUNT = 5  # ref §4 KMSPLAN: volume Office activates from a count of 5


@dataclass
class OfficeProduct:
    """One installed Office licence (a KMS client: its GVLK installed) and its state."""

    id: str = PRO_PLUS_2016["id"]
    name: str = PRO_PLUS_2016["name"]
    description: str = PRO_PLUS_2016["description"]
    partial_product_key: str = PRO_PLUS_2016["partial_product_key"]
    license_status: int = OOB_GRACE
    license_status_reason: int = 0x4004F00C  # [inf] as Windows' own out-of-box grace
    grace_minutes: int = 30 * 24 * 60


def command_line(product: OfficeProduct) -> str:
    """The 8198 command line of Office's automatic activation: the fields of the Security-SPP sample [obs], with
    Office's application and SKU IDs."""
    return (f"RuleId=31e71c49-8da7-4a2f-ad92-45d98a1c79ba;Action=AutoActivate;AppId={OFFICE_APPLICATION_ID};"
            f"SkuId={product.id};NotificationInterval=1440;Trigger=UserLogon;SessionId=1")


def activate(state: HostState, world: World, product: OfficeProduct) -> int:
    """One KMS activation attempt of an Office licence; returns its HRESULT (0: licensed). It finds KMS hosts as
    Windows' own client does (the registered host, else the `_vlmcs` SRV records; ref §4)."""
    try:
        candidates = kms_candidates(state, world)
    except LicensingError as failure:
        return _failed(state, world, product, failure.hresult)
    answer = E_NO_KMS
    for machine, port in candidates:
        server = f"{machine}:{port}"
        try:
            address = resolve(state, world, machine.strip("[]"), "A")[0]
        except DnsFailure as failure:
            _log_request(state, world, product, failure.hresult, server)
            continue
        if not tcp_reachable(state, world, address, port):
            failed_tcp_connect(state, world, address, port)  # waits for the attempt to fail, as Windows' own does
            _log_request(state, world, product, E_RPC_UNAVAILABLE, server)
            continue
        with world.lock:
            kms = world.kms_host_at(address)
            answer = 0 if kms is not None and kms.office else E_KMS_ID_MISMATCH
        _log_request(state, world, product, answer, server)
        break
    if answer != 0:
        return _failed(state, world, product, answer)
    product.license_status, product.license_status_reason = LICENSED, 0
    product.grace_minutes = KMS_VALIDITY_MINUTES
    return 0


def _log_request(state: HostState, world: World, product: OfficeProduct, hresult: int, server: str) -> None:
    """Event 12288 of an Office request: Office's activation ID, licence status and count policy."""
    events.log_kms_request(state, world, hresult, server, product.id, product.grace_minutes, product.license_status,
                           OFFICE_REQUIRED_COUNT)


def _failed(state: HostState, world: World, product: OfficeProduct, hresult: int) -> int:
    events.log_activation_failure(state, world, hresult, command_line(product))
    if product.grace_minutes <= 0:
        product.license_status, product.license_status_reason = NOTIFICATION, E_VL_NOT_BOUND
    return hresult
