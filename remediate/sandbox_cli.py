"""`remediate sandbox up` and `remediate demo` on the command line: emulated Windows hosts on loopback, served until
Ctrl-C, and the whole story on them. cli.py registers them (`register`) with its error reporter and its one exit.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.text import Text

from remediate.errors import ExitCode, UsageError
from remediate.i18n import N_, _
from remediate.options import lang_option
from remediate.report import VERDICT
from remediate.terminal import output_console


def register(
    main: click.Group, reports_errors: Callable[[Any], Any], exit_with: Callable[[ExitCode], NoReturn]
) -> None:
    """Add `sandbox up` and `demo` to the command line; errors go through `reports_errors`, exits `exit_with`."""

    @main.group("sandbox")
    def sandbox() -> None:
        """Emulated Windows hosts on loopback that speak real WinRM (for trying remediate without Windows)."""


    @sandbox.command("up")
    @click.option("--hosts", "count", type=click.IntRange(1, 10000), default=None,
                  help=N_("How many hosts (default: as many as the scenario has)."))
    @click.option("--scenario", default="healthy", show_default=True, help=N_("A scenario NAME or FILE."))
    @click.option("--seed", type=int, default=0, show_default=True, help=N_("Seed of every random draw."))
    @click.option("--https", is_flag=True, help=N_("Serve HTTPS with a generated CA (written to PATH.ca.pem)."))
    @click.option("--auth", type=click.Choice(["basic", "ntlm", "negotiate", "kerberos", "credssp"]), default="ntlm",
                  show_default=True, help=N_("kerberos: Kerberos only (NTLM switched off); needs --keytab."))
    @click.option("--keytab", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                  help=N_("The hosts' Kerberos service keys (HTTP/localhost@REALM); hosts are then named "
                          "localhost."))
    @click.option("--username", default="sandbox\\admin", show_default=True, help=N_("The account hosts accept."))
    @click.option("--password", default=None,
                  help=N_("The account's password (sandbox only). Default: $REMEDIATE_PASSWORD, else generated."))
    @click.option("--hosts-file", "hosts_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help=N_("Where to write the hosts file for `remediate run --hosts`."))
    @reports_errors
    def sandbox_up(count: int | None, scenario: str, seed: int, https: bool, auth: str, keytab: Path | None,
                   username: str, password: str | None, hosts_file: Path) -> None:
        """Start sandbox hosts and serve them until Ctrl-C."""
        if auth == "basic" and not https:
            # Windows refuses Basic over HTTP by default (AllowUnencrypted is false), and so do the sandbox's hosts.
            raise UsageError(_("--auth basic sends the password in clear over HTTP, which Windows refuses: add "
                               "--https"))
        from remediate.sandbox.fleet import Fleet, generate_password, hosts_for_scenario  # only the sandbox commands

        hosts, notice = hosts_for_scenario(Path(scenario) if Path(scenario).is_file() else scenario, count, seed)
        if notice:
            click.echo(_("note: {notice}").format(notice=notice), err=True)
        generated = password is None and not os.environ.get("REMEDIATE_PASSWORD")
        if password is None:
            password = os.environ.get("REMEDIATE_PASSWORD") or generate_password()
        hosts_file = hosts_file.resolve()
        ca_file = Path(f"{hosts_file}.ca.pem") if https else None
        try:
            fleet = Fleet.start(hosts, auth=auth,  # type: ignore[arg-type]
                                https=https, username=username, password=password, seed=seed, ca_file=ca_file,
                                keytab=keytab)
        except (OSError, ValueError) as error:
            raise UsageError(_("the sandbox did not start: {error}").format(error=error)) from error
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            fleet.write_hosts_file(hosts_file)
            for endpoint in fleet.endpoints:
                click.echo(f"  {endpoint.computer_name:<16} {endpoint.url}")
            click.echo(_("hosts file: {path}").format(path=hosts_file))
            if fleet.ca_file is not None:
                click.echo(_("CA certificate: {path}").format(path=fleet.ca_file))
            click.echo(_("user: {username}").format(username=fleet.username))
            if generated:
                click.echo(_("password: {password}   (generated for this sandbox; shown once)").format(
                    password=fleet.password))
            else:
                click.echo(_("password: the one given (--password or $REMEDIATE_PASSWORD)"))
            click.echo(_("ready: {count} sandbox hosts up on 127.0.0.1 (Ctrl-C stops)").format(count=len(hosts)))
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            fleet.stop()
            click.echo(_("sandbox stopped"))


    @main.command("demo")
    @click.option("--scenario", default="mixed-fleet", show_default=True,
                  help=N_("A shipped sandbox scenario NAME (mixed-fleet, kms-moved, after-imaging, healthy) or "
                          "a FILE."))
    @click.option("--hosts", "count", type=click.IntRange(1, 200), default=None,
                  help=N_("How many sandbox hosts (default: as many as the scenario has)."))
    @click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help=N_("Folder for the hosts file and audit log (default: remediate's folder in your state "
                          "directory, e.g. ~/.local/state/remediate/demo; printed at the end)."))
    @click.option("--seed", type=int, default=0, show_default=True, help=N_("Seed of every random draw."))
    @lang_option
    @reports_errors
    def demo_command(scenario: str, count: int | None, directory: Path | None, seed: int, lang: str) -> None:
        """A live run with nothing to set up: sandbox hosts on loopback, `status`, then `run auto`, a verified audit.

        Exits 0 when the run completed and its audit log verifies, whatever the hosts' outcomes.
        """
        from remediate.demo import demo_directory, run_demo  # the sandbox: imported only by the commands that start one

        console = output_console()
        chosen = Path(scenario) if Path(scenario).is_file() else scenario
        arguments = ("demo", "--scenario", str(scenario), *(("--hosts", str(count)) if count else ()),
                     "--seed", str(seed), "--lang", lang)
        result = run_demo(directory or demo_directory(), console, scenario=chosen, count=count, seed=seed,
                          language=lang, progress=console.is_terminal, arguments=arguments)
        category = result.report.exit_category
        verdict, _style = VERDICT[category]
        code = int(category.exit_code)
        line = _("a real `remediate run auto` on these hosts would exit {code}: {verdict}").format(
            code=code, verdict=_(verdict))
        console.print(Text(line, "bold"))
        console.print(Text(_("next: remediate audit show {path}").format(path=result.audit_file)))
        if result.report.interrupted:
            exit_with(ExitCode.INTERRUPTED)
        exit_with(ExitCode.OK if result.audit.ok else ExitCode.FAILED)
