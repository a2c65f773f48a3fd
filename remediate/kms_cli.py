"""`remediate kms`: the KMS hosts on the command line (status). Parse, read the hosts, print; cli.py registers
the group (`register`) and maps errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from remediate.i18n import N_, _
from remediate.options import (
    READ_OPTIONS,
    Group,
    LateErrorReporter,
    LiveSettings,
    lang_option,
    live_options,
    terminal_prompt,
)

_reports_errors = LateErrorReporter()


def register(main: click.Group, reports_errors: Callable[[Any], Any]) -> None:
    """Add `remediate kms` to the command line; its commands report errors through `reports_errors`."""
    _reports_errors.use(reports_errors)
    main.add_command(kms)


@click.group("kms", cls=Group)
def kms() -> None:
    """KMS hosts: what each one says of itself, and what its clients get from it."""


@kms.command("status")
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path),
              help=N_("A hosts file of KMS hosts."))
@click.option("--output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@lang_option
@_reports_errors
@live_options(*(name for name in READ_OPTIONS if name != "ledger"))
def kms_status(hosts_file: Path, output: str, lang: str, live_settings: LiveSettings) -> None:
    """Read every KMS host (read-only; what slmgr /dlv shows in its KMS host section): its KMS host key (CSVLK,
    masked) and the editions its group activates, the service version, the current count against the thresholds
    (25 client OSes, 5 servers), port, DNS publishing and its _vlmcs._tcp SRV record, the requests from clients,
    what its own logs say (the clients it refused, event 12290; a failed SRV publishing, event 12293), and what its
    clients get from it (0xC004F041, 0xC004F038, 0xC004F042).

    Exit 0 when every host is an activated KMS host at or above the client threshold, 1 when one is not, 3 when
    no host could be reached.
    """
    from remediate import kms_status as view
    from remediate.inventory_limit import inventory_hosts
    from remediate.live import fleet_read  # the network stack: imported only by commands that connect
    from remediate.terminal import error_console, output_console

    hosts = inventory_hosts(hosts_file, warn=lambda message: click.echo(_("warning: {message}").format(
        message=message), err=True),
                            **live_settings.inventory())
    read = fleet_read(hosts, live_settings(), console=error_console(), prompt=terminal_prompt(),
                      script=view.kms_script())
    if output == "json":
        click.echo(view.kms_json(read.statuses, read.redactor, lang))
    elif output == "csv":
        click.echo(view.kms_csv(read.statuses, read.redactor, lang), nl=False)
    else:
        view.print_kms(read.statuses, output_console(), read.redactor, lang)
    sys.exit(view.kms_category(read.statuses).exit_code)
