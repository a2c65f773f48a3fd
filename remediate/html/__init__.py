"""Self-contained HTML reports (`--html FILE`) of a run, a dry run or saved plan, and `status`.

One page a change board can open or print: the verdict, a chart of outcomes and one of reasons (inline SVG), the
hosts that need attention, per-host details that expand, and for a plan every script with its parameters
masked. The page fetches nothing: no script, no stylesheet, no font, no image from anywhere (its
Content-Security-Policy forbids it), so it reads the same on a disconnected laptop.

    write_page(run_page(done.report, done.redactor), Path("run.html"))

Its words are in the current language (i18n), and so are the reasons and playbook titles unless `language` says
otherwise.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from remediate import __version__, i18n
from remediate.i18n import N_, _
from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.report import outcome_word, problem_groups, verdict
from remediate.results import ExitCategory, HostReport, Outcome, RunReport, StepStatus
from remediate.secret import Redactor
from remediate.status import HostStatus, edition, fleet_category, state_word
from remediate.status_view import grace_text
from remediate.transport_text import tell

TEMPLATE = "report.html.j2"
CHART_BARS = 12  # bars of a chart; the rest are summed into one "other" bar
LABEL_CHARS = 70  # a bar's label is cut to this many characters (the full text is in the page below)

TONE = {  # outcome -> the colour family the page shows it in
    Outcome.HEALTHY: "ok",
    Outcome.FIXED: "ok",
    Outcome.FAILED: "bad",
    Outcome.ESCALATE: "warn",
    Outcome.UNREACHABLE: "unreach",
    Outcome.AUTH_FAILED: "unreach",
    Outcome.SKIPPED: "muted",
    Outcome.PLANNED: "info",
}
CATEGORY_TONE = {
    ExitCategory.OK: "ok",
    ExitCategory.FAILED: "bad",
    ExitCategory.UNREACHABLE: "unreach",
    ExitCategory.ESCALATE: "warn",
    ExitCategory.INTERRUPTED: "bad",
}

WORDS = {  # gettext messages; _words() gives them in the current language
    "run": N_("remediate {code}: run report"),
    "dry": N_("remediate {code}: dry run (plan)"),
    "status": N_("remediate status: licence state"),
    "outcomes": N_("Outcomes"),
    "reasons": N_("Reasons"),
    "states": N_("Licence states"),
    "codes": N_("Codes keeping hosts from Licensed"),
    "playbooks": N_("Hosts by playbook"),
    "attention": N_("Hosts that need attention"),
    "hosts": N_("Every host"),
    "plans": N_("Scripts to be run"),
    "nothing": N_("Every host ended healthy or fixed."),
    "host_count": N_("{count} host(s)"),
    "what": N_("what to do"),
    "see": N_("see"),
    "playbook": N_("playbook"),
    "code_before": N_("code before"),
    "code_after": N_("code after"),
    "duration": N_("duration"),
    "reason": N_("reason"),
    "steps": N_("steps"),
    "step": N_("step"),
    "phase": N_("phase"),
    "result": N_("result"),
    "attempts": N_("attempts"),
    "note": N_("note"),
    "parameters": N_("parameters (masked)"),
    "no_parameters": N_("no parameters"),
    "script": N_("script"),
    "skipped": N_("left out"),
    "group": N_("{code} · group {number} of {total}: {count} host(s)"),
    "dry_verdict": N_("Dry run: nothing was sent to any host."),
    "auto_verdict": N_(
        "Dry run of auto: each host's licence was read with the read-only license-state script to "
        "choose its playbook; nothing else was sent and nothing was changed."
    ),
    "no_plan": N_("hosts no playbook would run on"),
    "licensed": N_("every host is licensed"),
    "not_licensed": N_("{count} host(s) are not licensed"),
    "no_host": N_("no host could be reached"),
    "state": N_("state"),
    "code": N_("code"),
    "meaning": N_("meaning"),
    "edition": N_("edition"),
    "key": N_("partial key"),
    "kms": N_("KMS host"),
    "grace": N_("grace remaining"),
    "error": N_("error"),
    "audit": N_("audit log"),
    "source": N_("playbook file"),
    "saved": N_("saved plan"),
    "other": N_("other"),
}


def _words() -> dict[str, str]:
    return {key: _(text) for key, text in WORDS.items()}


@dataclass
class Bar:
    label: str
    count: int
    tone: str


@dataclass
class Chart:
    title: str
    bars: list[Bar]

    @property
    def most(self) -> int:
        return max((bar.count for bar in self.bars), default=1) or 1


@dataclass
class Group:
    """Hosts pointed at for one outcome and reason."""

    head: str
    tone: str
    hosts: list[str]
    guidance: str | None = None
    pointers: list[str] = field(default_factory=list)


@dataclass
class Detail:
    """One host, expandable: a line always shown, its facts and steps inside."""

    name: str
    badge: str
    tone: str
    line: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    steps: list[list[str]] = field(default_factory=list)


@dataclass
class ScriptStep:
    heading: str
    facts: str
    script: str
    parameters: list[tuple[str, str]]


@dataclass
class PlanGroup:
    title: str
    hosts: list[str]
    steps: list[ScriptStep]
    skipped: str = ""


@dataclass
class Page:
    title: str
    verdict: str
    tone: str
    language: str  # the language of its words (<html lang>)
    facts: list[tuple[str, str]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    hosts: list[Detail] = field(default_factory=list)
    plans: list[PlanGroup] = field(default_factory=list)
    nothing_pointed: str = ""  # said where the groups would be, when there are none

    @property
    def words(self) -> dict[str, str]:
        return _words()


def _chart(title: str, counted: Counter[tuple[str, str]]) -> Chart:
    """Bars from (label, tone) -> count, largest first; past CHART_BARS one bar sums the rest."""
    ranked = counted.most_common()
    bars = [Bar(_cut(label), count, tone) for (label, tone), count in ranked[:CHART_BARS]]
    rest = sum(count for _label, count in ranked[CHART_BARS:])
    if rest:
        bars.append(Bar("…", rest, "muted"))
    return Chart(title, bars)


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


# --- a run --------------------------------------------------------------------------------------------------


def run_page(report: RunReport, redactor: Redactor | None = None, language: str | None = None) -> Page:
    """The page of a live run: verdict, outcomes and reasons, the hosts pointed at, every host's details."""
    redactor = redactor or Redactor()
    language = language or i18n.language()
    words = _words()
    message, _style = verdict(report)
    outcomes: Counter[tuple[str, str]] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    for host in report.hosts:
        outcomes[(outcome_word(host.outcome), TONE[host.outcome])] += 1
        reasons[(redactor.text(host.reason_in(language)) or host.outcome.value, TONE[host.outcome])] += 1
    page = Page(
        title=words["run"].format(code=report.code),
        verdict=_(message),
        tone=CATEGORY_TONE[report.exit_category],
        language=i18n.language(),
        charts=[_chart(words["outcomes"], outcomes), _chart(words["reasons"], reasons)],
        nothing_pointed=words["nothing"],
    )
    page.facts.append((words["host_count"].format(count=len(report.hosts)), ""))
    page.facts.append((words["duration"], f"{report.duration_s:.1f} s"))
    if report.audit_path:
        page.facts.append((words["audit"], str(report.audit_path)))
    for group in problem_groups(report, language):
        head = " · ".join(part for part in (
            outcome_word(group.outcome),
            "" if group.playbook == "auto" or group.reason.startswith(group.playbook) else group.playbook,
            redactor.text(group.reason), words["host_count"].format(count=len(group.hosts)),
        ) if part)
        page.groups.append(Group(head, TONE[group.outcome], [redactor.text(host.label) for host in group.hosts],
                                 redactor.text(group.guidance) if group.guidance else None,
                                 group.pointers()))
    page.hosts = [_host_detail(host, redactor, language) for host in report.hosts]
    return page


def _host_detail(host: HostReport, redactor: Redactor, language: str) -> Detail:
    words = _words()
    facts = [
        (words["playbook"], host.code),
        (words["code_before"], str(host.code_before or "-")),
        (words["code_after"], str(host.code_after or "-")),
        (words["duration"], f"{host.duration_s:.1f} s"),
        (words["reason"], redactor.text(host.reason_in(language))),
    ]
    if host.guidance:
        facts.append((words["what"], redactor.text(host.guidance)))
    steps = []
    for step in host.steps:
        result = step.status.value
        if step.status is StepStatus.RAN and step.result is not None:
            result = _("ok") if step.result.ok else _("not ok")
            result += f" {step.result.hresult}" if step.result.hresult else ""
        steps.append([step.phase, step.id, result, str(step.attempts or ""), redactor.text(step.note or "")])
    return Detail(redactor.text(host.label), outcome_word(host.outcome), TONE[host.outcome],
                  redactor.text(host.reason_in(language)), facts, steps)


# --- a dry run or saved plan --------------------------------------------------------------------------------


def plan_page(
    plans: Sequence[Plan],
    language: str | None = None,
    *,
    decided: Sequence[HostReport] = (),
    read_only_detection: bool = False,
    saved: tuple[Path, str] | None = None,
    redactor: Redactor | None = None,
) -> Page:
    """The page of a dry run: each plan's groups of identical hosts with every script and its masked values.

    decided: (run auto) the hosts no playbook would run on, with what a run would make of them.
    read_only_detection: the licences were read to choose the playbooks (run auto --dry-run), and the page says so.
    saved: the saved plan file and its sha256, when --save-plan wrote one.
    """
    redactor = redactor or Redactor()
    language = language or i18n.language()
    words = _words()
    code = "auto" if read_only_detection else (str(plans[0].code) if plans else "-")
    playbooks: Counter[tuple[str, str]] = Counter()
    for plan in plans:
        playbooks[(f"{plan.playbook.code} {plan.playbook.title.get(language)}", "info")] += len(plan.hosts)
    page = Page(
        title=words["dry"].format(code=code),
        verdict=words["auto_verdict" if read_only_detection else "dry_verdict"],
        tone="info",
        language=i18n.language(),
        charts=[_chart(words["playbooks"], playbooks)],
    )
    total = sum(len(plan.hosts) for plan in plans) + len(decided)
    page.facts.append((words["host_count"].format(count=total), ""))
    for plan in plans:
        page.facts.append((words["source"], f"{plan.playbook.source}  sha256 {plan.playbook.sha256}"))
    if saved is not None:
        page.facts.append((words["saved"], f"{saved[0]}  sha256 {saved[1]}"))
    if decided:
        outcomes: Counter[tuple[str, str]] = Counter(
            (outcome_word(host.outcome), TONE[host.outcome]) for host in decided
        )
        page.charts.append(_chart(words["no_plan"], outcomes))
        page.groups = [
            Group(" · ".join((outcome_word(group.outcome), redactor.text(group.reason),
                              words["host_count"].format(count=len(group.hosts)))),
                  TONE[group.outcome], [redactor.text(host.label) for host in group.hosts])
            for group in problem_groups(RunReport(code="auto", hosts=list(decided)), language)
        ]
        page.hosts = [_host_detail(host, redactor, language) for host in decided]
    for plan in plans:
        groups = plan.groups()
        for number, group in enumerate(groups, start=1):
            title = words["group"].format(code=plan.playbook.code, number=number, total=len(groups), count=len(group))
            page.plans.append(_plan_group(title, group, language))
    return page


def _plan_group(title: str, group: Sequence[HostPlan], language: str) -> PlanGroup:
    words = _words()
    first = group[0]
    steps = [_script_step(step, index, len(first.steps), language) for index, step in enumerate(first.steps, 1)]
    skipped = "; ".join(f"{step.id} ({step.detail})" for step in first.skipped)
    return PlanGroup(title, [host_plan.label for host_plan in group], steps,
                     f"{words['skipped']}: {skipped}" if skipped else "")


def _script_step(step: PlannedStep, index: int, total: int, language: str) -> ScriptStep:
    heading = f"{index}/{total} · {step.phase} · {step.id} ({step.template})"
    facts = [step.description.get(language), _("timeout {seconds}s").format(seconds=f"{step.timeout_s:g}")]
    if step.idempotent:
        facts.append(_("idempotent"))
    if step.retry:
        facts.append(_("retry {attempts}× {delay}s").format(attempts=step.retry.attempts,
                                                            delay=f"{step.retry.delay_s:g}"))
    if step.only_if:
        facts.append(_("only if {condition}").format(condition=step.only_if))
    facts.append(f"sha256 {step.script_sha256[:16]}")
    return ScriptStep(heading, " · ".join(facts), step.script.rstrip("\n"), list(step.display_parameters.items()))


# --- status -------------------------------------------------------------------------------------------------


def status_page(
    statuses: Sequence[HostStatus], redactor: Redactor | None = None, language: str | None = None
) -> Page:
    """The page of `remediate status`: the fleet's verdict, states and codes, every host's licence."""
    redactor = redactor or Redactor()
    language = language or i18n.language()
    words = _words()
    category = fleet_category(statuses)
    if category is ExitCategory.OK:
        said = words["licensed"]
    elif category is ExitCategory.UNREACHABLE and all(status.unreachable for status in statuses):
        said = words["no_host"]
    else:
        said = words["not_licensed"].format(count=sum(1 for status in statuses if not status.licensed))
    states: Counter[tuple[str, str]] = Counter()
    codes: Counter[tuple[str, str]] = Counter()
    page = Page(words["status"], said, CATEGORY_TONE[category], i18n.language(), nothing_pointed=words["licensed"])
    page.facts.append((words["host_count"].format(count=len(statuses)), ""))
    pointed: dict[str, Group] = {}
    for status in statuses:
        state = _state_word(status)
        tone = "ok" if status.licensed else ("unreach" if status.unreachable else "warn")
        states[(state, tone)] += 1
        why = redactor.text(tell(status.error, language) if status.error else status.meaning(language))
        if not status.licensed:
            codes[(f"{status.code} {why}" if status.code else why or state, tone)] += 1
            head = " · ".join(part for part in (state, str(status.code or ""), why) if part)
            pointed.setdefault(head, Group(head, tone, [])).hosts.append(redactor.text(status.label))
        data = status.data
        facts = [
            (words["state"], state),
            (words["code"], str(status.code or "-")),
            (words["meaning" if not status.error else "error"], why),
            (words["playbook"], str(status.playbook or "-")),
            (words["edition"], edition(str(data.get("name") or "")) or "-"),
            (words["key"], redactor.text(str(data.get("partial_product_key") or "-"))),
            (words["kms"], str(data.get("kms_machine") or data.get("discovered_kms_machine") or "-")),
            (words["grace"], grace_text(status.grace_minutes) or "-"),
        ]
        page.hosts.append(Detail(redactor.text(status.label), state, tone, why, facts))
    page.charts = [_chart(words["states"], states), _chart(words["codes"], codes)]
    page.groups = list(pointed.values())
    return page


def _state_word(status: HostStatus) -> str:
    return outcome_word(Outcome.UNREACHABLE) if status.unreachable else state_word(status.state)


# --- writing ------------------------------------------------------------------------------------------------


def render(page: Page) -> str:
    """The page as one HTML document (autoescaped: host names and reasons are text, never markup)."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(page=page, words=page.words, version=__version__)


def _load(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def write_page(page: Page, path: Path) -> Path:
    """Write the page to `path` (its folders made as needed), readable by the user only: it names every host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(render(page))
    return path
