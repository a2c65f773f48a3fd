"""The console rendering of a Plan, for a change board to read before anything runs.

Hosts whose plans read the same are shown once. Each step shows its script exactly as it will be sent (no
wrapping, no markup, no line numbers, so it can be copied) and, below it, its parameter values, masked.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.reasons import in_language
from remediate.report import outcome_word, problem_groups
from remediate.results import HostReport, Outcome, RunReport
from remediate.secret import Redactor
from remediate.terminal import rule

MAX_LISTED_HOSTS = 20

_WORDS = {
    "en": {
        "plan": "Plan",
        "playbook": "Playbook",
        "hosts": "Hosts",
        "groups": "group(s) of identical plans",
        "dry": "Dry run: nothing was sent to any host.",
        "group": "Group",
        "of": "of",
        "host_count": "host(s)",
        "more": "and {n} more",
        "step": "Step",
        "only_if": "only if",
        "retry": "retry",
        "attempts": "{n} attempts, {delay}s apart",
        "on": "on",
        "timeout": "timeout",
        "idempotent": "idempotent",
        "script": "script",
        "parameters": "parameters",
        "none": "(no parameters)",
        "skipped": "Left out",
        "no_steps": "(no steps)",
        "auto": "Dry run of auto: each host's licence was read with the read-only license-state script to choose "
        "its playbook; nothing else was sent and nothing was changed.",
        "no_plan": "Hosts no playbook would run on",
    },
    "ja": {
        "plan": "計画",
        "playbook": "プレイブック",
        "hosts": "ホスト",
        "groups": "グループ (同一の計画ごと)",
        "dry": "ドライラン: どのホストにも何も送信していません。",
        "group": "グループ",
        "of": "/",
        "host_count": "台",
        "more": "ほか {n} 台",
        "step": "ステップ",
        "only_if": "実行条件",
        "retry": "再試行",
        "attempts": "{n} 回まで、{delay} 秒間隔",
        "on": "対象コード",
        "timeout": "タイムアウト",
        "idempotent": "冪等",
        "script": "スクリプト",
        "parameters": "パラメーター",
        "none": "(パラメーターなし)",
        "skipped": "計画から除外",
        "no_steps": "(ステップなし)",
        "auto": "auto のドライラン: プレイブックを選ぶため、各ホストのライセンス状態を読み取り専用の license-state "
        "スクリプトで読み取りました。それ以外は何も送信せず、何も変更していません。",
        "no_plan": "プレイブックを実行しないホスト",
    },
}


def printable(text: str) -> str:
    """A value on one line: control characters escaped, so a value cannot fake lines of the preview."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _seconds(value: float) -> str:
    return f"{value:g}"


def print_plan(plan: Plan, console: Console, lang: str = "en", *, nothing_sent: bool = True) -> None:
    """The plan, its groups of identical hosts and each step's script and masked values. nothing_sent: say
    that nothing was sent (not so for run auto, which read the licences first)."""
    words = in_language(_WORDS, lang)
    playbook = plan.playbook
    groups = plan.groups()
    console.print(Text(f"{words['plan']}: {plan.code} — {playbook.title.get(lang)}", style="bold"))
    console.print(Text(f"{words['playbook']}: {playbook.source}  sha256 {playbook.sha256}"))
    console.print(Text(f"{words['hosts']}: {len(plan.hosts)} · {len(groups)} {words['groups']}"))
    if nothing_sent:
        console.print(Text(words["dry"], style="green"))
    for number, group in enumerate(groups, start=1):
        console.print()
        title = f"{words['group']} {number} {words['of']} {len(groups)}: {len(group)} {words['host_count']}"
        rule(console, Text(title), style="cyan")
        _print_hosts(group, console, words)
        _print_host_plan(group[0], console, lang, words)


def _print_hosts(group: list[HostPlan], console: Console, words: dict[str, str]) -> None:
    labels = [printable(host_plan.label) for host_plan in group]
    listed = ", ".join(labels[:MAX_LISTED_HOSTS])
    if len(labels) > MAX_LISTED_HOSTS:
        listed += ", " + words["more"].format(n=len(labels) - MAX_LISTED_HOSTS)
    console.print(Text(f"{words['hosts']}: {listed}"))


def _print_host_plan(host_plan: HostPlan, console: Console, lang: str, words: dict[str, str]) -> None:
    if not host_plan.steps:
        console.print(Text(words["no_steps"]))
    for index, step in enumerate(host_plan.steps, start=1):
        console.print()
        _print_step(step, index, len(host_plan.steps), console, lang, words)
    if host_plan.skipped:
        console.print()
        skipped = "; ".join(f"{s.id} ({s.detail})" for s in host_plan.skipped)
        console.print(Text(f"{words['skipped']}: {skipped}", style="yellow"))


def _print_step(
    step: PlannedStep, index: int, total: int, console: Console, lang: str, words: dict[str, str]
) -> None:
    heading = f"{words['step']} {index}/{total} · {step.phase} · {step.id} ({step.template})"
    console.print(Text(heading, style="bold"))
    console.print(Text(f"  {step.description.get(lang)}"))
    facts = [f"{words['timeout']} {_seconds(step.timeout_s)}s"]
    if step.idempotent:
        facts.append(words["idempotent"])
    if step.retry:
        retry = f"{words['retry']}: " + words["attempts"].format(
            n=step.retry.attempts, delay=_seconds(step.retry.delay_s)
        )
        if step.retry.on_hresult:
            retry += f", {words['on']} " + ", ".join(str(code) for code in step.retry.on_hresult)
        facts.append(retry)
    console.print(Text("  " + " · ".join(facts)))
    if step.only_if:
        console.print(Text(f"  {words['only_if']}: {step.only_if}"))
    rule(console, Text(f"{words['script']} · sha256 {step.script_sha256[:16]}"), align="left", style="dim")
    # The exact text that will be sent: no markup, no highlighting, no wrapping.
    console.print(Text(step.script.rstrip("\n")), soft_wrap=True, markup=False, highlight=False, emoji=False)
    rule(console, Text(words["parameters"]), align="left", style="dim")
    if not step.display_parameters:
        console.print(Text(f"  {words['none']}"))
    for name, shown in step.display_parameters.items():
        console.print(Text(f"  -{name} = {printable(shown)}"), soft_wrap=True)


def print_auto_preview(
    plans: list[Plan], decided: list[HostReport], console: Console, lang: str = "en",
    redactor: Redactor | None = None,
) -> None:
    """`run auto --dry-run`: what each host would get after its licence was read: each playbook's plan, then
    the hosts no playbook runs on (licensed, unreachable, no playbook for their code), grouped by reason."""
    words = in_language(_WORDS, lang)
    redactor = redactor or Redactor()
    console.print(Text(words["auto"], style="green"))
    for plan in plans:
        console.print()
        print_plan(plan, console, lang, nothing_sent=False)
    if not decided:
        return
    console.print()
    rule(console, Text(f"{words['no_plan']}: {len(decided)} {words['host_count']}"), style="cyan")
    healthy = [host for host in decided if host.outcome is Outcome.HEALTHY]
    if healthy:
        names = ", ".join(redactor.text(host.label) for host in healthy)
        console.print(Text(f"{outcome_word(Outcome.HEALTHY, lang)} · {healthy[0].reason_in(lang)} · "
                           f"{len(healthy)} {words['host_count']}", style="green"))
        console.print(Text(f"  {names}"))
    for group in problem_groups(RunReport(code="auto", hosts=decided), lang):
        console.print(Text(f"{outcome_word(group.outcome, lang)} · {redactor.text(group.reason)} · "
                           f"{len(group.hosts)} {words['host_count']}", style="yellow"))
        console.print(Text("  " + ", ".join(redactor.text(host.label) for host in group.hosts)))
