"""`remediate demo`: a whole live run against sandbox hosts started for the occasion, nothing to set up.

It starts emulated Windows hosts on loopback (real WinRM, NTLM with message encryption), runs the playbook of
an error code on them exactly as `remediate run` would, shows the summary, and verifies the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from remediate.audit import AuditLog, Redactor, default_path, verify
from remediate.codes import ErrorCode
from remediate.engine import Engine, EngineOptions
from remediate.inventory import load_hosts
from remediate.playbook import PlaybookLibrary
from remediate.render import Renderer, build_plan
from remediate.report import LiveProgress, print_summary
from remediate.results import RunReport
from remediate.sandbox.fleet import Fleet, generate_password
from remediate.sandbox.scenario import build_hosts
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session
from remediate.values import RunValues

DEFAULT_SCENARIO = "kms-moved"
DEFAULT_CODE = "0xC004F074"


@dataclass
class DemoResult:
    report: RunReport
    hosts_file: Path
    audit_file: Path
    audit_verified: str


def run_demo(
    directory: Path,
    console: Console,
    scenario: str = DEFAULT_SCENARIO,
    count: int | None = 8,
    code: str = DEFAULT_CODE,
    seed: int = 0,
    forks: int = 10,
    progress: bool = True,
) -> DemoResult:
    directory.mkdir(parents=True, exist_ok=True)
    password = generate_password()
    secret = Secret(password, source="the demo sandbox")
    library = PlaybookLibrary(())
    playbook = library.get(ErrorCode.parse(code))
    with Fleet.start(build_hosts(scenario, count, seed), auth="ntlm", password=password, seed=seed) as fleet:
        hosts_file = fleet.write_hosts_file(directory / "hosts.txt")
        hosts = load_hosts(hosts_file)
        console.print(
            f"[bold]demo:[/] {len(hosts)} sandbox Windows hosts (scenario {scenario}) on 127.0.0.1, "
            f"NTLM over HTTP with message encryption; hosts file {hosts_file}"
        )
        plan = build_plan(playbook, hosts, RunValues(), Renderer.for_library(library), code=playbook.code)
        steps = ", ".join(f"{step.phase}:{step.id}" for step in plan.hosts[0].steps) if plan.hosts else ""
        console.print(f"[bold]playbook {playbook.code}[/] {playbook.title.en}\n  steps: {steps}")
        credentials = Credentials(fleet.username, secret)
        connection = ConnectionOptions(auth="ntlm", scheme="http")
        audit_file = default_path(str(playbook.code), directory)
        redactor = Redactor([secret])
        bar = LiveProgress(len(hosts), console, enabled=progress)
        with AuditLog(audit_file, redactor) as log, bar:
            options = EngineOptions(forks=forks)
            engine = Engine(lambda host: Session(host, connection, credentials), log, options, observer=bar)
            report = engine.run(plan, arguments=["demo", "--scenario", scenario, "--code", code])
    print_summary(report, console, redactor)
    checked = verify(audit_file)
    return DemoResult(report, hosts_file, audit_file, checked.describe() if checked.ok else "NOT intact")
