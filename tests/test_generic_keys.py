"""A generic default key installs but never activates: the run says so before anything is sent."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from remediate.cli import main


def test_a_generic_default_key_is_warned_before_anything_runs(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("pc1.corp.example\npc2.corp.example\n", encoding="utf-8")
    secrets = tmp_path / "secrets.txt"
    secrets.write_text("product_key=VK7JG-NPHTM-C97JM-9MPGT-3V66T\n", encoding="utf-8")
    secrets.chmod(0o600)
    result = CliRunner().invoke(main, ["run", "0xC004F050", "--hosts", str(hosts), "--secrets-file", str(secrets),
                                       "--dry-run"])
    assert result.exit_code == 0, result.output
    assert ("warning: XXXXX-XXXXX-XXXXX-XXXXX-3V66T is the generic default key of Windows 10/11 Pro: it installs "
            "(it only selects the edition) but can never activate; hosts: pc1.corp.example, pc2.corp.example"
            ) in result.stderr
    assert "VK7JG" not in result.output + result.stderr
