"""The audit log: chained, masked, thread-safe, verifiable, and readable after a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate import audit
from remediate.audit import AuditLog, verify
from remediate.errors import UsageError
from remediate.secret import Redactor, Secret

KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"  # a published generic volume license key (Windows 10/11 Enterprise)
PASSWORD = "Pa55-w0rd!seCret"


def write_run(path: Path, hosts: int = 3) -> None:
    with AuditLog(path) as log:
        log.record(audit.RUN_STARTED, operator="alice", code="0xC004F074", arguments=["run", "0xC004F074"])
        for number in range(hosts):
            host = f"pc{number}.corp.example"
            log.record(audit.HOST_STARTED, host=host, code="0xC004F074")
            log.record(audit.STEP, host=host, step="license-state", ok=False, hresult="0xC004F074")
            log.record(audit.OUTCOME, host=host, outcome="fixed", code_before="0xC004F074", code_after=None)
        log.record(audit.RUN_FINISHED, summary={"hosts": hosts, "counts": {"fixed": hosts}})


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_a_written_log_verifies_with_every_event(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    result = verify(path)
    assert result.ok and not result.truncated
    assert result.events == 1 + 3 * 3 + 1
    events = audit.read_events(path)
    assert [event["seq"] for event in events] == list(range(1, 12))
    assert events[0]["prev"] == audit.GENESIS
    assert all(events[i]["prev"] == events[i - 1]["hash"] for i in range(1, len(events)))
    assert all(event["time"].endswith("Z") for event in events)


def test_an_edited_line_is_caught_at_that_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    lines = lines_of(path)
    assert b'"fixed"' in lines[3]
    lines[3] = lines[3].replace(b'"fixed"', b'"healthy"')
    write_lines(path, lines)
    result = verify(path)
    assert not result.ok
    assert result.problems[0].startswith("line 4:") and "edited" in result.problems[0]


def test_an_edited_line_with_a_recomputed_hash_breaks_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    lines = lines_of(path)
    event = json.loads(lines[3])
    event["outcome"] = "healthy"
    event["hash"] = audit.event_hash(event)
    lines[3] = audit.canonical_json(event).encode()
    write_lines(path, lines)
    result = verify(path)
    assert not result.ok and result.problems[0].startswith("line 5:")


def test_an_edited_last_line_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    lines = lines_of(path)
    lines[-1] = lines[-1].replace(b'"fixed":3', b'"fixed":2')
    write_lines(path, lines)
    assert not verify(path).ok


def test_a_dropped_line_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    lines = lines_of(path)
    del lines[3]
    write_lines(path, lines)
    result = verify(path)
    assert not result.ok and result.problems[0].startswith("line 4:")


def test_reordered_lines_are_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    lines = lines_of(path)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(path, lines)
    result = verify(path)
    assert not result.ok and result.problems[0].startswith("line 3:")


def test_a_log_cut_by_a_crash_in_its_last_line_is_truncated_but_valid(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # cut inside the last event, as a crash while writing it would
    result = verify(path)
    assert result.ok and result.truncated
    assert result.events == 10
    assert "cut short" in result.describe()


def test_a_complete_line_appended_without_newline_is_not_taken_for_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    with path.open("ab") as handle:
        handle.write(b'{"seq":12,"type":"outcome"}')
    assert not verify(path).ok


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_every_prefix_of_a_log_verifies(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    directory = tmp_path_factory.mktemp("prefix")
    path = directory / "a.jsonl"
    write_run(path)
    data = path.read_bytes()
    path.write_bytes(data[: cut % (len(data) + 1)])
    result = verify(path)
    assert result.ok
    assert result.truncated == (not path.read_bytes().endswith(b"\n") and path.stat().st_size > 0)


def test_an_existing_log_is_continued_and_a_cut_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path, hosts=1)
    write_run(path, hosts=2)
    result = verify(path)
    assert result.ok and result.events == 5 + 8
    assert len(audit.show(path)) == 2
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(UsageError, match="new file"):  # exit 2: nothing was touched
        AuditLog(path)


def test_concurrent_writers_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:

        def write(worker: int) -> None:
            for number in range(40):
                log.record(audit.STEP, host=f"h{worker}", step=str(number))

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify(path)
    assert result.ok and result.events == 240


class FsyncCounter:
    """os.fsync as it is, counted (and, with `pause_s`, made as slow as a busy disk)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pause_s: float = 0.0) -> None:
        self.calls = 0
        self.pause_s = pause_s
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd: int) -> None:
        self.calls += 1
        time.sleep(self.pause_s)
        self._real(fd)


def test_appended_events_are_in_the_file_at_once_and_on_disk_within_the_group_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = FsyncCounter(monkeypatch)
    path = tmp_path / "a.jsonl"
    with AuditLog(path, group_commit_s=0.05) as log:
        for number in range(200):
            log.append(audit.STEP, host="pc1", step=f"read-{number}")
        assert len(audit.read_events(path)) == 200  # a crash of this process now would lose none of them
        assert fsyncs.calls <= 2  # one batch, perhaps two: not one fsync per event
        deadline = time.monotonic() + 2
        while fsyncs.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fsyncs.calls >= 1
    assert verify(path).events == 200


def test_a_recorded_event_is_on_disk_when_record_returns_with_everything_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, group_commit_s=60) as log:  # the batch would wait a minute
        fsyncs = FsyncCounter(monkeypatch)
        log.append(audit.STEP, host="pc1", step="license-state")
        assert fsyncs.calls == 0
        log.record(audit.STEP_STARTED, host="pc1", step="activate", phase="fix")
        assert fsyncs.calls == 1  # one fsync made both durable
        log.record(audit.STEP_STARTED, host="pc1", step="activate", phase="fix", attempt=2)
        assert fsyncs.calls == 2


def test_concurrent_records_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsyncs = FsyncCounter(monkeypatch, pause_s=0.005)
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:

        def write(worker: int) -> None:
            for number in range(20):
                log.record(audit.STEP_STARTED, host=f"h{worker}", step=str(number))

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert verify(path).events == 160
    assert fsyncs.calls < 160 * 0.6  # writers that wait at once are covered by one fsync


def test_keys_and_secrets_never_reach_the_log(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    redactor = Redactor([Secret(PASSWORD)])
    with AuditLog(path, redactor) as log:
        log.record(
            audit.STEP,
            host="pc1",
            parameters={"ProductKey": KEY, "Password": PASSWORD},
            output=f"Installed product key {KEY} successfully.\r\nlogon with {PASSWORD} failed",
        )
    text = path.read_text(encoding="utf-8")
    assert KEY not in text and PASSWORD not in text
    assert "2YT43" in text  # the last five characters stay, so an admin can tell which key
    assert verify(path).ok


def test_long_output_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.record(audit.STEP, host="pc1", output="x" * 50_000)
    event = audit.read_events(path)[0]
    assert len(event["output"]) < 9000 and "not kept" in event["output"]


def test_japanese_text_is_kept_readable(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.record(audit.STEP, host="pc1", output="プロダクト キーを正常にインストールしました。")
    assert "プロダクト キー" in path.read_text(encoding="utf-8")
    assert verify(path).ok


def test_show_summarises_a_run(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    (run,) = audit.show(path)
    assert run.operator == "alice" and run.code == "0xC004F074"
    assert run.steps == 3 and run.finished is not None
    assert {host: fields["outcome"] for host, fields in run.hosts.items()} == {
        "pc0.corp.example": "fixed",
        "pc1.corp.example": "fixed",
        "pc2.corp.example": "fixed",
    }


def test_the_default_path_is_unique(tmp_path: Path) -> None:
    first = audit.default_path("0xC004F074", directory=tmp_path)
    first.parent.mkdir(parents=True, exist_ok=True)
    first.write_text("")
    second = audit.default_path("0xC004F074", directory=tmp_path)
    assert first != second and second.name.endswith("0xC004F074-2.jsonl") and "T" in second.name


WRITER = """
import sys, time
from remediate.audit import AuditLog
log = AuditLog(sys.argv[1])
number = 0
while True:
    number += 1
    log.record("step", host="pc%d" % (number % 7), output="x" * (number % 3000))
"""


@pytest.mark.slow
def test_a_writer_killed_mid_run_leaves_a_verifiable_log(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not path.exists() or path.read_bytes().count(b"\n") < 50):
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    result = verify(path)
    assert result.ok, result.describe()
    assert result.events >= 50


def test_a_short_password_is_masked_as_a_word_without_mangling_the_text(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, Redactor([Secret("p")])) as log:
        log.record(audit.RUN_STARTED, operator="pat", arguments=["--hosts", "pc1.corp.example"], note="pw: p")
    (event,) = audit.read_events(path)
    assert event["operator"] == "pat" and event["arguments"] == ["--hosts", "pc1.corp.example"]
    assert event["note"] == "pw: ********"


def test_a_crashed_run_reruns_the_hosts_it_never_finished_or_never_started(tmp_path: Path) -> None:
    path = tmp_path / "crashed.jsonl"
    with AuditLog(path) as log:
        log.record(audit.RUN_STARTED, operator="alice", code="0xC004F074", arguments=["run"],
                   hosts=["pc1", "pc2", "pc3", "pc4"])
        log.record(audit.HOST_STARTED, host="pc1", code="0xC004F074")
        log.record(audit.OUTCOME, host="pc1", outcome="fixed", code_before="0xC004F074", code_after=None)
        log.record(audit.HOST_STARTED, host="pc2", code="0xC004F074")
        log.record(audit.OUTCOME, host="pc2", outcome="failed", code_before="0xC004F074", code_after=None)
        log.record(audit.HOST_STARTED, host="pc3", code="0xC004F074")
        # The process dies here: pc3 is mid-run, pc4 never started, and no run-finished event is written.
    code, hosts = audit.hosts_to_rerun(path)
    assert code == "0xC004F074"
    assert sorted(hosts) == ["pc2", "pc3", "pc4"]


def test_show_tells_which_hosts_were_given_up_mid_step_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.record(audit.RUN_STARTED, operator="alice", code="auto", arguments=["run", "auto"],
                   hosts=["10.0.0.1:5985", "10.0.0.2:5985"])
        log.record(audit.STATUS, host="10.0.0.1:5985", computer_name="WIN-APP01", state="Initial grace (OOB)")
        log.record(audit.HOST_STARTED, host="10.0.0.2:5985", code="0xC004F074")
        log.record(audit.STEP, host="10.0.0.2:5985", step="license-state", data={"computer_name": "WIN-APP02"})
        log.record(audit.INTERRUPTED, host="10.0.0.2:5985", step="flush-dns", phase="fix",
                   reason="abandoned during fix step flush-dns: changes may have happened, not verified")
        log.record(audit.OUTCOME, host="10.0.0.2:5985", outcome="failed", reason="abandoned during fix step")
        log.record(audit.OUTCOME, host="10.0.0.1:5985", outcome="skipped", reason="not started")
        log.record(audit.RUN_FINISHED, summary={"exit": "interrupted"}, interrupted=True)
    (run,) = audit.show(path)
    given_up = run.hosts["10.0.0.2:5985"]
    assert given_up["outcome"] == "failed" and given_up["computer_name"] == "WIN-APP02"
    assert given_up["interrupted"] == {
        "step": "flush-dns",
        "phase": "fix",
        "reason": "abandoned during fix step flush-dns: changes may have happened, not verified",
    }
    assert run.hosts["10.0.0.1:5985"]["computer_name"] == "WIN-APP01"
    assert "interrupted" not in run.hosts["10.0.0.1:5985"] and run.interrupted

    from click.testing import CliRunner

    from remediate.cli import main

    shown = CliRunner().invoke(main, ["audit", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "10.0.0.2:5985 (WIN-APP02)" in shown.output and "10.0.0.1:5985 (WIN-APP01)" in shown.output
    assert "interrupted during fix step flush-dns: abandoned during fix step flush-dns" in shown.output


AUDIT_KEY = b"k" * 16 + b"-audit-key-for-tests"


def write_keyed_run(path: Path, key: bytes, outcome: str = "failed", finish: bool = True) -> None:
    with AuditLog(path, key=key) as log:
        log.record(audit.RUN_STARTED, operator="alice", code="0xC004F074", hosts=["pc0", "pc1"])
        for host in ("pc0", "pc1"):
            log.record(audit.HOST_STARTED, host=host, code="0xC004F074")
            log.record(audit.OUTCOME, host=host, outcome=outcome)
        if finish:
            log.record(audit.RUN_FINISHED, summary={"counts": {outcome: 2}})


def rewrite(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """What an insider with write access does: change events, then recompute the sha256 chain."""
    events = change(audit.read_events(path))
    prev = audit.GENESIS
    lines = []
    for seq, event in enumerate(events, start=1):
        event = {**event, "seq": seq, "prev": prev}
        event["hash"] = audit.event_hash(event)
        prev = event["hash"]
        lines.append(audit.canonical_json(event).encode())
    write_lines(path, lines)


def test_an_unkeyed_rewrite_verifies_and_verify_says_so_plainly(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_run(path)
    rewrite(path, lambda events: [{**e, "outcome": "fixed"} if "outcome" in e else e for e in events])
    result = verify(path)
    assert result.state == audit.COMPLETE  # a sha256 chain cannot see a rewrite ...
    assert "accidental damage only" in result.strength()  # ... and the check says so


def test_a_keyed_log_shows_a_rewrite_even_with_the_chain_recomputed(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_keyed_run(path, AUDIT_KEY)
    assert verify(path, AUDIT_KEY).state == audit.COMPLETE
    assert verify(path, AUDIT_KEY).checked_with_key
    rewrite(path, lambda events: [{**e, "outcome": "fixed"} if e["type"] == audit.OUTCOME else e for e in events])
    assert verify(path, AUDIT_KEY).state == audit.TAMPERED
    # Stripping the chain field to pass the log off as unkeyed does not help either.
    rewrite(path, lambda events: [{k: v for k, v in e.items() if k != "chain"} for e in events])
    stripped = verify(path, AUDIT_KEY)
    assert stripped.state == audit.TAMPERED and "not a keyed log" in stripped.describe()


def test_another_key_does_not_verify_and_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_keyed_run(path, AUDIT_KEY)
    assert verify(path, b"x" * 32).state == audit.TAMPERED
    with pytest.raises(UsageError, match="keyed audit log"):
        verify(path)
    with pytest.raises(UsageError, match="without its key"):
        AuditLog(path)


def test_lines_cut_from_the_end_read_as_crash_cut_with_the_hosts_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_keyed_run(path, AUDIT_KEY)
    write_lines(path, lines_of(path)[:-2])  # the last outcome and run_finished deleted
    result = verify(path, AUDIT_KEY)
    assert result.state == audit.CRASH_CUT and result.in_flight == ["pc1"]
    assert "hosts in flight: pc1" in result.describe()


def test_a_short_key_file_is_a_usage_error(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"too-short\n")
    with pytest.raises(UsageError, match="at least 16"):
        audit.load_key(short)
    good = tmp_path / "good.key"
    good.write_bytes(AUDIT_KEY + b"\n")
    assert audit.load_key(good) == AUDIT_KEY


def test_audit_verify_gives_each_state_its_own_exit_code(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from remediate.cli import main

    key_file = tmp_path / "audit.key"
    key_file.write_bytes(AUDIT_KEY)
    path = tmp_path / "a.jsonl"
    write_keyed_run(path, AUDIT_KEY)
    env = {"REMEDIATE_AUDIT_KEY_FILE": str(key_file)}

    def verify_exit() -> tuple[int, str]:
        result = CliRunner().invoke(main, ["audit", "verify", str(path)], env=env)
        return result.exit_code, result.output

    assert verify_exit()[0] == 0 and "complete" in verify_exit()[1]
    lines = lines_of(path)
    write_lines(path, lines[:-2])  # the last lines deleted: it reads as a crash
    code, output = verify_exit()
    assert code == 5 and "crash-cut" in output and "pc1" in output
    write_lines(path, lines)
    rewrite(path, lambda events: [{**e, "outcome": "fixed"} if e["type"] == audit.OUTCOME else e for e in events])
    code, output = verify_exit()
    assert code == 1 and "tampered" in output
    shown = CliRunner().invoke(main, ["audit", "show", str(path)], env=env)
    assert shown.exit_code == 1  # a summary of a log that does not verify never passes for a good one
    no_key = CliRunner().invoke(main, ["audit", "verify", str(path)], env={})
    assert no_key.exit_code == 2 and "keyed audit log" in no_key.output
