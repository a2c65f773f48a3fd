"""An auth whose optional extra is not installed is a usage error naming the install command, before any host."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.errors import UsageError
from remediate.inventory import Host
from remediate.transport import ConnectionOptions, Credentials, Session

HOSTS = "ws01.corp.example\nws02.corp.example auth=negotiate\n"
MISSING = {"kerberos": ("gssapi", "krb5"), "credssp": ("requests_credssp",)}


@pytest.fixture
def crash_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a crash report would go: nothing may appear there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """As on a machine where these modules are not installed: importing them raises ImportError."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("auth", ["kerberos", "credssp"])
def test_a_session_with_a_missing_extra_is_refused_before_connecting(
    auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = MISSING[auth][0]
    without(monkeypatch, *MISSING[auth])
    session = Session(Host("ws01.corp.example", None, {"auth": auth}), ConnectionOptions(),
                      Credentials("corp\\ops"))
    with pytest.raises(UsageError) as raised:
        session.open()
    assert module in raised.value.message
    assert raised.value.hint == f"pip install 'remediate[{auth}]'"


@pytest.mark.parametrize("auth", ["kerberos", "credssp"])
def test_status_with_a_missing_extra_exits_2_naming_the_install_command(
    auth: str, tmp_path: Path, crash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without(monkeypatch, *MISSING[auth])
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(HOSTS, encoding="utf-8")
    env = {"REMEDIATE_USERNAME": "corp\\ops", "REMEDIATE_PASSWORD": "not-used-9a"}
    result = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--auth", auth], env=env)
    assert result.exit_code == 2, result.output
    assert f"pip install 'remediate[{auth}]'" in result.output
    assert "internal error" not in result.output
    assert list(crash_dir.iterdir()) == []


def test_run_with_a_host_that_needs_a_missing_extra_exits_2_and_touches_nothing(
    tmp_path: Path, crash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without(monkeypatch, *MISSING["kerberos"])
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("ws01.corp.example auth=ntlm\nws02.corp.example auth=kerberos\n", encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    env = {"REMEDIATE_USERNAME": "corp\\ops", "REMEDIATE_PASSWORD": "not-used-9a"}
    arguments = ["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(audit), "--set", "kms_host=kms01"]
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 2, result.output
    assert "ws02.corp.example" in result.output and "pip install 'remediate[kerberos]'" in result.output
    assert not audit.exists()  # no run began: no host was marked failed
    assert list(crash_dir.iterdir()) == []


def test_a_dry_run_needs_no_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, *MISSING["kerberos"])
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("ws01.corp.example auth=kerberos\n", encoding="utf-8")
    arguments = ["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--set", "kms_host=kms01"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
