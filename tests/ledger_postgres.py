"""A throwaway PostgreSQL server for the ledger's tests, from Debian's `postgresql` package.

`postgres_server` (session-scoped) makes a cluster in a temporary folder with initdb, starts it on a free
loopback port with pg_ctl, and stops it at the end (SIGQUIT, as `pg_ctl stop -m immediate` does). As root, the
cluster belongs to the `postgres` user (initdb refuses root) and its commands run through `runuser -u postgres`.
`postgres_url` gives each test a new empty database on it. Import both into a test module:

    from ledger_postgres import postgres_server, postgres_url  # noqa: F401

Without PostgreSQL's binaries the tests that use it skip, saying why; except in CI (CI=true), where they fail:
.ci/run installs the package, so a missing server there is a broken build, not a reason to skip.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_server(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is needed in CI and .ci/run installs it, but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server to test the ledger against: {reason} (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = _binaries()
    if binaries is None:
        missing_server("initdb was not found in /usr/lib/postgresql/*/bin or on PATH")
        raise AssertionError("unreachable")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            missing_server(f"there is no {SERVER_USER} user to own the cluster (initdb refuses root)")
            raise AssertionError("unreachable") from None
        prefix = ["runuser", "-u", SERVER_USER, "--"]
    # Not under pytest's tmp_path: its parent folders are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="remediate-ledger-pg-"))
    if as_root:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, log = folder / "data", folder / "server.log"
    port = _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{Path(command[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                        f"{server_log}", pytrace=False)

    run(str(binaries / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8",
        "--no-locale", "--no-sync")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        yield PostgresServer(port, folder)
    finally:
        _stop(data)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(data: Path) -> None:
    """Stop the server as `pg_ctl stop -m immediate` does: SIGQUIT to the postmaster. A signal, not a process:
    a session fixture ends in the teardown of whichever test ran last, which may be one that may not start one."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)


_databases = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the test server, as a ledger URL."""
    import psycopg

    name = f"ledger_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.url(name)
