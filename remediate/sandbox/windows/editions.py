"""Windows editions the sandbox can emulate, and the published KMS client setup keys (GVLKs) for them."""

from __future__ import annotations

from dataclasses import dataclass

WINDOWS_APPLICATION_ID = "55c92734-d682-4d71-983e-d6ec3f16059f"  # ref §2: Windows ApplicationId


@dataclass(frozen=True)
class Edition:
    """One Windows edition: what Win32_OperatingSystem, DISM and SoftwareLicensingProduct show for it."""

    edition_id: str  # registry EditionID / DISM "Current Edition", e.g. "ServerStandardEval"
    sku: int  # Win32_OperatingSystem.OperatingSystemSKU
    caption: str  # Win32_OperatingSystem.Caption
    build: int
    server: bool
    evaluation: bool = False
    conversion_targets: tuple[str, ...] = ()  # ref §4 / CONVERT: DISM /Set-Edition targets

    @property
    def family(self) -> str:
        """KMS product family: a client-OS KMS host activates only client OSes (ref §4 KMSPLAN)."""
        return "server" if self.server else "client"

    @property
    def product_name(self) -> str:
        # ref §2a: SoftwareLicensingProduct.Name, e.g. "Windows(R), ServerStandard edition"
        return f"Windows(R), {self.edition_id} edition"

    @property
    def version(self) -> str:
        return f"10.0.{self.build}"


EDITIONS: dict[str, Edition] = {
    e.edition_id.lower(): e
    for e in (
        Edition("Professional", 48, "Microsoft Windows 11 Pro", 22631, server=False),
        Edition("Enterprise", 4, "Microsoft Windows 11 Enterprise", 22631, server=False),
        Edition("EnterpriseS", 125, "Microsoft Windows 10 Enterprise LTSC", 17763, server=False),
        Edition(
            "ServerStandard",
            7,
            "Microsoft Windows Server 2022 Standard",
            20348,
            server=True,
            conversion_targets=("ServerDatacenter",),
        ),
        Edition("ServerDatacenter", 8, "Microsoft Windows Server 2022 Datacenter", 20348, server=True),
        # ref §1b 0xC004F069, §4 CONVERT: evaluation editions convert with DISM /Set-Edition
        Edition(
            "ServerStandardEval",
            79,
            "Microsoft Windows Server 2022 Standard Evaluation",
            20348,
            server=True,
            evaluation=True,
            conversion_targets=("ServerStandard", "ServerDatacenter"),
        ),
        Edition(
            "ServerDatacenterEval",
            80,
            "Microsoft Windows Server 2022 Datacenter Evaluation",
            20348,
            server=True,
            evaluation=True,
            conversion_targets=("ServerDatacenter",),
        ),
    )
}


def edition(edition_id: str) -> Edition:
    try:
        return EDITIONS[edition_id.lower()]
    except KeyError:
        known = ", ".join(e.edition_id for e in EDITIONS.values())
        raise KeyError(f"unknown edition {edition_id!r}; known: {known}") from None


# ref §4 GVLK: KMS client setup keys published by Microsoft, by edition (the build-specific server keys are
# those of the builds emulated above).
GVLKS: dict[str, str] = {
    "W269N-WFGWX-YVC9B-4J6C9-T83GX": "Professional",
    "NPPR9-FWDCX-D2C8J-H872K-2YT43": "Enterprise",
    "M7XTQ-FN8P6-TTKYV-9D4CC-J462D": "EnterpriseS",
    "VDYBN-27WPP-V4HQT-9VMD4-VMK7H": "ServerStandard",
    "WX4NM-KYWYW-QJJR4-XV3QB-6VM33": "ServerDatacenter",
}


def gvlk_for(edition_id: str) -> str | None:
    for key, target in GVLKS.items():
        if target.lower() == edition_id.lower():
            return key
    return None
