"""Kerberos against a real MIT KDC: remediate logs on to sandbox hosts that accept Kerberos through a keytab.

The realm (tests/kdc.py) has the operator `admin@SANDBOX.TEST` and the hosts' SPN `HTTP/localhost`, whose key the
hosts hold in their keytab. Hosts are Kerberos-only (NTLM switched off), so a logon that works was Kerberos. Over
HTTP the hosts refuse unencrypted messages (Windows' AllowUnencrypted=false): a run that works there was sealed
with the Kerberos session key.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kdc import Realm

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

USER = "admin"
PASSWORD = "Krb-sandbox-Pa55-9a"
SKEW = "+10m"  # Kerberos allows 5 minutes


@dataclass
class Domain:
    """The realm as the tests use it: the operator's principal, the hosts' keytab, a `kinit`-ed ticket cache."""

    realm: Realm
    principal: str
    keytab: Path
    ccache: Path
    folder: Path


@pytest.fixture(scope="module")
def domain(realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Domain]:
    folder = tmp_path_factory.mktemp("domain")
    principal = realm.add_user(USER, PASSWORD)
    realm.add_service("HTTP/localhost")
    realm.add_service("WSMAN/localhost")  # registered, but no host has its key
    keytab = realm.write_keytab(folder / "hosts.keytab", "HTTP/localhost")
    ccache = realm.kinit(USER, PASSWORD, folder / "ccache")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in realm.environment.items():  # the sandbox hosts in this process use the realm too
            patch.setenv(name, value)
        yield Domain(realm, principal, keytab, ccache, folder)


def start_fleet(domain: Domain, scenario: str = "healthy", count: int = 2, *, https: bool = False) -> Fleet:
    return Fleet.start(build_hosts(scenario, count, 0), auth="kerberos", keytab=domain.keytab, https=https,
                       password=PASSWORD)


def with_password(domain: Domain, password: str = PASSWORD) -> dict[str, str | None]:
    return {"REMEDIATE_USERNAME": domain.principal, "REMEDIATE_PASSWORD": password, "KRB5CCNAME": None}


def with_ticket_cache(domain: Domain) -> dict[str, str | None]:
    """No user, no password: the ticket `kinit` put in the cache stands for the user."""
    return {"REMEDIATE_USERNAME": None, "REMEDIATE_PASSWORD": None, "KRB5CCNAME": f"FILE:{domain.ccache}"}


STATUS = ["status", "--auth", "kerberos", "--retries", "0", "--output", "json"]


def status(hosts: Path, env: dict[str, str | None], *options: str) -> Result:
    return CliRunner().invoke(main, [*STATUS, "--hosts", str(hosts), *options], env=env)


def errors(output: str) -> set[str]:
    """The error of each host, from `status --output json` (the part after `kind: `)."""
    return {str(host["error"]) for host in json.loads(output)}


@pytest.mark.parametrize("https", [False, True], ids=["http-encrypted", "https"])
@pytest.mark.parametrize("logon", [with_password, with_ticket_cache], ids=["password", "ticket-cache"])
def test_status_logs_on_with_kerberos(domain: Domain, tmp_path: Path, https: bool, logon: object) -> None:
    with start_fleet(domain, https=https) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        result = status(hosts, logon(domain))  # type: ignore[operator]
    assert "localhost:" in hosts.read_text(encoding="utf-8")  # the name HTTP/localhost is the SPN of
    assert result.exit_code == 0, result.output
    assert [host["licensed"] for host in json.loads(result.stdout)] == [True, True]
    assert PASSWORD not in result.output


def test_a_run_fixes_hosts_over_kerberos(domain: Domain, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with start_fleet(domain, "kms-moved", 2) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        arguments = ["run", "0xC004F074", "--hosts", str(hosts), "--auth", "kerberos", "--audit", str(log)]
        result = CliRunner().invoke(main, arguments, env=with_ticket_cache(domain))
    assert result.exit_code == 0, result.output
    assert "fixed" in result.output


def hosts_file(fleet: Fleet, path: Path, name: str = "localhost") -> Path:
    """The fleet's hosts reached as `name`, with the run's auth (the fleet's own hosts file says auth=kerberos)."""
    path.write_text("".join(f"{name}:{endpoint.port} scheme={endpoint.scheme}\n" for endpoint in fleet.endpoints),
                    encoding="utf-8")
    return path


def test_negotiate_uses_kerberos_where_ntlm_is_switched_off(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain) as fleet:
        hosts = hosts_file(fleet, tmp_path / "hosts.txt")
        result = status(hosts, with_password(domain), "--auth", "negotiate")
        ntlm = status(hosts, with_password(domain), "--auth", "ntlm")
    assert result.exit_code == 0, result.output
    assert ntlm.exit_code == 3
    refused = f"auth: authentication failed: Failed to authenticate the user {domain.principal} with ntlm"
    assert errors(ntlm.stdout) == {refused}  # NTLM is switched off on these hosts


def test_a_wrong_password_is_named_as_such(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        result = status(hosts, with_password(domain, "Wrong-Pa55-9a"))
    assert result.exit_code == 3, result.output
    assert errors(result.stdout) == {f"auth: Kerberos: the KDC refused the password of {domain.principal} (wrong "
                                     "password)"}
    assert "Wrong-Pa55-9a" not in result.output


def test_a_wrong_password_with_negotiate_says_kerberos_fell_back_to_ntlm(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain) as fleet:
        hosts = hosts_file(fleet, tmp_path / "hosts.txt")
        result = status(hosts, with_password(domain, "Wrong-Pa55-9a"), "--auth", "negotiate")
    assert result.exit_code == 3, result.output
    (error,) = errors(result.stdout)
    assert "falls back to NTLM" in error and "--auth kerberos reports Kerberos' own reason" in error


def test_a_host_reached_by_a_name_without_an_spn_names_the_missing_spn(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain, count=1) as fleet:
        hosts = hosts_file(fleet, tmp_path / "hosts.txt", "127.0.0.1")
        result = status(hosts, with_ticket_cache(domain))
    assert result.exit_code == 3, result.output
    (error,) = errors(result.stdout)
    assert error.startswith("auth: Kerberos: the KDC knows no service principal HTTP/127.0.0.1 (missing SPN)")


def test_an_spn_whose_key_the_host_lacks_is_named(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain, count=1) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        result = status(hosts, with_ticket_cache(domain), "--spn-service", "WSMAN")
    assert result.exit_code == 3, result.output
    (error,) = errors(result.stdout)
    assert error.startswith("auth: Kerberos: the host cannot decrypt its ticket for WSMAN/localhost")


def test_no_ticket_and_no_password_says_to_kinit(domain: Domain, tmp_path: Path) -> None:
    with start_fleet(domain, count=1) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {**with_ticket_cache(domain), "KRB5CCNAME": f"FILE:{tmp_path / 'no-such-cache'}"}
        result = status(hosts, env)
    assert result.exit_code == 3, result.output
    (error,) = errors(result.stdout)
    assert error.startswith("auth: Kerberos: no ticket for the user of the ticket cache") and "run kinit" in error


# --- clock skew: faketime runs one side with its clock 10 minutes ahead ----------------------------------------


def faketime() -> str:
    found = shutil.which("faketime")
    if found is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("CI must run the clock skew tests: apt-get install faketime", pytrace=False)
        pytest.skip("faketime is not installed (apt-get install faketime)")
    return found


def skewed(command: list[str]) -> list[str]:
    return [faketime(), "-f", SKEW, *command]


def skewed_environment(**variables: str | None) -> dict[str, str]:
    """The environment of a process under faketime: this one's (the realm's variables included), with these.

    The monotonic clock stays true: libfaketime's faked one makes timed waits (threading.Event.wait) hang.
    """
    merged: dict[str, str | None] = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                                     "FAKETIME_DONT_FAKE_MONOTONIC": "1", **variables}
    return {name: value for name, value in merged.items() if value is not None}


def test_a_host_whose_clock_is_skewed_refuses_the_ticket_with_a_clock_skew_message(
    domain: Domain, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts.txt"
    command = [sys.executable, "-m", "remediate", "sandbox", "up", "--hosts", "1", "--auth", "kerberos",
               "--keytab", str(domain.keytab), "--password", PASSWORD, "--hosts-file", str(hosts)]
    server = subprocess.Popen(skewed(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=skewed_environment(), start_new_session=True)
    try:
        seen = list(_lines_until(server, "ready:"))
        assert seen and seen[-1].startswith("ready:"), "".join(seen)
        result = status(hosts, with_ticket_cache(domain))
    finally:
        _stop(server)
    assert result.exit_code == 3, result.output
    (error,) = errors(result.stdout)
    assert error.startswith("auth: Kerberos: clock skew: the host refused the ticket: its clock and this machine's")


def test_this_machines_skewed_clock_is_named_when_the_kdc_refuses_it(domain: Domain, tmp_path: Path) -> None:
    no_timesync = domain.realm.write_client_config(tmp_path / "krb5.conf", timesync=False)
    with start_fleet(domain, count=1) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        environment = skewed_environment(**with_password(domain), KRB5_CONFIG=str(no_timesync))
        command = [sys.executable, "-m", "remediate", *STATUS, "--hosts", str(hosts)]
        client = subprocess.Popen(skewed(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=environment, start_new_session=True)
        try:
            stdout, stderr = client.communicate(timeout=120)
        finally:
            _stop(client)
    assert client.returncode == 3, stdout + stderr
    (error,) = errors(stdout)
    assert error.startswith("auth: Kerberos: clock skew: this machine's clock and the KDC's differ")


def _stop(process: subprocess.Popen[str]) -> None:
    """End a process started under faketime and everything it started (faketime runs the command as its child,
    in the process's own session)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # faketime ended, its child may not have


def _lines_until(process: subprocess.Popen[str], marker: str, timeout_s: float = 60) -> Iterator[str]:
    """The lines a process prints, up to the one starting with `marker` (or its exit, or the timeout)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return
        yield line
        if line.startswith(marker):
            return


def test_one_process_serves_one_keytab_at_a_time(domain: Domain, tmp_path: Path) -> None:
    other = domain.realm.write_keytab(tmp_path / "other.keytab", "HTTP/localhost")
    with start_fleet(domain, count=1):
        with pytest.raises(ValueError, match="already serves Kerberos with the keytab"):
            Fleet.start(build_hosts("healthy", 1, 0), auth="kerberos", keytab=other, password=PASSWORD)
        assert os.environ["KRB5_KTNAME"] == f"FILE:{domain.keytab.resolve()}"
    with Fleet.start(build_hosts("healthy", 1, 0), auth="kerberos", keytab=other, password=PASSWORD):
        assert os.environ["KRB5_KTNAME"] == f"FILE:{other.resolve()}"  # the first fleet stopped: it may change
    assert "KRB5_KTNAME" not in os.environ
