"""How a run is shown: the end-of-run summary that points at the hosts needing attention, JSON and JUnit XML.
All of it masked."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from remediate import i18n
from remediate.i18n import N_, _, pgettext
from remediate.results import ExitCategory, HostReport, Outcome, RunReport, StepStatus
from remediate.secret import Redactor
from remediate.terminal import Column, print_fitted

OUTCOME_STYLE = {
    Outcome.HEALTHY: "green",
    Outcome.FIXED: "bold green",
    Outcome.FAILED: "bold red",
    Outcome.ESCALATE: "bold yellow",
    Outcome.UNREACHABLE: "bold magenta",
    Outcome.AUTH_FAILED: "bold magenta",
    Outcome.SKIPPED: "dim",
    Outcome.PLANNED: "cyan",
}

VERDICT = {  # (message, style)
    ExitCategory.OK: (N_("every host is healthy or fixed"), "bold green"),
    ExitCategory.FAILED: (N_("at least one host was not fixed"), "bold red"),
    ExitCategory.UNREACHABLE: (N_("no host could be reached"), "bold magenta"),
    ExitCategory.ESCALATE: (N_("no failures, but at least one host needs a human"), "bold yellow"),
    ExitCategory.INTERRUPTED: (N_("interrupted: in-flight steps were finished and recorded"), "bold red"),
}
# The verdict of a run whose in-flight steps a second Ctrl-C gave up (VERDICT's is for the first Ctrl-C alone).
ABANDONED_VERDICT = (
    N_("interrupted: in-flight steps were abandoned (recorded as interrupted in the audit log); their hosts may be "
       "half-done"),
    "bold red",
)
SUMMARY_MODES = ("auto", "full", "short")
EVALUATION_PLAYBOOK = "0xC004F069"  # converts an evaluation edition (DISM /Set-Edition, --allow edition-conversion)
FULL_UP_TO = 50  # `--summary auto`: the per-host table up to this many hosts; above, the hosts pointed at only
# Outcomes a summary points at (every one but healthy and fixed), in the order they are listed.
POINTED_AT = (Outcome.FAILED, Outcome.AUTH_FAILED, Outcome.UNREACHABLE, Outcome.ESCALATE, Outcome.SKIPPED,
              Outcome.PLANNED)

SHORT = N_("(the table of every host is left out above {limit} hosts: --summary full shows it)")
EVALUATION = N_(
    "{count} host(s) run an evaluation edition, which no key activates: convert it with `remediate run {playbook} "
    "--allow edition-conversion --set target_edition=…` (remediate show {playbook})"
)


def hosts_word(count: int) -> str:
    """`{count} host(s)` as the summary says it."""
    return _("{count} host(s)").format(count=count)


@dataclass
class ProblemGroup:
    """Hosts that did not end healthy or fixed, for the same outcome and reason (and guidance, and playbook in
    an auto run): what a summary points at."""

    outcome: Outcome
    playbook: str  # the playbook's code in an auto run, else ""
    reason: str  # in the reader's language
    guidance: str | None
    hosts: list[HostReport] = field(default_factory=list)

    def pointers(self) -> list[str]:
        """Where to look next: each code the hosts reported that is not their playbook's (it has a playbook of
        its own), and the conversion playbook for an evaluation edition (no key activates one)."""
        seen: dict[str, None] = {}
        for host in self.hosts:
            for code in (host.code_after, host.code_before):
                if code is not None and str(code) != host.code:
                    seen.setdefault(f"remediate explain {code}")
        evaluation = [host for host in self.hosts if host.code != EVALUATION_PLAYBOOK and _evaluation(host)]
        if evaluation:
            seen.setdefault(_(EVALUATION).format(playbook=EVALUATION_PLAYBOOK, count=len(evaluation)))
        return list(seen)


def _evaluation(host: HostReport) -> bool:
    """The host runs an evaluation edition (its licence read names the edition, e.g. ServerStandardEval)."""
    for step in host.steps:
        if step.result is not None:
            name = str(step.result.data.get("name") or "").removesuffix(" edition")
            if name.endswith("Eval"):
                return True
    return False


def problem_groups(report: RunReport, language: str | None = None) -> list[ProblemGroup]:
    """Every host that did not end healthy or fixed, grouped by outcome (POINTED_AT order) and reason (told in
    `language`, by default the current one)."""
    language = language or i18n.language()
    groups: dict[tuple[Outcome, str, str, str | None], ProblemGroup] = {}
    for host in report.hosts:
        if host.outcome not in POINTED_AT:
            continue
        playbook = host.code if report.code == "auto" else ""
        reason = host.reason_in(language)
        key = (host.outcome, playbook, reason, host.guidance)
        groups.setdefault(key, ProblemGroup(host.outcome, playbook, reason, host.guidance)).hosts.append(host)
    return sorted(groups.values(), key=lambda group: POINTED_AT.index(group.outcome))


def rerun_command(arguments: Sequence[str], audit_path: str | Path) -> str:
    """The command that reruns only the hosts a run did not finish well: its own arguments, --rerun-failed."""
    words: list[str] = []
    skip = False
    for word in arguments:
        if skip:
            skip = False
        elif word == "--rerun-failed":
            skip = True
        elif not word.startswith("--rerun-failed="):
            words.append(word)
    return shlex.join(["remediate", *words, "--rerun-failed", str(audit_path)])


def _code(report: HostReport) -> str:
    before = str(report.code_before) if report.code_before else "-"
    after = str(report.code_after) if report.code_after else "-"
    return f"{before} → {after}"


def print_summary(
    report: RunReport,
    console: Console,
    redactor: Redactor | None = None,
    language: str | None = None,
    *,
    mode: str = "auto",
    arguments: Sequence[str] | None = None,
) -> None:
    """The end of a run: the table of every host (`mode` full; auto: up to FULL_UP_TO hosts), the audit log,
    then every host that did not end healthy or fixed, grouped by outcome and reason, with what to do next,
    and last the counts and the verdict. Its words are in the current language, and so are the reasons (or in
    `language`); what the hosts and the OS said stays as said: step ids, codes, transport messages.

    arguments: the run's command line (without `remediate`), for the command that reruns what did not end well
    (None: no such command, as in the demo, whose hosts are gone once it ends).
    """
    redactor = redactor or Redactor()
    language = language or i18n.language()
    title = f"remediate {report.code}: {hosts_word(len(report.hosts))}"
    if mode == "full" or (mode == "auto" and len(report.hosts) <= FULL_UP_TO):
        print_fitted(console, _host_columns(report, redactor, language), title)
    else:
        console.print(Text(f"{title} {_(SHORT).format(limit=FULL_UP_TO)}"))
    if report.audit_path:
        console.print(Text(_("audit log: {path}").format(path=report.audit_path)))
    groups = problem_groups(report, language)
    for group in groups:
        _print_group(group, console, redactor)
    _print_next(report, groups, console, arguments)
    counts = Text()
    for name, count in report.counts().items():
        if count:
            outcome = Outcome(name)
            counts.append(f"{outcome_word(outcome)} {count}   ", style=OUTCOME_STYLE[outcome])
    console.print(counts)
    message, style = verdict(report)
    console.print(Text(_(message), style=style))


def _host_columns(report: RunReport, redactor: Redactor, language: str) -> list[Column]:
    hosts = report.hosts
    outcomes = [Text(outcome_word(host.outcome), style=OUTCOME_STYLE[host.outcome]) for host in hosts]
    return [
        Column(_("host"), rank=0, cells=[Text(redactor.text(host.label)) for host in hosts]),
        Column(_("outcome"), rank=0, cells=outcomes),
        Column(_("code before → after"), rank=1, cells=[Text(_code(host)) for host in hosts]),
        Column(_("why"), rank=2, atom=False,
               cells=[Text(redactor.text(host.reason_in(language))) for host in hosts]),
    ]


def _print_group(group: ProblemGroup, console: Console, redactor: Redactor) -> None:
    head = Text(outcome_word(group.outcome), style=OUTCOME_STYLE[group.outcome])
    if group.playbook not in ("", "auto") and not group.reason.startswith(group.playbook):
        head.append(f" · {group.playbook}")
    if group.reason:
        head.append(f" · {redactor.text(group.reason)}")
    head.append(f" · {hosts_word(len(group.hosts))}", style="bold")
    console.print(head)
    names = ", ".join(redactor.text(host.label) for host in group.hosts)
    console.print(Text(f"  {names}"))
    if group.guidance:
        console.print(Text("  " + _("what to do: {guidance}").format(guidance=redactor.text(group.guidance)),
                           style="yellow"))
    for pointer in group.pointers():
        console.print(Text("  " + _("see: {pointer}").format(pointer=pointer), style="dim"))


def _print_next(
    report: RunReport,
    groups: Sequence[ProblemGroup],
    console: Console,
    arguments: Sequence[str] | None,
) -> None:
    """The command that reruns every host pointed at (a live run with an audit log), and what to check first."""
    if arguments is None or not report.audit_path:
        return
    count = sum(len(group.hosts) for group in groups if group.outcome is not Outcome.PLANNED)
    if not count:
        return
    refused = sum(len(group.hosts) for group in groups if group.outcome is Outcome.AUTH_FAILED)
    if refused:
        console.print(Text(_("next: check the account first (REMEDIATE_USERNAME, REMEDIATE_PASSWORD): {count} host(s) "
                             "refused it").format(count=refused), style="bold"))
    command = rerun_command(arguments, report.audit_path)
    console.print(Text.assemble((_("next: "), "bold"), (command, "bold cyan")))
    console.print(Text("  " + _("reruns the {count} host(s) above that did not end healthy or fixed").format(
        count=count), style="dim"))
    if any(group.outcome is Outcome.ESCALATE for group in groups):
        console.print(Text("  " + _("once a person has acted on the escalated hosts, the same command checks them "
                                    "again"), style="dim"))


def outcome_word(outcome: Outcome) -> str:
    """An outcome as a person reads it, in the current language (JSON and the audit log keep outcome.value)."""
    return {
        Outcome.HEALTHY: pgettext("outcome", "healthy"),
        Outcome.FIXED: pgettext("outcome", "fixed"),
        Outcome.FAILED: pgettext("outcome", "failed"),
        Outcome.ESCALATE: pgettext("outcome", "escalate"),
        Outcome.UNREACHABLE: pgettext("outcome", "unreachable"),
        Outcome.AUTH_FAILED: pgettext("outcome", "auth-failed"),
        Outcome.SKIPPED: pgettext("outcome", "skipped"),
        Outcome.PLANNED: pgettext("outcome", "planned"),
    }[outcome]


def verdict(report: RunReport) -> tuple[str, str]:
    """(message, style) of the run's last line: what its exit code means, true for this run (translate the
    message with _() to show it)."""
    if report.exit_category is ExitCategory.INTERRUPTED and report.abandoned:
        return ABANDONED_VERDICT
    return VERDICT[report.exit_category]


def to_json(report: RunReport, redactor: Redactor | None = None) -> str:
    """The run as JSON: summary, then per host its outcome, codes before and after, and steps."""
    redactor = redactor or Redactor()
    return json.dumps(redactor.value(report.to_dict()), ensure_ascii=False, indent=2)


def _failure_text(host: HostReport, redactor: Redactor) -> str:
    lines = [f"{host.outcome.value}: {host.reason}", f"code before → after: {_code(host)}"]
    for step in host.steps:
        line = f"[{step.phase}] {step.id}: {step.status.value}"
        if step.status is StepStatus.RAN and step.result is not None:
            code = f" hresult {step.result.hresult}" if step.result.hresult else ""
            line += f" ok={str(step.result.ok).lower()}{code} attempts={step.attempts}"
        if step.note:
            line += f" ({step.note})"
        lines.append(line)
    if host.guidance:
        lines.append(f"guidance: {host.guidance}")
    return redactor.text("\n".join(lines))


def write_junit(report: RunReport, path: str | Path, redactor: Redactor | None = None) -> None:
    """One testsuite for the run, one testcase per host; failed / escalate / unreachable are failures."""
    redactor = redactor or Redactor()
    problems = sum(1 for host in report.hosts if host.is_problem)
    skipped = sum(1 for host in report.hosts if host.outcome is Outcome.SKIPPED)
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=f"remediate {report.code}",
        tests=str(len(report.hosts)),
        failures=str(problems),
        errors="0",
        skipped=str(skipped),
        time=f"{report.duration_s:.3f}",
    )
    for host in report.hosts:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=report.code,
            name=redactor.text(host.label),
            time=f"{host.duration_s:.3f}",
        )
        if host.is_problem:
            failure = ElementTree.SubElement(
                case,
                "failure",
                type=host.outcome.value,
                message=redactor.text(f"{host.outcome.value}: {host.reason}"),
            )
            failure.text = _failure_text(host, redactor)
        elif host.outcome is Outcome.SKIPPED:
            ElementTree.SubElement(case, "skipped", message=redactor.text(host.reason))
        else:
            output = ElementTree.SubElement(case, "system-out")
            output.text = redactor.text(f"{host.outcome.value}: {host.reason} ({_code(host)})")
    tree = ElementTree.ElementTree(suites)
    ElementTree.indent(tree)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
