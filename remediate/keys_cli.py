"""`remediate keys`: the key ledger on the command line (add, list, show, set-budget, retire, where, report,
import), and the installation IDs phone activation asks for (iids). Parse, call the Ledger or read the hosts,
print masked; cli.py registers the group (`register`) and maps errors to exit codes.

A key never comes from the command line: --key-env names an environment variable, --key-file a file, and
without either the key is asked for at the terminal, hidden.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from remediate.errors import UsageError
from remediate.i18n import N_, _
from remediate.ledger.channels import CHOICES as CHANNEL_CHOICES
from remediate.options import (
    READ_OPTIONS,
    Group,
    LateErrorReporter,
    LiveSettings,
    lang_option,
    live_options,
    terminal_prompt,
)

F = TypeVar("F", bound=Callable[..., Any])

_reports_errors = LateErrorReporter()


def register(main: click.Group, reports_errors: Callable[[Any], Any]) -> None:
    """Add `remediate keys` to the command line; its commands report errors through `reports_errors`."""
    _reports_errors.use(reports_errors)
    main.add_command(keys)


def _ledger_options(func: F) -> F:
    """--ledger, --ledger-secret and --encryption-key-file: the command gets `open_ledger()`."""

    @click.option("--ledger", "ledger_url", default=None, metavar="URL",
                  help=N_("The ledger database: postgresql://user@host/db, or a SQLite file. Default: "
                          "$REMEDIATE_LEDGER, else ledger.sqlite in your data folder."))
    @click.option("--ledger-secret", "secret_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
                  metavar="FILE", help=N_("The ledger's fingerprint secret file. Default: "
                                          "$REMEDIATE_LEDGER_SECRET_FILE, else beside a SQLite ledger."))
    @click.option("--encryption-key-file", "encryption_key_file", default=None,
                  type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                  help=N_("Store keys encrypted (AES-GCM) under this key file. Default: "
                          "$REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE."))
    @wraps(func)
    def wrapper(*args: Any, ledger_url: str | None, secret_file: Path | None, encryption_key_file: Path | None,
                **kwargs: Any) -> Any:
        def open_ledger() -> Any:
            from remediate.ledger.location import refuse_password
            from remediate.ledger.store import Ledger

            refuse_password(ledger_url)
            return Ledger.open(ledger_url, secret_file=secret_file, encryption_key_file=encryption_key_file)

        return func(*args, open_ledger=open_ledger, **kwargs)

    return wrapper  # type: ignore[return-value]


_output_option = click.option("--output", type=click.Choice(["table", "json", "csv"]), default="table",
                              show_default=True)


def _console() -> Any:
    from remediate.terminal import output_console

    return output_console()




@click.group("keys", cls=Group)
def keys() -> None:
    """The key ledger: which product key is on which host, installs and activations, MAK budgets.

    Keys are kept by keyed fingerprint and last five characters (encrypted in full only with
    --encryption-key-file); everything shown is masked.
    """


@keys.command("add")
@click.argument("label")
@click.option("--key-env", "key_env", metavar="VAR", help=N_("Read the key from this environment variable."))
@click.option("--key-file", "key_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=N_("Read the key from this file (its first line that is not empty or a # comment)."))
@click.option("--channel", type=click.Choice(CHANNEL_CHOICES, case_sensitive=False), default="mak",
              show_default=True, help=N_("MAK, KMS host key (kms-host, csvlk), retail, OEM or GVLK."))
@click.option("--product", default=None, help=N_("Product or edition group, e.g. 'Windows 11 Enterprise'."))
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help=N_("Activations left on the key (as the volume-licensing portal shows)."))
@_ledger_options
@lang_option
@_reports_errors
def add_key(label: str, key_env: str | None, key_file: Path | None, channel: str, product: str | None,
            budget: int | None, open_ledger: Callable[[], Any], lang: str) -> None:
    """Add a product key to the ledger under LABEL (the key from --key-env, --key-file or a hidden prompt)."""
    from remediate.ledger.views import channel_name, words

    key = _read_key(key_env, key_file)
    with open_ledger() as ledger:
        record = ledger.add_key(label, key, channel=channel, product=product, budget=budget)
    w = words(lang)
    click.echo(_("added {label}: {key}, {channel}, budget {budget}, {stored}").format(
        label=record.label, key=record.masked, channel=channel_name(record.channel, lang),
        budget=w["unlimited"] if record.budget is None else record.budget,
        stored=w["yes_encrypted"] if record.encrypted else w["fingerprint_only"]))


def _read_key(key_env: str | None, key_file: Path | None) -> Any:
    import sys

    from remediate.productkey import ProductKey

    if key_env and key_file:
        raise UsageError(_("give the key one way: --key-env or --key-file"))
    if key_env:
        value = os.environ.get(key_env)
        if not value:
            raise UsageError(_("--key-env {key_env}: the environment variable {key_env} is not set or empty").format(
                key_env=key_env))
        return ProductKey.parse(value, source=f"env {key_env}")
    if key_file:
        return ProductKey.parse(_first_line(key_file), source=str(key_file))
    if not sys.stdin.isatty():
        raise UsageError(_("no key: give --key-env VAR or --key-file FILE (a key is never a command-line "
                           "argument)"))
    return ProductKey.parse(click.prompt(_("Product key"), hide_input=True, err=True), source="prompt")


def _first_line(path: Path) -> str:
    import codecs

    from remediate.input_file import read_input_bytes

    data = read_input_bytes(path, _("key file"))
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(_("key file {path} is not UTF-8 text").format(path=path)) from None
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    raise UsageError(_("key file {path} holds no key").format(path=path))


@keys.command("list")
@click.option("--all", "include_retired", is_flag=True, help=N_("Retired keys too."))
@_output_option
@_ledger_options
@lang_option
@_reports_errors
def list_keys(include_retired: bool, output: str, open_ledger: Callable[[], Any], lang: str) -> None:
    """List the keys in the ledger (masked), with budget and state."""
    from remediate.ledger import views

    with open_ledger() as ledger:
        records = ledger.list_keys(include_retired=include_retired)
    _echo_rows(output, [views.key_row(record) for record in records], views.KEY_COLUMNS,
               lambda: views.print_keys(records, _console(), lang))


@keys.command("show")
@click.argument("label")
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_ledger_options
@lang_option
@_reports_errors
def show_key(label: str, output: str, open_ledger: Callable[[], Any], lang: str) -> None:
    """Show one key: channel, budget, state, and every install and activation remediate recorded."""
    from remediate.ledger import views

    with open_ledger() as ledger:
        record = ledger.key(label)
        uses = ledger.uses(label)
        held = ledger.held_by_runs(label)
    if output == "json":
        click.echo(views.to_json({**views.key_row(record), "held_by_runs": held,
                                  "uses": [views.use_row(use) for use in uses]}))
    else:
        views.print_key(record, uses, held, _console(), lang)


@keys.command("set-budget")
@click.argument("label")
@click.argument("budget", type=click.IntRange(min=0))
@_ledger_options
@lang_option
@_reports_errors
def set_budget(label: str, budget: int, open_ledger: Callable[[], Any], lang: str) -> None:
    """Set the activations left on LABEL's key (after asking the licensing portal, or getting more)."""
    with open_ledger() as ledger:
        record = ledger.set_budget(label, budget)
    click.echo(_("{label} ({key}): budget {budget}").format(label=record.label, key=record.masked,
                                                            budget=record.budget))


@keys.command("retire")
@click.argument("label")
@_ledger_options
@lang_option
@_reports_errors
def retire_key(label: str, open_ledger: Callable[[], Any], lang: str) -> None:
    """Retire LABEL's key: no run uses it any more; its history stays in the ledger."""
    with open_ledger() as ledger:
        record = ledger.retire(label)
    click.echo(_("{label} ({key}) retired: no run hands it out any more; its history stays").format(
        label=record.label, key=record.masked))


@keys.command("where")
@click.option("--by", type=click.Choice(["host", "key"]), default="host", show_default=True,
              help=N_("host: the keys on each host; key: the hosts of each key."))
@click.option("--host", "hosts", multiple=True, help=N_("Only this host (repeatable)."))
@click.option("--label", "labels", multiple=True, help=N_("Only this key (repeatable)."))
@_output_option
@_ledger_options
@lang_option
@_reports_errors
def where(by: str, hosts: tuple[str, ...], labels: tuple[str, ...], output: str, open_ledger: Callable[[], Any],
          lang: str) -> None:
    """Which key is on which host: from remediate's installs and activations and from `status` reads."""
    from remediate.ledger import views

    with open_ledger() as ledger:
        for label in labels:
            ledger.key(label)  # an unknown label is an error, not an empty table
        places = ledger.placements()
    if hosts:
        wanted = {host.lower() for host in hosts}
        places = [place for place in places if place.host.lower() in wanted]
    if labels:
        places = [place for place in places if place.label in labels]
    if by == "key":
        places.sort(key=lambda place: (place.label or "\uffff", place.last_five, place.host))
    _echo_rows(output, [views.placement_row(place) for place in places], views.PLACEMENT_COLUMNS,
               lambda: views.print_placements(places, _console(), lang))


def _echo_rows(output: str, rows: list[dict[str, Any]], columns: Sequence[str], table: Callable[[], None]) -> None:
    """--output json or csv: the rows (English field names); table: `table()` prints it."""
    from remediate.ledger import views

    if output == "json":
        click.echo(views.to_json(rows))
    elif output == "csv":
        click.echo(views.to_csv(rows, columns), nl=False)
    else:
        table()


@keys.command("report")
@_output_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help=N_("Also write the report as one self-contained HTML page."))
@_ledger_options
@lang_option
@_reports_errors
def report(output: str, html_file: Path | None, open_ledger: Callable[[], Any], lang: str) -> None:
    """Every key with its budget, state and counts, and every host it is on (run id, result, last seen)."""
    from remediate.ledger import views
    from remediate.ledger.store import now

    with open_ledger() as ledger:
        usage = ledger.usage()
        places = ledger.placements()
        shown_as = ledger.location.display
    if html_file is not None:
        try:
            html_file.write_text(views.report_html(usage, places, lang, now(), shown_as), encoding="utf-8")
        except OSError as error:
            raise UsageError(_("cannot write {html_file}: {strerror}").format(
                html_file=html_file, strerror=error.strerror)) from None
    if output == "json":
        click.echo(views.to_json({"keys": [views.usage_row(entry) for entry in usage],
                                  "hosts": [views.placement_row(place) for place in places]}))
    elif output == "csv":
        click.echo(views.to_csv(views.report_rows(usage, places), views.REPORT_COLUMNS), nl=False)
    else:
        views.print_report(usage, places, _console(), lang)
    if html_file is not None:
        click.echo(_("report written: {file}").format(file=html_file))


@keys.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--channel", type=click.Choice(CHANNEL_CHOICES, case_sensitive=False), default=None,
              help=N_("The channel of rows without one (default: every row names its own)."))
@_ledger_options
@lang_option
@_reports_errors
def import_keys(file: Path, channel: str | None, open_ledger: Callable[[], Any], lang: str) -> None:
    """Import keys from a CSV file as volume-licensing portals export them (Product Key, Key Type, Product,
    remaining activations; English or Japanese headers). Every bad row is named; then nothing is imported."""
    from remediate.ledger.csv_import import read_keys_csv

    rows = read_keys_csv(file, channel)
    with open_ledger() as ledger:
        added = ledger.add_keys(rows)
    click.echo(_("imported {count} key(s) from {file}").format(count=len(added), file=file))


@keys.command("iids")
@click.option("--hosts", "hosts_file", required=True, type=click.Path(path_type=Path), help=N_("The hosts file."))
@_output_option
@lang_option
@_reports_errors
@live_options(*(name for name in READ_OPTIONS if name != "ledger"))
def installation_ids(hosts_file: Path, output: str, lang: str, live_settings: LiveSettings) -> None:
    """Read every host's installation ID for phone activation (read-only; what slmgr /dti shows), with the
    activation ID and the key's last five characters. Give each to Microsoft's activation centre; put the
    confirmation IDs it gives in a secrets file as confirmation_id@HOST=... lines for `remediate run 0x80072EE2
    --secrets-file FILE`.

    Exit 0 when every host's installation ID was read, 1 when one was not, 3 when no host could be reached.
    """
    import sys

    from remediate import installation_ids as iids
    from remediate.inventory_limit import inventory_hosts
    from remediate.live import fleet_read  # the network stack: imported only by commands that connect
    from remediate.terminal import error_console

    hosts = inventory_hosts(hosts_file, warn=lambda message: click.echo(_("warning: {message}").format(
        message=message), err=True),
                            **live_settings.inventory())
    read = fleet_read(hosts, live_settings(), console=error_console(), prompt=terminal_prompt(),
                      script=iids.iid_script())
    if output == "json":
        click.echo(iids.iids_json(read.statuses, read.redactor))
    elif output == "csv":
        click.echo(iids.iids_csv(read.statuses, read.redactor), nl=False)
    else:
        iids.print_iids(read.statuses, _console(), read.redactor, lang)
    sys.exit(iids.iids_category(read.statuses).exit_code)
