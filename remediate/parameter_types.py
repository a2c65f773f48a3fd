"""The typed values a playbook parameter takes, and how each one is read and shown.

`coerce` turns what a user typed (``--set``, a hosts-file variable, a secrets file, a playbook default) into
the typed value a template receives; `display_value` shows a value in a plan, with secrets and keys masked.

| type          | value       | accepts                                                                  |
|---------------|-------------|--------------------------------------------------------------------------|
| hostname      | str         | a host name (RFC 1123 labels, IDNA) or an IPv4 / IPv6 address            |
| fqdn          | str         | a fully qualified domain name (at least two labels), no IP address       |
| port          | int         | 1-65535                                                                  |
| product_key   | ProductKey  | a 5x5 product key (see productkey.py)                                    |
| enum          | str         | one of the declared choices, matched without regard to case              |
| bool          | bool        | true/false, yes/no, 1/0                                                  |
| int           | int         | a whole number                                                           |
| string        | str         | any text without NUL                                                     |
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Sequence

from remediate.errors import Location, ParameterValueError, ProductKeyError
from remediate.i18n import _
from remediate.productkey import ProductKey, mask_product_keys
from remediate.secret import MASK, Secret

PARAMETER_TYPES = ("hostname", "fqdn", "port", "product_key", "enum", "bool", "int", "string")

ParameterValue = str | int | bool | ProductKey | Secret

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
_INT = re.compile(r"[+-]?[0-9]+")


def coerce(
    type_name: str,
    raw: str | int | bool,
    *,
    choices: Sequence[str] | None = None,
    field: str,
    location: Location | None = None,
    secret: bool = False,
) -> ParameterValue:
    """Return `raw` as the typed value of `type_name`; raise ParameterValueError naming field and location.

    With ``secret=True`` a text value comes back as a Secret and error messages never show the value.
    Product keys never appear in messages whatever `secret` says.
    """
    where = _where(field, location)
    shown = _("the value given") if secret else _show(raw)
    if type_name not in PARAMETER_TYPES:
        raise ParameterValueError(
            _("unknown parameter type {type_name!r}; known types: {value}").format(
                type_name=type_name, value=', '.join(PARAMETER_TYPES)), where
        )
    if type_name == "product_key":
        return _product_key(raw, where)
    if type_name == "bool":
        return _bool(raw, shown, where)
    if type_name in ("int", "port"):
        expected = _("a port number (1-65535)") if type_name == "port" else _("a whole number")
        number = _int(raw, shown, where, expected)
        if type_name == "port" and not 1 <= number <= 65535:
            raise ParameterValueError(_("expected a port number from 1 to 65535, got {shown}").format(
                shown=shown), where)
        return number
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ParameterValueError(_("expected text, got {shown}").format(shown=shown), where)
    text = str(raw)
    if type_name == "enum":
        return _enum(text, choices, shown, where)
    if type_name in ("hostname", "fqdn"):
        return _host_name(text, shown, where, fqdn=type_name == "fqdn")
    if "\x00" in text:
        raise ParameterValueError(_("text must not contain a NUL character"), where)
    return Secret(text, source=field) if secret else text


def display_value(type_name: str, value: object, secret: bool) -> str:
    """How a value is shown in a plan: secrets ``********``, product keys masked, booleans in lower case."""
    if secret or isinstance(value, Secret):
        return MASK
    if isinstance(value, ProductKey):
        return value.masked
    if type_name == "product_key":
        return mask_product_keys(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return mask_product_keys(str(value))


def _where(field: str, location: Location | None) -> Location:
    if location is None:
        return Location(field=field)
    return Location(location.file, location.line, location.field or field)


def _show(raw: object) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    if len(text) > 60:
        text = text[:60] + "…"
    return mask_product_keys(repr(text) if isinstance(raw, str) else text)


def _product_key(raw: object, where: Location) -> ProductKey:
    if not isinstance(raw, str):
        raise ProductKeyError(_("a product key must be text, not {name}").format(name=type(raw).__name__), where)
    try:
        return ProductKey.parse(raw)
    except ProductKeyError as error:
        raise ProductKeyError(error.message, where, hint=error.hint) from None


def _bool(raw: object, shown: str, where: Location) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = unicodedata.normalize("NFKC", raw).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ParameterValueError(_("expected true or false (also yes/no, 1/0), got {shown}").format(shown=shown), where)


def _int(raw: object, shown: str, where: Location, expected: str) -> int:
    if isinstance(raw, bool):
        raise ParameterValueError(_("expected {expected}, got {shown}").format(expected=expected, shown=shown), where)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if _INT.fullmatch(text) and len(text) <= 20:
            return int(text)
    raise ParameterValueError(_("expected {expected}, got {shown}").format(expected=expected, shown=shown), where)


def _enum(text: str, choices: Sequence[str] | None, shown: str, where: Location) -> str:
    if not choices:
        raise ParameterValueError(_("an enum parameter needs a list of choices"), where)
    wanted = unicodedata.normalize("NFKC", text).strip().casefold()
    for choice in choices:
        if choice.casefold() == wanted:
            return choice
    raise ParameterValueError(_("expected one of {value}; got {shown}").format(
        value=', '.join(choices), shown=shown), where)


def _host_name(text: str, shown: str, where: Location, *, fqdn: bool) -> str:
    name = unicodedata.normalize("NFKC", text).strip()
    if not name:
        raise ParameterValueError(_("expected a host name, got an empty value"), where)
    address = _ip_address(name)
    if address is not None:
        if fqdn:
            raise ParameterValueError(
                _("expected a fully qualified domain name, got the IP address {shown}").format(shown=shown),
                where,
                hint=_("use a name such as kms01.example.com, or a parameter of type hostname"),
            )
        return str(address)
    problem = _host_name_problem(name)
    if problem:
        raise ParameterValueError(_("not a valid host name: {shown}: {problem}").format(
            shown=shown, problem=problem), where)
    if fqdn and "." not in name.rstrip("."):
        raise ParameterValueError(
            _("expected a fully qualified domain name, got {shown}").format(shown=shown),
            where,
            hint=_("add the DNS domain, for example {name}.example.com").format(name=name),
        )
    return name


def _ip_address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def host_name_problem(name: str) -> str | None:
    """Why `name` is not a valid DNS host name (RFC 1123, IDNA for non-ASCII), or None if it is one."""
    return _host_name_problem(name)


def _host_name_problem(name: str) -> str | None:
    bare = name[:-1] if name.endswith(".") else name
    if not bare:
        return _("it is empty")
    if bare.isascii():
        ascii_name = bare
    else:
        try:
            ascii_name = ".".join(
                label.encode("idna").decode("ascii") if label else "" for label in bare.split(".")
            )
        except UnicodeError:
            return _("it cannot be written as an internationalized domain name (IDNA)")
    if len(ascii_name) > 253:
        return _("it is longer than 253 characters")
    labels = ascii_name.split(".")
    for label in labels:
        if not label:
            return _("it has an empty label (two dots in a row, or a leading dot)")
        if len(label) > 63:
            return _("a label is longer than 63 characters")
        if "_" in label:
            return _("the underscore is not allowed in host names")
        if not _LABEL.fullmatch(label):
            if label.startswith("-") or label.endswith("-"):
                return _("a label starts or ends with a hyphen")
            return _("only letters, digits and hyphens are allowed in each label")
    if labels[-1].isdigit():
        return _("it looks like an IPv4 address but is not one")
    return None
