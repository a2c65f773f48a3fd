"""Golden files: slmgr /dli, /dlv and /xpr and the CIM instances of one host per edition and channel (GVLK, MAK,
retail, OEM, KMS host, evaluation), in English and Japanese, each under tests/golden/sandbox/ with a header that
names the sources it was checked against. A change to what a host shows fails here first; after an intended change
rewrite them with REMEDIATE_UPDATE_GOLDEN=1 and review the diff against the sources in each header."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from test_sandbox_windows_support import cmdlet, slmgr, world_with_kms

from remediate.sandbox.seam import PSObject
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition, gvlk_for
from remediate.sandbox.windows.state import EVAL, KMS_HOST, MAK, OEM, RETAIL, HostState, KeyRecord, World

GOLDEN = Path(__file__).resolve().parent / "golden" / "sandbox"
UPDATE_GOLDEN = os.environ.get("REMEDIATE_UPDATE_GOLDEN") == "1"
NOW = datetime(2025, 10, 23, 14, 51, 58, tzinfo=timezone.utc)

SLMGR_SOURCES = (
    "slmgr.vbs (Windows 8 and later; ref §0 SLMGR): DisplayAllInformation (/dli, /dlv), DisplayKMSClientInformation, "
    "DisplayKMSInformation, ExpirationDatime (/xpr); line formats of ref §2a",
    "SoftwareLicensingProduct / SoftwareLicensingService: Microsoft's WMI class pages (ref §0 WMI-SLP, WMI-SLS, "
    "WMI-VA) and the properties slmgr.vbs reads; order and unused values as a real Windows 10 lists them "
    "(ansible-collections/ansible.windows#834)",
)
JAPANESE_SOURCE = (
    "Japanese: the strings observed on Japanese hosts (ref §2c: /xpr, /dlv rearm count); slmgr's other Japanese "
    "strings are [inf], no complete Japanese capture being public"
)


@dataclass(frozen=True)
class Case:
    name: str
    describe: str
    sources: tuple[str, ...]
    build: Callable[[World], HostState]
    language: str = "en-US"


def _key_host(name: str, edition_id: str, channel: str, key: str, language: str, **record: Any) -> Callable[
    [World], HostState
]:
    def build(world: World) -> HostState:
        world.add_key(KeyRecord(key, channel, (edition_id,), **record))
        state = HostState(name, edition=edition(edition_id), ui_language=language)
        licensing.install_product_key(state, world, key)
        licensing.activate(state, world)
        return state

    return build


def _gvlk_host(name: str, edition_id: str, language: str, activate: bool = True) -> Callable[[World], HostState]:
    def build(world: World) -> HostState:
        state = HostState(name, edition=edition(edition_id), ui_language=language)
        key = gvlk_for(edition_id)
        assert key is not None
        licensing.install_product_key(state, world, key)
        if activate:
            licensing.activate(state, world)
        return state

    return build


def _evaluation_host(name: str, language: str, expired: bool) -> Callable[[World], HostState]:
    def build(world: World) -> HostState:
        # ref §4 CONVERT: an evaluation edition comes with its own time-based key; /ipk is refused on it (§1b)
        state = HostState(name, edition=edition("ServerStandardEval"), ui_language=language)
        state.key, state.channel, state.key_installed_at = "CCCCC-DDDDD-FFFFF-GGGGG-EVAL1", EVAL, NOW
        state.grace_minutes = 0 if expired else 180 * 24 * 60 - 600  # the 180-day evaluation period
        if expired:
            state.license_status, state.license_status_reason = 5, licensing.E_GRACE_EXPIRED
        else:
            licensing.activate(state, world)
        return state

    return build


CASES = (
    Case(
        "gvlk-serverstandard-en",
        "Windows Server 2022 Standard, KMS client (GVLK), activated by a KMS host found in DNS",
        ("Microsoft's /dli sample of a KMS client (ref §0 ff793426, Managing License States)",
         "Activation ID 9bd77860-…: a real Server 2022 Standard's /dlv (11notes/docker-kms#39)"),
        _gvlk_host("SRV01", "ServerStandard", "en-US"),
    ),
    Case(
        "gvlk-serverstandard-ja",
        "Windows Server 2022 Standard, KMS client (GVLK), activated, Japanese UI",
        ("Microsoft's /dli sample of a KMS client (ref §0 ff793426)", JAPANESE_SOURCE),
        _gvlk_host("SRV02", "ServerStandard", "ja-JP"),
        "ja-JP",
    ),
    Case(
        "gvlk-professional-unactivated-en",
        "Windows 11 Pro, KMS client (GVLK) in its out-of-box grace period, never activated",
        ("ref §2a: an unlicensed KMS client prints the /ato hint straight after the activation type",
         "LicenseStatusReason 0x4004F00C in out-of-box grace (kolide/launcher#505: 1074065420)"),
        _gvlk_host("PC01", "Professional", "en-US", activate=False),
    ),
    Case(
        "mak-serverstandard-en",
        "Windows Server 2022 Standard, MAK, activated online",
        ("a real slmgr /dlv of a VOLUME_MAK licence: URL lines, Extended PID, rearm counts "
         "(alygcode/windows10esu#3)",),
        _key_host("MAK01", "ServerStandard", MAK, "BBBBB-CCCCC-DDDDD-FFFFF-MAK01", "en-US", remaining=10),
    ),
    Case(
        "retail-professional-en",
        "Windows 11 Pro, retail key, activated online",
        ("ref §2a: Product Key Channel 'Retail'; URL lines as for the MAK (alygcode/windows10esu#3)",),
        _key_host("PC02", "Professional", RETAIL, "BBBBB-CCCCC-DDDDD-GGGGG-RTL01", "en-US"),
    ),
    Case(
        "oem-professional-ja",
        "Windows 11 Pro, OEM:DM key, activated online, Japanese UI",
        ("Activation ID bd3762d7-… and Extended PID '…-02-…' of a real OEM:DM Windows 10 Pro (kolide/launcher#505)",
         JAPANESE_SOURCE),
        _key_host("PC03", "Professional", OEM, "BBBBB-CCCCC-DDDDD-HHHHH-OEM01", "ja-JP"),
        "ja-JP",
    ),
    Case(
        "kmshost-serverstandard-en",
        "Windows Server 2022 Standard, KMS host key (CSVLK), activated: the KMS host block",
        ("Microsoft's /dli sample of a KMS host (ref §0 ff793426): enabled, count, port, DNS publishing, priority, "
         "the cumulative requests",),
        _key_host("KMS01", "ServerStandard", KMS_HOST, "BBBBB-CCCCC-DDDDD-JJJJJ-CSVLK", "en-US", remaining=5),
    ),
    Case(
        "eval-serverstandard-en",
        "Windows Server 2022 Standard Evaluation, in its evaluation period",
        ("ref §2a: 'Timebased activation expiration' and 'Evaluation End Date'; ref §4 CONVERT: EVAL editions",),
        _evaluation_host("EVAL01", "en-US", expired=False),
    ),
    Case(
        "eval-serverstandard-expired-ja",
        "Windows Server 2022 Standard Evaluation, evaluation over (Notification, 0xC004F009), Japanese UI",
        ("ref §2a: 'Notification Reason: 0x%ERRCODE% (grace time expired).'; ref §2c: /xpr 'Windowsは通知モードです'",
         JAPANESE_SOURCE),
        _evaluation_host("EVAL02", "ja-JP", expired=True),
        "ja-JP",
    ),
)


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, PSObject):
        return value.to_string or ""
    return str(value)


def _instance(item: PSObject) -> str:
    width = max(len(name) for name in item.properties)
    return "".join(f"{name.ljust(width)} : {_value(value)}\n" for name, value in item.properties.items())


def render(case: Case) -> str:
    world = world_with_kms()
    world.frozen_at = NOW
    state = case.build(world)
    commands = WindowsCommands(state, world)
    header = [
        f"# {case.describe}.",
        "# Checked against:",
        *(f"#   - {source}" for source in (*SLMGR_SOURCES, *case.sources)),
        "# Rewrite with REMEDIATE_UPDATE_GOLDEN=1, then review the diff against these sources.",
    ]
    parts = ["\n".join(header) + "\n"]
    for option in ("/dli", "/dlv", "/xpr"):
        text, code = slmgr(commands, option)
        parts.append(f"## cscript //NoLogo slmgr.vbs {option}  (exit code {code})\n" + text.replace("\r\n", "\n"))
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    in_use = [p for p in products if p.get("PartialProductKey")]
    parts.append("## Get-CimInstance SoftwareLicensingProduct (the licence in use)\n" + _instance(in_use[0]))
    (service,) = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")
    parts.append("## Get-CimInstance SoftwareLicensingService\n" + _instance(service))
    return "\n".join(parts)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_host_evidence_matches_its_golden_file(case: Case) -> None:
    golden = GOLDEN / f"{case.name}.txt"
    text = render(case)
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.is_file(), f"no golden file {golden.name}: run with REMEDIATE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_no_stray_golden_files() -> None:
    present = {p.name for p in GOLDEN.glob("*.txt")}
    assert present == {f"{case.name}.txt" for case in CASES}
