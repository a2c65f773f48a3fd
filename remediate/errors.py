"""The one error hierarchy of remediate.

Every error a user can meet is a RemediateError. Lower layers raise these (transport.py translates pypsrp and
requests errors into TransportError); cli.py is the one place that maps them to exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where bad input was found: a file, optionally a line and a field."""

    file: str | Path | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(str(self.line))
        where = ":".join(parts)
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        return where


class RemediateError(Exception):
    """Base of every error remediate reports to a user."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location and str(self.location) else self.message
        if self.hint:
            text = f"{text}\n  hint: {self.hint}"
        return text


class UsageError(RemediateError):
    """Bad input (option, code, file, value): nothing was touched. Exit code 2."""


class UnknownCodeError(UsageError):
    """An error code with no playbook."""


class PlaybookError(UsageError):
    """A playbook that does not load or validate."""


class TemplateError(UsageError):
    """A template that does not render (raised before any connection)."""


class InventoryError(UsageError):
    """A hosts file or host variable that is malformed."""


class ParameterValueError(UsageError):
    """A parameter value that is malformed (for example a product key)."""


class ProductKeyError(ParameterValueError):
    """A product key that cannot be valid. The message never contains the full key."""


class StalePlanError(UsageError):
    """A saved plan that no longer matches the playbooks, templates or hosts it was made from."""


class TransportError(RemediateError):
    """A failure talking to a host. `kind` is one of TRANSPORT_ERROR_KINDS."""

    def __init__(self, kind: str, message: str, host: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.host = host
        self.transient = transient

    def __str__(self) -> str:
        prefix = f"{self.host}: " if self.host else ""
        return f"{prefix}{self.kind}: {self.message}"


TRANSPORT_ERROR_KINDS = ("dns", "refused", "timeout", "tls", "auth", "quota", "protocol", "script")


class AuditError(RemediateError):
    """An audit log that cannot be written, or that does not verify."""
