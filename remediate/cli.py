"""The remediate command line: parse, call, print, exit. The one place that maps errors to exit codes."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from functools import wraps
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
    INTERRUPTED = 130  # interrupted (in-flight steps finished and recorded)


F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn a RemediateError raised by a command into a clear message and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(ExitCode.USAGE)
        except TransportError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(ExitCode.UNREACHABLE)
        except RemediateError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(ExitCode.FAILED)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="remediate")
def main() -> None:
    """Fix Windows license-activation errors across fleets of hosts over WinRM.

    One playbook per error code: detect, fix, verify, escalate. Preview any run with --dry-run.
    """


# --- playbooks: list, show, validate, explain, run --dry-run -------------------------------------------------


# --- sandbox: sandbox up ----------------------------------------------------------------------------------------


# --- live runs: run, status, audit, demo ------------------------------------------------------------------------
