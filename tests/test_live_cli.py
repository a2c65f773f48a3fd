"""`remediate run` live, end to end: the real playbooks over real WinRM to sandbox Windows hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remediate import audit
from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-live-cli-tests-9a"  # one password per process: the sandbox's NTLM user file is shared
MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up: valid in the scenario's world only

BAD_KEYS = f"""
name: bad-keys
description: Two Enterprise hosts with a bad key, one healthy.
hosts: 3
world:
  domain: corp.example
  kms_hosts:
    - {{name: kms01.corp.example, address: 10.0.0.5, count: 60}}
  activation:
    reachable: true
    keys:
      - {{key: {MAK}, channel: MAK, editions: [Enterprise, Professional], remaining: 50}}
groups:
  - {{name: f050, prefix: BADKEY, count: 2, edition: Enterprise, fault: 0xC004F050, domain_role: 1}}
  - {{name: healthy, prefix: OK, count: 1, edition: Enterprise, domain_role: 1}}
"""

SLOW = """
name: slow
description: Hosts with stale DNS behind a slow network.
hosts: 6
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: cached, prefix: APP, count: 6, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache,
     transport: {latency_ms: 60}}
"""


def start(scenario: str | Path, count: int | None, tmp_path: Path) -> tuple[Fleet, Path]:
    fleet = Fleet.start(build_hosts(scenario, count, 0), auth="ntlm", password=PASSWORD)
    return fleet, fleet.write_hosts_file(tmp_path / "hosts.txt")


def environment(fleet: Fleet, **extra: str) -> dict[str, str]:
    return {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password, **extra}


def invoke(arguments: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, arguments, env=env, catch_exceptions=False)


@pytest.fixture
def kms_moved(tmp_path: Path) -> Iterator[tuple[Fleet, Path]]:
    fleet, hosts = start("kms-moved", 4, tmp_path)
    with fleet:
        yield fleet, hosts


def test_a_live_run_fixes_the_fleet_and_writes_every_report(
    kms_moved: tuple[Fleet, Path], tmp_path: Path
) -> None:
    fleet, hosts = kms_moved
    log = tmp_path / "audit.jsonl"
    junit = tmp_path / "junit.xml"
    result = invoke(
        ["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log), "--junit", str(junit)],
        environment(fleet),
    )
    assert result.exit_code == 0, result.output
    assert "every host is healthy or fixed" in result.output and "fixed" in result.output
    assert f"audit log: {log}" in result.output
    cases = ElementTree.parse(junit).getroot().findall("testsuite/testcase")
    assert len(cases) == 4 and all(case.find("failure") is None for case in cases)
    assert audit.verify(log).ok
    # A second run finds nothing to fix and changes nothing.
    again = invoke(
        ["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log), "--output", "json"],
        environment(fleet),
    )
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["summary"]["counts"]["healthy"] == 4
    assert all(step["phase"] == "detect" for host in report["hosts"] for step in host["steps"])
    shown = invoke(["audit", "show", str(log)], {})
    assert shown.exit_code == 0 and shown.output.count("run 0xC004F074") == 2


@pytest.mark.slow
def test_no_key_or_password_appears_in_any_output(tmp_path: Path) -> None:
    scenario = tmp_path / "bad-keys.yaml"
    scenario.write_text(BAD_KEYS, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    log, junit = tmp_path / "audit.jsonl", tmp_path / "junit.xml"
    with fleet:
        env = environment(fleet, MAK_KEY=MAK)
        arguments = ["run", "0xC004F050", "--hosts", str(hosts), "--secret-env", "product_key=MAK_KEY"]
        text = invoke([*arguments, "--audit", str(log), "--junit", str(junit)], env)
        as_json = invoke([*arguments, "--audit", str(tmp_path / "second.jsonl"), "--output", "json"], env)
    assert text.exit_code == 0, text.output
    assert "fixed" in text.output
    everything = "\n".join(
        [
            text.output,
            as_json.output,
            log.read_text(encoding="utf-8"),
            (tmp_path / "second.jsonl").read_text(encoding="utf-8"),
            junit.read_text(encoding="utf-8"),
        ]
    )
    assert MAK not in everything and PASSWORD not in everything
    assert "Y6F8K" in log.read_text(encoding="utf-8")  # the masked key still says which key it was


def test_no_reachable_host_exits_3(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9 scheme=http auth=ntlm\n", encoding="utf-8")  # discard port: nothing listens
    env = {"REMEDIATE_USERNAME": "u", "REMEDIATE_PASSWORD": "p-not-shown"}
    log = tmp_path / "audit.jsonl"
    result = invoke(["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log), "--retries", "0"], env)
    assert result.exit_code == 3
    assert "unreachable" in result.output and "no host could be reached" in result.output
    assert "p-not-shown" not in result.output and "p-not-shown" not in log.read_text(encoding="utf-8")


def test_a_transport_error_reads_as_its_kind_and_message_in_every_output(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9 scheme=http auth=ntlm\n", encoding="utf-8")  # discard port: nothing listens
    env = {"REMEDIATE_USERNAME": "u", "REMEDIATE_PASSWORD": "p"}
    refused = "refused: the connection was refused (WinRM not listening, or the host is down)"
    log = tmp_path / "audit.jsonl"
    common = ["--hosts", str(hosts), "--retries", "0"]
    as_json = invoke(["run", "0xC004F074", *common, "--audit", str(log), "--output", "json"], env)
    [host] = json.loads(as_json.stdout)["hosts"]
    assert (host["reason"], host["reason_args"]["kind"]) == (refused, "refused")
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(e["error_kind"], e["transient"]) for e in events if e["type"] == "connect"] == [("refused", True)]
    assert [e["reason"] for e in events if e["type"] == "outcome"] == [refused]
    in_japanese = invoke(["run", "0xC004F074", *common, "--audit", str(tmp_path / "ja.jsonl"), "--lang", "ja"], env)
    # The summary tells the transport's kind and text in Japanese; the JSON and the audit log keep the English.
    told = "接続できませんでした: 接続拒否: 接続が拒否されました (WinRM が待ち受けていないか、ホストが停止しています)"
    assert told in in_japanese.output
    status = invoke(["status", *common, "--output", "json"], env)
    assert [read["error"] for read in json.loads(status.stdout)] == [refused]
    assert (as_json.exit_code, in_japanese.exit_code, status.exit_code) == (3, 3, 3)


def test_clear_text_basic_auth_is_refused_before_anything_happens(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9 scheme=http auth=basic\n", encoding="utf-8")
    log = tmp_path / "audit.jsonl"
    result = invoke(
        ["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log)], {"REMEDIATE_USERNAME": "u"}
    )
    assert result.exit_code == 2 and "clear text" in result.output
    assert not log.exists()


def test_missing_credentials_without_a_terminal_are_a_usage_error(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9 scheme=http auth=ntlm\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["run", "0xC004F074", "--hosts", str(hosts)], env={"REMEDIATE_USERNAME": ""}
    )
    assert result.exit_code == 2 and "REMEDIATE_USERNAME" in result.output


def test_insecure_is_loud(kms_moved: tuple[Fleet, Path], tmp_path: Path) -> None:
    fleet, hosts = kms_moved
    result = invoke(
        ["run", "0xC004F074", "--hosts", str(hosts), "--insecure", "--audit", str(tmp_path / "a.jsonl")],
        environment(fleet),
    )
    assert "NOT verified" in result.stderr


def test_audit_verify_reports_tampering_with_exit_1(kms_moved: tuple[Fleet, Path], tmp_path: Path) -> None:
    fleet, hosts = kms_moved
    log = tmp_path / "audit.jsonl"
    invoke(["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log)], environment(fleet))
    good = invoke(["audit", "verify", str(log)], {})
    assert good.exit_code == 0 and "intact" in good.output
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:3] + lines[4:]), encoding="utf-8")
    bad = CliRunner().invoke(main, ["audit", "verify", str(log)])
    assert bad.exit_code == 1 and "line 4" in bad.output


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_steps_and_exits_130(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    log = tmp_path / "audit.jsonl"
    with fleet:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "remediate",
                "run",
                "0xC004F074",
                "--hosts",
                str(hosts),
                "--audit",
                str(log),
                "--forks",
                "1",
            ],
            env={**os.environ, **environment(fleet)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if log.exists() and b'"type":"step"' in log.read_bytes():
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted: in-flight steps were finished and recorded" in stdout
    check = audit.verify(log)
    assert check.ok and not check.truncated
    events = audit.read_events(log)
    assert events[-1]["type"] == audit.RUN_FINISHED and events[-1]["interrupted"] is True
    outcomes = [event["outcome"] for event in events if event["type"] == audit.OUTCOME]
    assert len(outcomes) == 6 and outcomes.count("skipped") >= 4  # hosts not started are recorded as such


BOOTING = """
name: booting
description: Two hosts still booting, two up; all with stale DNS.
hosts: 4
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: booting, prefix: NEW, count: 2, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache,
     transport: {not_up_for_s: 5.0}}
  - {name: up, prefix: OLD, count: 2, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache}
"""


@pytest.mark.slow
def test_rerun_failed_runs_only_the_hosts_that_did_not_finish_well(tmp_path: Path) -> None:
    scenario = tmp_path / "booting.yaml"
    scenario.write_text(BOOTING, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    first_log, second_log = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    began = time.monotonic()
    with fleet:
        base = ["run", "0xC004F074", "--hosts", str(hosts), "--retries", "0"]
        first = invoke([*base, "--audit", str(first_log), "--output", "json"], environment(fleet))
        # The first run reaches the booting hosts well inside their 5 s (even on a loaded machine); the rerun
        # comes after it.
        time.sleep(max(0.0, 5.2 - (time.monotonic() - began)))
        second = invoke(
            [*base, "--audit", str(second_log), "--output", "json", "--rerun-failed", str(first_log)],
            environment(fleet),
        )
        nothing = invoke(
            [*base, "--audit", str(tmp_path / "third.jsonl"), "--rerun-failed", str(second_log)],
            environment(fleet),
        )
    assert first.exit_code == 1
    counts = json.loads(first.stdout)["summary"]["counts"]
    assert (counts["unreachable"], counts["fixed"]) == (2, 2)
    assert second.exit_code == 0, second.output
    rerun = json.loads(second.stdout)
    assert len(rerun["hosts"]) == 2 and rerun["summary"]["counts"]["fixed"] == 2
    unreachable_before = {
        h["host"] for h in json.loads(first.stdout)["hosts"] if h["outcome"] == "unreachable"
    }
    assert {h["host"] for h in rerun["hosts"]} == unreachable_before
    assert nothing.exit_code == 0 and "nothing to rerun" in nothing.output


def test_rerun_failed_refuses_a_log_of_another_code(kms_moved: tuple[Fleet, Path], tmp_path: Path) -> None:
    fleet, hosts = kms_moved
    log = tmp_path / "a.jsonl"
    invoke(["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log)], environment(fleet))
    result = CliRunner().invoke(
        main, ["run", "0xC004F050", "--hosts", str(hosts), "--rerun-failed", str(log)], env=environment(fleet)
    )
    assert result.exit_code == 2 and "0xC004F074" in result.output


AUTO_MIX = """
name: auto-mix
description: One host per kind of answer run auto must give.
hosts: 3
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 60}
groups:
  - {name: f074, prefix: KMSSTALE, count: 1, edition: ServerStandard, fault: 0xC004F074,
     cause: stale-dns-cache}
  - {name: c008, prefix: KMSHOSTKEY, count: 1, edition: ServerStandard, fault: 0xC004C008}
  - {name: healthy, prefix: OK, count: 1, edition: ServerStandard}
"""


@pytest.mark.slow
def test_run_auto_picks_each_hosts_playbook_from_its_licence(tmp_path: Path) -> None:
    scenario = tmp_path / "auto.yaml"
    scenario.write_text(AUTO_MIX, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    log = tmp_path / "audit.jsonl"
    with fleet:
        result = invoke(
            ["run", "auto", "--hosts", str(hosts), "--audit", str(log), "--output", "json"],
            environment(fleet),
        )
    assert result.exit_code == 4, result.output  # no failure, one host needs a human
    report = json.loads(result.stdout)
    assert report["summary"]["code"] == "auto"
    by_code = {host["code_before"]: host for host in report["hosts"]}
    assert by_code["0xC004F074"]["outcome"] == "fixed" and by_code["0xC004F074"]["code"] == "0xC004F074"
    assert by_code["0xC004C008"]["outcome"] == "escalate" and by_code["0xC004C008"]["code"] == "0xC004C008"
    assert by_code[None]["outcome"] == "healthy"
    assert audit.verify(log).ok
    events = audit.read_events(log)
    assert sum(1 for event in events if event["type"] == "status") == 3
    assert set(events[0]["playbooks"]) == {"0xC004F074", "0xC004C008"}


@pytest.mark.slow
def test_run_auto_dry_run_reads_only_and_shows_what_each_host_would_get(tmp_path: Path) -> None:
    scenario = tmp_path / "auto.yaml"
    scenario.write_text(AUTO_MIX, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    with fleet:
        preview = invoke(["run", "auto", "--hosts", str(hosts), "--dry-run"], environment(fleet))
        as_json = invoke(["run", "auto", "--hosts", str(hosts), "--dry-run", "--output", "json"], environment(fleet))
        after = invoke(["status", "--hosts", str(hosts), "--output", "json"], environment(fleet))
    assert preview.exit_code == 0, preview.output
    assert "read with the read-only license-state script" in preview.stdout and "nothing was changed" in preview.stdout
    assert "Plan: 0xC004F074" in preview.stdout and "Plan: 0xC004C008" in preview.stdout
    assert "healthy · licensed: nothing to fix · 1 host(s)" in preview.stdout
    plans = json.loads(as_json.stdout)
    assert plans["dry_run"] is True and {plan["code"] for plan in plans["plans"]} == {"0xC004F074", "0xC004C008"}
    assert [host["outcome"] for host in plans["no_playbook"]] == ["healthy"]
    # nothing was changed: the host with stale DNS still reports its code
    assert sorted(read["hresult"] or "-" for read in json.loads(after.stdout)) == ["-", "0xC004C008", "0xC004F074"]


@pytest.mark.slow
def test_rerun_failed_takes_a_run_auto_log_and_includes_escalated_hosts(tmp_path: Path) -> None:
    scenario = tmp_path / "auto.yaml"
    scenario.write_text(AUTO_MIX, encoding="utf-8")
    fleet, hosts = start(scenario, None, tmp_path)
    first, second, third = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "third.jsonl"
    with fleet:
        base = ["--hosts", str(hosts), "--output", "json"]
        auto = invoke(["run", "auto", *base, "--audit", str(first)], environment(fleet))
        again = invoke(["run", "auto", *base, "--audit", str(second), "--rerun-failed", str(first)],
                       environment(fleet))
        by_code = invoke(["run", "0xC004C008", *base, "--audit", str(third), "--rerun-failed", str(second)],
                         environment(fleet))
    assert auto.exit_code == 4, auto.output
    escalated = {host["host"] for host in json.loads(auto.stdout)["hosts"] if host["outcome"] == "escalate"}
    assert len(escalated) == 1
    assert again.exit_code == 4, again.output  # a person has not acted yet: still escalated, nothing else rerun
    assert {host["host"] for host in json.loads(again.stdout)["hosts"]} == escalated
    assert "rerunning 1 of 3 host(s)" in again.stderr
    assert by_code.exit_code == 4, by_code.output  # a log of run auto is taken by a run of one code too
    assert {host["host"] for host in json.loads(by_code.stdout)["hosts"]} == escalated
