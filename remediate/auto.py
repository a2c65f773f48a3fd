"""`remediate run auto`: read each host's licence, run the playbook of the code it reports, all as one run.

    statuses = read_fleet_status(hosts, connect)  # the caller reads the licences first
    result = run_auto(hosts, library, connect, values, audit_path=path, options=options, console=console,
                      statuses=statuses)
    print_summary(result.report, console, result.redactor)

`remediate run auto` and `remediate demo` both call run_auto, so the demo shows exactly what a real run does.
Every plan is rendered (and every value checked) before the first change; the licence reads are recorded in
the audit log, then each host runs its own playbook, or is decided without one (licensed, unreachable, or no
playbook for its code).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from remediate.audit import STATUS, AuditLog
from remediate.engine import Connect, Engine, EngineOptions
from remediate.inventory import Host
from remediate.plan import HostPlan
from remediate.playbook import Playbook, PlaybookLibrary
from remediate.reasons import in_language
from remediate.render import Renderer, build_plan
from remediate.report import LiveProgress
from remediate.results import RunReport
from remediate.secret import Redactor, Secret, secrets_in
from remediate.status import AUTO, HostStatus, choose_playbooks, name_playbooks
from remediate.values import RunValues

WORDS = {
    "en": {
        "reading": "auto: reading the licence of {count} host(s) to choose each one's playbook",
        "group": "  {code} ({title}): {count} host(s)",
    },
    "ja": {
        "reading": "auto: {count} 台のホストのライセンス状態を読み取り、ホストごとにプレイブックを選びます",
        "group": "  {code} ({title}): {count} 台",
    },
}


@dataclass
class AutoRun:
    """What an auto run produced: the report, the redactor that masks its secrets, the licence reads."""

    report: RunReport
    redactor: Redactor
    audit_path: Path
    statuses: list[HostStatus]


def values_for(run_values: RunValues, playbook: Playbook) -> RunValues:
    """Of the run's values, those this playbook declares (auto runs several playbooks with one set)."""
    declared = set(playbook.parameters)
    return dataclasses.replace(
        run_values,
        settings={name: value for name, value in run_values.settings.items() if name in declared},
        secrets={name: value for name, value in run_values.secrets.items() if name in declared},
    )


def run_redactor(host_plans: Sequence[HostPlan], credential_secrets: Sequence[Secret]) -> Redactor:
    """The redactor of a live run: every secret among its steps' raw parameters, and the credentials'."""
    secrets = [found for plan in host_plans for step in plan.steps for found in secrets_in(step.parameters)]
    return Redactor([*secrets, *credential_secrets])


def run_auto(
    hosts: Sequence[Host],
    library: PlaybookLibrary,
    connect: Connect,
    run_values: RunValues,
    *,
    audit_path: Path,
    options: EngineOptions,
    console: Console,
    statuses: Sequence[HostStatus],
    progress: bool = True,
    credential_secrets: Sequence[Secret] = (),
    allow: Sequence[str] = (),
    arguments: Sequence[str] = (),
    sleep: Callable[[float], None] | None = None,
) -> AutoRun:
    """Choose each host's playbook from its licence and run them all as one audited run.

    console: where the choice and the live progress go. statuses: the hosts' licence reads, made by the caller
    (which shows them, or reads them Ctrl-C aware). sleep: how the engine waits between retries (None: really
    wait).
    """
    words = in_language(WORDS, options.language)
    name_playbooks(statuses, library.find)
    choice = choose_playbooks(statuses, library.find)
    renderer = Renderer.for_library(library)
    # Every plan is rendered (and every value checked) before the first change.
    plans = [
        build_plan(playbook, group, values_for(run_values, playbook), renderer, code=code, allow=allow)
        for code, (playbook, group) in choice.groups.items()
    ]
    for plan in plans:
        title = plan.playbook.title.get(options.language)
        console.print(Text(words["group"].format(code=plan.playbook.code, title=title, count=len(plan.hosts))))
    host_plans = [host_plan for plan in plans for host_plan in plan.hosts]
    redactor = run_redactor(host_plans, credential_secrets)
    bar = LiveProgress(len(hosts), console=console, enabled=progress)
    with AuditLog(audit_path, redactor) as log, bar:
        engine = Engine(connect, log, options, observer=bar, sleep=sleep)
        report = engine.run_hosts(
            host_plans,
            code=AUTO,
            arguments=arguments,
            decided=choice.decided,
            order=[host.label for host in hosts],
            prelude=[(STATUS, status.to_dict()) for status in statuses],
        )
    return AutoRun(report, redactor, audit_path, list(statuses))
