"""How `remediate audit verify` and `audit show` tell an audit log: its state, then each run and host."""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len

from remediate.audit import COMPLETE, CRASH_CUT, STATE_UNKNOWN, TAMPERED, RunSummary, VerifyResult, changes_in_flight
from remediate.errors import ExitCode
from remediate.i18n import N_, _, pgettext
from remediate.report import outcome_word
from remediate.results import Outcome, host_label

# `audit verify`'s exit by what it found: each state has its own code.
VERIFY_EXIT = {COMPLETE: ExitCode.OK, CRASH_CUT: ExitCode.CRASH_CUT, TAMPERED: ExitCode.FAILED}
STATE_WORDS = {
    COMPLETE: N_("intact: complete"),
    CRASH_CUT: N_("intact but crash-cut"),
    TAMPERED: N_("NOT intact: tampered or damaged"),
}


def verdict(result: VerifyResult) -> str:
    """One line: the state, what was verified, and what such a check can see."""
    return f"{result.path}: {_(STATE_WORDS[result.state])}: {result.describe()} ({result.strength()})"


def run_lines(runs: list[RunSummary]) -> Iterator[str]:
    """Each run: who, when, its arguments, each host's outcome (a host a crash left mid-change: state unknown).
    Outcomes are told in the current language; codes, hosts, arguments and what the log recorded stay as written."""
    for run in runs:
        finished = run.finished or _("never (interrupted, crashed, or still running)")
        yield "\n" + _("run {code} by {operator}: started {started}, finished {finished}").format(
            code=run.code, operator=run.operator, started=run.started, finished=finished)
        yield "  " + _("arguments: {arguments}").format(arguments=" ".join(run.arguments))
        unknown = changes_in_flight(run)
        for host, fields in run.hosts.items():
            label = host_label(host, fields.get("computer_name"))
            before = fields.get("code_before") or "-"
            after = fields.get("code_after") or "-"
            outcome = _outcome(fields.get("outcome"))
            yield f"  {label:<30} {_padded(outcome, 12)} {before} -> {after}"
            if host in unknown:
                yield "    " + _("{state} ({step}); --rerun-failed detects it again before acting").format(
                    state=_(STATE_UNKNOWN), step=unknown[host])
            if fields.get("interrupted"):
                given_up = fields["interrupted"]
                reason = given_up.get("reason")
                if given_up.get("step"):
                    yield "    " + _("interrupted during {phase} step {step}: {reason}").format(
                        phase=given_up.get("phase"), step=given_up.get("step"), reason=reason)
                else:
                    yield "    " + _("interrupted: {reason}").format(reason=reason)
        if run.summary:
            counted = run.summary.get("counts", {}).items()
            counts = ", ".join(f"{_outcome(name)} {count}" for name, count in counted if count)
            yield "  " + _("{steps} step events; {counts}; exit {exit}").format(
                steps=run.steps, counts=counts, exit=_exit(run.summary.get("exit")))


def _outcome(name: str | None) -> str:
    """An outcome the log recorded, as a person reads it (one this version does not know: as recorded)."""
    if not name:
        return _("unfinished")
    try:
        return outcome_word(Outcome(name))
    except ValueError:
        return name


def _exit(category: str | None) -> str:
    """The exit category a run's summary recorded (ok, failed, ...), as a person reads it."""
    words = {"ok": pgettext("exit", "ok"), "interrupted": pgettext("exit", "interrupted")}
    return words.get(category or "") or _outcome(category)


def _padded(text: str, width: int) -> str:
    """`text` padded to `width` terminal cells (a Japanese character takes two)."""
    return text + " " * max(0, width - cell_len(text))
