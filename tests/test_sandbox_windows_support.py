"""Shared pieces for the tests of the emulated Windows host (no tests of its own)."""

from __future__ import annotations

from typing import Any

from remediate.sandbox.commands import CmdletError, Invocation
from remediate.sandbox.seam import ErrorRecord, PSObject
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.state import HostState, KeyRecord, KmsHost, World

SLMGR = r"C:\Windows\System32\slmgr.vbs"
SERVER_GVLK = "VDYBN-27WPP-V4HQT-9VMD4-VMK7H"  # ref §4: Server 2022 Standard
PRO_GVLK = "W269N-WFGWX-YVC9B-4J6C9-T83GX"  # ref §4: Windows 10/11 Pro
MAK_KEY = "AAAAA-BBBBB-CCCCC-DDDDD-MAK01"


class Context:
    """A CommandContext that records what a command wrote besides its output."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.errors: list[ErrorRecord] = []
        self.warnings: list[str] = []
        self.verbose: list[str] = []
        self._env = env or {}

    def write_error(self, record: ErrorRecord) -> None:
        self.errors.append(record)

    def write_warning(self, text: str) -> None:
        self.warnings.append(text)

    def write_verbose(self, text: str) -> None:
        self.verbose.append(text)

    @property
    def env(self) -> dict[str, str]:
        return self._env


def world_with_kms(domain: str = "corp.example", **kms: Any) -> World:
    world = World()
    world.add_kms_host(KmsHost("kms1." + domain, "10.0.0.5", **kms), publish_srv_in=domain)
    return world


def gvlk_host(
    world: World, name: str = "SRV01", edition_id: str = "ServerStandard", **fields: Any
) -> HostState:
    from remediate.sandbox.windows import licensing
    from remediate.sandbox.windows.editions import gvlk_for

    state = HostState(name, edition=edition(edition_id), **fields)
    key = gvlk_for(edition_id)
    assert key is not None
    licensing.install_product_key(state, world, key)
    return state


def mak_host(world: World, remaining: int = 10, **fields: Any) -> HostState:
    from remediate.sandbox.windows import licensing

    world.add_key(KeyRecord(MAK_KEY, "MAK", ("ServerStandard",), remaining=remaining))
    state = HostState("MAK01", edition=edition("ServerStandard"), **fields)
    licensing.install_product_key(state, world, MAK_KEY)
    return state


def cmdlet(commands: WindowsCommands, name: str, ctx: Context | None = None, **named: Any) -> list[Any]:
    spec = commands.cmdlet(name)
    assert spec is not None and spec.run is not None, name
    return spec.run(Invocation(name=spec.name, named=named), ctx or Context())


def cmdlet_error(commands: WindowsCommands, name: str, **named: Any) -> CmdletError:
    try:
        cmdlet(commands, name, **named)
    except CmdletError as error:
        return error
    raise AssertionError(f"{name} did not fail")


def windows_product(commands: WindowsCommands) -> PSObject:
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    keyed: list[PSObject] = [p for p in products if p.get("PartialProductKey")]
    assert len(keyed) == 1
    return keyed[0]


def slmgr(commands: WindowsCommands, *args: str, nologo: bool = True) -> tuple[str, int]:
    program = commands.native("cscript.exe")
    assert program is not None
    """Run slmgr.vbs; returns its text without the empty line WScript.Echo adds at the end (checked here:
    ref §2b, the buffer is echoed once at exit) and the exit code."""
    result = program([*(["//NoLogo"] if nologo else []), SLMGR, *args], Context())
    text = result.stdout
    if text:
        assert text.endswith("\r\n\r\n"), text[-40:]
        text = text[:-2]
    return text, result.exit_code
