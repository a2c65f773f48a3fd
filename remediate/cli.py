"""The remediate command line: parse, call, print, exit. The one place that exits with an error's exit code."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TypeVar

import click
from rich.console import Console

from remediate import __version__, audit_view, catalog, config, html
from remediate import audit as audit_log
from remediate.approvals import sign
from remediate.codes import ErrorCode
from remediate.dispatch.worker import register as register_worker_command
from remediate.duration import duration_seconds
from remediate.errors import ExitCode, PlaybookError, RemediateError, UsageError
from remediate.explain import decode_text
from remediate.i18n import N_, _, in_language, language_in_arguments, resolve_language, use_language
from remediate.inventory import Host
from remediate.inventory_limit import inventory_hosts
from remediate.keys_cli import register as register_keys_commands
from remediate.kms_cli import register as register_kms_commands
from remediate.options import (
    READ_OPTIONS,
    CodeCommand,
    Group,
    LiveSettings,
    check_writable,
    lang_option,
    live_options,
    playbooks_option,
    setting_defaults,
    setting_options,
    terminal_prompt,
)
from remediate.playbook import PlaybookLibrary
from remediate.preview import print_auto_preview, print_plan
from remediate.render import Renderer, build_plan
from remediate.report import SUMMARY_MODES, print_summary, to_json, write_junit
from remediate.sandbox_cli import register as register_sandbox_commands
from remediate.saved_plan import SavedPlan, run_request, signed_content
from remediate.secret import live_secrets, scrub
from remediate.status import fleet_category
from remediate.status_view import print_status, status_csv
from remediate.terminal import error_console, output_console
from remediate.validate import validate_files
from remediate.values import RunValues, likely_typos, unused_host_secrets

if TYPE_CHECKING:
    from remediate.live import LiveOptions, LiveRun

F = TypeVar("F", bound=Callable[..., Any])


def _exit(code: ExitCode) -> NoReturn:
    """The one way a command ends with an exit code of its own (DESIGN §6)."""
    sys.exit(code)


def reports_errors(func: F) -> F:
    """Turn an error raised by a command into a clear message and its exit code.

    A RemediateError is bad input or a failed run: its message, and the exit code its class carries. Ctrl-C
    outside a live run (which handles its own) exits 130. Anything else is a defect in remediate: one short line
    on stderr, the traceback in a crash report file (secrets and product keys masked), exit 1.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RemediateError as error:
            click.echo(_("error: {message}").format(message=_masked(str(error))), err=True)
            _exit(error.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise  # click reports these itself (usage errors, an aborted prompt, --help)
        except BrokenPipeError:
            raise  # the reader went away (`| head`): not a defect; the group ends quietly (_Main)
        except KeyboardInterrupt:
            click.echo(_("interrupted"), err=True)
            _exit(ExitCode.INTERRUPTED)
        except Exception as error:  # the last line of defence: no bare traceback, no secret
            report = _write_crash_report(error)
            summary = _masked(f"{type(error).__name__}: {error}")
            summary = summary if len(summary) <= 300 else summary[:300] + "…"
            click.echo(_("error: internal error in remediate {version}: {summary}").format(version=__version__,
                                                                                          summary=summary), err=True)
            if report is not None:
                click.echo(_("  the traceback (secrets masked) is in {report}; please include it in a bug "
                             "report").format(report=report), err=True)
            _exit(ExitCode.FAILED)

    return wrapper  # type: ignore[return-value]


def _masked(text: str) -> str:
    """`text` with every secret this process holds and every product key masked."""
    return scrub(text, live_secrets())


def _write_crash_report(error: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a new file only the user can read; None if that fails."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    body = _masked(f"remediate {__version__}\narguments: {' '.join(sys.argv[1:])}\n\n{text}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = Path(tempfile.gettempdir()) / f"remediate-crash-{stamp}-{os.getpid()}.txt"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(body)
    except OSError:
        return None
    return path


class _Main(Group):
    """The command group. It speaks the language of --lang (wherever it stands), $REMEDIATE_LANG or the locale from
    the start, so that help and usage errors are in it too. Output whose reader went away (`remediate audit show
    LOG | head`) ends quietly, as command-line tools do: no message, no crash file, exit 141 (128 + SIGPIPE)."""

    group_class = Group
    language_given = False  # whether the command line or environment chose the language (over a config file's)

    def main(self, args: Any = None, *more: Any, **extra: Any) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        explicit = language_in_arguments(words)
        self.language_given = explicit is not None or bool(os.environ.get("REMEDIATE_LANG"))
        with in_language(resolve_language(explicit)):
            return super().main(args, *more, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's own flush at exit
        except BrokenPipeError:
            _quiet_after_closed_pipe()
            _exit(ExitCode.CLOSED_PIPE)


def _quiet_after_closed_pipe() -> None:
    """Point standard output and error at /dev/null, so that nothing written later (the interpreter's flush at
    exit included) fails again."""
    for stream in (sys.stdout, sys.stderr):
        try:
            descriptor = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue  # not a file (a test's capture)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="remediate", help=N_("Show the version and exit."))
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar=config.CONFIG_ENV, show_envvar=True, metavar="FILE",
              help=N_("Settings file (default: ./remediate.toml, else remediate.toml in your configuration "
                      "folder)."))
@click.pass_context
@reports_errors
def main(context: click.Context, config_file: Path | None) -> None:
    """Fix Windows license-activation errors across fleets of hosts over WinRM.

    One playbook per error code: detect, fix, verify, escalate. Preview any run with --dry-run.
    """
    loaded = config.load(config_file)
    context.meta[_CONFIG] = loaded
    if loaded.values.get("lang") and not (isinstance(context.command, _Main) and context.command.language_given):
        use_language(loaded.values["lang"])
    context.default_map = setting_defaults(context.command, loaded.values)  # below the command line and env


_CONFIG = "remediate.config"  # where main keeps the loaded config for `config show`


@main.group("config")
def config_group() -> None:
    """The settings file (remediate.toml): defaults for forks, auth, scheme, ca_file, spn_service, lang,
    audit_dir and ledger_url. Command line > environment > config file > built-in."""


@config_group.command("show")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@setting_options
@click.pass_context
@reports_errors
def config_show(context: click.Context, /, output: str, **values: Any) -> None:
    """Every setting's value and where it came from (give an option to see the command line win)."""
    loaded: config.Config = context.meta.get(_CONFIG) or config.Config()
    sources = {name: context.get_parameter_source(name) for name in values}
    shown = config.describe(values, sources, loaded)
    if output == "json":
        file = str(loaded.path) if loaded.path else None
        click.echo(json.dumps({"config_file": file, "settings": [line.to_dict() for line in shown]},
                              ensure_ascii=False, indent=2))
        return
    if loaded.path:
        click.echo(_("config file: {path}").format(path=loaded.path))
    else:
        click.echo(_("config file: none ({name} in this folder, or {path})").format(
            name=config.FILE_NAME, path=config.user_config_file()))
    texts = ["-" if line.value is None else str(line.value) for line in shown]
    width = max(len(text) for text in texts)
    for line, value in zip(shown, texts, strict=True):
        source = _(config.SOURCE_NAMES[line.source])
        where = f"{source} ({line.detail})" if line.detail else source
        click.echo(f"  {line.name:<12} {value:<{width}}  {where}")


register_keys_commands(main, reports_errors)
register_kms_commands(main, reports_errors)
register_worker_command(main, reports_errors)
register_sandbox_commands(main, reports_errors, _exit)


# --- playbooks: list, show, validate, explain ---------------------------------------------------------------


@main.command("list")
@playbooks_option
@lang_option
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--all", "every_code", is_flag=True,
              help=N_("Every code Microsoft documents: what remediate does with it, and its Microsoft source."))
@reports_errors
def list_playbooks(playbook_dirs: tuple[Path, ...], lang: str, output: str, every_code: bool) -> None:
    """List the error codes that have a playbook (--all: every documented code)."""
    library = PlaybookLibrary(playbook_dirs)
    if every_code:
        rows = catalog.code_rows(library, lang)
        if output == "json":
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            catalog.print_codes(rows, output_console())
        return
    playbooks = library.all()
    if output == "json":
        click.echo(json.dumps(catalog.playbook_rows(playbooks, lang), ensure_ascii=False, indent=2))
    else:
        catalog.print_playbooks(playbooks, output_console(), lang)


@main.command("show", cls=CodeCommand)
@click.argument("code")
@playbooks_option
@lang_option
@reports_errors
def show_playbook(code: str, playbook_dirs: tuple[Path, ...], lang: str) -> None:
    """Show one playbook: parameters, steps by phase, escalation guidance."""
    playbook = PlaybookLibrary(playbook_dirs).get(ErrorCode.parse(code))
    catalog.print_playbook(playbook, output_console(), lang)


@main.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@reports_errors
def validate_playbooks(paths: tuple[Path, ...]) -> None:
    """Check playbook files or folders (default: the shipped playbooks), rendering every template."""
    results = validate_files(list(paths))
    failed = 0
    for path, problems in results:
        if problems:
            failed += 1
            for problem in problems:
                click.echo(str(problem))
        else:
            click.echo(_("OK {path}").format(path=path))
    if failed:
        raise PlaybookError(_("{failed} of {count} playbook file(s) have problems").format(
            failed=failed, count=len(results)))


@main.command("explain", cls=CodeCommand)
@click.argument("text", required=False)
@click.option("--file", "file", type=click.File("rb"),
              help=N_("Read the text to explain from a file (UTF-8, UTF-16 or Shift-JIS, as Windows saved it)."))
@playbooks_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lang_option
@reports_errors
def explain_codes(
    text: str | None, file: BinaryIO | None, playbook_dirs: tuple[Path, ...], output: str, lang: str
) -> None:
    """Explain the error codes found in TEXT (or - for standard input, or --file).

    Classes each code (activation, another Windows component's error, information) by the text around it, and
    prints its meaning, Microsoft source and playbook; reports codes typed with a digit too many or too few.
    Exits 0 even when the text holds no code.
    """
    if file is not None and text is not None:
        raise UsageError(_("give the text or --file, not both"))
    if file is not None:
        source = decode_text(file.read())
    elif text == "-":
        source = decode_text(sys.stdin.buffer.read())
    elif text is not None:
        source = text
    else:
        raise UsageError(_("nothing to explain: give TEXT, - (standard input) or --file FILE"))
    document = catalog.explain_codes(source, PlaybookLibrary(playbook_dirs), lang)
    if output == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    for line in catalog.explanation_lines(document, lang):
        click.echo(line)


# --- run: a dry run, a saved plan, a live run ---------------------------------------------------------------


_html_option = click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
    help=N_("Also write a self-contained HTML report (verdict, charts, every host; a plan's scripts) to FILE."))


@main.command("run", cls=CodeCommand)
@click.argument("code", required=False)
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path), help=N_("The hosts file."))
@click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE",
              help=N_("A playbook parameter for every host (repeatable). Never for secrets."))
@click.option("--secret-env", multiple=True, metavar="NAME=VAR",
              help=N_("Take secret parameter NAME from environment variable VAR (repeatable)."))
@click.option("--secrets-file", type=click.Path(path_type=Path), help=N_("A file of NAME=VALUE secret lines."))
@playbooks_option
@click.option("--allow", multiple=True, metavar="OPT-IN",
              help=N_("Plan steps that need an explicit opt-in, e.g. --allow edition-conversion (repeatable)."))
@click.option("--dry-run", is_flag=True, help=N_("Render and print the plan; connect to nothing."))
@click.option("--save-plan", "save_plan", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PLAN.json", help=N_("With --dry-run: also write the plan, for approval, to this file."))
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="PLAN.json", help=N_("Run an approved plan file; refused if anything it was made from "
                                           "changed."))
@click.option("--expires", "expires", default=None, metavar="DURATION",
              help=N_("With --save-plan: the plan may run only this long from now, e.g. 72h."))
@click.option("--allowed-signers", "allowed_signers", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help=N_("With --plan: refuse a plan not signed by these approvers (git's allowed_signers format)."))
@click.option("--min-approvals", "min_approvals", type=click.IntRange(1, 100), default=None,
              help=N_("With --allowed-signers: how many distinct approvers must have signed (default 1)."))
@click.option("--dispatch", is_flag=True,
              help=N_("Send each site's hosts (their site= variable) to that site's workers (`remediate worker "
                      "--site`) over the Redis broker at $REMEDIATE_BROKER_URL; the audit log stays here."))
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--summary", "summary", type=click.Choice(SUMMARY_MODES), default="auto", show_default=True,
              help=N_("The per-host table at the end: full, short (counts and the hosts that need attention), "
                      "or auto (short above 50 hosts)."))  # report.FULL_UP_TO (tests/test_i18n.py checks)
@_html_option
@lang_option
@reports_errors
@live_options()
def run_playbook(
    code: str | None,
    hosts_file: Path,
    set_options: tuple[str, ...],
    secret_env: tuple[str, ...],
    secrets_file: Path | None,
    playbook_dirs: tuple[Path, ...],
    allow: tuple[str, ...],
    dry_run: bool,
    save_plan: Path | None,
    plan_file: Path | None,
    expires: str | None,
    allowed_signers: Path | None,
    min_approvals: int | None,
    dispatch: bool,
    output: str,
    summary: str,
    html_file: Path | None,
    lang: str,
    live_settings: LiveSettings,
) -> None:
    """Run the playbook of CODE on every host of the hosts file (preview it first with --dry-run).

    A change window: `--dry-run --save-plan PLAN.json` writes the plan for approval; `--plan PLAN.json` runs it
    only if everything it was rendered from (playbook, templates, hosts, values) is still the same.
    """
    live_settings.check()
    if html_file is not None:
        check_writable("--html", html_file)
    expires_s = _duration("--expires", expires) if expires is not None else None
    request = run_request(code, allow, dry_run=dry_run, save_plan=save_plan, plan_file=plan_file,
                          allowed_signers=allowed_signers, min_approvals=min_approvals, expires_s=expires_s)
    library = PlaybookLibrary(playbook_dirs)
    if dispatch and live_settings.values.get("processes") is not None:
        raise UsageError(_("--processes and --dispatch: the sites' workers run a dispatched run's hosts"))
    if request.auto and dispatch and not dry_run:
        raise UsageError(_("run auto --dispatch: not yet; give the error code (run CODE --dispatch)"))
    if request.auto:
        hosts = inventory_hosts(hosts_file, warn=_warn, **live_settings.inventory())
        run_values = RunValues.from_options(set_options, secret_env, secrets_file)
        if dry_run:
            _preview_auto(hosts, library, run_values, live_settings, request.allow, output=output, language=lang,
                          html_file=html_file)
        from remediate.live import run_auto_fleet  # the network stack: imported only by commands that connect

        settings = live_settings()
        start = partial(run_auto_fleet, hosts, library, run_values, settings, allow=request.allow)
        _run_live(start, settings, output=output, language=lang, summary=summary, html_file=html_file)  # exits
    playbook = request.playbook(library)
    hosts = inventory_hosts(hosts_file, warn=_warn, **live_settings.inventory())
    run_values = RunValues.from_options(set_options, secret_env, secrets_file)
    for warning in [*run_values.warnings, *likely_typos(playbook.parameters, hosts),
                    *unused_host_secrets(run_values, hosts)]:
        _warn(warning)
    plan = build_plan(playbook, hosts, run_values, Renderer.for_library(library),
                      code=request.error_code, allow=request.allow)
    for warning in plan.warnings():
        _warn(warning)
    request.check(plan)  # StalePlanError (exit 2) before any connection
    saved = None
    if save_plan is not None:
        digest = SavedPlan.from_plan(plan, hosts_file, expires_s).write(save_plan)
        saved = (save_plan, digest)
        click.echo(_("plan saved: {path} (sha256 {digest})").format(path=save_plan, digest=digest), err=True)
    if not dry_run:
        from remediate.dispatch import controller_run  # each site's hosts on that site's workers
        from remediate.live import run_plan  # the network stack: imported only by commands that connect

        settings = live_settings()
        start = partial(controller_run() if dispatch else run_plan, plan, settings,
                        plan_sha256=request.plan_sha256, library=library,
                        approvers=[approver.to_dict() for approver in request.approvers])
        _run_live(start, settings, output=output, language=lang, summary=summary, html_file=html_file)  # exits
    if html_file is not None:
        _wrote_html(html.write_page(html.plan_page([plan], lang, saved=saved), html_file))
    if output == "json":
        for chunk in plan.json_chunks():
            click.echo(chunk, nl=False)
    else:
        print_plan(plan, output_console(), lang)


def _wrote_html(path: Path) -> None:
    click.echo(_("HTML report: {path}").format(path=path), err=True)


def _run_live(
    start: Callable[..., LiveRun], settings: LiveOptions, *, output: str, language: str, summary: str,
    html_file: Path | None = None,
) -> NoReturn:
    """Start a live run (live.run_plan or live.run_auto_fleet, given all but the shared arguments), show it
    (table or JSON; progress on stderr either way), write JUnit if asked, and exit with the run's code."""
    arguments = sys.argv[1:]
    with _live_errors() as errors:
        done = start(language=language, console=errors, prompt=terminal_prompt(), progress=True, arguments=arguments)
    if output == "json":
        click.echo(to_json(done.report, done.redactor))
        click.echo(_("audit log: {path}").format(path=done.audit_path), err=True)
    else:
        print_summary(done.report, output_console(), done.redactor, language, mode=summary, arguments=arguments)
    if settings.junit_file:
        write_junit(done.report, settings.junit_file, done.redactor)
    if html_file is not None:
        _wrote_html(html.write_page(html.run_page(done.report, done.redactor, language), html_file))
    _exit(done.report.exit_category.exit_code)


def _warn(message: str) -> None:
    click.echo(_("warning: {message}").format(message=message), err=True)


def _preview_auto(
    hosts: list[Host], library: PlaybookLibrary, run_values: RunValues, live_settings: LiveSettings,
    allow: tuple[str, ...], *, output: str, language: str, html_file: Path | None,
) -> NoReturn:
    """`run auto --dry-run`: read each licence (read-only, and it says so), then show each host's plan."""
    from remediate.live import preview_auto  # the network stack: imported only by commands that connect

    with _live_errors() as errors:
        preview = preview_auto(hosts, library, run_values, live_settings(), language=language, console=errors,
                               prompt=terminal_prompt(), allow=allow)
    if output == "json":
        body = {
            "dry_run": True,
            "detection": "read-only: each host's licence was read to choose its playbook; nothing was changed",
            "plans": [plan.to_dict() for plan in preview.plans],
            "no_playbook": [host.to_dict() for host in preview.decided],
        }
        click.echo(json.dumps(preview.redactor.value(body), ensure_ascii=False, indent=2))
    else:
        print_auto_preview(preview.plans, preview.decided, output_console(), language, preview.redactor)
    if html_file is not None:
        page = html.plan_page(preview.plans, language, decided=preview.decided, read_only_detection=True,
                              redactor=preview.redactor)
        _wrote_html(html.write_page(page, html_file))
    _exit(ExitCode.OK)


@contextmanager
def _live_errors() -> Iterator[Console]:
    """Standard error of a live command. Nothing to rerun exits 0; Ctrl-C while the licences are read (nothing
    changed yet) exits 130."""
    from remediate import live  # the network stack: imported only by commands that connect

    errors = error_console()
    try:
        yield errors
    except live.NothingToRerun as nothing:
        click.echo(str(nothing))
        _exit(ExitCode.OK)
    except live.ReadsInterrupted as interrupted:
        errors.print(str(interrupted))
        _exit(ExitCode.INTERRUPTED)


def _duration(option: str, text: str) -> float:
    try:
        return duration_seconds(text)
    except ValueError:
        raise UsageError(_("{option} {text!r}: expected a duration such as 90m, 72h or 7d").format(
            option=option, text=text)) from None


@main.group("plan")
def plan_group() -> None:
    """Approve saved plans (a change board's signatures)."""


@plan_group.command("approve")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Your SSH private key (ssh-keygen signs with it; an agent or passphrase prompt as usual)."))
@reports_errors
def plan_approve(plan_file: Path, key_file: Path) -> None:
    """Add your signature to PLAN.json. The run checks it with --allowed-signers; any change to the plan
    (scripts, hosts, values, expiry) makes every signature invalid."""
    saved = SavedPlan.load(plan_file)
    saved.check_expiry()
    signed = saved.approved_by(sign(signed_content(saved.content), key_file.expanduser()))
    signed.write(plan_file)
    click.echo(_("approved: {path} now has {count} signature(s)").format(path=plan_file, count=len(signed.signatures)),
               err=True)


# --- live reads: status, audit ------------------------------------------------------------------------------


@main.command("status")
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path), help=N_("The hosts file."))
@click.option("--output", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@_html_option
@playbooks_option
@lang_option
@reports_errors
@live_options(*READ_OPTIONS)
def status_command(
    hosts_file: Path,
    output: str,
    html_file: Path | None,
    playbook_dirs: tuple[Path, ...],
    lang: str,
    live_settings: LiveSettings,
) -> None:
    """Read the licence state of every host (read-only): LicenseStatus, the code keeping it from Licensed and
    the playbook that handles it, grace remaining, edition, channel, key, KMS host.

    Exit 0 when every host is Licensed, 1 when one is not, 3 when no host could be reached.
    """
    from remediate.live import fleet_status  # the network stack: imported only by commands that connect

    live_settings.check()
    if html_file is not None:
        check_writable("--html", html_file)
    hosts = inventory_hosts(hosts_file, warn=_warn, **live_settings.inventory())
    library = PlaybookLibrary(playbook_dirs)
    with _live_errors() as errors:
        read = fleet_status(hosts, library, live_settings(), console=errors, prompt=terminal_prompt())
    statuses, redactor = read.statuses, read.redactor
    if output == "json":
        click.echo(json.dumps(redactor.value([status.to_dict() for status in statuses]), ensure_ascii=False,
                              indent=2))
    elif output == "csv":
        click.echo(status_csv(statuses, redactor), nl=False)
    else:
        print_status(statuses, output_console(), redactor, lang)
    if html_file is not None:
        _wrote_html(html.write_page(html.status_page(statuses, redactor, lang), html_file))
    _exit(fleet_category(statuses).exit_code)


@main.group("audit")
def audit_group() -> None:
    """Check and read audit logs."""


_audit_key_option = click.option(
    "--audit-key-file", "audit_key_file", type=click.Path(exists=True, dir_okay=False), default=None,
    envvar="REMEDIATE_AUDIT_KEY_FILE", help=N_("The key of a keyed log [env REMEDIATE_AUDIT_KEY_FILE]."),
)


@audit_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_audit_key_option
@reports_errors
def audit_verify(file: Path, audit_key_file: str | None) -> None:
    """Check FILE's chain: complete (exit 0); crash-cut, the last run never finished (exit 5); tampered or
    damaged (exit 1). A keyed log needs its key; an unkeyed one shows accidental damage only."""
    result = audit_log.verify(file, audit_log.load_key(audit_key_file) if audit_key_file else None)
    click.echo(audit_view.verdict(result), err=result.state == audit_log.TAMPERED)
    _exit(audit_view.VERIFY_EXIT[result.state])


@audit_group.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_audit_key_option
@reports_errors
def audit_show(file: Path, output: str, audit_key_file: str | None) -> None:
    """Summarise the runs recorded in FILE: who, when, which code, each host's outcome. Exits as `audit verify`
    does, so a summary of a log that does not verify never passes for a good one."""
    check = audit_log.verify(file, audit_log.load_key(audit_key_file) if audit_key_file else None)
    runs = audit_log.show(file)
    if output == "json":
        click.echo(json.dumps([dataclasses.asdict(run) for run in runs], ensure_ascii=False, indent=2))
    else:
        click.echo(audit_view.verdict(check))
        for line in audit_view.run_lines(runs):
            click.echo(line)
    _exit(audit_view.VERIFY_EXIT[check.state])
