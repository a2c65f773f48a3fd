"""Properties that hold for any input: slmgr never crashes and always ends its text with CRLF; no error text
ever carries a product key that was typed wrong."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from test_sandbox_windows_support import Context, cmdlet, gvlk_host, world_with_kms

from remediate.sandbox.commands import CmdletError
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.host import WindowsHost

OPTION = st.sampled_from(
    [
        "/ipk",
        "/ato",
        "/dli",
        "/dlv",
        "/xpr",
        "/skms",
        "/ckms",
        "/skms-domain",
        "-ckms-domain",
        "/upk",
        "/cpky",
        "/dti",
        "/act-type",
        "/rearm",
        "/atp",
        "/nonsense",
        "-DLI",
    ]
)
ARGUMENT = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)

FROZEN = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
_KEY_CHARS = "BCDFGHJKMPQRTVWXY2346789"
PRODUCT_KEY = st.lists(st.text(alphabet=_KEY_CHARS, min_size=5, max_size=5), min_size=5, max_size=5).map(
    "-".join
)


@settings(max_examples=150, deadline=None)
@given(option=OPTION, arguments=st.lists(ARGUMENT, max_size=3), japanese=st.booleans())
def test_slmgr_always_answers_with_text_and_an_int32_exit_code(
    option: str, arguments: list[str], japanese: bool
) -> None:
    def fresh_host() -> WindowsHost:
        world = world_with_kms()
        world.frozen_at = FROZEN
        return WindowsHost(gvlk_host(world, ui_language="ja-JP" if japanese else "en-US"), world)

    command = ["//NoLogo", r"C:\Windows\System32\slmgr.vbs", option, *arguments]
    program = fresh_host().commands.native("cscript.exe")
    assert program is not None
    result = program(command, Context())
    assert -(2**31) <= result.exit_code < 2**31
    assert result.stdout == "" or result.stdout.endswith("\r\n")
    # through WinRS the same text arrives in the console code page (ref §2c), the exit code unsigned - for
    # arguments cmd.exe passes on as they are (WinRS joins them with spaces and cmd splits the line again)
    if not all(argument and not set(argument) & set(' \t&|<>^%"()') for argument in arguments):
        return
    outcome = fresh_host().run_native("cscript.exe", command)
    codepage = "cp932" if japanese else "cp437"
    assert outcome.stdout == result.stdout.encode(codepage, errors="replace")
    assert outcome.exit_code == result.exit_code & 0xFFFFFFFF


@settings(max_examples=100, deadline=None)
@given(key=PRODUCT_KEY)
def test_wrong_keys_never_appear_in_cim_errors(key: str) -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    try:
        cmdlet(
            commands,
            "Invoke-CimMethod",
            InputObject=service,
            MethodName="InstallProductKey",
            Arguments={"ProductKey": key},
        )
    except CmdletError as error:
        assert key not in error.record.message
        assert key not in error.record.fully_qualified_error_id
        assert key[:23] not in str(error)
    else:  # only a published GVLK for this edition installs
        assert key == "VDYBN-27WPP-V4HQT-9VMD4-VMK7H"
