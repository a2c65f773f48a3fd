"""Ansible's connection variables -> where remediate connects to a host, and how.

- ``ansible_host`` (``ansible_winrm_host`` / ``ansible_psrp_host``): the address to connect to; reports still
  name the host by its inventory name.
- ``ansible_port`` (``ansible_winrm_port`` / ``ansible_psrp_port``): the port.
- ``ansible_winrm_scheme`` / ``ansible_psrp_protocol``: ``scheme``; without one, port 5985 means http, as in
  Ansible's winrm and psrp plugins.
- ``ansible_winrm_transport`` / ``ansible_psrp_auth``: ``auth`` (pywinrm's ``ssl`` and ``plaintext`` are Basic).
- ``ansible_winrm_ca_trust_path`` / ``ansible_psrp_ca_cert`` (``ansible_psrp_cert_trust_path``): ``ca_file``,
  a relative path being from the working folder, as Ansible reads it.
- ``ansible_winrm_server_cert_validation`` / ``ansible_psrp_cert_validation``: ``ignore`` over https is refused
  unless the run has --insecure (remediate turns verification off only for a whole run, loudly).
- ``ansible_connection``: ``winrm`` or ``psrp``; a host reached otherwise (ssh, ...) cannot be worked on.

The connection plugin's own variable wins over the general one (``ansible_winrm_port`` over ``ansible_port``),
and with ``ansible_connection`` set only that plugin's variables count. A password variable (``ansible_password``,
``ansible_winrm_pass``, ...) is refused: the password comes from REMEDIATE_PASSWORD or the prompt. Other
``ansible_*`` variables are not used (the caller warns once, naming them); every other variable is a playbook
value, as on a hosts-file line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from remediate.errors import Location
from remediate.i18n import _
from remediate.inventory import AUTH_METHODS, SCHEMES, TRANSPORT_VARIABLES, check_transport_variables, parse_host_token
from remediate.productkey import mask_product_keys
from remediate.secret import MASK

WINRM_PLUGINS = {"winrm": "winrm", "ansible.builtin.winrm": "winrm", "ansible.legacy.winrm": "winrm",
                 "psrp": "psrp", "ansible.builtin.psrp": "psrp", "ansible.legacy.psrp": "psrp"}
# Each setting: (general variables, winrm's, psrp's); within a tuple a later name wins, as in Ansible's plugins.
_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "address": (("ansible_host",), ("ansible_winrm_host",), ("ansible_psrp_host",)),
    "port": (("ansible_port",), ("ansible_winrm_port",), ("ansible_psrp_port",)),
    "scheme": ((), ("ansible_winrm_scheme",), ("ansible_psrp_protocol",)),
    "auth": ((), ("ansible_winrm_transport",), ("ansible_psrp_auth",)),
    "ca_file": ((), ("ansible_winrm_ca_trust_path",), ("ansible_psrp_cert_trust_path", "ansible_psrp_ca_cert")),
    "cert_validation": ((), ("ansible_winrm_server_cert_validation",), ("ansible_psrp_cert_validation",)),
}
USED_VARIABLES = frozenset({"ansible_connection", "ansible_group_priority",
                            *(name for names in _SETTINGS.values() for group in names for name in group)})
# Ansible's authentication names (pywinrm's transports, pypsrp's auths) -> remediate's.
AUTH_NAMES = {"basic": "basic", "ssl": "basic", "plaintext": "basic", "certificate": "certificate",
              "ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp", "negotiate": "negotiate"}
_PASSWORD = re.compile(r"ansible_(?:\w+_)?pass(?:word)?")


class Vaulted:
    """A value encrypted with Ansible Vault (``!vault``): remediate never decrypts it."""


@dataclass(frozen=True)
class Var:
    """One variable's value, and where it was set."""

    value: object
    location: Location


@dataclass
class HostSettings:
    """What one host's merged variables say: where and how to connect, and its playbook values."""

    address: str | None = None
    port: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    connection: str | None = None  # an ansible_connection that is not WinRM (ssh, local, ...)
    ignored: set[str] = field(default_factory=set)  # ansible_* variables remediate does not use
    shadowed: set[str] = field(default_factory=set)  # remediate's own setting names, not used in Ansible files
    vaulted: set[str] = field(default_factory=set)  # playbook values encrypted with Ansible Vault, left out
    problems: list[tuple[Location, str]] = field(default_factory=list)


def password_problem(name: str) -> str | None:
    """The message refusing variable `name` if it holds a password."""
    if not _PASSWORD.fullmatch(name):
        return None
    return (_("a password does not belong in an inventory (value {MASK}): remediate takes it from "
              "REMEDIATE_PASSWORD or asks for it; delete this variable").format(MASK=MASK))


def host_settings(
    variables: Mapping[str, Var], *, scheme: str, insecure: bool, native: bool = False, source: Path | None = None
) -> HostSettings:
    """Read one host's merged variables (group variables and its own, in Ansible's precedence).

    `scheme` and `insecure` are the run's: certificate validation turned off matters only over https, and only
    --insecure may turn it off. With `native` (a CSV export), remediate's own ``scheme``, ``auth`` and
    ``ca_file`` are connection settings too, as in a hosts file (a relative ca_file from `source`'s folder).
    """
    settings = HostSettings()
    plugin = _connection(variables, settings)
    chosen = {name: _choose(name, variables, plugin, settings) for name in _SETTINGS}
    for name, var in variables.items():
        if name.startswith("ansible_"):
            problem = password_problem(name)
            if problem:
                settings.problems.append((var.location, problem))
            elif name not in USED_VARIABLES or not _counts(name, plugin):
                settings.ignored.add(name)
        elif name in (*TRANSPORT_VARIABLES, "port") and not native:
            settings.shadowed.add(name)
        else:
            _playbook_value(name, var, settings)
    if native:
        native_problems: list[tuple[str | None, str]] = []
        check_transport_variables(settings.variables, source, native_problems)
        settings.problems += [(_native_location(variables, where), message) for where, message in native_problems]
    _address(chosen["address"], settings)
    _port(chosen["port"], settings)
    _scheme(chosen["scheme"], settings, derive=not native)
    _auth(chosen["auth"], settings)
    _ca_file(chosen["ca_file"], settings)
    _cert_validation(chosen["cert_validation"], settings, scheme=settings.variables.get("scheme", scheme),
                     insecure=insecure)
    return settings


def _connection(variables: Mapping[str, Var], settings: HostSettings) -> str | None:
    """The Ansible connection plugin in use, winrm or psrp; None when not set (or another, noted in settings)."""
    var = variables.get("ansible_connection")
    if var is None:
        return None
    value = str(var.value).strip().lower()
    if value in WINRM_PLUGINS:
        return WINRM_PLUGINS[value]
    settings.connection = f"ansible_connection={mask_product_keys(str(var.value))}"
    return None


def _counts(name: str, plugin: str | None) -> bool:
    """Whether variable `name` is one the host's connection plugin reads."""
    for general, winrm, psrp in _SETTINGS.values():
        if name in winrm:
            return plugin in (None, "winrm")
        if name in psrp:
            return plugin in (None, "psrp")
        if name in general:
            return True
    return True


def _choose(setting: str, variables: Mapping[str, Var], plugin: str | None, settings: HostSettings) -> Var | None:
    general, winrm, psrp = _SETTINGS[setting]
    specific: list[tuple[str, Var]] = []
    for names in ((winrm,) if plugin == "winrm" else (psrp,) if plugin == "psrp" else (winrm, psrp)):
        found = [(name, variables[name]) for name in names if name in variables]
        if found:
            specific.append(found[-1])
    if len(specific) == 2 and _text(specific[0][1].value) != _text(specific[1][1].value):
        (first, _first_var), (second, var) = specific
        settings.problems.append((var.location, _("{first} and {second} disagree: set ansible_connection to "
                                                  "winrm or psrp, so that one of them counts").format(
                                                      first=first, second=second)))
        return None
    if specific:
        return specific[-1][1]
    found_general = [variables[name] for name in general if name in variables]
    return found_general[-1] if found_general else None


def _text(value: object) -> str:
    return str(value).strip().lower()


def _shown(text: str) -> str:
    """`text` for a message, product keys masked."""
    return repr(mask_product_keys(text))


def _template_problem(var: Var, settings: HostSettings) -> bool:
    if isinstance(var.value, Vaulted):
        settings.problems.append((var.location, _("the value is encrypted with Ansible Vault: remediate does "
                                                  "not decrypt it; write the value")))
        return True
    if isinstance(var.value, str) and "{{" in var.value:
        settings.problems.append((var.location, _("{value} is an Ansible template: remediate does not evaluate "
                                                  "templates; write the value").format(value=_shown(var.value))))
        return True
    return False


def _address(var: Var | None, settings: HostSettings) -> None:
    if var is None or _template_problem(var, settings):
        return
    text = str(var.value).strip()
    problems: list[tuple[str | None, str]] = []
    name, port = parse_host_token(text, problems) if text else (None, None)
    if not text:
        settings.problems.append((var.location, _("the address is empty")))
    elif problems:
        settings.problems += [(var.location, message) for _field, message in problems]
    elif port is not None:
        settings.problems.append((var.location, _("{value} has a port: give the address alone, and the port "
                                                  "with ansible_port").format(value=_shown(text))))
    else:
        settings.address = name


def _port(var: Var | None, settings: HostSettings) -> None:
    if var is None or _template_problem(var, settings):
        return
    text = str(var.value).strip()
    if isinstance(var.value, bool) or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        settings.problems.append((var.location, _("bad port {value}: expected a number from 1 to 65535").format(
            value=_shown(str(var.value)))))
        return
    settings.port = int(text)


def _scheme(var: Var | None, settings: HostSettings, *, derive: bool) -> None:
    if var is None:
        if derive and settings.port == 5985 and "scheme" not in settings.variables:
            settings.variables["scheme"] = "http"  # Ansible's winrm and psrp: port 5985 without a scheme is http
        return
    if _template_problem(var, settings):
        return
    scheme = _text(var.value)
    if scheme not in SCHEMES:
        settings.problems.append((var.location, _("the scheme must be http or https, not {value}").format(
            value=_shown(str(var.value)))))
        return
    settings.variables["scheme"] = scheme


def _auth(var: Var | None, settings: HostSettings) -> None:
    if var is None or _template_problem(var, settings):
        return
    value = var.value
    names = value if isinstance(value, list) else str(value).split(",")
    names = [_text(name) for name in names if _text(name)]
    if len(names) != 1:
        settings.problems.append((var.location, _("give one authentication (remediate does not try several in "
                                                  "turn), not {value}").format(
                                                      value=_shown(', '.join(map(str, names)) or 'none'))))
        return
    auth = AUTH_NAMES.get(names[0])
    if auth is None:
        allowed = ", ".join(AUTH_NAMES)
        settings.problems.append((var.location, f"unknown authentication {_shown(names[0])}; one of {allowed}"))
        return
    assert auth in AUTH_METHODS
    settings.variables["auth"] = auth


def _ca_file(var: Var | None, settings: HostSettings) -> None:
    if var is None or _template_problem(var, settings):
        return
    path = str(var.value).strip() if var.value is not None else ""
    if not path:
        settings.problems.append((var.location, _("the CA path is empty: give the path of a CA certificate "
                                                  "bundle")))
        return
    settings.variables["ca_file"] = path  # as Ansible reads it: a relative path is from the working folder


def _cert_validation(var: Var | None, settings: HostSettings, *, scheme: str, insecure: bool) -> None:
    if var is None or _template_problem(var, settings):
        return
    value = var.value
    text = {True: "validate", False: "ignore"}[value] if isinstance(value, bool) else _text(value)
    if text not in ("validate", "ignore"):
        settings.problems.append((var.location, _("expected validate or ignore, not {value}").format(
            value=_shown(str(value)))))
        return
    if text == "ignore" and scheme == "https" and not insecure:
        settings.problems.append((var.location, _("certificate validation turned off for this host: remediate "
                                                  "turns it off only for a whole run, with --insecure (loud; "
                                                  "lab use only); or give the host's CA bundle with "
                                                  "ansible_winrm_ca_trust_path / ansible_psrp_ca_cert")))


def _playbook_value(name: str, var: Var, settings: HostSettings) -> None:
    """A variable that is no connection setting: a playbook value, if it is one value (text, number, yes/no)."""
    value = var.value
    if isinstance(value, Vaulted):
        settings.vaulted.add(name)
    elif isinstance(value, bool):
        settings.variables[name] = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        settings.variables[name] = str(value)
    elif value is not None and not isinstance(value, (list, dict)):
        settings.variables[name] = str(value)  # a YAML date or time: as written
    # None (declared without a value), lists and mappings are no playbook value: left out.


def _native_location(variables: Mapping[str, Var], where: str | None) -> Location:
    if where is not None and where in variables:
        return variables[where].location
    first = next(iter(variables.values()), None)
    return first.location if first is not None else Location()
