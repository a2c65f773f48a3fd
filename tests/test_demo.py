"""`remediate demo`: the README's first command, end to end over real WinRM to sandbox hosts it starts itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from reason_text import english_left, has_japanese

from remediate import audit
from remediate.cli import main
from remediate.codes import ErrorCode
from remediate.playbook import PlaybookLibrary
from remediate.sandbox.scenario import build

# What `run auto` must make of each fault the mixed-fleet scenario gives a host (its fault label).
FIXED = {"0xC004F074", "0xC004F06C", "0xC004F039"}  # the cause can be put right from the host itself
ESCALATE = {  # only a person can act: a key, the KMS host, DNS, Microsoft, or no code to go by
    "0xC004C008", "0xC004F213", "0xC004F034", "0x80072EE2", "0xC004F069", "0x8007232B", "0xC004F038",
    "0xC004F041", "0xC004F042",
}
# A key typed wrong left these KMS clients unactivated: they report 0xC004F056, whatever kept them from
# activating. auto tries the KMS client playbook, whose activation names the real cause: no KMS host in DNS,
# which only a person can publish, so they are handed over.
UNACTIVATED_KMS_CLIENT = {"0xC004F050", "0xC004E016"}
NO_SRV_RECORDS = "0x8007232B"
# Windows licensed, volume Office beside it not (kms01 has no Office host key): no playbook changes Office, so the
# host is handed over without a script sent, and the status table says why.
OFFICE = "office"


def demo(tmp_path: Path, *options: str) -> Result:
    return CliRunner().invoke(
        main, ["demo", "--dir", str(tmp_path), *options], env={"COLUMNS": "220"}, catch_exceptions=False
    )


def events(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    (log,) = tmp_path.glob("*-auto.jsonl")
    return log, [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def section(output: str, start: str, end: str | None) -> str:
    """The output between two of the demo's section rules (`── 1. remediate status ──`)."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if "─ " + start in line)
    last = next(i for i, line in enumerate(lines) if "─ " + end in line) if end else len(lines)
    return "\n".join(lines[first:last])


@pytest.mark.slow
def test_the_demo_shows_status_then_runs_auto_on_a_mixed_fleet(tmp_path: Path) -> None:
    result = demo(tmp_path)
    assert result.exit_code == 0, result.output  # the run completed and its audit log verifies
    output = result.output
    assert "127.0.0.1" in output and "Nothing outside this machine is touched" in output
    log, recorded = events(tmp_path)
    assert audit.verify(log).ok
    assert f"audit log {log}: intact" in output

    fleet = build("mixed-fleet", None, 0)  # the same scenario and seed build the same hosts
    labels = FIXED | ESCALATE | UNACTIVATED_KMS_CLIENT | {"healthy"}
    fault_of = {spec.computer_name: label for label in labels for spec in fleet.with_fault(label)}
    assert sorted(fault_of) == sorted(spec.computer_name for spec in fleet.hosts)  # no fault left unexpected
    office = [spec.computer_name for spec in fleet.hosts if spec.engine.state.office]  # type: ignore[attr-defined]
    assert len(office) == 1 and fault_of[office[0]] == "healthy"  # Windows itself is healthy
    fault_of[office[0]] = OFFICE
    name_of = {event["host"]: event["computer_name"] for event in recorded if event["type"] == "status"}
    assert sorted(name_of.values()) == sorted(fault_of)  # every host's licence was read, each named

    status = section(output, "1. remediate status", "2. remediate run auto")
    assert f"licence state of {len(fault_of)} host(s)" in status
    for host, name in name_of.items():
        assert f"{host} ({name})" in status
    (office_row,) = [line for line in status.splitlines() if f"({office[0]})" in line]
    assert "Licensed" in office_row and "Office not licensed" in office_row  # the note says why it is handed over

    outcomes = {event["host"]: event for event in recorded if event["type"] == "outcome"}
    steps = [event for event in recorded if event["type"] == "step"]
    summary = section(output, "3. summary", None)
    for host, name in name_of.items():
        fault, outcome = fault_of[name], outcomes[host]
        row = next(line for line in summary.splitlines() if f"{host} ({name})" in line)
        assert outcome["outcome"] in row, row
        mine = [step for step in steps if step["host"] == host]
        if fault == "healthy":
            assert outcome["outcome"] == "healthy" and not mine  # licensed: not one script was sent
        elif fault == OFFICE:
            assert outcome["outcome"] == "escalate" and not mine, (name, outcome)
            assert outcome["reason"].startswith("Office: not handled") and "0xC004F042" in outcome["reason"]
        elif fault in FIXED:
            assert outcome["outcome"] == "fixed", (name, outcome)
            # proved: a fix ran, then verify read the licence back as Licensed
            assert any(step["phase"] == "fix" for step in mine)
            assert any(step["phase"] == "verify" and step.get("license_status") == 1 for step in mine)
        elif fault in ESCALATE:
            assert outcome["outcome"] == "escalate", (name, outcome)
        else:
            assert (outcome["outcome"], outcome["code_before"], outcome["code_after"]) == (
                "escalate", "0xC004F056", NO_SRV_RECORDS
            ), (name, outcome)

    # The demo itself succeeded; it says what `run auto` would have returned, and why.
    would = "a real `remediate run auto` on these hosts would exit 4: no failures, but at least one host needs a human"
    assert would in output


@pytest.mark.slow
def test_the_demo_speaks_japanese(tmp_path: Path) -> None:
    result = demo(tmp_path, "--lang", "ja")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "このマシンの外には何も触れません" in output and "20 台のホストのライセンス状態" in output
    _, recorded = events(tmp_path)
    library = PlaybookLibrary(())
    chosen = {ErrorCode.parse(code) for code in recorded[0]["playbooks"]}
    for code in chosen:  # each playbook auto chose is announced by its Japanese title
        assert f"{code} ({library.get(code).title.ja})" in output
    assert "改ざんなし" in output and "終了コード 4" in output
    assert re.search(r"改ざんなし \(\d+ 件のイベントを検証済み\)", output)

    # The summary tells every host's reason in Japanese; the audit log keeps the English a tool reads.
    summary = section(output, "3. 概要", None)
    table = summary.split("┡", 1)[1].split("└", 1)[0]
    rows = [line for line in table.splitlines() if "127.0.0.1:" in line]
    assert len(rows) == 20
    for row in rows:
        why = row.rstrip("│ ").rsplit("│", 1)[1]
        assert has_japanese(why), row
    assert english_left(summary) == []
    reasons = {event["reason"] for event in recorded if event["type"] == "outcome"}
    assert {"licensed: nothing to fix", "verified after the fix"} <= reasons
    assert not any(has_japanese(reason) for reason in reasons)


def test_too_few_hosts_for_the_scenario_is_a_clear_usage_error(tmp_path: Path) -> None:
    result = demo(tmp_path, "--hosts", "3")
    assert result.exit_code == 2
    assert "need 16 hosts; asked for 3" in result.output
    assert not list(tmp_path.glob("*.jsonl"))  # nothing started, nothing recorded


@pytest.mark.slow
def test_the_demo_keeps_its_files_in_the_state_directory_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, here = tmp_path / "state", tmp_path / "checkout"
    here.mkdir()
    monkeypatch.chdir(here)
    result = CliRunner().invoke(main, ["demo", "--scenario", "healthy", "--hosts", "2"],
                                env={"XDG_STATE_HOME": str(state), "COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert list(here.iterdir()) == []  # nothing left in the current folder
    demo_folder = state / "remediate" / "demo"
    assert (demo_folder / "hosts.txt").is_file() and list(demo_folder.glob("*-auto.jsonl"))
    assert f"the demo's files are in {demo_folder}" in result.output
