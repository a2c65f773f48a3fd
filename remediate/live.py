"""What `remediate run`, `run auto`, `status` and `demo` do once the command line is parsed.

Turn the live options into connection and engine settings, refuse unsafe connections before the first one,
get the credentials, read licences (Ctrl-C aware), choose each host's playbook (run auto), run the engine with
an audit log, and hand back what the command prints.

    settings = LiveOptions.from_values(values)            # the live options, by name
    done = run_plan(plan, settings, language="en", console=stderr, prompt=None)
    print_summary(done.report, stdout_console, done.redactor)

Nothing here prints the run's result or decides an exit code: cli.py does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from remediate import audit as audit_log
from remediate.audit import STATUS, AuditLog
from remediate.connector import Connect
from remediate.diagnosis import AUTO, AutoChoice, choose_playbooks, name_playbooks
from remediate.duration import duration_seconds
from remediate.engine import Engine, EngineOptions
from remediate.errors import ExitCode, RemediateError, UsageError
from remediate.i18n import _
from remediate.interrupt import TwoPressStop, on_ctrl_c, write_from_handler
from remediate.inventory import Host
from remediate.ledger.budget import Reserve
from remediate.ledger.run_guard import RunKeyGuard
from remediate.ledger.status_reads import record_status_reads
from remediate.plan import HostPlan, Plan
from remediate.playbook import Playbook, PlaybookLibrary
from remediate.processes import PlanPlaybooks, ProcessRun, process_count
from remediate.progress import LiveProgress
from remediate.render import Renderer, build_plan
from remediate.results import HostReport, RunReport
from remediate.secret import Redactor, Secret, secrets_in
from remediate.status import HostStatus, read_status
from remediate.transport import (
    DEFAULT_SPN_SERVICE,
    PASSWORD_ENV,
    USERNAME_ENV,
    ConnectionOptions,
    Credentials,
    Session,
    credential_secrets,
)
from remediate.values import RunValues

# Asks the person at the terminal: (question, hide what is typed) -> the answer. None: nobody to ask.
Prompt = Callable[[str, bool], str]


@dataclass(frozen=True)
class LiveOptions:
    """The options of a live run, as the command line names them (see cli's live options)."""

    auth: str = "negotiate"
    scheme: str = "https"
    port: int | None = None
    ca_file: str | None = None
    insecure: bool = False
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    spn_service: str = DEFAULT_SPN_SERVICE
    forks: int = 50  # see EngineOptions.forks
    processes: int | None = None  # worker processes (processes.py); None: as processes.process_count decides
    connect_timeout: float = 30.0
    operation_timeout: int = 20
    wait_for_winrm: str | None = None  # a duration: 90, 90s, 10m, 1h
    retries: int = 3
    max_fail_percent: float | None = None
    max_auth_failures: int = 3
    force: bool = False  # act on hosts whose detection reports another playbook's code
    host_timeout: str | None = "10m"  # a duration; "0" or "none": no deadline
    rerun_failed: Path | None = None  # an audit log
    audit_file: Path | None = None
    audit_dir: Path | None = None  # where audit logs go when no audit_file is given
    audit_key_file: str | None = None  # the audit log's chain is keyed with this file's secret
    junit_file: Path | None = None
    ledger: str | None = None  # the key ledger's URL (None: REMEDIATE_LEDGER, else the default ledger if any;
    # "none": no ledger)
    mak_reserve: str = "5%"  # activations of a key's budget a run leaves untouched: a percentage or a count

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> LiveOptions:
        """From option values by name; a name not given keeps its default."""
        names = {option.name for option in dataclasses.fields(cls)}
        given = {name: value for name, value in values.items() if name in names}
        for name in ("auth", "scheme", "spn_service", "forks", "connect_timeout", "operation_timeout", "retries",
                     "max_auth_failures", "host_timeout"):
            if given.get(name) is None:
                given.pop(name, None)  # click gives None for an option it did not declare a default for
        return cls(**given)

    def connection(self) -> ConnectionOptions:
        return ConnectionOptions(
            auth=self.auth,
            scheme=self.scheme,
            port=self.port,
            ca_file=self.ca_file,
            insecure=bool(self.insecure),
            connection_timeout=float(self.connect_timeout),
            operation_timeout=int(self.operation_timeout),
            certificate_pem=self.cert_pem,
            certificate_key_pem=self.cert_key_pem,
            spn_service=self.spn_service,
        )

    def engine(self, language: str) -> EngineOptions:
        return EngineOptions(
            forks=int(self.forks),
            transient_attempts=int(self.retries) + 1,
            wait_for_winrm_s=self.wait_seconds(),
            max_fail_percent=self.max_fail_percent,
            max_auth_failures=self.max_auth_failures or None,
            host_timeout_s=self.host_timeout_seconds(),
            force=bool(self.force),
            language=language,
        )

    @property
    def audit_directory(self) -> Path:
        return Path(self.audit_dir) if self.audit_dir else audit_log.DEFAULT_DIR

    def audit_key(self) -> bytes | None:
        """The secret that keys the audit log's chain (--audit-key-file / REMEDIATE_AUDIT_KEY_FILE), if any."""
        return audit_log.load_key(self.audit_key_file) if self.audit_key_file else None

    def host_timeout_seconds(self) -> float | None:
        """--host-timeout in seconds (None: no deadline)."""
        text = (self.host_timeout or "").strip().lower()
        if text in ("", "0", "none", "off"):
            return None
        try:
            seconds = duration_seconds(text)
        except ValueError:
            raise UsageError(_("--host-timeout {value!r}: expected a duration such as 90s, 10m or 1h, or 0 for none")
                             .format(value=self.host_timeout)) from None
        return seconds or None

    def wait_seconds(self) -> float:
        """--wait-for-winrm in seconds (0: do not wait)."""
        if not self.wait_for_winrm:
            return 0.0
        try:
            return duration_seconds(self.wait_for_winrm)
        except ValueError:
            raise UsageError(
                _("--wait-for-winrm {value!r}: expected a duration such as 90s, 10m or 1h").format(
                    value=self.wait_for_winrm)
            ) from None


@dataclass
class LiveRun:
    """What a live run produced: the report, the redactor that masks its secrets, where its audit log is, and
    (run auto) the licence reads that chose each host's playbook."""

    report: RunReport
    redactor: Redactor
    audit_path: Path
    statuses: list[HostStatus] = field(default_factory=list)


@dataclass
class FleetStatus:
    """What `remediate status` read: every host's licence, and the redactor that masks the credentials."""

    statuses: list[HostStatus]
    redactor: Redactor


class NothingToRerun(Exception):
    """--rerun-failed: every host of the earlier run ended healthy or fixed."""

    def __init__(self, log: Path) -> None:
        super().__init__(f"nothing to rerun: every host of the last run in {log} ended healthy or fixed")
        self.log = log


class ReadsInterrupted(RemediateError):
    """Ctrl-C while the licences were read. Nothing was changed: the reads only read, no run had begun."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, abandoned: bool) -> None:
        if abandoned:
            message = "interrupted: licence reads abandoned; nothing was changed"
        else:
            message = "interrupted while reading the licences: nothing was changed"
        super().__init__(message)
        self.abandoned = abandoned


# --- connecting ---------------------------------------------------------------------------------------------


def ask_credentials(needs_password: bool, prompt: Prompt | None) -> Credentials | None:
    """REMEDIATE_USERNAME / REMEDIATE_PASSWORD, else the prompt (the password hidden). Never from argv."""
    found = Credentials.from_environment()
    if not needs_password and found is None:
        return None  # a Kerberos ticket or a client certificate stands for the user
    if found is None:
        if prompt is None:
            raise UsageError(_("no WinRM user: set {user} (and {password}), or run interactively").format(
                user=USERNAME_ENV, password=PASSWORD_ENV))
        found = Credentials(prompt(_("WinRM user (DOMAIN\\user)"), False))
    if found.password is None and needs_password:
        if prompt is None:
            raise UsageError(_("no WinRM password: set {password}, or run interactively").format(password=PASSWORD_ENV))
        typed = prompt(_("Password for {user}").format(user=found.username), True)
        found = Credentials(found.username, Secret(typed, source="prompt"))
    return found


def prepare_connection(
    connection: ConnectionOptions, hosts: Sequence[Host], console: Console, prompt: Prompt | None
) -> Credentials | None:
    """Refuse unsafe combinations before the first connection, warn about --insecure, get credentials."""
    for host in hosts:
        try:
            connection.for_host(host).check_safe()
        except UsageError as error:
            raise UsageError(f"{host.label}: {error.message}", hint=error.hint) from None
    if connection.insecure:
        console.print(Text(_("WARNING: --insecure: TLS certificates are NOT verified. Anyone on the path can "
                             "impersonate a host and read the credentials. Use --ca-file instead."), "bold red"))
    auths = {connection.for_host(host).auth for host in hosts}
    return ask_credentials(needs_password=not auths <= {"kerberos", "certificate"}, prompt=prompt)


def connector(connection: ConnectionOptions, credentials: Credentials | None) -> Connect:
    """How a run opens a Session on a host: these connection settings, these credentials."""
    return lambda host: Session(host, connection, credentials)


def run_redactor(host_plans: Sequence[HostPlan], credential_secrets: Sequence[Secret]) -> Redactor:
    """The redactor of a live run: every secret among its steps' raw parameters, and the credentials'."""
    secrets = [found for plan in host_plans for step in plan.steps for found in secrets_in(step.parameters)]
    return Redactor([*secrets, *credential_secrets])


# --- reading licences ---------------------------------------------------------------------------------------


def read_licences(
    hosts: Sequence[Host], connect: Connect, options: EngineOptions, progress: LiveProgress | None = None,
    script: str | None = None,
) -> list[HostStatus]:
    """Every host's licence, read-only (the license-state template, or `script`, another read-only one). Ctrl-C:
    raises ReadsInterrupted once the reads in flight finished (first press) or at once (second press). `progress`
    shows how the reads go."""
    stop = TwoPressStop()

    def pressed() -> None:  # the first Ctrl-C lets the reads in flight finish, the second abandons them
        if not stop.press():
            write_from_handler(_("interrupted: finishing the licence reads in flight; press Ctrl-C again to abandon "
                                 "them") + "\n")

    with on_ctrl_c(pressed):
        statuses = read_status(
            hosts, connect, script, forks=options.forks, attempts=options.transient_attempts, stop=stop,
            max_auth_failures=options.max_auth_failures, observer=progress,
        )
    if stop.stopped:
        raise ReadsInterrupted(abandoned=stop.abandoned.is_set())
    return statuses


def fleet_status(
    hosts: Sequence[Host],
    library: PlaybookLibrary,
    settings: LiveOptions,
    *,
    console: Console,
    prompt: Prompt | None,
    progress: bool = True,
) -> FleetStatus:
    """`remediate status`: every host's licence, with the playbook that handles the code it reports.
    progress: show how the reads go on `console` (a bar in a terminal, plain lines elsewhere)."""
    read = fleet_read(hosts, settings, console=console, prompt=prompt, progress=progress)
    name_playbooks(read.statuses, library.find)
    # The key ledger (when one is in use) learns which partial key each host showed.
    record_status_reads(read.statuses, settings.ledger, lambda text: console.print(Text(text)))
    return read


def fleet_read(
    hosts: Sequence[Host],
    settings: LiveOptions,
    *,
    console: Console,
    prompt: Prompt | None,
    script: str | None = None,
    progress: bool = True,
) -> FleetStatus:
    """A read-only script on every host (the license-state template unless `script` is given: `keys iids`
    reads installation IDs), with the connection checks, credentials, retries and Ctrl-C of `status`."""
    connection = settings.connection()
    credentials = prepare_connection(connection, hosts, console, prompt)
    with LiveProgress(len(hosts), console, progress, kind="read") as bar:
        statuses = read_licences(hosts, connector(connection, credentials), settings.engine("en"), bar, script)
    return FleetStatus(statuses, Redactor(credential_secrets(credentials)))


# --- running ------------------------------------------------------------------------------------------------


def rerun_labels(log: Path, code: str, console: Console, key: bytes | None = None) -> set[str]:
    """The labels of the hosts the last run of `log` did not finish well (--rerun-failed), for a run of `code`
    (an error code, or auto). Any run's log will do, but a log of another error code's run is refused: its
    hosts had another error. Raises NothingToRerun when there are none."""
    logged, labels = audit_log.hosts_to_rerun(log, key)
    if code != AUTO and logged not in (None, AUTO, code):
        raise UsageError(_("--rerun-failed {log}: that run was for {logged}, not {code}").format(
            log=log, logged=logged, code=code))
    runs = audit_log.show(log)
    for host, what in (audit_log.changes_in_flight(runs[-1]) if runs else {}).items():
        console.print(Text(_("note: {host}: {state} ({step}); it is detected again before anything is changed")
                           .format(host=host, state=_(audit_log.STATE_UNKNOWN), step=what)))
    if not labels:
        raise NothingToRerun(log)
    return set(labels)


def only_failed_hosts(plan: Plan, log: Path, console: Console, key: bytes | None = None) -> Plan:
    """The plan cut down to the hosts an earlier run did not finish well (--rerun-failed).
    Raises NothingToRerun when there are none."""
    wanted = rerun_labels(log, str(plan.code), console, key)
    kept = tuple(host_plan for host_plan in plan.hosts if host_plan.label in wanted)
    _note_rerun(wanted, [host_plan.label for host_plan in plan.hosts], log, console)
    return dataclasses.replace(plan, hosts=kept)


def _note_rerun(wanted: set[str], labels: Sequence[str], log: Path, console: Console) -> None:
    kept = wanted & set(labels)
    missing = wanted - kept
    if missing:
        console.print(Text(_("note: not in the hosts file any more: {hosts}").format(
            hosts=", ".join(sorted(missing)))))
    if not kept:
        raise NothingToRerun(log)
    console.print(Text(_("rerunning {kept} of {count} host(s) from {log}").format(
        kept=len(kept), count=len(labels), log=log)))


@dataclass
class OpenRun:
    """A live run past its checks: its engine and connection settings, its credentials, its key ledger guard
    (None: no ledger), the redactor of its secrets, and its audit log and progress bar, open."""

    options: EngineOptions
    connection: ConnectionOptions
    credentials: Credentials | None
    keys: RunKeyGuard | None
    redactor: Redactor
    log: AuditLog
    bar: LiveProgress

    def done(self, report: RunReport, statuses: Sequence[HostStatus] = ()) -> LiveRun:
        return LiveRun(report, self.redactor, self.log.path, list(statuses))


@contextmanager
def open_run(
    host_plans: Sequence[HostPlan],
    code: str,
    settings: LiveOptions,
    credentials: Callable[[], Credentials | None],
    *,
    language: str,
    console: Console,
    progress: bool,
    count: int | None = None,
) -> Iterator[OpenRun]:
    """What every live run does before its first connection and after its last, local or dispatched: the key
    ledger checks the budget of every key the plans install (exit 2 before anything else), then `credentials`
    (the connection checks and the password prompt) are had, the audit log of `code` (--audit, else in the audit
    directory) and the progress bar of `count` hosts (default: one a plan) opened; the ledger is closed after."""
    options, connection = settings.engine(language), settings.connection()
    keys = RunKeyGuard.prepare(host_plans, ledger_url=settings.ledger, reserve=Reserve.parse(settings.mak_reserve),
                               say=lambda text: console.print(Text(text)), language=language)
    try:
        given = credentials()
        redactor = run_redactor(host_plans, credential_secrets(given))
        path = settings.audit_file or audit_log.default_path(code, settings.audit_directory)
        bar = LiveProgress(len(host_plans) if count is None else count, console=console, enabled=progress)
        with AuditLog(path, redactor, settings.audit_key()) as log, bar:
            yield OpenRun(options, connection, given, keys, redactor, log, bar)
    finally:
        if keys is not None:
            keys.close()


@contextmanager
def open_plan_run(
    plan: Plan,
    settings: LiveOptions,
    *,
    language: str,
    console: Console,
    prompt: Prompt | None,
    progress: bool,
    check: Callable[[Plan], None] | None = None,
) -> Iterator[tuple[Plan, OpenRun]]:
    """open_run for a Plan (`run CODE`, local or dispatched): the plan cut down to the hosts of --rerun-failed,
    `check` (what else the run needs of it, raising before anything is touched), then the key ledger, the
    connection checks and credentials, the audit log and the progress bar. Yields the plan that runs, and the run."""
    if settings.rerun_failed:
        plan = only_failed_hosts(plan, settings.rerun_failed, console, settings.audit_key())
    if check is not None:
        check(plan)
    connection = settings.connection()
    hosts = [host_plan.host for host_plan in plan.hosts]
    with open_run(plan.hosts, str(plan.code), settings, lambda: prepare_connection(connection, hosts, console, prompt),
                  language=language, console=console, progress=progress) as run:
        yield plan, run


def run_plan(
    plan: Plan,
    settings: LiveOptions,
    *,
    language: str,
    console: Console,
    prompt: Prompt | None,
    progress: bool = True,
    arguments: Sequence[str] = (),
    plan_sha256: str | None = None,
    library: PlaybookLibrary | None = None,
    approvers: Sequence[Mapping[str, str]] = (),
) -> LiveRun:
    """`remediate run CODE`: execute a Plan on its hosts: connect, detect, fix, verify, audit.

    library: the playbooks, so that a host whose detection reports another playbook's code is skipped
    (None: no such check).
    console: where notes, warnings and the live progress go (stderr). progress: show the progress bar.
    plan_sha256: the sha256 of the approved plan file this run executes (`run --plan`), for the audit log.
    """
    with open_plan_run(plan, settings, language=language, console=console, prompt=prompt,
                       progress=progress) as (plan, run):
        count = process_count(settings.processes, len(plan.hosts), run.options.forks)
        if count > 1:
            processes = ProcessRun(plan.hosts, count, audit=run.log, options=run.options, connection=run.connection,
                                   credentials=run.credentials, keys=run.keys, observer=run.bar,
                                   playbooks=library if library is not None else PlanPlaybooks(plan.hosts))
            return run.done(processes.run(str(plan.code), arguments, plan_sha256, approvers))
        engine = Engine(connector(run.connection, run.credentials), run.log, run.options, observer=run.bar,
                        claimed_by=library.find if library is not None else None, keys=run.keys)
        return run.done(engine.run(plan, arguments=arguments, plan_sha256=plan_sha256, approvers=approvers))


def values_for(run_values: RunValues, playbook: Playbook) -> RunValues:
    """Of the run's values, those this playbook declares (auto runs several playbooks with one set)."""
    return run_values.only(set(playbook.parameters))


def run_auto_fleet(
    hosts: Sequence[Host],
    library: PlaybookLibrary,
    run_values: RunValues,
    settings: LiveOptions,
    *,
    language: str,
    console: Console,
    prompt: Prompt | None,
    progress: bool = True,
    allow: Sequence[str] = (),
    arguments: Sequence[str] = (),
    credentials: Credentials | None = None,
    sleep: Callable[[float], None] | None = None,
    on_read: Callable[[list[HostStatus]], None] | None = None,
) -> LiveRun:
    """`remediate run auto`: read each host's licence, pick the playbook of the code it reports (diagnosis.py),
    run all as one audited run. Every plan is rendered (and every value checked) before the first change; the
    licence reads are recorded in the audit log.

    credentials: use these instead of the environment or the prompt (the demo's sandbox account).
    sleep: how the engine waits between retries (None: really wait). on_read: called with the licence reads
    before the run starts (the demo shows them). Ctrl-C during the reads raises ReadsInterrupted (nothing
    changed, no audit log begun).
    """
    options = settings.engine(language)
    if settings.rerun_failed:
        wanted = rerun_labels(settings.rerun_failed, AUTO, console, settings.audit_key())
        _note_rerun(wanted, [host.label for host in hosts], settings.rerun_failed, console)
        hosts = [host for host in hosts if host.label in wanted]
    connection = settings.connection()
    if credentials is None:
        credentials = prepare_connection(connection, hosts, console, prompt)
    connect = connector(connection, credentials)
    statuses, choice, plans = _read_and_choose(
        hosts, library, run_values, connect, options, console=console, language=language, progress=progress,
        allow=allow, on_read=on_read,
    )
    host_plans = [host_plan for plan in plans for host_plan in plan.hosts]
    # The key ledger learns the partial keys read; then, as in run_plan, it checks the budget of every key the
    # plans install (exit 2 before any change) and records its installs and activations.
    record_status_reads(statuses, settings.ledger, lambda text: console.print(Text(text)), language)
    # A run given its own way of waiting (the demo's) stays in this process.
    count = 1 if sleep is not None else process_count(settings.processes, len(host_plans), options.forks)
    order = [host.label for host in hosts]
    prelude = [(STATUS, status.to_dict()) for status in statuses]
    with open_run(host_plans, AUTO, settings, lambda: credentials, language=language, console=console,
                  progress=progress, count=len(hosts)) as run:
        if count > 1:
            processes = ProcessRun(host_plans, count, audit=run.log, options=options, connection=run.connection,
                                   credentials=run.credentials, keys=run.keys, observer=run.bar, playbooks=library)
            return run.done(processes.run(AUTO, arguments, decided=choice.decided, order=order, prelude=prelude),
                            statuses)
        engine = Engine(connect, run.log, options, observer=run.bar, sleep=sleep, claimed_by=library.find,
                        keys=run.keys)
        report = engine.run_hosts(host_plans, code=AUTO, arguments=arguments, decided=choice.decided, order=order,
                                  prelude=prelude)
        return run.done(report, statuses)


def _read_and_choose(
    hosts: Sequence[Host],
    library: PlaybookLibrary,
    run_values: RunValues,
    connect: Connect,
    options: EngineOptions,
    *,
    console: Console,
    language: str,
    progress: bool,
    allow: Sequence[str],
    on_read: Callable[[list[HostStatus]], None] | None = None,
) -> tuple[list[HostStatus], AutoChoice, list[Plan]]:
    """run auto's first half: read every licence (read-only), choose each host's playbook, render every plan
    (every value checked) before anything is changed; the groups are announced on `console`."""
    console.print(Text(_("auto: reading the licence of {count} host(s) to choose each one's playbook").format(
        count=len(hosts))))
    with LiveProgress(len(hosts), console, progress, kind="read") as reads:
        statuses = read_licences(hosts, connect, options, reads)
    name_playbooks(statuses, library.find)
    if on_read is not None:
        on_read(statuses)
    choice = choose_playbooks(statuses, library.find)
    renderer = Renderer.for_library(library)
    plans = [
        build_plan(playbook, group, values_for(run_values, playbook), renderer, code=code, allow=allow)
        for code, (playbook, group) in choice.groups.items()
    ]
    for plan in plans:
        title = plan.playbook.title.get(language)
        console.print(Text("  " + _("{code} ({title}): {count} host(s)").format(
            code=plan.playbook.code, title=title, count=len(plan.hosts))))
    return statuses, choice, plans


@dataclass
class AutoPreview:
    """`run auto --dry-run`: the licence reads (read-only), each host's plan, and the hosts no playbook runs on
    (licensed, unreachable, no playbook for their code) with what a run would make of them."""

    statuses: list[HostStatus]
    plans: list[Plan]
    decided: list[HostReport]
    redactor: Redactor


def preview_auto(
    hosts: Sequence[Host],
    library: PlaybookLibrary,
    run_values: RunValues,
    settings: LiveOptions,
    *,
    language: str,
    console: Console,
    prompt: Prompt | None,
    progress: bool = True,
    allow: Sequence[str] = (),
) -> AutoPreview:
    """`remediate run auto --dry-run`: connect, read each host's licence (the read-only license-state script,
    the one thing sent), choose and render each host's plan. Nothing is changed and no audit log is written."""
    options = settings.engine(language)
    connection = settings.connection()
    credentials = prepare_connection(connection, hosts, console, prompt)
    statuses, choice, plans = _read_and_choose(
        hosts, library, run_values, connector(connection, credentials), options, console=console,
        language=language, progress=progress, allow=allow,
    )
    host_plans = [host_plan for plan in plans for host_plan in plan.hosts]
    redactor = run_redactor(host_plans, credential_secrets(credentials))
    return AutoPreview(statuses, plans, choice.decided, redactor)
