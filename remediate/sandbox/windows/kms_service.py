"""A world's KMS host as a machine of its own: the HostState a scenario serves over WinRM for it (`serve`: its
KMS host key installed and, as the world says, activated), what it answers a client (`activates`), and the
cumulative request counters it keeps (`record_request`), which slmgr /dlv and SoftwareLicensingService show.
"""

from __future__ import annotations

import random

from remediate.csvlk_groups import groups
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


def record_request(kms: KmsHost, client_status: int, answer: int) -> None:
    """Count one client request, as the host's cumulative counters do. Called with the world's lock held."""
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


def serve(kms: KmsHost, world: World, domain: str, publishing: bool, seed: str) -> HostState:
    """The machine behind `kms`: its KMS host key installed (a made-up CSVLK the world knows), Licensed when the
    world says the host is activated (else still in its grace period: clients get 0xC004F041), listening on its
    port, DNS publishing as the scenario publishes its SRV record."""
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
    return state
