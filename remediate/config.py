"""remediate.toml: the defaults a team gives every run (forks, auth, scheme, CA bundle, SPN service, language,
audit folder, ledger URL), and where each setting's value came from.

    # remediate.toml
    forks = 20
    auth = "kerberos"
    ca_file = "certs/corp-ca.pem"      # a relative path is relative to this file's folder
    audit_dir = "/var/log/remediate"

Which file: `--config FILE` (or $REMEDIATE_CONFIG), else `remediate.toml` in the current folder, else
`remediate.toml` in the user's configuration folder (click.get_app_dir: ~/.config/remediate on Linux,
%APPDATA%\\remediate on Windows). One file is read, the first found.

Precedence: command line > environment (REMEDIATE_FORKS, ...) > config file > built-in. The file feeds click's
`default_map` (options.py), so click itself applies that order and can say where each value came from.

No secret belongs in the file (it is shared, copied, committed): a key that names one (password, token, ...), a
product key, or a ledger URL carrying a password is an error.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from remediate.errors import Location, UsageError
from remediate.i18n import N_, _
from remediate.inventory import AUTH_METHODS, SCHEMES
from remediate.productkey import has_product_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FILE_NAME = "remediate.toml"
CONFIG_ENV = "REMEDIATE_CONFIG"
_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)")
_SECRET_WORDS = re.compile(r"pass(word)?|secret|token|credential|private|api_?key|product_?key|^key$", re.I)


@dataclass(frozen=True)
class Setting:
    """One setting: its key in the file (and the name of its command-line option's value), its environment
    variable and what values it takes. Its built-in default is its option's (options.py)."""

    name: str
    env: str
    help: str
    choices: tuple[str, ...] = ()
    kind: type = str
    path: bool = False  # a file or folder: relative to the config file's folder
    option: str | None = None  # the command-line option, where there is one

    def check(self, value: Any, where: Location) -> Any:
        """The value as the file gives it, checked; a UsageError naming the file and key otherwise."""
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(_("{name} must be a whole number, not {value!r}").format(
                    name=self.name, value=value), where)
            return value
        if not isinstance(value, str) or not value.strip():
            raise UsageError(_("{name} must be a non-empty text, not {value!r}").format(
                name=self.name, value=value), where)
        if self.choices and value not in self.choices:
            raise UsageError(_("{name} must be one of {choices}, not {value!r}").format(
                name=self.name, choices=", ".join(self.choices), value=value), where)
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("forks", "REMEDIATE_FORKS", "hosts worked on at once", kind=int, option="--forks"),
    Setting("auth", "REMEDIATE_AUTH", "WinRM authentication", choices=AUTH_METHODS, option="--auth"),
    Setting("scheme", "REMEDIATE_SCHEME", "https or http", choices=SCHEMES, option="--scheme"),
    Setting("ca_file", "REMEDIATE_CA_FILE", "CA bundle the hosts' certificates are verified against",
            path=True, option="--ca-file"),
    Setting("spn_service", "REMEDIATE_SPN_SERVICE", "Kerberos: the service part of each host's SPN",
            option="--spn-service"),
    Setting("lang", "REMEDIATE_LANG", "language of titles and explanations (built-in: from LANG)",
            choices=("en", "ja"), option="--lang"),
    Setting("audit_dir", "REMEDIATE_AUDIT_DIR", "folder of the audit logs of live runs",
            path=True, option="--audit-dir"),
    Setting("ledger_url", "REMEDIATE_LEDGER_URL", "the key ledger's database URL (no password in it)"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The settings one config file gives (`path` None: no file was found)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


def user_config_file() -> Path:
    """remediate.toml in the user's configuration folder."""
    return Path(click.get_app_dir("remediate")) / FILE_NAME


def find(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The config file to read: the one given, else the current folder's, else the user's; None if none."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(_("config file {explicit}: no such file").format(explicit=explicit))
        return explicit
    for candidate in ((cwd or Path.cwd()) / FILE_NAME, user_config_file()):
        if candidate.is_file():
            return candidate
    return None


def load(explicit: Path | None = None, cwd: Path | None = None) -> Config:
    """Find and read the config file (see find); every value checked, paths made absolute."""
    path = find(explicit, cwd)
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(_("config file {path}: cannot be read: {error}").format(path=path, error=error)) from None
    return Config(path, parse(text, path))


def parse(text: str, path: Path) -> dict[str, Any]:
    """The settings of a config file's text; UsageError naming the file (and line or key) for any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = _AT_LINE.search(str(error))  # "Invalid value (at line 1, column 9)"
        line = int(position.group(1)) if position else None
        raise UsageError(_("not valid TOML: {error}").format(error=_AT_LINE.sub("", str(error))),
                         Location(path, line)) from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = Location(path, _line_of(text, key), key)
        if _SECRET_WORDS.search(key) or _holds_product_key(value):
            raise UsageError(
                _("a secret does not belong in the config file (it is shared and copied)"), where,
                hint=_("give passwords through REMEDIATE_PASSWORD or the prompt, secret values through "
                       "--secret-env or --secrets-file"),
            )
        setting = BY_NAME.get(key)
        if setting is None:
            near = difflib.get_close_matches(key, list(BY_NAME), n=1)
            if near:
                hint = _("did you mean {name}?").format(name=near[0])
            else:
                hint = _("the settings are: {names}").format(names=", ".join(BY_NAME))
            raise UsageError(_("unknown setting {key!r}").format(key=key), where, hint=hint)
        value = setting.check(value, where)
        if key == "ledger_url":
            _check_ledger_url(value, where)
        if setting.path:
            value = str((path.parent / Path(value).expanduser()).resolve())
        values[key] = value
    return values


def _holds_product_key(value: Any) -> bool:
    if isinstance(value, str):
        return has_product_key(value)
    if isinstance(value, Mapping):
        return any(_holds_product_key(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_product_key(item) for item in value)
    return False


def _check_ledger_url(url: str, where: Location) -> None:
    if urlsplit(url).password:
        raise UsageError(
            _("the ledger URL carries a password: a secret does not belong in the config file"), where,
            hint=_("leave the password out of the URL and give it through the database's own means (e.g. "
                   "PGPASSWORD or a .pgpass file), or put the whole URL in REMEDIATE_LEDGER_URL"),
        )


def _line_of(text: str, key: str) -> int | None:
    """The line a top-level key is set on (for messages)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def environment_value(setting: Setting, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(setting.env)
    return value if value else None


@dataclass(frozen=True)
class Shown:
    """One line of `remediate config show`: a setting's value and where it came from."""

    name: str
    value: Any
    source: str  # command line | environment | config file | built-in (SOURCE_NAMES: shown translated)
    detail: str  # the option, the variable or the file that gave it

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "source": self.source, "detail": self.detail}


# Where a value came from, as `config show` says it (the JSON output keeps the English words).
SOURCE_NAMES = {"command line": N_("command line"), "environment": N_("environment"),
                "config file": N_("config file"), "built-in": N_("built-in")}
_SOURCES = {
    click.core.ParameterSource.COMMANDLINE: "command line",
    click.core.ParameterSource.ENVIRONMENT: "environment",
    click.core.ParameterSource.DEFAULT_MAP: "config file",
}


def describe(
    values: Mapping[str, Any],
    sources: Mapping[str, click.core.ParameterSource | None],
    loaded: Config,
    environ: Mapping[str, str] | None = None,
) -> list[Shown]:
    """Every setting with its value and source: from a command's parsed options (values and click's
    sources), or, for a setting without an option (ledger_url), from the environment, the file or nothing."""
    shown = []
    for setting in SETTINGS:
        if setting.option is not None:
            value = values.get(setting.name)
            source = _SOURCES.get(sources.get(setting.name) or click.core.ParameterSource.DEFAULT, "built-in")
        elif environment_value(setting, environ) is not None:
            value, source = environment_value(setting, environ), "environment"
        elif setting.name in loaded.values:
            value, source = loaded.values[setting.name], "config file"
        else:
            value, source = None, "built-in"
        detail = {
            "command line": setting.option or "",
            "environment": setting.env,
            "config file": str(loaded.path),
            "built-in": "",
        }[source]
        shown.append(Shown(setting.name, str(value) if isinstance(value, Path) else value, source, detail))
    return shown
