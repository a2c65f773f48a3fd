"""The remediate command line: parse, call, print, exit. The one place that maps errors to exit codes."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from remediate import __version__
from remediate.errors import RemediateError, TransportError, UsageError


class ExitCode(enum.IntEnum):
    OK = 0  # every host healthy or fixed; or the dry run rendered
    FAILED = 1  # at least one host failed
    USAGE = 2  # usage or configuration error (nothing was touched)
    UNREACHABLE = 3  # no host could be reached or authenticated
    ESCALATE = 4  # no failures, but at least one host needs escalation
    INTERRUPTED = 130  # interrupted: in-flight steps finished and recorded, or (second Ctrl-C) abandoned


F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn an error raised by a command into a clear message and its exit code.

    A RemediateError is bad input or a failed run: its message, and the exit code of its kind. Ctrl-C outside a
    live run (which handles its own) exits 130. Anything else is a defect in remediate: one short line on
    stderr, the traceback in a crash report file (secrets and product keys masked), exit 1.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as error:
            click.echo(f"error: {_masked(str(error))}", err=True)
            sys.exit(ExitCode.USAGE)
        except TransportError as error:
            click.echo(f"error: {_masked(str(error))}", err=True)
            sys.exit(ExitCode.UNREACHABLE)
        except RemediateError as error:
            click.echo(f"error: {_masked(str(error))}", err=True)
            sys.exit(ExitCode.FAILED)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise  # click reports these itself (usage errors, an aborted prompt, --help)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as error:  # the last line of defence: no bare traceback, no secret
            report = _write_crash_report(error)
            summary = _masked(f"{type(error).__name__}: {error}")
            summary = summary if len(summary) <= 300 else summary[:300] + "…"
            click.echo(f"error: internal error in remediate {__version__}: {summary}", err=True)
            if report is not None:
                click.echo(f"  the traceback (secrets masked) is in {report}; please include it in a bug report",
                           err=True)
            sys.exit(ExitCode.FAILED)

    return wrapper  # type: ignore[return-value]


def _masked(text: str) -> str:
    """`text` with every secret this process holds and every product key masked."""
    from remediate.secret import live_secrets, scrub

    return scrub(text, live_secrets())


def _write_crash_report(error: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a new file only the user can read; None if that fails."""
    import os
    import tempfile
    import time
    import traceback

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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="remediate")
def main() -> None:
    """Fix Windows license-activation errors across fleets of hosts over WinRM.

    One playbook per error code: detect, fix, verify, escalate. Preview any run with --dry-run.
    """


# --- playbooks: list, show, validate, explain, run --dry-run ------------------------------------------------


def _default_lang() -> str:
    """`ja` when the environment's locale is Japanese, else `en`.

    On Windows no LANG is set: the user's locale (``Japanese_Japan``) decides.
    """
    import locale
    import os

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    try:
        name = locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    return "ja" if name.lower().startswith(("ja", "japanese")) else "en"


def _console() -> Any:
    from remediate.terminal import output_console

    return output_console()


def _errors_console() -> Any:
    from remediate.terminal import error_console

    return error_console()


class _CodeCommand(click.Command):
    """A command whose argument may be a signed decimal exit code (`remediate show -1073418124`).

    Click would read ``-1073418124`` as an option; a word that is a minus sign and digits only, and not the
    value of an option, is moved behind ``--`` so that it reaches the argument.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {name for param in self.params if isinstance(param, click.Option) and not param.is_flag
                       and not param.count for name in param.opts}
        for index, word in enumerate(args):
            if word == "--":
                break
            negative_number = word[:1] == "-" and word[1:].isdecimal() and word[1:].isascii()
            if negative_number and (index == 0 or args[index - 1] not in takes_value):
                args = [*args[:index], *args[index + 1:], "--", word] if "--" not in args else args
                break
        return super().parse_args(ctx, args)


# The words of list, show and explain; playbook text itself comes in both languages from the playbooks.
_WORDS = {
    "en": {
        "code": "code", "category": "category", "title": "title", "action": "action", "fix": "fix",
        "action_fix": "fix", "action_escalate": "escalate",
        "escalate": "escalate", "also": "also", "parameters": "parameters", "parameter": "parameter",
        "type": "type", "required": "required", "default": "default", "description": "description", "yes": "yes",
        "no": "no", "secret": "(secret)", "when": "when {0}", "only_if": "only if {0}",
        "opt_in": "needs --allow {0}", "retry": "retry x{0}", "escalation": "escalate ({0})",
        "detect": "detect", "verify": "verify", "playbook": "playbook",
        "unknown": "unknown code (not documented by Microsoft)", "no_playbook": "no playbook: escalate to a human",
        "nothing": "no activation error code found",
    },
    "ja": {
        "code": "コード", "category": "分類", "title": "タイトル", "action": "対処", "fix": "修正 (fix)",
        "action_fix": "修正", "action_escalate": "エスカレーション",
        "escalate": "エスカレーション (escalate)", "also": "関連コード", "parameters": "パラメーター",
        "parameter": "パラメーター", "type": "型", "required": "必須", "default": "既定値", "description": "説明",
        "yes": "はい", "no": "いいえ", "secret": "(シークレット)", "when": "計画条件 {0}", "only_if": "実行条件 {0}",
        "opt_in": "--allow {0} が必要", "retry": "再試行 {0} 回", "escalation": "エスカレーション ({0})",
        "detect": "検出 (detect)", "verify": "確認 (verify)", "playbook": "プレイブック",
        "unknown": "不明なコード (Microsoft の文書にありません)",
        "no_playbook": "プレイブックなし: 担当者にエスカレーションしてください",
        "nothing": "ライセンス認証のエラーコードは見つかりません",
    },
}


def _words(lang: str) -> dict[str, str]:
    from remediate.reasons import in_language

    return in_language(_WORDS, lang)


_lang_option = click.option(
    "--lang", type=click.Choice(["en", "ja"]), default=None, help="Language of titles and descriptions "
    "(default: ja when LANG/LC_ALL is Japanese, else en).",
    callback=lambda context, parameter, value: value or _default_lang(),  # commands always get en or ja
)
_playbooks_option = click.option(
    "--playbooks", "playbook_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
    help="A folder of your own playbooks (repeatable; a later folder wins for the same code). Its templates "
    "go in a templates/ folder inside or beside it.",
)


@main.command("list")
@_playbooks_option
@_lang_option
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reports_errors
def list_playbooks(playbook_dirs: tuple[Path, ...], lang: str, output: str) -> None:
    """List the error codes that have a playbook."""
    from rich.table import Table
    from rich.text import Text

    from remediate.playbook import PlaybookLibrary

    playbooks = PlaybookLibrary(playbook_dirs).all()
    if output == "json":
        rows = [
            {
                "code": str(p.code),
                "also": [str(c) for c in p.also],
                "category": p.category,
                "title": p.title.get(lang),
                "summary": p.summary.get(lang),
                "escalates": p.escalates,
                "source": str(p.source),
            }
            for p in playbooks
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    words = _words(lang)
    table = Table(words["code"], words["category"], words["title"], words["action"])
    for p in playbooks:
        action = words["action_escalate"] if p.escalates else words["action_fix"]
        # Text cells: playbook text is never read as console markup.
        codes = " ".join(str(c) for c in p.codes)
        table.add_row(Text(codes), Text(p.category), Text(p.title.get(lang)), action)
    _console().print(table)


@main.command("show", cls=_CodeCommand)
@click.argument("code")
@_playbooks_option
@_lang_option
@reports_errors
def show_playbook(code: str, playbook_dirs: tuple[Path, ...], lang: str) -> None:
    """Show one playbook: parameters, steps by phase, escalation guidance."""
    from rich.table import Table
    from rich.text import Text

    from remediate.codes import ErrorCode
    from remediate.playbook import PHASES, PlaybookLibrary
    from remediate.secret import MASK

    words = _words(lang)
    playbook = PlaybookLibrary(playbook_dirs).get(ErrorCode.parse(code))
    console = _console()
    console.print(Text(f"{playbook.code} — {playbook.title.get(lang)}", style="bold"))
    if playbook.also:
        console.print(Text(f"{words['also']}: " + ", ".join(str(c) for c in playbook.also)))
    console.print(Text(playbook.summary.get(lang)))
    console.print(Text(f"{playbook.source}  sha256 {playbook.sha256}", style="dim"))
    if playbook.parameters:
        table = Table(words["parameter"], words["type"], words["required"], words["default"],
                      words["description"], title=words["parameters"])
        for p in playbook.parameters.values():
            kind = f"enum: {', '.join(p.choices)}" if p.choices else p.type
            kind += f" {words['secret']}" if p.is_secret else ""
            default = "" if p.default is None else json.dumps(p.default, ensure_ascii=False).strip('"')
            default = MASK if p.is_secret and default else default
            cells = (p.name, kind, words["yes" if p.required else "no"], default, p.description.get(lang))
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
    for phase in PHASES:
        steps = playbook.steps_in(phase)
        if not steps:
            continue
        console.print(Text(words[phase], style="bold"))
        for step in steps:
            notes = [n for n in (
                words["when"].format(step.when) if step.when else "",
                words["only_if"].format(step.only_if) if step.only_if else "",
                words["opt_in"].format(step.requires_opt_in) if step.requires_opt_in else "",
                words["retry"].format(step.retry.attempts) if step.retry else "",
            ) if n]
            suffix = f"  [{'; '.join(notes)}]" if notes else ""
            console.print(Text(f"  {step.id}: {step.description.get(lang)}{suffix}"))
    console.print(Text(words["escalation"].format(playbook.escalate.when), style="bold"))
    console.print(Text(f"  {playbook.escalate.guidance.get(lang)}"))


@main.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@reports_errors
def validate_playbooks(paths: tuple[Path, ...]) -> None:
    """Check playbook files or folders (default: the shipped playbooks), rendering every template."""
    from remediate.errors import PlaybookError
    from remediate.validate import validate_files

    results = validate_files(list(paths))
    failed = 0
    for path, problems in results:
        if problems:
            failed += 1
            for problem in problems:
                click.echo(str(problem))
        else:
            click.echo(f"OK {path}")
    if failed:
        raise PlaybookError(f"{failed} of {len(results)} playbook file(s) have problems")


@main.command("explain", cls=_CodeCommand)
@click.argument("text", required=False)
@click.option("--file", "file", type=click.File("rb"),
              help="Read the text to explain from a file (UTF-8, UTF-16 or Shift-JIS, as Windows saved it).")
@_playbooks_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_lang_option
@reports_errors
def explain_codes(
    text: str | None, file: Any, playbook_dirs: tuple[Path, ...], output: str, lang: str
) -> None:
    """Explain the activation error codes found in TEXT (or - for standard input, or --file).

    Prints each code's meaning and its playbook. Exits 0 even when the text holds no code.
    """
    from remediate.codes import code_info
    from remediate.explain import decode_text, find_codes
    from remediate.playbook import PlaybookLibrary

    if file is not None and text is not None:
        raise UsageError("give the text or --file, not both")
    if file is not None:
        source = decode_text(file.read())
    elif text == "-":
        source = decode_text(sys.stdin.buffer.read())
    elif text is not None:
        source = text
    else:
        raise UsageError("nothing to explain: give TEXT, - (standard input) or --file FILE")
    library = PlaybookLibrary(playbook_dirs)
    found = []
    for code in find_codes(source):
        info = code_info(code)
        playbook = library.find(code)
        found.append({
            "code": str(code),
            "playbook": str(playbook.code) if playbook else None,
            "meaning": (info.meaning_ja if lang == "ja" else info.meaning_en) if info else None,
            "category": info.category if info else None,
            "title": playbook.title.get(lang) if playbook else None,
        })
    if output == "json":
        click.echo(json.dumps({"codes": found}, ensure_ascii=False, indent=2))
        return
    words = _words(lang)
    if not found:
        click.echo(words["nothing"])
        return
    for item in found:
        click.echo(f"{item['code']}: {item['meaning'] or words['unknown']}")
        if item["playbook"]:
            shown = item["playbook"]
            click.echo(f"  {words['playbook']}: {shown} — {item['title']}  (remediate show {shown})")
        else:
            click.echo(f"  {words['no_playbook']}")


@main.command("run", cls=_CodeCommand)
@click.argument("code", required=False)
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path), help="The hosts file.")
@click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE",
              help="A playbook parameter for every host (repeatable). Never for secrets.")
@click.option("--secret-env", multiple=True, metavar="NAME=VAR",
              help="Take secret parameter NAME from environment variable VAR (repeatable).")
@click.option("--secrets-file", type=click.Path(path_type=Path), help="A file of NAME=VALUE secret lines.")
@_playbooks_option
@click.option("--allow", multiple=True, metavar="OPT-IN",
              help="Plan steps that need an explicit opt-in, e.g. --allow edition-conversion (repeatable).")
@click.option("--dry-run", is_flag=True, help="Render and print the plan; connect to nothing.")
@click.option("--save-plan", "save_plan", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PLAN.json", help="With --dry-run: also write the plan, for approval, to this file.")
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="PLAN.json", help="Run an approved plan file; refused if anything it was made from changed.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_lang_option
@reports_errors
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
    output: str,
    lang: str,
) -> None:
    """Run the playbook of CODE on every host of the hosts file (preview it first with --dry-run).

    A change window: `--dry-run --save-plan PLAN.json` writes the plan for approval; `--plan PLAN.json` runs it
    only if everything it was rendered from (playbook, templates, hosts, values) is still the same.
    """
    from remediate.codes import ErrorCode
    from remediate.inventory import load_hosts
    from remediate.playbook import PlaybookLibrary
    from remediate.render import Renderer, build_plan
    from remediate.values import RunValues, likely_typos

    live = click.get_current_context().meta["remediate.live"]  # --scheme and --port: what a bare host means
    approved = None
    if save_plan is not None and not dry_run:
        raise UsageError("--save-plan writes the plan of a dry run: add --dry-run")
    if save_plan is not None and plan_file is not None:
        raise UsageError("--save-plan and --plan do not go together: save a plan, or run a saved one")
    if plan_file is not None:
        from remediate.saved_plan import SavedPlan

        if code is not None and code.strip().lower() == "auto":
            raise UsageError(
                "auto picks each host's playbook from a live detect, so it has no plan to approve; "
                "run --plan with the plan's error code (or no code)"
            )
        approved = SavedPlan.load(plan_file)
        if code is not None and ErrorCode.parse(code) != ErrorCode.parse(approved.code):
            raise UsageError(f"{plan_file} is a plan for {approved.code}, not {code}")
        if allow and sorted(set(allow)) != sorted(approved.allow):
            raise UsageError(f"--allow: {plan_file} was approved with {', '.join(approved.allow) or 'no opt-in'}; "
                             "leave --allow out to use the plan's")
        code, allow = approved.code, tuple(approved.allow)
    if code is None:
        raise UsageError("give the error code (or auto), or --plan PLAN.json")
    if code.strip().lower() == "auto":
        if dry_run:
            raise UsageError(
                "auto picks each host's playbook from a live detect, so it cannot be previewed; "
                "give the error code to preview its plan"
            )
        from remediate.live import run_auto_fleet

        library = PlaybookLibrary(playbook_dirs)
        hosts = load_hosts(hosts_file, scheme=live["scheme"], port=live["port"])
        run_values = RunValues.from_options(set_options, secret_env, secrets_file)
        _run_live(lambda settings, **shared: run_auto_fleet(hosts, library, run_values, settings, allow=allow,
                                                            **shared), output=output, language=lang)
        return
    library = PlaybookLibrary(playbook_dirs)
    playbook = library.get(ErrorCode.parse(code))
    known_opt_ins = sorted(set().union(*(p.opt_ins for p in library.all())))
    for opt_in in allow:
        if opt_in not in known_opt_ins:
            raise UsageError(
                f"--allow {opt_in}: no playbook has a step that needs it "
                f"(known opt-ins: {', '.join(known_opt_ins) or 'none'})"
            )
    hosts = load_hosts(hosts_file, scheme=live["scheme"], port=live["port"])
    run_values = RunValues.from_options(set_options, secret_env, secrets_file)
    for warning in [*run_values.warnings, *likely_typos(playbook.parameters, hosts)]:
        click.echo(f"warning: {warning}", err=True)
    plan = build_plan(playbook, hosts, run_values, Renderer.for_library(library),
                      code=ErrorCode.parse(code), allow=allow)
    if approved is not None:
        approved.check(plan)  # StalePlanError (exit 2) before any connection
    if save_plan is not None:
        from remediate.saved_plan import SavedPlan

        digest = SavedPlan.from_plan(plan, hosts_file).write(save_plan)
        click.echo(f"plan saved: {save_plan} (sha256 {digest})", err=True)
    if not dry_run:
        from remediate.live import run_plan

        plan_sha256 = approved.file_sha256 if approved is not None else None
        _run_live(lambda settings, **shared: run_plan(plan, settings, plan_sha256=plan_sha256, **shared),
                  output=output, language=lang)
        return
    if output == "json":
        click.echo(json.dumps(plan.to_dict(), ensure_ascii=False, indent=2))
    else:
        from remediate.preview import print_plan

        print_plan(plan, _console(), lang)


# _run_live (the live path of `run`) is defined in the live-runs section below.


# --- sandbox: sandbox up ----------------------------------------------------------------------------------------


@main.group("sandbox")
def sandbox() -> None:
    """Emulated Windows hosts on loopback that speak real WinRM (for trying remediate without Windows)."""


@sandbox.command("up")
@click.option("--hosts", "count", type=click.IntRange(1, 1000), default=None,
              help="How many hosts (default: as many as the scenario has).")
@click.option("--scenario", default="healthy", show_default=True, help="A scenario NAME or FILE.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--https", is_flag=True, help="Serve HTTPS with a generated CA (written to PATH.ca.pem).")
@click.option("--auth", type=click.Choice(["basic", "ntlm", "negotiate"]), default="ntlm", show_default=True)
@click.option("--username", default="sandbox\\admin", show_default=True, help="The account hosts accept.")
@click.option("--password", default=None,
              help="The account's password (sandbox only). Default: $REMEDIATE_PASSWORD, else generated.")
@click.option("--hosts-file", "hosts_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the hosts file for `remediate run --hosts`.")
@reports_errors
def sandbox_up(count: int | None, scenario: str, seed: int, https: bool, auth: str, username: str,
               password: str | None, hosts_file: Path) -> None:
    """Start sandbox hosts and serve them until Ctrl-C."""
    import os
    import signal
    import threading

    from remediate.sandbox.fleet import Fleet, generate_password, hosts_for_scenario

    hosts, notice = hosts_for_scenario(Path(scenario) if Path(scenario).is_file() else scenario, count, seed)
    if notice:
        click.echo(f"note: {notice}", err=True)
    generated = password is None and not os.environ.get("REMEDIATE_PASSWORD")
    if password is None:
        password = os.environ.get("REMEDIATE_PASSWORD") or generate_password()
    hosts_file = hosts_file.resolve()
    ca_file = Path(f"{hosts_file}.ca.pem") if https else None
    try:
        fleet = Fleet.start(hosts, auth=auth,  # type: ignore[arg-type]
                            https=https, username=username, password=password, seed=seed, ca_file=ca_file)
    except (OSError, ValueError) as error:
        raise UsageError(f"the sandbox did not start: {error}") from error
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        fleet.write_hosts_file(hosts_file)
        for endpoint in fleet.endpoints:
            click.echo(f"  {endpoint.computer_name:<16} {endpoint.url}")
        click.echo(f"hosts file: {hosts_file}")
        if fleet.ca_file is not None:
            click.echo(f"CA certificate: {fleet.ca_file}")
        click.echo(f"user: {fleet.username}")
        if generated:
            click.echo(f"password: {fleet.password}   (generated for this sandbox; shown once)")
        else:
            click.echo("password: the one given (--password or $REMEDIATE_PASSWORD)")
        click.echo(f"ready: {len(hosts)} sandbox hosts up on 127.0.0.1 (Ctrl-C stops)")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        click.echo("sandbox stopped")


# --- live runs: run, status, audit, demo --------------------------------------------------------------------


_AUTHS = ["negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate"]
_PEM = click.Path(exists=True, dir_okay=False)
_LIVE_OPTIONS = [
    click.Option(["--auth"], type=click.Choice(_AUTHS), default="negotiate", show_default=True,
                 help="WinRM authentication (a host's auth= variable wins)."),
    click.Option(["--scheme"], type=click.Choice(["https", "http"]), default="https", show_default=True,
                 help="https (port 5986, certificate verified) or http (5985, messages sealed by the auth)."),
    click.Option(["--port"], type=click.IntRange(1, 65535), default=None,
                 help="WinRM port for hosts without host:port (default 5986 https, 5985 http)."),
    click.Option(["--ca-file"], type=_PEM, default=None,
                 help="CA bundle to verify the hosts' certificates against."),
    click.Option(["--insecure"], is_flag=True, help="Do NOT verify TLS certificates (loud; lab use only)."),
    click.Option(["--cert-pem"], type=_PEM, default=None,
                 help="Client certificate (PEM) for --auth certificate."),
    click.Option(["--cert-key-pem"], type=_PEM, default=None, help="Its key (PEM) for --auth certificate."),
    click.Option(["--forks"], type=click.IntRange(1, 100), default=10, show_default=True,
                 help="Hosts worked on at once (WinRM allows 30 shells per user by default)."),
    click.Option(["--timeout", "connect_timeout"], type=click.FloatRange(1, 3600), default=30,
                 show_default=True, help="Seconds to connect to a host."),
    click.Option(["--operation-timeout"], type=click.IntRange(1, 600), default=20, show_default=True,
                 help="Seconds one WS-Man operation may wait on a host."),
    click.Option(["--wait-for-winrm", "wait_for_winrm"], default=None, metavar="DURATION",
                 help="Keep trying to connect for this long, e.g. 10m (hosts still booting after imaging)."),
    click.Option(["--retries"], type=click.IntRange(0, 20), default=3, show_default=True,
                 help="Retries (backoff with jitter) after a transient fault: refused, timeout, dropped, "
                 "5xx, quota. A step that changes a host and is not idempotent is never retried."),
    click.Option(["--max-fail-percent"], type=click.FloatRange(0, 100), default=None,
                 help="Start no new host once more than this percentage of finished hosts failed."),
    click.Option(["--rerun-failed", "rerun_failed"], default=None, metavar="AUDIT",
                 type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Only the hosts that ended failed, unreachable or skipped in the last run of AUDIT."),
    click.Option(["--audit", "audit_file"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Audit log file (default: remediate-audit/<UTC time>-<code>.jsonl)."),
    click.Option(["--junit", "junit_file"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Also write a JUnit XML report (one testcase per host)."),
]
_LIVE_NAMES = [option.name for option in _LIVE_OPTIONS]


def _add_live_options(command: click.Command) -> None:
    """Give `run` the live-run options; their values reach _run_live through the click context."""
    command.params.extend(_LIVE_OPTIONS)
    plain = command.callback
    assert plain is not None

    def callback(**values: Any) -> Any:
        click.get_current_context().meta["remediate.live"] = {name: values.pop(name) for name in _LIVE_NAMES}
        return plain(**values)

    command.callback = callback


_add_live_options(run_playbook)


def _prompt() -> Any:
    """How live.py asks the person at the terminal (None: stdin is not a terminal, nobody to ask)."""
    if not sys.stdin.isatty():
        return None
    return lambda question, hidden: click.prompt(question, hide_input=hidden, err=True)


def _run_live(start: Callable[..., Any], *, output: str, language: str) -> None:
    """Start a live run (live.run_plan or live.run_auto_fleet, given the live options), print it, and exit
    with the run's code."""
    from remediate import live

    settings = live.LiveOptions.from_values(click.get_current_context().meta.get("remediate.live", {}))
    errors = _errors_console()
    try:
        done = start(settings, language=language, console=errors, prompt=_prompt(),
                     progress=output != "json" and errors.is_terminal, arguments=sys.argv[1:])
    except live.NothingToRerun as nothing:
        click.echo(str(nothing))
        sys.exit(ExitCode.OK)
    except live.ReadsInterrupted as interrupted:
        errors.print(str(interrupted))
        sys.exit(ExitCode.INTERRUPTED)
    _finish_run(done, output, settings.junit_file, language)


def _finish_run(done: Any, output: str, junit_file: Path | None, language: str) -> None:
    """Show the run (table or JSON), write JUnit if asked, exit with the run's code."""
    from remediate.report import print_summary, to_json, write_junit

    if output == "json":
        click.echo(to_json(done.report, done.redactor))
        click.echo(f"audit log: {done.audit_path}", err=True)
    else:
        print_summary(done.report, _console(), done.redactor, language)
    if junit_file:
        write_junit(done.report, junit_file, done.redactor)
    sys.exit(ExitCode[done.report.exit_category.name])


@main.group("audit")
def audit_group() -> None:
    """Check and read audit logs."""


@audit_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reports_errors
def audit_verify(file: Path) -> None:
    """Check that FILE's hash chain is intact (exit 0), or say where it breaks (exit 1)."""
    from remediate.audit import verify

    result = verify(file)
    if not result.ok:
        click.echo(f"{file}: NOT intact: {result.describe()}", err=True)
        sys.exit(ExitCode.FAILED)
    click.echo(f"{file}: intact: {result.describe()}")


@audit_group.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@reports_errors
def audit_show(file: Path, output: str) -> None:
    """Summarise the runs recorded in FILE: who, when, which code, each host's outcome."""
    import dataclasses

    from remediate.audit import show, verify
    from remediate.results import host_label

    runs = show(file)
    if output == "json":
        click.echo(json.dumps([dataclasses.asdict(run) for run in runs], ensure_ascii=False, indent=2))
        return
    check = verify(file)
    click.echo(f"{file}: {'intact' if check.ok else 'NOT intact'}: {check.describe()}")
    for run in runs:
        finished = run.finished or "never (interrupted, crashed, or still running)"
        click.echo(f"\nrun {run.code} by {run.operator}: started {run.started}, finished {finished}")
        click.echo(f"  arguments: {' '.join(run.arguments)}")
        for host, fields in run.hosts.items():
            label = host_label(host, fields.get("computer_name"))
            before = fields.get("code_before") or "-"
            after = fields.get("code_after") or "-"
            outcome = fields.get("outcome") or "unfinished"
            click.echo(f"  {label:<30} {outcome:<12} {before} -> {after}")
            if fields.get("interrupted"):
                given_up = fields["interrupted"]
                where = f"{given_up.get('phase')} step {given_up.get('step')}" if given_up.get("step") else ""
                click.echo(f"    interrupted{' during ' + where if where else ''}: {given_up.get('reason')}")
        if run.summary:
            counted = run.summary.get("counts", {}).items()
            counts = ", ".join(f"{name} {count}" for name, count in counted if count)
            click.echo(f"  {run.steps} step events; {counts}; exit {run.summary.get('exit')}")


_STATUS_OPTION_NAMES = ("auth", "scheme", "port", "ca_file", "insecure", "cert_pem", "cert_key_pem", "forks",
                        "connect_timeout", "operation_timeout", "retries")


@main.command("status")
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path), help="The hosts file.")
@click.option("--output", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@_playbooks_option
@_lang_option
@reports_errors
def status_command(
    hosts_file: Path, output: str, playbook_dirs: tuple[Path, ...], lang: str, **values: Any
) -> None:
    """Read the licence state of every host (read-only): LicenseStatus, the code keeping it from Licensed and
    the playbook that handles it, grace remaining, edition, channel, key, KMS host.

    Exit 0 when every host is Licensed, 1 when one is not, 3 when no host could be reached.
    """
    from remediate import live
    from remediate.inventory import load_hosts
    from remediate.playbook import PlaybookLibrary
    from remediate.status import fleet_category
    from remediate.status_view import print_status, status_csv

    hosts = load_hosts(hosts_file, scheme=values["scheme"], port=values["port"])
    library = PlaybookLibrary(playbook_dirs)
    errors = _errors_console()
    try:
        read = live.fleet_status(hosts, library, live.LiveOptions.from_values(values), console=errors,
                                 prompt=_prompt())
    except live.ReadsInterrupted as interrupted:
        errors.print(str(interrupted))
        sys.exit(ExitCode.INTERRUPTED)
    statuses, redactor = read.statuses, read.redactor
    if output == "json":
        click.echo(json.dumps(redactor.value([status.to_dict() for status in statuses]), ensure_ascii=False,
                              indent=2))
    elif output == "csv":
        click.echo(status_csv(statuses, redactor), nl=False)
    else:
        print_status(statuses, _console(), redactor, lang)
    sys.exit(ExitCode[fleet_category(statuses).name])


status_command.params.extend(option for option in _LIVE_OPTIONS if option.name in _STATUS_OPTION_NAMES)


@main.command("demo")
@click.option("--scenario", default="mixed-fleet", show_default=True,
              help="A shipped sandbox scenario NAME (mixed-fleet, kms-moved, after-imaging, healthy) or a FILE.")
@click.option("--hosts", "count", type=click.IntRange(1, 200), default=None,
              help="How many sandbox hosts (default: as many as the scenario has).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("remediate-demo"), show_default=True, help="Folder for the hosts file and audit log.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@_lang_option
@reports_errors
def demo_command(scenario: str, count: int | None, directory: Path, seed: int, lang: str) -> None:
    """A live run with nothing to set up: sandbox hosts on loopback, `status`, then `run auto`, a verified audit.

    Exits 0 when the run completed and its audit log verifies, whatever the hosts' outcomes.
    """
    from rich.text import Text

    from remediate.demo import run_demo
    from remediate.report import VERDICT

    console = _console()
    chosen = Path(scenario) if Path(scenario).is_file() else scenario
    arguments = ("demo", "--scenario", str(scenario), *(("--hosts", str(count)) if count else ()),
                 "--seed", str(seed), "--lang", lang)
    result = run_demo(directory, console, scenario=chosen, count=count, seed=seed, language=lang,
                      progress=console.is_terminal, arguments=arguments)
    category = result.report.exit_category
    english, japanese, _ = VERDICT[category]
    code = int(ExitCode[category.name])
    if lang == "ja":
        line = f"実際の remediate run auto では終了コード {code} になります: {japanese}"
    else:
        line = f"a real `remediate run auto` on these hosts would exit {code}: {english}"
    console.print(Text(line, "bold"))
    console.print(Text(f"{'次' if lang == 'ja' else 'next'}: remediate audit show {result.audit_file}"))
    if result.report.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.OK if result.audit.ok else ExitCode.FAILED)
