"""The README's commands work as written: the quick start, the everyday commands, and CI runs the test command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.testing import StartFleet

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PASSWORD = "Readme-sandbox-7q"


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def quick_start_commands() -> list[str]:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", quick_start, flags=re.DOTALL)]


def everyday_commands() -> list[list[str]]:
    (block,) = fenced_blocks("console")
    commands = []
    for line in block.splitlines():
        command = line.removeprefix("$ ").split("  #", 1)[0].strip()
        commands.append(shlex.split(command))
    return commands


def test_the_quick_start_is_two_commands_a_demo_and_the_tests() -> None:
    demo, tests = quick_start_commands()
    assert demo.endswith("remediate demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = quick_start_commands()
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci_script.splitlines()


def test_the_hosts_file_example_parses(tmp_path: Path) -> None:
    from remediate.inventory import load_hosts

    (example,) = fenced_blocks("text")
    hosts = load_hosts(_write(tmp_path / "hosts.txt", example))
    assert [host.label for host in hosts] == [
        "tk-app01.corp.example",
        "tk-app02.corp.example:5986",
        "[fd00::12]:5985",
        "10.0.4.20",
    ]
    assert hosts[1].variables == {"kms_host": "kms01.corp.example"}


def test_the_inventory_examples_read_with_their_groups(tmp_path: Path) -> None:
    from remediate.inventory_formats import load_inventory
    from remediate.inventory_limit import select_hosts

    (yaml_example,) = fenced_blocks("yaml")
    found = load_inventory(_write(tmp_path / "site.yml", yaml_example))
    assert [(host.label, host.connect_name, host.port) for host in found.hosts] == [
        ("tk-app01.corp.example", "tk-app01.corp.example", None),
        ("tk-app02", "10.0.4.21", 5986),
        ("os-app01.corp.example", "os-app01.corp.example", None),
    ]
    assert found.hosts[1].variables == {"kms_host": "kms01.corp.example", "auth": "kerberos",
                                        "ca_file": "/etc/pki/corp-ca.pem"}
    assert found.hosts[2].variables == {"kms_host": "kms01.corp.example", "scheme": "http", "auth": "ntlm"}
    assert [host.label for host in select_hosts(found, "tokyo:!tk-app02")] == ["tk-app01.corp.example"]
    (csv_example,) = fenced_blocks("csv")
    exported = load_inventory(_write(tmp_path / "cmdb.csv", csv_example))
    assert [host.label for host in exported.groups["prod"]] == ["tk-app01.corp.example:5986"]
    assert exported.hosts[1].variables == {}


def test_every_everyday_command_works_as_written(
    tmp_path: Path, sandbox_fleet: StartFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = everyday_commands()
    assert all(command[0] == "remediate" for command in commands)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    # Commands that connect to nothing run against the README's own hosts file example.
    (example,) = fenced_blocks("text")
    _write(tmp_path / "hosts.txt", example)
    offline = [c for c in commands if "--dry-run" in c or c[1] in ("explain", "list", "show")]
    for command in offline:
        result = runner.invoke(main, command[1:])
        assert result.exit_code == 0, (command, result.output)
    explained = runner.invoke(main, everyday_commands()[0][1:])
    assert "0xC004C008" in explained.output and "remediate show 0xC004C008" in explained.output

    # Live commands run against sandbox hosts whose KMS host moved, in the README's order.
    fleet = sandbox_fleet(build_hosts("kms-moved", 4, 0), auth="ntlm", password=PASSWORD)
    fleet.write_hosts_file(tmp_path / "hosts.txt")
    monkeypatch.setenv("REMEDIATE_USERNAME", fleet.username)
    monkeypatch.setenv("REMEDIATE_PASSWORD", PASSWORD)
    for command in commands:
        if command in offline:
            continue
        result = runner.invoke(main, command[1:])
        assert result.exit_code == 0, (command, result.output)
        assert PASSWORD not in result.output
    assert (tmp_path / "run.jsonl").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
