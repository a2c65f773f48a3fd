"""The console rendering of a Plan, for a change board to read before anything runs.

Hosts whose plans read the same are shown once. Each step shows its script exactly as it will be sent (no
wrapping, no markup, no line numbers, so it can be copied) and, below it, its parameter values, masked.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from remediate.i18n import N_, _
from remediate.plan import HostPlan, Plan, PlannedStep, SkippedStep
from remediate.report import outcome_word, problem_groups
from remediate.results import HostReport, Outcome, RunReport
from remediate.secret import Redactor
from remediate.terminal import rule

MAX_LISTED_HOSTS = 20

AUTO = N_(
    "Dry run of auto: each host's licence was read with the read-only license-state script to choose its playbook; "
    "nothing else was sent and nothing was changed."
)
_GROUP = N_("{outcome} · {reason} · {count} host(s)")  # hosts no playbook runs on, by outcome and reason


def printable(text: str) -> str:
    """A value on one line: control characters escaped, so a value cannot fake lines of the preview."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _seconds(value: float) -> str:
    return f"{value:g}"


def print_plan(plan: Plan, console: Console, lang: str = "en", *, nothing_sent: bool = True) -> None:
    """The plan, its groups of identical hosts and each step's script and masked values. nothing_sent: say
    that nothing was sent (not so for run auto, which read the licences first). The playbook's own text is in
    `lang`; the words around it in the current language."""
    playbook = plan.playbook
    groups = plan.groups()
    console.print(Text(_("Plan: {code} — {title}").format(code=plan.code, title=playbook.title.get(lang)),
                       style="bold"))
    console.print(Text(_("Playbook: {source}").format(source=playbook.source) + f"  sha256 {playbook.sha256}"))
    console.print(Text(_("Hosts: {count} · {groups} group(s) of identical plans").format(
        count=len(plan.hosts), groups=len(groups))))
    if nothing_sent:
        console.print(Text(_("Dry run: nothing was sent to any host."), style="green"))
    for number, group in enumerate(groups, start=1):
        console.print()
        title = _("Group {number} of {total}: {count} host(s)").format(number=number, total=len(groups),
                                                                         count=len(group))
        rule(console, Text(title), style="cyan")
        _print_hosts(group, console)
        _print_host_plan(group[0], console, lang)


def _print_hosts(group: list[HostPlan], console: Console) -> None:
    labels = [printable(host_plan.label) for host_plan in group]
    listed = ", ".join(labels[:MAX_LISTED_HOSTS])
    if len(labels) > MAX_LISTED_HOSTS:
        listed += ", " + _("and {count} more").format(count=len(labels) - MAX_LISTED_HOSTS)
    console.print(Text(_("Hosts: {hosts}").format(hosts=listed)))


def _print_host_plan(host_plan: HostPlan, console: Console, lang: str) -> None:
    if not host_plan.steps:
        console.print(Text(_("(no steps)")))
    for index, step in enumerate(host_plan.steps, start=1):
        console.print()
        _print_step(step, index, len(host_plan.steps), console, lang)
    if host_plan.skipped:
        console.print()
        skipped = "; ".join(f"{s.id} ({_skipped_why(s)})" for s in host_plan.skipped)
        console.print(Text(_("Left out: {steps}").format(steps=skipped), style="yellow"))


# render.py words a left-out step's detail in English for the plan file; the preview says it in the reader's language
_SKIPPED = {"when": ("its condition is false: when ", N_("its condition is false: when {subject}")),
            "opt-in": ("needs --allow ", N_("needs --allow {subject}"))}


def _skipped_why(step: SkippedStep) -> str:
    prefix, message = _SKIPPED.get(step.reason, ("", ""))
    if not message or not step.detail.startswith(prefix):
        return step.detail
    return _(message).format(subject=step.detail.removeprefix(prefix))


def _print_step(step: PlannedStep, index: int, total: int, console: Console, lang: str) -> None:
    heading = _("Step {index}/{total}").format(index=index, total=total)
    console.print(Text(f"{heading} · {step.phase} · {step.id} ({step.template})", style="bold"))
    console.print(Text(f"  {step.description.get(lang)}"))
    facts = [_("timeout {seconds}s").format(seconds=_seconds(step.timeout_s))]
    if step.idempotent:
        facts.append(_("idempotent"))
    if step.retry:
        retry = _("retry: {count} attempts, {delay}s apart").format(count=step.retry.attempts,
                                                                    delay=_seconds(step.retry.delay_s))
        if step.retry.on_hresult:
            retry += _(", on {codes}").format(codes=", ".join(str(code) for code in step.retry.on_hresult))
        facts.append(retry)
    console.print(Text("  " + " · ".join(facts)))
    if step.only_if:
        console.print(Text("  " + _("only if: {condition}").format(condition=step.only_if)))
    rule(console, Text(f"{_('script')} · sha256 {step.script_sha256[:16]}"), align="left", style="dim")
    # The exact text that will be sent: no markup, no highlighting, no wrapping.
    console.print(Text(step.script.rstrip("\n")), soft_wrap=True, markup=False, highlight=False, emoji=False)
    rule(console, Text(_("parameters")), align="left", style="dim")
    if not step.display_parameters:
        console.print(Text("  " + _("(no parameters)")))
    for name, shown in step.display_parameters.items():
        console.print(Text(f"  -{name} = {printable(shown)}"), soft_wrap=True)


def print_auto_preview(
    plans: list[Plan], decided: list[HostReport], console: Console, lang: str = "en",
    redactor: Redactor | None = None,
) -> None:
    """`run auto --dry-run`: what each host would get after its licence was read: each playbook's plan, then
    the hosts no playbook runs on (licensed, unreachable, no playbook for their code), grouped by reason."""
    redactor = redactor or Redactor()
    console.print(Text(_(AUTO), style="green"))
    for plan in plans:
        console.print()
        print_plan(plan, console, lang, nothing_sent=False)
    if not decided:
        return
    console.print()
    rule(console, Text(_("Hosts no playbook would run on: {count} host(s)").format(count=len(decided))),
         style="cyan")
    healthy = [host for host in decided if host.outcome is Outcome.HEALTHY]
    if healthy:
        names = ", ".join(redactor.text(host.label) for host in healthy)
        console.print(Text(_(_GROUP).format(outcome=outcome_word(Outcome.HEALTHY),
                                            reason=healthy[0].reason_in(lang), count=len(healthy)), style="green"))
        console.print(Text(f"  {names}"))
    for group in problem_groups(RunReport(code="auto", hosts=decided), lang):
        console.print(Text(_(_GROUP).format(outcome=outcome_word(group.outcome), reason=redactor.text(group.reason),
                                            count=len(group.hosts)), style="yellow"))
        console.print(Text("  " + ", ".join(redactor.text(host.label) for host in group.hosts)))

