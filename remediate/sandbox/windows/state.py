"""The emulated state: one HostState per Windows host, one World shared by a fleet (DNS, KMS, activation)."""

from __future__ import annotations

import functools
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from remediate.sandbox.windows.durations import Durations
from remediate.sandbox.windows.editions import GVLKS, Edition, edition

# Key channels. The token each one shows in SoftwareLicensingProduct.Description and the ProductKeyChannel
# value
# (ref §2a: "Channel tokens in Description" and "Product Key Channel values seen").
GVLK = "GVLK"
MAK = "MAK"
RETAIL = "RETAIL"
OEM = "OEM"
KMS_HOST = "KMS_HOST"
EVAL = "EVAL"
CHANNELS = (GVLK, MAK, RETAIL, OEM, KMS_HOST, EVAL)

DESCRIPTION_TOKEN = {
    GVLK: "VOLUME_KMSCLIENT",
    MAK: "VOLUME_MAK",
    RETAIL: "RETAIL",
    OEM: "OEM_DM",
    KMS_HOST: "VOLUME_KMS",
    EVAL: "TIMEBASED_EVAL",
}
PRODUCT_KEY_CHANNEL = {
    GVLK: "Volume:GVLK",
    MAK: "Volume:MAK",
    RETAIL: "Retail",
    OEM: "OEM:DM",
    KMS_HOST: "Volume:CSVLK",
    EVAL: "Retail:TB:Eval",
}

# LicenseStatus values (ref §3).
UNLICENSED, LICENSED, OOB_GRACE, OOT_GRACE, NON_GENUINE_GRACE, NOTIFICATION, EXTENDED_GRACE = range(7)

KMS_VALIDITY_MINUTES = 180 * 24 * 60  # ref §4: KMS activation is valid 180 days
OOB_GRACE_MINUTES = 30 * 24 * 60  # ref §4: 30-day out-of-box grace
DEFAULT_ACTIVATION_INTERVAL = 120  # ref §2: default activation interval (minutes)
DEFAULT_RENEWAL_INTERVAL = 10080  # ref §2: default renewal interval, 7 days
KMS_PORT = 1688  # ref §4: SRV port 1688


def key_tail(key: str) -> str:
    """The last five characters: all that a product key may show outside Windows' own /ipk echo."""
    return key.strip().upper()[-5:]


@dataclass
class KeyRecord:
    """What the world knows about one product key: the only source of a key's validity."""

    key: str
    channel: str  # one of CHANNELS
    editions: tuple[str, ...]  # EditionIDs the key installs on
    remaining: int | None = (
        None  # MAK activations left, or KMS host key (CSVLK) activations left; None = unlimited
    )
    blocked_at: str | None = None  # "install" (ref §1a 0xC004F051) or "activation" (ref §1a 0xC004C003)
    default_key: bool = False  # a generic default key that never activates (ref §1b 0xC004F034)

    def __repr__(self) -> str:  # never show a key in full
        return f"KeyRecord(key=*****-{key_tail(self.key)}, channel={self.channel}, editions={self.editions})"


@dataclass
class SrvRecord:
    target: str
    port: int = KMS_PORT
    priority: int = 0
    weight: int = 0
    ttl: int = 3600


@dataclass
class DnsZone:
    """The DNS data every host's resolver reaches: names are absolute and stored lower-case."""

    srv: dict[str, list[SrvRecord]] = field(default_factory=dict)
    a: dict[str, list[str]] = field(default_factory=dict)

    def add_a(self, name: str, address: str) -> None:
        self.a.setdefault(name.lower().rstrip("."), []).append(address)

    def add_srv(self, name: str, record: SrvRecord) -> None:
        self.srv.setdefault(name.lower().rstrip("."), []).append(record)


@dataclass
class KmsHost:
    """A KMS host of the world, reached over TCP (ref §4: clients need RPC over TCP to the host)."""

    name: str  # FQDN
    address: str
    port: int = KMS_PORT
    reachable: bool = True  # False: the TCP connection fails (firewall, host down; ref §1a 0x800706BA)
    # Whether it answers ping: a firewall that blocks TCP 1688 may let ICMP through (F074's Test-NetConnection
    # example: PingSucceeded True, TcpTestSucceeded False)
    pingable: bool = True
    kms_enabled: bool = True  # False: the port answers but the service does not (ref §1a 0xC004F039)
    activated: bool = True  # ref §1a 0xC004F041
    families: tuple[str, ...] = ("client", "server")  # products it can activate (ref §1a 0xC004F042, §4)
    count: int = 50  # current count (ref §4: unique CMIDs of the past 30 days, the 50 most recent)
    clock_offset_s: float = 0.0
    clients: set[str] = field(default_factory=set)
    # The CSVLK group of its host key (remediate/data/csvlk_groups.yaml, KMSPLAN): which clients it activates.
    # None: every client of its families (the model without versions).
    csvlk: str | None = None
    low_priority: bool = False
    # The cumulative requests received from clients (ref §2a: the 8 counters of slmgr /dlv), by the
    # SoftwareLicensingService property that carries each (cim.KMS_REQUEST_COUNTERS).
    requests: dict[str, int] = field(default_factory=dict)
    # The host's Extended PID as clients record it (KeyManagementServiceProductKeyID): Windows' shape (see
    # cim.extended_pid); group 206 and key ids from 551000000 are Server 2022's KMS host keys (CSVLK) in
    # SystemRage/py-kms KmsDataBase.xml; the platform and serial are [inf].
    epid: str = "06401-00206-551-000000-03-1033-20348.0000-0012026"
    # Office's KMS host key (the Office volume licence pack) is installed too: it activates volume Office
    # (office.py); without it an Office client gets 0xC004F042 (ref §1a: mixed app/OS KMS hosts)
    office: bool = False
    # Its own event logs (kms_service.serve shares this list with the served machine): event 12290 for each request
    # it answers (the Key Management Service log) and its DNS publishing events 12293 / 12294 (Application log)
    events: list[Event] = field(default_factory=list, repr=False)
    served: bool = False  # a machine of the fleet (kms_service.serve): only then are its logs kept, to be read


@dataclass
class ActivationService:
    """Microsoft's online activation service as this world sees it (MAK, retail, KMS host keys)."""

    reachable: bool = True  # False: requests time out (ref §1b 0x80072EE2)
    keys: dict[str, KeyRecord] = field(default_factory=dict)

    def __repr__(self) -> str:  # the dictionary is keyed by full product keys: never show them
        return f"ActivationService(reachable={self.reachable}, keys={list(self.keys.values())})"


@dataclass
class World:
    """What a fleet shares. Its lock guards counts that several hosts change at once."""

    dns: DnsZone = field(default_factory=DnsZone)
    kms_hosts: list[KmsHost] = field(default_factory=list)
    activation: ActivationService = field(default_factory=ActivationService)
    elapsed_s: float = 0.0  # time commands spent while true UTC is frozen (durations.spend)
    frozen_at: datetime | None = None  # true UTC stands still at this instant (reproducible output)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def add_key(self, record: KeyRecord) -> None:
        self.activation.keys[normalize_key(record.key)] = record

    def key_record(self, key: str) -> KeyRecord | None:
        normal = normalize_key(key)
        if normal in self.activation.keys:
            return self.activation.keys[normal]
        if normal in GVLKS:  # ref §4 GVLK: published KMS client setup keys are valid for their edition
            return KeyRecord(normal, GVLK, (GVLKS[normal],))
        return None

    def kms_host_at(self, address: str) -> KmsHost | None:
        for host in self.kms_hosts:
            if host.address == address:
                return host
        return None

    def add_kms_host(self, host: KmsHost, publish_srv_in: str | None = None) -> None:
        """Add a KMS host with its A record; publish its _vlmcs SRV record in a domain (ref §4: hosts
        publish)."""
        self.kms_hosts.append(host)
        self.dns.add_a(host.name, host.address)
        if publish_srv_in:
            self.dns.add_srv(f"_vlmcs._tcp.{publish_srv_in}", SrvRecord(host.name, host.port))

    def utc_now(self) -> datetime:
        base = self.frozen_at if self.frozen_at is not None else datetime.now(timezone.utc)
        return base + timedelta(seconds=self.elapsed_s)


def normalize_key(key: str) -> str:
    return key.strip().upper()


@dataclass
class Event:
    """One record of a Windows event log."""

    id: int
    provider: str
    log: str
    time: datetime
    message: str
    properties: list[Any]
    level: int = 4  # 2 error, 3 warning, 4 information


@dataclass
class Discovered:
    name: str
    port: int
    address: str


@dataclass
class HostState:
    """Everything one emulated Windows host knows about itself."""

    computer_name: str
    edition: Edition = field(default_factory=lambda: edition("ServerStandard"))
    domain: str = (
        "corp.example"  # primary DNS suffix / AD domain: where KMS SRV records are looked up (ref §4)
    )
    domain_role: int = (
        3  # Win32_ComputerSystem.DomainRole: 0/1 workstation, 2/3 server, 4/5 domain controller
    )
    ui_language: str = "en-US"  # en-US or ja-JP
    ip_address: str = "10.0.0.10"
    key: str | None = None  # the installed product key, as typed at /ipk
    channel: str | None = None
    license_status: int = OOB_GRACE
    license_status_reason: int = 0x4004F00C  # [inf] the OOB grace informational code
    grace_minutes: int = OOB_GRACE_MINUTES  # GracePeriodRemaining
    oob_grace_minutes: int = OOB_GRACE_MINUTES  # what is left of the out-of-box grace; it never refills
    kms_machine: str | None = None  # /skms (ref §2)
    kms_port: int | None = None
    lookup_domain: str | None = None  # /skms-domain (ref §2)
    activation_type: int = 0  # /act-type: 0 all, 1 AD, 2 KMS, 3 token (ref §2)
    host_caching: bool = True  # /skhc (ref §4)
    # KMS host settings of SoftwareLicensingService (ref §2 /sai /sri /sprt /cdns /cpri, §3)
    kms_activation_interval: int = DEFAULT_ACTIVATION_INTERVAL
    kms_renewal_interval: int = DEFAULT_RENEWAL_INTERVAL
    kms_listening_port: int = 0  # 0: the default, 1688
    kms_dns_publishing: bool = True
    kms_low_priority: bool = False
    discovered: Discovered | None = None
    kms_epid: str | None = None
    dns_server_reachable: bool = True
    dns_cache: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    clock_offset_s: float = 0.0  # this host's clock minus true UTC
    time_source_reachable: bool = True  # w32tm /resync can reach its time source
    time_source_offset_s: float = 0.0  # the time source's own clock minus true UTC
    internet: bool = True  # can reach the online activation service
    proxy: str | None = None  # netsh winhttp proxy
    hardware_changed: bool = False  # the digital licence no longer matches (ref §1b 0xC004F213)
    # The SELF account lost its DCOM access permissions: activation is denied even to an administrator
    # (learn.microsoft.com/troubleshoot/windows-server/licensing-and-activation/error-0x80070005-access-denied)
    dcom_self_denied: bool = False
    # ref §3: SoftwareLicensingService.RemainingWindowsReArmCount and the Windows product's RemainingSkuReArmCount
    # are two counters; both read 1001 on a fresh Windows 10 [obs: slmgr /dlv "Remaining Windows rearm count: 1001",
    # "Remaining SKU rearm count: 1001", alygcode/windows10esu#3]
    rearm_count: int = 1001
    sku_rearm_count: int = 1001
    key_installed_at: datetime | None = None  # when /ipk ran: the date at the end of the Extended PID
    cmid: str = ""
    events: list[Event] = field(default_factory=list)
    # What waits for the next restart: a /rearm ("Please restart the system for the changes to take effect.", ref §2)
    # and a DISM /Set-Edition ("Restart Windows to complete this operation.", exit code 3010), as (edition, key).
    rearm_pending: bool = False
    pending_edition: tuple[str, str] | None = None
    durations: Durations = field(default_factory=Durations)  # how long its slow operations take
    rng: random.Random = field(default_factory=random.Random, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # This machine is one of the world's KMS hosts (kms_service.py): its count and counters are that host's.
    kms_service: KmsHost | None = field(default=None, repr=False)
    # Volume Office licences beside Windows' (office.OfficeProduct), kept by the same licensing service
    office: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.cmid:
            self.cmid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"cmid.{self.computer_name}"))
        self.rng.seed(self.computer_name)

    @property
    def fqdn(self) -> str:
        return f"{self.computer_name.lower()}.{self.domain}"

    @property
    def is_domain_controller(self) -> bool:
        return self.domain_role in (4, 5)

    @property
    def restart_pending(self) -> bool:
        return self.rearm_pending or self.pending_edition is not None

    @property
    def japanese(self) -> bool:
        return self.ui_language.lower() == "ja-jp"

    def utc_now(self, world: World) -> datetime:
        """This host's clock, in UTC: true time plus the host's offset."""
        return world.utc_now() + timedelta(seconds=self.clock_offset_s)

    def __repr__(self) -> str:
        key = f"*****-{key_tail(self.key)}" if self.key else None
        return (
            f"HostState({self.computer_name}, {self.edition.edition_id}, key={key}, channel={self.channel}, "
            f"status={self.license_status}, reason=0x{self.license_status_reason:08X})"
        )


# SoftwareLicensingProduct.ID of the Windows licences, per (EditionID, channel), where public sources give them.
# KMS client (GVLK) licences: the Activation IDs KMS hosts and activation tools key their GVLK tables on
# (SystemRage/py-kms py-kms/KmsDataBase.xml; massgravel/Microsoft-Activation-Scripts' KMS38 table), and
# ServerStandard's as a real Server 2022 Standard reported it in slmgr /dlv [obs: 11notes/docker-kms#39].
# Professional OEM:DM as a real Windows 10 1809 reported it through CIM [obs: kolide/launcher#505].
KNOWN_ACTIVATION_IDS: dict[tuple[str, str], str] = {
    ("professional", GVLK): "2de67392-b7a7-462a-b1ca-108dd189f588",
    ("enterprise", GVLK): "73111121-5638-40f6-bc11-f1d7b0d64300",
    ("enterprises", GVLK): "32d2fab3-e4a8-42c2-923b-4bf4fd13e6ee",  # Enterprise LTSC 2019 (build 17763)
    ("serverstandard", GVLK): "9bd77860-9b31-4b7b-96ad-2564017315bf",  # Server 2022 (build 20348)
    ("serverdatacenter", GVLK): "ef6cfc9f-8c5d-44ac-9aad-de6a2ea0ae03",  # Server 2022 (build 20348)
    ("professional", OEM): "bd3762d7-270d-4760-8fb3-d829ca45278a",
}


@functools.lru_cache(maxsize=256)
def activation_id(edition_id: str, channel: str) -> str:
    """SoftwareLicensingProduct.ID of an edition's licence for a channel: the real one where public sources give
    it, else [inf] a stable GUID of the same form (Windows has one Activation ID per edition and channel)."""
    known = KNOWN_ACTIVATION_IDS.get((edition_id.lower(), channel))
    if known is not None:
        return known
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox:sku:{edition_id.lower()}:{channel}"))
