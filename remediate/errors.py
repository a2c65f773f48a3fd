"""The one error hierarchy of remediate.

Every error a user can meet is a RemediateError. Lower layers raise these (transport.py translates pypsrp and
requests errors into TransportError). Each error class carries the `exit_code` of its kind (click's convention,
as `ClickException.exit_code`); cli.py is the one place that exits with it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from remediate.i18n import _


class ExitCode(enum.IntEnum):
    """The exit codes of remediate (DESIGN §6)."""

    OK = 0  # every host healthy or fixed; or the dry run rendered
    FAILED = 1  # at least one host failed
    USAGE = 2  # usage or configuration error (nothing was touched)
    UNREACHABLE = 3  # no host could be reached or authenticated
    ESCALATE = 4  # no failures, but at least one host needs escalation
    CRASH_CUT = 5  # `audit verify`: the chain holds, but the last run never finished (a crash or a kill)
    INTERRUPTED = 130  # interrupted: in-flight steps finished and recorded, or (second Ctrl-C) abandoned
    CLOSED_PIPE = 141  # the reader of the output went away (`| head`): 128 + SIGPIPE, as a shell reports it


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

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location and str(self.location) else self.message
        if self.hint:
            text = _("{text}\n  hint: {hint}").format(text=text, hint=self.hint)
        return text


class UsageError(RemediateError):
    """Bad input (option, code, file, value): nothing was touched."""

    exit_code = ExitCode.USAGE


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


class TransportErrorKind(str, enum.Enum):
    """What went wrong talking to a host. Its text is the value: reports and the audit log show `timeout: ...`."""

    DNS = "dns"  # the host name does not resolve
    REFUSED = "refused"  # nothing listens, or the host is down
    TIMEOUT = "timeout"  # no answer in time
    TLS = "tls"  # the certificate is not trusted, or the port does not speak TLS
    AUTH = "auth"  # the logon failed
    QUOTA = "quota"  # a WinRM quota of the host was reached
    PROTOCOL = "protocol"  # an HTTP or WS-Management error, or a dropped connection
    SCRIPT = "script"  # the step's script failed or printed no result

    def __str__(self) -> str:
        return self.value


class TransportError(RemediateError):
    """A failure talking to a host: what kind, and whether a retry may help."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(
        self, kind: TransportErrorKind, message: str, host: str | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.host = host
        self.transient = transient

    def __str__(self) -> str:
        prefix = f"{self.host}: " if self.host else ""
        return f"{prefix}{self.kind}: {self.message}"


class AuditError(RemediateError):
    """An audit log that cannot be written, or that does not verify."""
