"""`remediate demo`: a whole live run against sandbox hosts started for the occasion, nothing to set up.

It starts emulated Windows hosts on loopback (real WinRM, NTLM with message encryption) from a shipped
scenario and runs `remediate run auto` on them through the same function the command uses (live.py), showing
the licence reads as `remediate status` does before the run; then the summary, and the audit log verified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from rich.console import Console
from rich.text import Text

from remediate.audit import VerifyResult, default_path, verify
from remediate.diagnosis import AUTO
from remediate.i18n import N_, _
from remediate.inventory import load_hosts
from remediate.live import LiveOptions, run_auto_fleet
from remediate.playbook import PlaybookLibrary
from remediate.report import print_summary
from remediate.results import RunReport
from remediate.sandbox.fleet import Fleet, generate_password
from remediate.sandbox.scenario import BuiltFleet, build
from remediate.secret import Redactor, Secret
from remediate.status import HostStatus
from remediate.status_view import print_status
from remediate.terminal import rule
from remediate.transport import Credentials
from remediate.values import RunValues

DEFAULT_SCENARIO = "mixed-fleet"
# Playbooks wait between retries for the network or a KMS host to recover (up to a minute). Nothing changes
# on a sandbox host while it waits, so the demo cuts every wait to this.
RETRY_WAIT_S = 0.1

WORDS = {  # gettext messages, shown in the current language
    "title": N_("remediate demo: {count} sandbox Windows hosts, scenario {scenario}"),
    "where": N_(
        "The hosts run inside this process on 127.0.0.1 and speak real WinRM (NTLM, messages encrypted): "
        "remediate talks to them exactly as to Windows. Nothing outside this machine is touched."
    ),
    "steps": N_(
        "1. remediate status    read each host's licence (read-only)\n"
        "2. remediate run auto  run the playbook of each host's error code: detect, fix, verify, or hand "
        "over to a human\n"
        "3. the summary, and the audit log checked"
    ),
    "waits": N_("Retry waits are cut to {wait:g} s: sandbox hosts do not change while a playbook waits."),
    "summary": N_("3. summary"),
    "intact": N_("audit log {path}: intact, {detail}"),
    "broken": N_("audit log {path}: NOT intact: {detail}"),
    "hosts_file": N_("hosts file {path} (the sandbox is stopped now)"),
    "folder": N_("the demo's files are in {path}"),
}


@dataclass
class DemoResult:
    fleet: BuiltFleet  # the scenario and every host with the fault it was given
    statuses: list[HostStatus]
    report: RunReport
    hosts_file: Path
    audit_file: Path
    audit: VerifyResult


def demo_directory() -> Path:
    """Where the demo keeps its hosts file and audit log when not told: the user's state directory
    (~/.local/state/remediate/demo on Linux, %LOCALAPPDATA%\\remediate\\demo on Windows), never the current
    folder (a checkout would get an untracked folder)."""
    return platformdirs.user_state_path("remediate", appauthor=False) / "demo"


def _cut_wait(seconds: float) -> None:
    time.sleep(min(seconds, RETRY_WAIT_S))


def run_demo(
    directory: Path,
    console: Console,
    scenario: str | Path = DEFAULT_SCENARIO,
    count: int | None = None,
    seed: int = 0,
    language: str = "en",
    progress: bool = True,
    arguments: tuple[str, ...] = ("demo",),
) -> DemoResult:
    """Start the scenario's hosts, show their status, run auto on them, show the summary, verify the audit.

    count: None takes the scenario's own host count.
    """
    words = {key: _(text) for key, text in WORDS.items()}
    built = build(scenario, count, seed)
    directory.mkdir(parents=True, exist_ok=True)
    password = generate_password()
    secret = Secret(password, source="the demo sandbox")
    redactor = Redactor([secret])
    audit_file = default_path(AUTO, directory)
    settings = LiveOptions(auth="ntlm", scheme="http", audit_file=audit_file, ledger="none")  # sandbox hosts
    console.print(Text(words["title"].format(count=len(built.hosts), scenario=built.scenario.name), "bold"))
    console.print(Text(words["where"]))
    if built.scenario.description:
        # A shipped scenario's description is in the catalog (i18n_extract); a user's scenario file shows its own.
        console.print(Text(_(built.scenario.description.strip()), "dim"))
    console.print(Text(words["steps"]))
    console.print(Text(words["waits"].format(wait=RETRY_WAIT_S), "dim"))

    def show_status(statuses: list[HostStatus]) -> None:
        print_status(statuses, console, redactor, language)
        rule(console, Text("2. remediate run auto", "bold"))

    with Fleet.start(built.hosts, auth="ntlm", password=password, seed=seed) as fleet:
        hosts_file = fleet.write_hosts_file(directory / "hosts.txt")
        rule(console, Text("1. remediate status", "bold"))
        result = run_auto_fleet(
            load_hosts(hosts_file), PlaybookLibrary(()), RunValues(), settings, language=language,
            console=console, prompt=None, progress=progress, arguments=arguments,
            credentials=Credentials(fleet.username, secret), sleep=_cut_wait, on_read=show_status,
        )
    rule(console, Text(words["summary"], "bold"))
    print_summary(result.report, console, result.redactor, language)
    checked = verify(audit_file)
    shown = words["intact" if checked.ok else "broken"].format(path=audit_file, detail=checked.describe())
    console.print(Text(shown, "green" if checked.ok else "bold red"))
    console.print(Text(words["hosts_file"].format(path=hosts_file), "dim"))
    console.print(Text(words["folder"].format(path=directory.resolve())))
    return DemoResult(built, result.statuses, result.report, hosts_file, audit_file, checked)

