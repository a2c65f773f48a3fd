"""SecureString values: from the client or ConvertTo-SecureString, read back through [Marshal], never shown as text."""

from __future__ import annotations

from sandbox_powershell_fakes import FakeCommands, run

from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.seam import Command, PipelineRequest, SecureString

READ_BACK = (
    "[System.Runtime.InteropServices.marshal]::PtrToStringAuto("
    "[System.Runtime.InteropServices.marshal]::SecureStringToBSTR($secret))"
)


def test_a_secure_string_from_the_client_reads_back_through_marshal() -> None:
    """pypsrp's recorded exchange test_psrp_multiple_commands.yml."""
    script = Command(f"param($secret)\n{READ_BACK}", True, [("secret", SecureString("Hello World"))])
    request = PipelineRequest([script])
    assert Interpreter(FakeCommands(), {}).run(request).output == ["Hello World"]


def test_a_secure_string_never_shows_its_text_as_a_string() -> None:
    outcome = run("$secret = ConvertTo-SecureString -String 'abc' -AsPlainText -Force\n\"value: $secret\"")
    assert outcome.output == ["value: System.Security.SecureString"]


def test_convert_to_secure_string_output_stays_a_secure_string() -> None:
    (value,) = run("ConvertTo-SecureString 'abc' -AsPlainText -Force").output
    assert isinstance(value, SecureString) and str(value) == "abc"


def test_convert_to_secure_string_wants_force_with_plain_text() -> None:
    failure = run("$ErrorActionPreference = 'Stop'\nConvertTo-SecureString -String 'abc' -AsPlainText").failure
    assert failure is not None
    assert failure.fully_qualified_error_id == (
        "ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand"
    )


def test_expand_environment_variables_is_emulated_and_other_static_calls_are_not() -> None:
    outcome = run("[Environment]::ExpandEnvironmentVariables('%Stage%\\%Missing%')", env={"STAGE": "two"})
    assert outcome.output == ["two\\%Missing%"]
    failure = run("[System.Math]::Abs(-1)").failure
    assert failure is not None and failure.fully_qualified_error_id == "SandboxNotEmulated"
