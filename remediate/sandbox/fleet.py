"""Many emulated Windows hosts in one process, each with its own loopback port, computer name and engine.

with Fleet.start([HostSpec("WS01", engine)], auth="ntlm") as fleet:
    fleet.write_hosts_file(tmp_path / "hosts.txt")
"""

from __future__ import annotations

import random
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from remediate.sandbox.faults import FaultState
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.winrm.auth import (
    AUTH_SCHEMES,
    NTLM_SCHEMES,
    AuthScheme,
    Credentials,
    NTLMUserFile,
    ServiceKeytab,
)
from remediate.sandbox.winrm.host import WinRMService
from remediate.sandbox.winrm.http import WinRMListener
from remediate.sandbox.winrm.tls import TLSMaterial, create_tls_material

DEFAULT_USERNAME = "sandbox\\admin"


@dataclass(frozen=True)
class Endpoint:
    """Where a client reaches one host."""

    computer_name: str
    address: str
    port: int
    scheme: str  # "http" or "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}/wsman"


def generate_password() -> str:
    """A throwaway password that also satisfies Windows' complexity rules."""
    return f"Sbx-{secrets.token_urlsafe(12)}-9a"


_process_password: str | None = None


def default_password() -> str:
    """The password of fleets started without one: generated once per process, so that fleets running side by
    side in one process can share the NTLM credential file (see NTLMUserFile)."""
    global _process_password
    if _process_password is None:
        _process_password = generate_password()
    return _process_password


class Fleet:
    """Running sandbox hosts. Create with Fleet.start(); stop with .stop() or a `with` block."""

    def __init__(
        self,
        listeners: list[WinRMListener],
        credentials: Credentials,
        auth: AuthScheme,
        tls: TLSMaterial | None,
        directory: Path,
        owns_directory: bool,
        keytab: Path | None = None,
    ) -> None:
        self._listeners = listeners
        self.keytab = keytab
        self._credentials = credentials
        self.auth: AuthScheme = auth
        self._tls = tls
        self.directory = directory
        self._owns_directory = owns_directory
        self._stopped = False

    @classmethod
    def start(
        cls,
        hosts: list[HostSpec],
        *,
        auth: AuthScheme = "ntlm",
        https: bool = False,
        username: str = DEFAULT_USERNAME,
        password: str | None = None,
        seed: int = 0,
        directory: Path | None = None,
        ca_file: Path | None = None,
        keytab: Path | None = None,
        address: str = "127.0.0.1",
        port: int = 0,
    ) -> Fleet:
        """Start one listener per host on a loopback address (port 0: the system picks a free one for each); one
        thread of the process accepts connections for all of them.

        password: None uses default_password() (read it back from fleet.password).
        directory: where the TLS material goes (None: a temporary directory, removed at stop).
        ca_file: where to write the CA certificate (default: in `directory`).
        keytab: the hosts' Kerberos service keys (e.g. HTTP/localhost@REALM), as a domain gives a Windows host
            its computer account's keys; needed for auth="kerberos", and lets auth="negotiate" accept Kerberos.
            Clients reach the hosts as `localhost` (the hosts file says so), the name such an SPN is for.
        address, port: where to listen (another 127.x.y.z address lets a one-host fleet take WinRM's own port,
            5985 or 5986, beside other fleets); a fixed port needs a fleet of one host.
        """
        if port and len(hosts) != 1:
            raise ValueError("a fixed port serves one host: start one fleet per host")
        if not address.startswith("127."):
            raise ValueError(f"sandbox hosts listen on loopback only, not {address}")
        if auth not in AUTH_SCHEMES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_SCHEMES)}, not {auth!r}")
        if auth == "kerberos" and keytab is None:
            raise ValueError("auth kerberos needs a keytab with the hosts' service keys")
        if auth == "certificate" and not https:
            raise ValueError("auth certificate needs https (the client certificate is part of the TLS handshake)")
        names = [spec.computer_name.lower() for spec in hosts]
        if len(set(names)) != len(names):
            raise ValueError("computer names must be unique within a fleet")
        credentials = Credentials(username, password if password is not None else default_password())
        if keytab is not None:
            ServiceKeytab.register(keytab)
        if auth in NTLM_SCHEMES:
            NTLMUserFile.register(credentials)  # before the first acceptor exists
        owns_directory = directory is None
        work_dir = Path(tempfile.mkdtemp(prefix="remediate-sandbox-")) if directory is None else directory
        tls = create_tls_material(work_dir, ca_file) if https else None
        context = tls.server_context(client_certificates=auth == "certificate") if tls else None
        listeners: list[WinRMListener] = []
        try:
            for spec in hosts:
                faults = FaultState(spec.faults, random.Random(f"{seed}:{spec.computer_name}"))
                service = WinRMService(spec.computer_name, spec.engine, spec.faults)
                listeners.append(
                    WinRMListener(
                        service,
                        faults,
                        credentials,
                        auth,
                        context,
                        address=address,
                        port=port,
                        channel_binding=tls.channel_binding() if tls else None,
                    )
                )
            for listener in listeners:
                listener.start()
        except BaseException:
            for listener in listeners:
                listener.stop()
            if auth in NTLM_SCHEMES:
                NTLMUserFile.unregister(credentials)
            if keytab is not None:
                ServiceKeytab.unregister()
            raise
        return cls(listeners, credentials, auth, tls, work_dir, owns_directory, keytab)

    @property
    def endpoints(self) -> list[Endpoint]:
        return [_endpoint(listener) for listener in self._listeners]

    def endpoint(self, computer_name: str) -> Endpoint:
        return _endpoint(self._listener(computer_name))

    def _listener(self, computer_name: str) -> WinRMListener:
        """The listener of one host; computer names are case-insensitive."""
        for listener in self._listeners:
            if listener.computer_name.lower() == computer_name.lower():
                return listener
        raise KeyError(computer_name)

    @property
    def username(self) -> str:
        return self._credentials.username

    @property
    def password(self) -> str:
        return self._credentials.password

    @property
    def https(self) -> bool:
        return self._tls is not None

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate clients verify the hosts against (HTTPS only)."""
        return self._tls.ca_file if self._tls else None

    def client_certificate(self, upn: str | None = None) -> tuple[Path, Path]:
        """A client certificate (and its key) from the fleet's CA, for `upn` (default: the fleet's account as
        user@<domain>.test, which the hosts map to it): for auth certificate."""
        if self._tls is None:
            raise ValueError("client certificates need an https fleet")
        credentials = self._credentials
        upn = upn or f"{credentials.user}@{credentials.domain or 'sandbox'}.test"
        return self._tls.issue_client_certificate(upn, self.directory)

    def shell_count(self, computer_name: str) -> int:
        """Shells currently open on one host (what a client leaked, or is using)."""
        return self._listener(computer_name).service.shell_count

    def client_options(self, computer_name: str) -> dict[str, Any]:
        """Keyword arguments for pypsrp's WSMan / Client to reach one host as the hosts file describes it."""
        endpoint = self.endpoint(computer_name)
        options: dict[str, Any] = {
            "port": endpoint.port,
            "username": self.username,
            "password": self.password,
            "auth": self.auth,
            "ssl": self.https,
        }
        if self.ca_file is not None:
            options["cert_validation"] = str(self.ca_file)
        if self.auth == "basic" and not self.https:
            options["encryption"] = "never"  # Basic cannot encrypt messages; pypsrp refuses it otherwise
        return options

    def hosts_file_text(self) -> str:
        lines = [
            f"# remediate sandbox: {len(self._listeners)} hosts, auth={self.auth}, user {self.username}",
            "# the password is not written here (REMEDIATE_PASSWORD or the prompt supplies it)",
        ]
        for endpoint in self.endpoints:
            lines.append(f"#   {endpoint.address}:{endpoint.port} is {endpoint.computer_name}")
        name = "localhost" if self.keytab is not None else None  # the name of the keytab's HTTP/localhost SPN
        for endpoint in self.endpoints:
            variables = [f"scheme={endpoint.scheme}", f"auth={self.auth}"]
            if self.ca_file is not None:
                variables.append(f"ca_file={self.ca_file.resolve()}")
            lines.append(f"{name or endpoint.address}:{endpoint.port} " + " ".join(variables))
        return "\n".join(lines) + "\n"

    def write_hosts_file(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(self.hosts_file_text(), encoding="utf-8")
        return path

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for listener in self._listeners:
            listener.stop()
        if self.auth in NTLM_SCHEMES:
            NTLMUserFile.unregister(self._credentials)
        if self.keytab is not None:
            ServiceKeytab.unregister()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _endpoint(listener: WinRMListener) -> Endpoint:
    return Endpoint(listener.computer_name, listener.address, listener.port, listener.scheme)


def hosts_for_scenario(scenario: str | Path, count: int | None, seed: int) -> tuple[list[HostSpec], str | None]:
    """The scenario's hosts (remediate.sandbox.scenario.build_hosts), and a notice to show before serving them
    (None: nothing to say)."""
    return build_hosts(scenario, count, seed), None
