"""A private MIT Kerberos realm for tests: a real KDC on a loopback port, principals, keytabs and ticket caches.

The realm lives in one folder (its krb5.conf, kdc.conf, database, keytabs, caches) and touches nothing of the
machine's own Kerberos set-up: every program finds it through `realm.environment` (KRB5_CONFIG and friends).
Host names are taken as written (no DNS canonicalisation, no reverse lookups), so `HTTP/localhost` is the SPN of
a sandbox host reached as `localhost`, with no /etc/hosts change.

    realm = Realm.start(tmp_path / "realm")
    realm.add_user("ops", "Pa55-word!")
    realm.add_service("HTTP/localhost")
    realm.write_keytab(tmp_path / "host.keytab", "HTTP/localhost")
    realm.kinit("ops", "Pa55-word!", tmp_path / "ccache")
    realm.stop()

Registered as the `realm` fixture in tests/conftest.py: one realm per test session, stopped at its end. Where
the KDC or the Python `gssapi` module is missing the fixture skips, except in CI (CI=true), where it fails:
CI installs them (.ci/run), and a Kerberos test that silently skipped there would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NAME = "SANDBOX.TEST"
PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")
INSTALL = "apt-get install krb5-kdc krb5-admin-server krb5-user libkrb5-dev; pip install 'remediate[kerberos]'"
_START_TIMEOUT_S = 15.0
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _program(name: str) -> str | None:
    """Where a Kerberos program is: the KDC's tools live in sbin, which a non-root PATH may lack."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))


def missing() -> list[str]:
    """What this machine lacks to run a realm and talk Kerberos from Python (empty: all there)."""
    lacking = [name for name in PROGRAMS if _program(name) is None]
    for module in ("gssapi", "krb5"):
        try:
            __import__(module)
        except ImportError:
            lacking.append(f"Python module {module}")
    return lacking


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Realm:
    """A running KDC for one realm; `environment` points Kerberos programs and libraries at it."""

    name: str
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def krb5_config(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def environment(self) -> dict[str, str]:
        """The variables that make MIT Kerberos (programs and the gssapi library) use this realm."""
        return {
            "KRB5_CONFIG": str(self.krb5_config),
            "KRB5_KDC_PROFILE": str(self.directory / "kdc.conf"),
            "KRB5RCACHEDIR": str(self.directory / "rcache"),
        }

    def principal(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.name}"

    @classmethod
    def start(cls, directory: Path, name: str = NAME) -> Realm:
        """Create the realm's database and start its KDC on a free loopback port (TCP and UDP)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "rcache").mkdir(exist_ok=True)
        realm = cls(name, directory, _free_port())
        realm.write_client_config(realm.krb5_config)
        realm._write_kdc_config()
        realm._run("kdb5_util", "create", "-s", "-r", name, "-P", "sandbox-master-key-9a")
        realm._start_kdc()
        return realm

    def write_client_config(self, path: Path, *, timesync: bool = True) -> Path:
        """A krb5.conf for this realm (use it as KRB5_CONFIG).

        timesync: MIT's kdc_timesync (on by default): a client learns its clock's offset to the KDC from the
        KDC's answer and corrects it. Off, a client whose clock is skewed is refused by the KDC.
        """
        folder, name, port = self.directory, self.name, self.port
        path.write_text(
            f"""[libdefaults]
    default_realm = {name}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    kdc_timesync = {1 if timesync else 0}
    default_ccache_name = FILE:{folder}/ccache-default
    default_keytab_name = FILE:{folder}/default.keytab

[realms]
    {name} = {{
        kdc = 127.0.0.1:{port}
        admin_server = 127.0.0.1:{port + 1}
    }}

[domain_realm]
    localhost = {name}
    .{name.lower()} = {name}
""",
            encoding="utf-8",
        )
        return path

    def _write_kdc_config(self) -> None:
        folder, name, port = self.directory, self.name, self.port
        (folder / "kdc.conf").write_text(
            f"""[kdcdefaults]
    kdc_ports = {port}
    kdc_tcp_ports = {port}

[realms]
    {name} = {{
        database_name = {folder}/principal
        key_stash_file = {folder}/stash
        acl_file = {folder}/kadm5.acl
        max_life = 10h 0m 0s
        max_renewable_life = 1d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{folder}/kdc.log
""",
            encoding="utf-8",
        )
        (folder / "kadm5.acl").write_text("", encoding="utf-8")

    def _run(self, program: str, *arguments: str, stdin: str | None = None) -> str:
        path = _program(program)
        if path is None:
            raise RuntimeError(f"{program} is not installed ({INSTALL})")
        done = subprocess.run(
            [path, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **self.environment},
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(arguments)} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def _start_kdc(self) -> None:
        path = _program("krb5kdc")
        assert path is not None
        log = (self.directory / "krb5kdc.out").open("wb")
        self.process = subprocess.Popen(
            [path, "-n", "-r", self.name],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.environment},
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (self.directory / "krb5kdc.out").read_text(errors="replace")
                raise RuntimeError(f"krb5kdc exited with {self.process.returncode}: {output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"krb5kdc did not listen on 127.0.0.1:{self.port} within {_START_TIMEOUT_S:g}s")

    def kadmin(self, query: str) -> str:
        return self._run("kadmin.local", "-r", self.name, "-q", query)

    def add_user(self, name: str, password: str) -> str:
        """A user principal with this password, pre-authentication required as in Active Directory; returns its
        full name (user@REALM)."""
        principal = self.principal(name)
        self.kadmin(f"addprinc +requires_preauth -pw {password} {principal}")
        return principal

    def add_service(self, name: str) -> str:
        """A service principal (e.g. HTTP/localhost) with a random key; returns its full name."""
        principal = self.principal(name)
        self.kadmin(f"addprinc -randkey {principal}")
        return principal

    def write_keytab(self, path: Path, *names: str) -> Path:
        """Export these principals' current keys into a keytab file (their keys stay as they are)."""
        for name in names:
            self.kadmin(f"ktadd -k {path} -norandkey {self.principal(name)}")
        return path

    def rotate_key(self, name: str) -> None:
        """Give a principal a new random key (a keytab exported before is then stale)."""
        self.kadmin(f"cpw -randkey {self.principal(name)}")

    def kinit(self, name: str, password: str, ccache: Path) -> Path:
        """Get a ticket-granting ticket for a user into a ticket cache file, as `kinit` at a terminal does."""
        self._run("kinit", "-c", f"FILE:{ccache}", self.principal(name), stdin=password + "\n")
        return ccache

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """One realm for the test session, its KDC stopped at the end. Skips where Kerberos is not installed, but
    fails in CI."""
    lacking = missing()
    if lacking:
        message = f"no Kerberos here ({', '.join(lacking)} missing): {INSTALL}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the Kerberos tests: {message}", pytrace=False)
        pytest.skip(message)
    started = Realm.start(tmp_path_factory.mktemp("realm"))
    try:
        yield started
    finally:
        started.stop()
