"""How `remediate audit verify` and `audit show` tell an audit log: its state, then each run and host."""

from __future__ import annotations

from collections.abc import Iterator

from remediate.audit import COMPLETE, CRASH_CUT, STATE_UNKNOWN, TAMPERED, RunSummary, VerifyResult, changes_in_flight
from remediate.errors import ExitCode
from remediate.results import host_label

# `audit verify`'s exit by what it found: each state has its own code.
VERIFY_EXIT = {COMPLETE: ExitCode.OK, CRASH_CUT: ExitCode.CRASH_CUT, TAMPERED: ExitCode.FAILED}
STATE_WORDS = {
    COMPLETE: "intact: complete",
    CRASH_CUT: "intact but crash-cut",
    TAMPERED: "NOT intact: tampered or damaged",
}


def verdict(result: VerifyResult) -> str:
    """One line: the state, what was verified, and what such a check can see."""
    return f"{result.path}: {STATE_WORDS[result.state]}: {result.describe()} ({result.strength()})"


def run_lines(runs: list[RunSummary]) -> Iterator[str]:
    """Each run: who, when, its arguments, each host's outcome (a host a crash left mid-change: state unknown)."""
    for run in runs:
        finished = run.finished or "never (interrupted, crashed, or still running)"
        yield f"\nrun {run.code} by {run.operator}: started {run.started}, finished {finished}"
        yield f"  arguments: {' '.join(run.arguments)}"
        unknown = changes_in_flight(run)
        for host, fields in run.hosts.items():
            label = host_label(host, fields.get("computer_name"))
            before = fields.get("code_before") or "-"
            after = fields.get("code_after") or "-"
            outcome = fields.get("outcome") or "unfinished"
            yield f"  {label:<30} {outcome:<12} {before} -> {after}"
            if host in unknown:
                yield f"    {STATE_UNKNOWN} ({unknown[host]}); --rerun-failed detects it again before acting"
            if fields.get("interrupted"):
                given_up = fields["interrupted"]
                where = f"{given_up.get('phase')} step {given_up.get('step')}" if given_up.get("step") else ""
                yield f"    interrupted{' during ' + where if where else ''}: {given_up.get('reason')}"
        if run.summary:
            counted = run.summary.get("counts", {}).items()
            counts = ", ".join(f"{name} {count}" for name, count in counted if count)
            yield f"  {run.steps} step events; {counts}; exit {run.summary.get('exit')}"
