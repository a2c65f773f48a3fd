"""Run-wide values (--set, --secret-env, --secrets-file) and how each host's parameter values are decided.

For every playbook parameter, lowest first: the playbook's default < ``--set name=value`` < the host's
variable < a secret for the whole run < a secret for that host. Secret parameters (``secret: true``) and every
``product_key`` come only from ``--secret-env NAME=VARIABLE`` or ``--secrets-file FILE``: never from the command
line or a hosts file.

A secrets file has one ``name=value`` per line; ``#`` starts a comment only at the start of a line (a ``#``
in a value is kept); spaces around name and value are dropped; a value may be wrapped in double quotes, which
are removed (nothing inside is an escape). ``name@HOST=value`` gives the value to one host only, HOST written
as the hosts file names it (``web01.corp.example``, or ``name:port`` as reports show it): what differs from
host to host, such as the confirmation ID of phone activation, which belongs to one host's installation ID.
Messages name the file and line, never the value.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from remediate.errors import Location, UsageError
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.inventory import TRANSPORT_VARIABLES, Host
from remediate.parameter_types import ParameterValue, coerce
from remediate.productkey import mask_product_keys
from remediate.secret import Secret

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ParameterSpec(Protocol):
    """What values.py needs to know about a playbook parameter."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def default(self) -> object: ...
    @property
    def secret(self) -> bool: ...
    @property
    def choices(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class HostSecret:
    """A secrets file's ``name@HOST=value``: the value of parameter `name` for one host."""

    name: str
    host: str  # as the line writes it
    secret: Secret
    location: Location


@dataclass(frozen=True)
class RunValues:
    """Values given for the run. `secrets` (for every host) and `host_secrets` (for one host each, keyed by
    parameter and host name in lower case) never print; `warnings` are for the user (e.g. file mode)."""

    settings: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    secret_locations: dict[str, Location] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    host_secrets: dict[tuple[str, str], HostSecret] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls,
        set_options: Sequence[str] = (),
        secret_env: Sequence[str] = (),
        secrets_file: Path | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> RunValues:
        settings = _settings(set_options)
        secrets: dict[str, Secret] = {}
        locations: dict[str, Location] = {}
        warnings: list[str] = []
        host_secrets: dict[tuple[str, str], HostSecret] = {}
        for option in secret_env:
            name, variable = _secret_env_option(option)
            if name in secrets:
                raise UsageError(_("--secret-env {name}=... is given twice").format(name=name))
            value = environ.get(variable)
            if not value:
                shown = mask_product_keys(variable)
                if value is None:
                    message = _("--secret-env {name}={shown}: environment variable {shown} is not set")
                else:
                    message = _("--secret-env {name}={shown}: environment variable {shown} is empty")
                raise UsageError(message.format(name=name, shown=shown))
            shown = mask_product_keys(variable)
            secrets[name] = Secret(value, source=f"environment variable {shown}")
            locations[name] = Location(field=f"--secret-env {name}={shown}")
        if secrets_file is not None:
            from_file, host_secrets, file_warnings = _read_secrets_file(Path(secrets_file))
            warnings.extend(file_warnings)
            for name, (secret, where) in from_file.items():
                if name in secrets:
                    raise UsageError(_("{name} is given by both --secret-env and the secrets file").format(
                        name=name), where)
                secrets[name] = secret
                locations[name] = where
        for name in settings:
            if name in secrets or any(name == secret_name for secret_name, _ in host_secrets):
                raise UsageError(_("{name} is given by --set and by a secret source; give it once").format(name=name))
        return cls(settings, secrets, locations, warnings, host_secrets)

    def only(self, declared: set[str]) -> RunValues:
        """The values of these parameters only (run auto gives one set of values to several playbooks)."""
        return dataclasses.replace(
            self,
            settings={name: value for name, value in self.settings.items() if name in declared},
            secrets={name: value for name, value in self.secrets.items() if name in declared},
            host_secrets={key: value for key, value in self.host_secrets.items() if key[0] in declared},
        )

    def host_secret(self, name: str, host: Host) -> HostSecret | None:
        """The secrets file's value of `name` for this host: by the name reports show (``name:port``), else by
        its name alone."""
        return self.host_secrets.get((name, host.label.lower())) or self.host_secrets.get((name, host.name.lower()))


def resolve(
    parameters: Mapping[str, ParameterSpec], host: Host, run: RunValues
) -> dict[str, ParameterValue | None]:
    """The typed value of every parameter for `host`; an optional parameter given nowhere is None.

    Raises UsageError (or its ParameterValueError / ProductKeyError kinds) naming the parameter, the host and
    where the bad value came from; no message contains a secret or a full product key.
    """
    _check_known(parameters, run)
    values: dict[str, ParameterValue | None] = {}
    for name, spec in parameters.items():
        values[name] = _resolve_one(name, spec, host, run)
    return values


def _resolve_one(name: str, spec: ParameterSpec, host: Host, run: RunValues) -> ParameterValue | None:
    secret_only = spec.secret or spec.type == "product_key"
    choices = spec.choices
    if secret_only:
        if name in run.settings:
            raise UsageError(_("{name} is a secret: secrets come from --secret-env or --secrets-file, never the "
                               "command line").format(
                name=name), Location(field=f"--set {name}"))
        if name in host.variables:
            raise UsageError(
                _("{name} is a secret: secrets come from --secret-env or --secrets-file, never the command line or a "
                  "hosts file").format(
                    name=name),
                _host_location(host, name),
            )
    for_host = run.host_secret(name, host)
    if for_host is not None:
        # A value from a secret source stays secret: never shown in a message, text kept as a Secret.
        return coerce(spec.type, for_host.secret.reveal(), choices=choices, field=name,
                      location=for_host.location, secret=True)
    if name in run.secrets:
        secret = run.secrets[name]
        return coerce(spec.type, secret.reveal(), choices=choices, field=name,
                      location=run.secret_locations.get(name), secret=True)
    if not secret_only and name in host.variables:
        return coerce(spec.type, host.variables[name], choices=choices, field=name,
                      location=_host_location(host, name))
    if not secret_only and name in run.settings:
        return coerce(spec.type, run.settings[name], choices=choices, field=name,
                      location=Location(field=f"--set {name}"))
    if spec.default is not None:
        if not isinstance(spec.default, (str, int, bool)):
            raise UsageError(_("parameter {name}: default must be text, a number or true/false").format(name=name))
        return coerce(spec.type, spec.default, choices=choices, field=name,
                      location=Location(field=f"{name} (default)"), secret=spec.secret)
    if spec.required:
        if secret_only:
            message = _("host {label}: parameter {name} is required; give it with --secret-env {name}=VARIABLE or a "
                        "{name}=... line in --secrets-file")
        else:
            message = _("host {label}: parameter {name} is required; give it with --set {name}=... or {name}=... on "
                        "the host's line in the hosts file")
        raise UsageError(message.format(label=host.label, name=name))
    return None


def _host_location(host: Host, name: str) -> Location:
    return Location(host.source, host.line, f"{host.label}: {name}")


def likely_typos(parameters: Mapping[str, ParameterSpec], hosts: Sequence[Host]) -> list[str]:
    """Warnings for host variables that are no parameter of the playbook but look like a misspelt one.

    Other unknown variables are legitimate (notes, values for other playbooks of the same hosts file) and pass
    in silence; `kms_hots=...` would silently leave kms_host unset and change the plan.
    """
    warnings = []
    for host in hosts:
        for name in host.variables:
            if name in parameters or name in TRANSPORT_VARIABLES:
                continue
            close = difflib.get_close_matches(name, list(parameters), n=1, cutoff=0.8)
            if close:
                warnings.append(_("{location}: the playbook has no parameter {name}, so it is not used; did you "
                                  "mean {close}?").format(location=_host_location(host, name), name=name,
                                                          close=close[0]))
    return warnings


def unused_host_secrets(run: RunValues, hosts: Sequence[Host]) -> list[str]:
    """Warnings for ``name@HOST`` lines of the secrets file that name no host of the run: a misspelt host
    would otherwise leave its value unused in silence (hosts left out by --limit are named too)."""
    names = {host.label.lower() for host in hosts} | {host.name.lower() for host in hosts}
    return [_("{location}: no host {host} in this run, so this {name} is not used").format(
                location=entry.location, host=entry.host, name=entry.name)
            for (_name, host_name), entry in run.host_secrets.items() if host_name not in names]


def _check_known(parameters: Mapping[str, ParameterSpec], run: RunValues) -> None:
    known = ", ".join(sorted(parameters)) or _("(none)")
    for name in run.settings:
        if name not in parameters:
            close = difflib.get_close_matches(name, list(parameters), n=1, cutoff=0.8)
            if close:
                message = _("--set {name}: the playbook has no parameter {name} (did you mean {close}?)").format(
                    name=name, close=close[0])
            else:
                message = _("--set {name}: the playbook has no parameter {name}").format(name=name)
            raise UsageError(message, hint=_("its parameters are: {known}").format(known=known))
    for name in run.secrets:
        if name not in parameters:
            raise UsageError(
                _("the playbook has no parameter {name}").format(name=name),
                run.secret_locations.get(name),
                hint=_("its parameters are: {known}").format(known=known),
            )
    for (name, _host), entry in run.host_secrets.items():
        if name not in parameters:
            raise UsageError(_("the playbook has no parameter {name}").format(name=name), entry.location,
                             hint=_("its parameters are: {known}").format(known=known))


def _settings(set_options: Sequence[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for option in set_options:
        name, has_equals, value = option.partition("=")
        name = name.strip()
        if not has_equals:
            raise UsageError(_("--set expects name=value, got {value!r}").format(value=mask_product_keys(option)))
        if not _NAME.fullmatch(name):
            shown = mask_product_keys(name)
            raise UsageError(_("--set {shown!r}: a parameter name is lower-case letters, digits and _").format(
                shown=shown))
        if name in TRANSPORT_VARIABLES:
            raise UsageError(_("--set {name}: {name} is a connection setting: write it in the hosts file").format(
                name=name))
        if name in settings:
            raise UsageError(_("--set {name}=... is given twice").format(name=name))
        settings[name] = value
    return settings


def _secret_env_option(option: str) -> tuple[str, str]:
    name, has_equals, variable = option.partition("=")
    name, variable = name.strip(), variable.strip()
    if not has_equals or not variable:
        raise UsageError(
            _("--secret-env expects NAME=VARIABLE: a parameter and the environment variable that holds it"),
            hint=_("for example --secret-env product_key=REMEDIATE_PRODUCT_KEY"),
        )
    if not _NAME.fullmatch(name):
        shown = mask_product_keys(name)
        raise UsageError(_("--secret-env {shown!r}: a parameter name is lower-case letters, digits and _").format(
            shown=shown))
    if not _ENV_NAME.fullmatch(variable):
        # Most often the secret itself, expanded by the shell (--secret-env name=$KEY): never echo it.
        raise UsageError(
            _("--secret-env {name}=...: the text after = is not an environment variable name").format(name=name),
            hint=_("give the variable's name, not its value: --secret-env {name}=VARIABLE (for example "
                   "--secret-env {name}=NEW_KEY, without a $)").format(name=name),
        )
    return name, variable


def _read_secrets_file(
    path: Path,
) -> tuple[dict[str, tuple[Secret, Location]], dict[tuple[str, str], HostSecret], list[str]]:
    """The run-wide secrets (``name=value``), the per-host ones (``name@HOST=value``), and warnings."""
    data = read_input_bytes(path, _("secrets file"))
    mode = path.stat().st_mode
    warnings: list[str] = []
    if sys.platform != "win32" and mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(_("secrets file {path} is readable by other users (mode {mode:04o}); run: chmod 600 "
                          "{path}").format(path=path, mode=stat.S_IMODE(mode)))
    try:
        # UTF-16 with a BOM is what Windows PowerShell 5.1's Out-File and > write.
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad_line = data[: error.start].count(b"\n") + 1
        raise UsageError(_("secrets file is not UTF-8 text"), Location(path, bad_line)) from None
    secrets: dict[str, tuple[Secret, Location]] = {}
    host_secrets: dict[tuple[str, str], HostSecret] = {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        where = Location(path, number)
        key, has_equals, value = line.partition("=")
        name, at, host = (part.strip() for part in key.partition("@"))
        value = value.strip()
        if not has_equals:
            raise UsageError(_("expected name=value"), where)
        if not _NAME.fullmatch(name):
            raise UsageError(_("a name is lower-case letters, digits and _ (not a digit first)"), where)
        if at and (not host or any(c.isspace() for c in host)):
            raise UsageError(_("{name}@: expected a host name after @ (as the hosts file names it)").format(name=name),
                             where)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        shown = f"{name}@{host}" if at else name
        here = Location(path, number, shown)
        if not value:
            raise UsageError(_("{shown} has an empty value").format(shown=shown), here)
        secret = Secret(value, source=f"{path}:{number}")
        if at:
            earlier = host_secrets.get((name, host.lower()))
            if earlier is not None:
                raise UsageError(_("{shown} is given twice (first on line {line})").format(
                    shown=shown, line=earlier.location.line), here)
            host_secrets[(name, host.lower())] = HostSecret(name, host, secret, here)
            continue
        if name in secrets:
            first = secrets[name][1].line
            raise UsageError(_("{name} is given twice (first on line {line})").format(name=name, line=first), here)
        secrets[name] = (secret, here)
    return secrets, host_secrets, warnings
