"""What commands share on their command line: click options as decorators (as pip-tools has them), Command and
Group (help texts shown in the language of the run), and CodeCommand, whose argument may be a signed decimal exit
code.

    @main.command("run", cls=CodeCommand)    # CODE may be -1073418124 (without CodeCommand: an option)
    @playbooks_option                        # the command gets playbook_dirs
    @lang_option                             # the command gets lang: en or ja, from the locale when not given
    @live_options()                          # the command gets live_settings(), which gives live.LiveOptions

Options of a config.SETTINGS setting are SettingOptions: their environment variable is the setting's, and a
config file gives their defaults through click's default_map (see setting_defaults), so that click applies
command line > environment > config file > built-in.
"""

from __future__ import annotations

import inspect
import os
import sys
import weakref
from collections.abc import Callable, Mapping
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from remediate import help_wrap
from remediate.audit import DEFAULT_DIR
from remediate.config import BY_NAME
from remediate.duration import duration_seconds
from remediate.errors import UsageError
from remediate.i18n import LANGUAGES, N_, _, language, use_language

if TYPE_CHECKING:
    from remediate.live import LiveOptions

Decorator = Callable[[Callable[..., None]], Callable[..., None]]
F = TypeVar("F", bound=Callable[..., Any])


class SettingOption(click.Option):
    """An option whose default a config file may give (remediate.toml): click's default_map feeds it."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        """The option, and where a bad value came from when it was not the command line."""
        hint = click.Parameter.get_error_hint(self, ctx)
        source = ctx.get_parameter_source(str(self.name)) if ctx is not None else None
        if source is click.core.ParameterSource.ENVIRONMENT:
            return _("{hint} (from ${variable})").format(hint=hint, variable=self.envvar)
        if source is click.core.ParameterSource.DEFAULT_MAP:
            return _("{hint} (from the config file)").format(hint=hint)
        return hint


def setting_option(*declarations: str, **attributes: Any) -> Decorator:
    """click.option for a config.SETTINGS setting: its environment variable is the setting's."""
    setting = BY_NAME[str(SettingOption(declarations).name)]
    return click.option(*declarations, cls=SettingOption, envvar=setting.env, show_envvar=True, **attributes)


def setting_defaults(command: click.Command, values: Mapping[str, Any]) -> dict[str, Any]:
    """click's default_map for `command` and the commands under it: the config file's values of their
    SettingOptions (only those: `sandbox up --auth` is no such option, a config's auth must not reach it)."""
    found: dict[str, Any] = {
        str(param.name): values[str(param.name)]
        for param in command.params
        if isinstance(param, SettingOption) and param.name in values
    }
    if isinstance(command, click.Group):
        for name, subcommand in command.commands.items():
            nested = setting_defaults(subcommand, values)
            if nested:
                found[name] = nested
    return found


# The help texts as written (msgids) of each command and parameter, kept the first time they are shown: click holds
# one object for the process, shown in whichever language the run speaks.
_MSGIDS: weakref.WeakKeyDictionary[object, dict[str, str | None]] = weakref.WeakKeyDictionary()
_HELP_OPTION = N_("Show this message and exit.")  # click's own msgid for the --help option


def _show_in_language(item: click.Command | click.Parameter, names: tuple[str, ...]) -> None:
    """Set `item`'s help texts to their translations in the current language."""
    msgids = _MSGIDS.get(item)
    if msgids is None:
        msgids = _MSGIDS[item] = {name: getattr(item, name) for name in names}
    for name, msgid in msgids.items():
        setattr(item, name, _(inspect.cleandoc(msgid)) if msgid else msgid)


def _speak(context: click.Context, parameter: click.Parameter, value: str | None) -> None:
    if value:
        use_language(value)


class Command(click.Command):
    """A command whose help (its docstring or help=, marked with N_) and its options' help are shown translated,
    and that takes --lang (a command without lang_option takes it for its messages only). Every remediate command
    is one (Group makes its subcommands so). Its help is wrapped by terminal columns (help_wrap)."""

    context_class = help_wrap.Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(param.name == "lang" for param in self.params):
            self.params.append(click.Option(
                ["--lang"], type=click.Choice(LANGUAGES), expose_value=False, callback=_speak,
                help=N_("Language of messages and help (default: ja when LANGUAGE, LC_ALL, LC_MESSAGES or LANG is "
                        "Japanese, else en).")))

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None and option not in _MSGIDS:
            _MSGIDS[option] = {"help": _HELP_OPTION}  # click translated it once, in the language of that moment
        return option

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _show_in_language(self, ("help", "epilog"))
        for param in self.get_params(ctx):
            _show_in_language(param, ("help",))
        super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        _show_in_language(self, ("help", "short_help"))
        return super().get_short_help_str(limit)


class Group(click.Group, Command):
    """A group whose help is shown translated, as are its commands' and their subgroups'."""

    command_class = Command
    group_class: type[click.Group | type] | None = type  # a subgroup is of its parent's class


class LateErrorReporter:
    """cli.reports_errors for the commands of a module that cli.py imports (which so cannot import cli.py): the
    module decorates its commands with an instance, and its `register` hands the reporter over with `use`."""

    def __init__(self) -> None:
        self._reporter: Callable[[Any], Any] | None = None

    def use(self, reporter: Callable[[Any], Any]) -> None:
        self._reporter = reporter

    def __call__(self, func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            reported = self._reporter(func) if self._reporter is not None else func
            return reported(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class CodeCommand(Command):
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


def _chosen_language(context: click.Context, parameter: click.Parameter, value: str | None) -> str:
    """--lang (or the setting's variable or config file): speak it from now on. Commands always get en or ja."""
    if value:
        use_language(value)
    return language()


lang_option = setting_option(
    "--lang", type=click.Choice(["en", "ja"]), default=None, callback=_chosen_language,
    help=N_("Language of messages, help, titles and descriptions (default: ja when LANGUAGE, LC_ALL, LC_MESSAGES "
            "or LANG is Japanese, else en)."),
)
playbooks_option = click.option(
    "--playbooks", "playbook_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
    help=N_("A folder of your own playbooks (repeatable; a later folder wins for the same code). Its templates "
            "go in a templates/ folder inside or beside it."),
)

_AUTHS = ["negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate"]
_PEM = click.Path(exists=True, dir_okay=False)
# The live options by the name their value has (the fields of live.LiveOptions), in the order --help lists them.
_LIVE_OPTIONS: dict[str, Decorator] = {
    "auth": setting_option("--auth", type=click.Choice(_AUTHS), default="negotiate", show_default=True,
                           help=N_("WinRM authentication (a host's auth= variable wins).")),
    "scheme": setting_option(
        "--scheme", type=click.Choice(["https", "http"]), default="https", show_default=True,
        help=N_("https (port 5986, certificate verified) or http (5985, messages sealed by the auth).")),
    "port": click.option("--port", type=click.IntRange(1, 65535), default=None,
                         help=N_("WinRM port for hosts without host:port (default 5986 https, 5985 http).")),
    "ca_file": setting_option("--ca-file", type=_PEM, default=None,
                              help=N_("CA bundle to verify the hosts' certificates against.")),
    "insecure": click.option("--insecure", is_flag=True,
                             help=N_("Do NOT verify TLS certificates (loud; lab use only).")),
    "cert_pem": click.option("--cert-pem", type=_PEM, default=None,
                             help=N_("Client certificate (PEM) for --auth certificate.")),
    "cert_key_pem": click.option("--cert-key-pem", type=_PEM, default=None,
                                 help=N_("Its key (PEM) for --auth certificate.")),
    "spn_service": setting_option(
        "--spn-service", default="HTTP", show_default=True, metavar="SERVICE",
        help=N_("Kerberos: the service part of each host's SPN, SERVICE/<host name as written in the hosts "
                "file>.")),
    "forks": setting_option("--forks", type=click.IntRange(1, 1000), default=50, show_default=True,
                            help=N_("Hosts worked on at once (each holds one shell on its own host).")),
    "processes": click.option(
        "--processes", type=click.IntRange(1, 256), default=None, metavar="N",
        help=N_("Worker processes that run the hosts, each with its share of --forks (the audit log stays in "
                "this one) [default: one per core, at most one per 200 hosts]; 1: no worker process.")),
    "connect_timeout": click.option("--timeout", "connect_timeout", type=click.FloatRange(1, 3600), default=30,
                                    show_default=True, help=N_("Seconds to connect to a host.")),
    "operation_timeout": click.option("--operation-timeout", type=click.IntRange(1, 600), default=20,
                                      show_default=True, help=N_("Seconds one WS-Man operation may wait on a "
                                                                 "host.")),
    "wait_for_winrm": click.option(
        "--wait-for-winrm", "wait_for_winrm", default=None, metavar="DURATION",
        help=N_("Keep trying to connect for this long, e.g. 10m (hosts still booting after imaging).")),
    "retries": click.option(
        "--retries", type=click.IntRange(0, 20), default=3, show_default=True,
        help=N_("Retries (backoff with jitter) after a transient fault: refused, timeout, dropped, 5xx, quota. "
                "A step that changes a host and is not idempotent is never retried.")),
    "max_auth_failures": click.option(
        "--max-auth-failures", type=click.IntRange(0, 1000), default=3, show_default=True,
        help=N_("Start no new host once this many refused the credentials (a domain account locks out); 0: no "
                "limit.")),
    "host_timeout": click.option(
        "--host-timeout", default="10m", show_default=True, metavar="DURATION",
        help=N_("A host without an outcome by then ends unreachable: deadline (failed, state unknown, if a "
                "change was in flight); 0 for none.")),
    "force": click.option(
        "--force", is_flag=True,
        help=N_("Act on hosts whose detection reports a code another playbook handles (they are skipped "
                "otherwise).")),
    "audit_key_file": click.option(
        "--audit-key-file", type=_PEM, default=None, envvar="REMEDIATE_AUDIT_KEY_FILE",
        help=N_("Key the audit log's chain (HMAC-SHA256) with this secret file, so that a rewrite shows [env "
                "REMEDIATE_AUDIT_KEY_FILE].")),
    "max_fail_percent": click.option(
        "--max-fail-percent", type=click.FloatRange(0, 100), default=None,
        help=N_("Start no new host once more than this percentage of finished hosts failed.")),
    "limit": click.option(
        "--limit", "-l", "limit", default=None, metavar="PATTERN",
        help=N_("Only the inventory's hosts that PATTERN selects, in Ansible's syntax: a group or host, web:db "
                "(either), web:&prod (both), web:!web03 (not), web*, ~regex, @FILE (names, one a line).")),
    "rerun_failed": click.option(
        "--rerun-failed", "rerun_failed", default=None, metavar="AUDIT",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=N_("Only the hosts that did not end healthy or fixed in the last run of AUDIT (a log of this "
                "code's run or of run auto; escalated hosts included, detected again before anything is "
                "changed).")),
    "audit_file": click.option(
        "--audit", "audit_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help=N_("Audit log file (default: <audit dir>/<UTC time>-<code>.jsonl).")),
    "audit_dir": setting_option(
        "--audit-dir", "audit_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR,
        show_default=True, help=N_("Folder of the audit logs of runs given no --audit.")),
    "junit_file": click.option(
        "--junit", "junit_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help=N_("Also write a JUnit XML report (one testcase per host).")),
    "ledger": click.option(
        "--ledger", default=None, metavar="URL", callback=lambda context, parameter, value: _ledger_url(value),
        help=N_("The key ledger: a run checks a product key's budget and records its installs and activations, "
                "status the partial keys it reads (default: $REMEDIATE_LEDGER, else the default ledger once "
                "`remediate keys` has made it).")),
    "mak_reserve": click.option(
        "--mak-reserve", default="5%", show_default=True, metavar="PERCENT|N",
        help=N_("Activations of a key's budget a run leaves untouched: a percentage of what is left, or a "
                "count.")),
}
SETTING_OPTIONS = ("forks", "auth", "scheme", "ca_file", "spn_service", "audit_dir")


def setting_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command every option a config file may set (`config show` takes them to show their sources)."""
    for name in reversed(SETTING_OPTIONS):
        command = _LIVE_OPTIONS[name](command)
    return lang_option(command)


# What `status` takes: it only reads, so it has the options of connecting, not those of a run.
READ_OPTIONS = ("auth", "scheme", "port", "ca_file", "insecure", "cert_pem", "cert_key_pem", "spn_service", "forks",
                "connect_timeout", "operation_timeout", "retries", "max_auth_failures", "limit", "ledger")


def terminal_prompt() -> Callable[[str, bool], str] | None:
    """How a command that connects asks the person at the terminal for the WinRM user and password: (question,
    hide what is typed) -> the answer. None: stdin is not a terminal, nobody to ask."""
    if not sys.stdin.isatty():
        return None
    return lambda question, hidden: str(click.prompt(question, hide_input=hidden, err=True))


def _ledger_url(value: str | None) -> str | None:
    from remediate.errors import UsageError
    from remediate.ledger.location import refuse_password

    try:
        refuse_password(value)
    except UsageError as error:
        raise click.BadParameter(f"{error.message} ({error.hint})") from None
    return value


def live_options(*names: str) -> Decorator:
    """Give a command the live options (those named, or all). It receives them as one `live_settings`: called
    once the command connects, it gives their live.LiveOptions. The options follow the command's own in --help.

    Not the LiveOptions themselves: importing the network stack binds a socket, and a dry run touches no network.
    """
    chosen = names or tuple(_LIVE_OPTIONS)

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @wraps(command)
        def with_settings(**values: Any) -> None:
            given = {name: values.pop(name) for name in chosen}
            command(live_settings=LiveSettings(given), **values)

        decorated: Callable[..., None] = with_settings
        for name in reversed(chosen):
            decorated = _LIVE_OPTIONS[name](decorated)
        return decorated

    return decorate


NO_DEADLINE = ("", "0", "none", "off")  # --host-timeout values that mean no deadline


def check_writable(option: str, path: Path) -> None:
    """`path` can be written: not a folder, and the nearest folder on its way that exists is writable."""
    if path.is_dir():
        raise UsageError(_("{option} {path}: is a folder; give a file name").format(option=option, path=path))
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(_("{option} {path}: cannot write there ({folder} is not a writable folder)").format(
            option=option, path=path, folder=folder))


class LiveSettings:
    """The live options as given. Called, it gives their live.LiveOptions (importing the network stack);
    `inventory` gives what reading the inventory takes from them, without it (for dry runs)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __call__(self) -> LiveOptions:
        from remediate.live import LiveOptions  # the network stack: imported only by commands that connect

        return LiveOptions.from_values(self.values)

    def inventory(self) -> dict[str, Any]:
        """--scheme and --port: which port a host given without one is on (duplicate hosts are found by it);
        --insecure: whether a host may turn certificate validation off; --limit: which hosts."""
        return {"scheme": self.values.get("scheme") or "https", "port": self.values.get("port"),
                "insecure": bool(self.values.get("insecure")), "limit": self.values.get("limit")}

    def check(self) -> None:
        """Refuse a value that would only fail once the run connects (a duration, a report's path) before
        anything renders, so that a dry run passes only with options a live run accepts."""
        for name, option in (("wait_for_winrm", "--wait-for-winrm"), ("host_timeout", "--host-timeout")):
            text = self.values.get(name)
            if text is None or (name == "host_timeout" and str(text).strip().lower() in NO_DEADLINE):
                continue
            try:
                duration_seconds(text)
            except ValueError:
                raise UsageError(_("{option} {text!r}: expected a duration such as 90s, 10m or 1h").format(
                    option=option, text=text)) from None
        for name, option in (("audit_file", "--audit"), ("junit_file", "--junit")):
            if self.values.get(name) is not None:
                check_writable(option, Path(self.values[name]))
