"""How a run is shown: live progress, the end-of-run summary, JSON and JUnit XML. All of it masked."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from remediate.reasons import in_language
from remediate.results import Escalation, ExitCategory, HostReport, Outcome, RunReport, StepStatus
from remediate.secret import Redactor

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

VERDICT = {  # (English, Japanese, style)
    ExitCategory.OK: (
        "every host is healthy or fixed",
        "すべてのホストが正常、または修復済みです",
        "bold green",
    ),
    ExitCategory.FAILED: ("at least one host was not fixed", "修復できなかったホストがあります", "bold red"),
    ExitCategory.UNREACHABLE: (
        "no host could be reached",
        "どのホストにも接続できませんでした",
        "bold magenta",
    ),
    ExitCategory.ESCALATE: (
        "no failures, but at least one host needs a human",
        "失敗はありませんが、担当者の対応が必要なホストがあります",
        "bold yellow",
    ),
    ExitCategory.INTERRUPTED: (
        "interrupted: in-flight steps were finished and recorded",
        "中断しました: 実行中のステップは完了させて記録しました",
        "bold red",
    ),
}
# The verdict of a run whose in-flight steps a second Ctrl-C gave up (VERDICT's is for the first Ctrl-C alone).
ABANDONED_VERDICT = (
    "interrupted: in-flight steps were abandoned (recorded as interrupted in the audit log); "
    "their hosts may be half-done",
    "中断しました: 実行中のステップは中止しました (監査ログに interrupted として記録)。"
    "途中までしか変更されていないホストがあるかもしれません",
    "bold red",
)
OUTCOME_JA = {  # outcome words as a Japanese administrator reads them; JSON and the audit log keep the English
    Outcome.HEALTHY: "正常",
    Outcome.FIXED: "修復済み",
    Outcome.FAILED: "失敗",
    Outcome.ESCALATE: "要対応",
    Outcome.UNREACHABLE: "接続不可",
    Outcome.AUTH_FAILED: "認証失敗",
    Outcome.SKIPPED: "スキップ",
    Outcome.PLANNED: "計画のみ",
}
SHOWN_HOSTS = 10  # host names listed per escalation in the summary (JSON lists them all)

WORDS = {  # the few words of the summary, in the user's language
    "en": {
        "host": "host",
        "outcome": "outcome",
        "codes": "code before → after",
        "why": "why",
        "human": "needs a human",
        "count": "{count} host(s)",
        "more": "… and {count} more",
        "audit": "audit log",
    },
    "ja": {
        "host": "ホスト",
        "outcome": "結果",
        "codes": "エラー コード (前 → 後)",
        "why": "理由",
        "human": "担当者の対応が必要",
        "count": "{count} 台",
        "more": "… ほか {count} 台",
        "audit": "監査ログ",
    },
}


class LiveProgress:
    """A progress bar of hosts done / total, with counts by outcome. Thread-safe (rich locks)."""

    def __init__(self, total: int, console: Console | None = None, enabled: bool = True) -> None:
        self._counts: dict[Outcome, int] = {}
        self._progress = Progress(
            TextColumn("[bold]hosts"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task("", total=total)

    def host_started(self, host: str) -> None:
        self._progress.update(self._task, description=f"[dim]{host}")

    def host_finished(self, report: HostReport) -> None:
        self._counts[report.outcome] = self._counts.get(report.outcome, 0) + 1
        counts = "  ".join(
            f"[{OUTCOME_STYLE[outcome]}]{outcome.value} {count}[/]" for outcome, count in self._counts.items()
        )
        self._progress.update(self._task, advance=1, description=counts)

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()


def _code(report: HostReport) -> str:
    before = str(report.code_before) if report.code_before else "-"
    after = str(report.code_after) if report.code_after else "-"
    return f"{before} → {after}"


def print_summary(
    report: RunReport, console: Console, redactor: Redactor | None = None, language: str = "en"
) -> None:
    """The end-of-run table: one row per host, then counts by outcome and the verdict. In Japanese (`language`
    "ja") every word of it is Japanese but what the hosts and the OS said: step ids, codes, transport messages."""
    redactor = redactor or Redactor()
    words = in_language(WORDS, language)
    title = f"remediate {report.code}: {words['count'].format(count=len(report.hosts))}"
    table = Table(title=title, title_justify="left")
    for column in ("host", "outcome", "codes", "why"):
        table.add_column(words[column])
    for host in report.hosts:
        table.add_row(
            Text(redactor.text(host.label), overflow="fold"),
            Text(outcome_word(host.outcome, language), style=OUTCOME_STYLE[host.outcome]),
            _code(host),
            Text(redactor.text(host.reason_in(language)), overflow="fold"),
        )
    console.print(table)
    counts = Text()
    for name, count in report.counts().items():
        if count:
            outcome = Outcome(name)
            counts.append(f"{outcome_word(outcome, language)} {count}   ", style=OUTCOME_STYLE[outcome])
    console.print(counts)
    for escalation in report.escalations():
        print_escalation(escalation, console, redactor, language)
    english, japanese, style = verdict(report)
    console.print(Text(japanese if language == "ja" else english, style=style))
    if report.audit_path:
        console.print(f"{words['audit']}: {report.audit_path}")


def outcome_word(outcome: Outcome, language: str = "en") -> str:
    return OUTCOME_JA[outcome] if language == "ja" else outcome.value


def verdict(report: RunReport) -> tuple[str, str, str]:
    """(English, Japanese, style) of the run's last line: what its exit code means, true for this run."""
    if report.exit_category is ExitCategory.INTERRUPTED and report.abandoned:
        return ABANDONED_VERDICT
    return VERDICT[report.exit_category]


def print_escalation(
    escalation: Escalation, console: Console, redactor: Redactor | None = None, language: str = "en"
) -> None:
    """One block per reason a human is needed: the code and its hosts (the first few named), the guidance once."""
    redactor = redactor or Redactor()
    words = in_language(WORDS, language)
    hosts = escalation.hosts
    names = ", ".join(redactor.text(name) for name in hosts[:SHOWN_HOSTS])
    if len(hosts) > SHOWN_HOSTS:
        names += " " + words["more"].format(count=len(hosts) - SHOWN_HOSTS)
    count = words["count"].format(count=len(hosts))
    console.print(Text(f"{words['human']}: {escalation.code}, {count}: {names}", style="bold yellow"))
    console.print(Text(f"  {redactor.text(escalation.guidance)}", style="yellow"))


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
