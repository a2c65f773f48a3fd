"""One emulated host's WinRM service: its shells, its quotas, and the WS-Man operations on them."""

from __future__ import annotations

import base64
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

from remediate.sandbox import seam
from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.winrm import wsman
from remediate.sandbox.winrm.psrp import PowerShellShell
from remediate.sandbox.winrm.winrs import CmdShell
from remediate.sandbox.winrm.wsman import NS, Request, WSManFault

Shell = PowerShellShell | CmdShell

_SHELL = "{" + NS["rsp"] + "}"
_ENVELOPE_OVERHEAD = 4096  # bytes of a ReceiveResponse besides its streams
# The IdleTimeOut Windows reports for a shell created without one (the recorded exchanges with Windows in
# pypsrp's tests, e.g. test_psrp_open_runspace.yml: PT7200.000S).
_DEFAULT_IDLE_TIMEOUT_S = 7200.0


@dataclass
class _OpenShell:
    shell: Shell
    owner: str
    idle_timeout: str  # as the Shell element reports it: PT60.000S
    working_directory: str | None = None


def _shell_context(shell_element: ET.Element | None, options: dict[str, str], user: str) -> seam.ShellContext:
    """What a cmd shell's Create asked for: rsp:Environment, rsp:WorkingDirectory, WINRS_CODEPAGE and
    WINRS_NOPROFILE (MS-WSMV 2.2.4.37, 3.1.4.5.1)."""
    environment: dict[str, str] = {}
    directory = None
    if shell_element is not None:
        for variable in shell_element.findall("rsp:Environment/rsp:Variable", NS):
            environment[variable.attrib.get("Name", "")] = variable.text or ""
        directory = (shell_element.findtext("rsp:WorkingDirectory", namespaces=NS) or "").strip() or None
    codepage = options.get("WINRS_CODEPAGE", "")
    return seam.ShellContext(
        environment=environment,
        working_directory=directory,
        codepage=int(codepage) if codepage.isdigit() else None,
        user=user,
        no_profile=_no_profile(options),
    )


def _no_profile(options: dict[str, str]) -> bool:
    return options.get("WINRS_NOPROFILE", "").upper() == "TRUE"


def _idle_timeout(shell_element: ET.Element | None) -> str:
    """The IdleTimeOut a Create asked for, echoed as Windows does (asked PT60S, reported PT60.000S: pypsrp's
    test_psrp_is_alive_state_disconnected.yml and test_winrs_extra_opts.yml), else Windows' default."""
    asked = shell_element.findtext("rsp:IdleTimeOut", namespaces=NS) if shell_element is not None else None
    return f"PT{wsman.parse_duration(asked, _DEFAULT_IDLE_TIMEOUT_S):.3f}S"


class WinRMService:
    """Dispatches WS-Man requests of authenticated users to the shells of one host."""

    def __init__(self, computer_name: str, engine: seam.HostEngine, faults: TransportFaults) -> None:
        self.computer_name = computer_name
        self.engine = engine
        self.faults = faults
        self._shells: dict[str, _OpenShell] = {}  # shell id in upper case -> the shell
        self._lock = threading.Lock()

    @property
    def shell_count(self) -> int:
        with self._lock:
            return len(self._shells)

    def handle(self, request: Request, user: str, address: str) -> bytes:
        if not wsman.valid_timeout(request.operation_timeout_text):
            raise wsman.invalid_timeout_fault(request.operation_timeout_text)
        verb = request.verb
        if verb == "Create":
            return self._create(request, user, address)
        if verb == "Get" and request.resource_uri.lower() == wsman.RESOURCE_CONFIG:
            return self._config(request)
        if verb == "Get" and request.shell_id:
            return self._get(request)
        shell = self._shell(request)
        if verb == "Command":
            return self._command(request, shell, user)
        if verb == "Send":
            return self._send(request, shell)
        if verb == "Receive":
            return self._receive(request, shell)
        if verb == "Signal":
            return self._signal(request, shell)
        if verb == "Delete":
            return self._delete(request, shell)
        raise wsman.unsupported_fault(request.action)

    def close_all(self) -> None:
        with self._lock:
            shells = [entry.shell for entry in self._shells.values()]
            self._shells.clear()
        for shell in shells:
            shell.close()

    # --- operations -----------------------------------------------------------------------------------------

    def _entry(self, request: Request) -> _OpenShell:
        """The shell the request addresses; shell ids are case-insensitive."""
        with self._lock:
            entry = self._shells.get((request.shell_id or "").upper())
        if entry is None:
            raise wsman.shell_not_found_fault(request.shell_id or "")
        return entry

    def _shell(self, request: Request) -> Shell:
        return self._entry(request).shell

    def _owned(self, user: str) -> list[Shell]:
        """The shells one user has open (user names compare case-insensitively); call with the lock held."""
        return [entry.shell for entry in self._shells.values() if entry.owner.lower() == user.lower()]

    def _create(self, request: Request, user: str, address: str) -> bytes:
        body = request.body
        # The client may name the shell (rsp:Shell/@ShellId, as pypsrp's RunspacePool does with its pool id):
        # Windows creates it under that id (WSManCreateShellEx, "client-specified shell ID"; the recorded
        # exchanges in pypsrp's tests answer the requested id), else makes one up.
        shell_id = ((body.attrib.get("ShellId") if body is not None else None) or "").strip()
        shell_id = shell_id or str(uuid.uuid4()).upper()
        idle_timeout = _idle_timeout(body)
        with self._lock:
            if shell_id.upper() in self._shells:
                raise wsman.already_exists_fault()  # [inf] a second shell under one id
            if len(self._owned(user)) >= self.faults.max_shells_per_user:
                raise wsman.shells_quota_fault(self.faults.max_shells_per_user)
            shell: Shell
            if request.resource_uri.startswith(wsman.RESOURCE_POWERSHELL):
                session = seam.RunspaceSession(user=user, no_profile=_no_profile(request.options))
                shell = PowerShellShell(shell_id, self.engine, self.computer_name, session)
            elif request.resource_uri.lower() == wsman.RESOURCE_CMD:
                shell = CmdShell(shell_id, self.engine, _shell_context(body, request.options, user))
            else:
                raise wsman.invalid_fault(f"The resource URI {request.resource_uri} is not supported.")
            working_directory = shell.context.working_directory if isinstance(shell, CmdShell) else None
            entry = _OpenShell(shell, user, idle_timeout, working_directory)
            self._shells[shell_id.upper()] = entry
        if isinstance(shell, PowerShellShell):
            creation = body.find("pwsh:creationXml", NS) if body is not None else None
            if creation is None or not (creation.text or "").strip():
                self._forget(shell_id)
                raise wsman.invalid_fault("A PowerShell shell needs creationXml.")
            try:
                shell.open(base64.b64decode(creation.text or ""))
            except WSManFault:
                self._forget(shell_id)
                raise
        return wsman.resource_created(
            request.message_id,
            address,
            request.resource_uri,
            shell_id,
            self._shell_xml(shell_id, request.resource_uri, user, idle_timeout, entry),
        )

    def _shell_xml(
        self, shell_id: str, resource_uri: str, user: str, idle_timeout: str, entry: _OpenShell | None = None
    ) -> str:
        directory = entry.working_directory if entry is not None else None
        # Windows echoes the working directory a client asked for (test_winrs_extra_opts.yml)
        working = f"<rsp:WorkingDirectory>{escape(directory)}</rsp:WorkingDirectory>" if directory else ""
        return (
            f"<rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId><rsp:ResourceUri>{escape(resource_uri)}"
            f"</rsp:ResourceUri><rsp:Owner>{escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            f"{working}<rsp:IdleTimeOut>{idle_timeout}</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:State>Connected</rsp:State></rsp:Shell>"
        )

    def _config(self, request: Request) -> bytes:
        """winrm/config, as Windows answers a Get of it (pypsrp reads MaxEnvelopeSizekb from it: the recorded
        exchanges test_wsman_update_envelope_size_*.yml): Windows' defaults, with this host's quotas and
        AllowUnencrypted."""
        faults = self.faults
        unencrypted = "true" if faults.allow_unencrypted else "false"
        body = (
            '<cfg:Config xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
            "<cfg:MaxEnvelopeSizekb>500</cfg:MaxEnvelopeSizekb><cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms>"
            "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems><cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
            "<cfg:Service><cfg:MaxConcurrentOperations>4294967295</cfg:MaxConcurrentOperations>"
            f"<cfg:MaxConcurrentOperationsPerUser>{faults.max_concurrent_operations_per_user}"
            "</cfg:MaxConcurrentOperationsPerUser><cfg:EnumerationTimeoutms>240000</cfg:EnumerationTimeoutms>"
            "<cfg:MaxConnections>300</cfg:MaxConnections>"
            f"<cfg:AllowUnencrypted>{unencrypted}</cfg:AllowUnencrypted></cfg:Service>"
            "<cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>"
            f"<cfg:IdleTimeout>{int(_DEFAULT_IDLE_TIMEOUT_S * 1000)}</cfg:IdleTimeout>"
            f"<cfg:MaxShellsPerUser>{faults.max_shells_per_user}</cfg:MaxShellsPerUser></cfg:Winrs>"
            "</cfg:Config>"
        )
        return wsman.empty_response(request.message_id, wsman.ACTION_PREFIX_TRANSFER + "GetResponse", body)

    def _get(self, request: Request) -> bytes:
        entry = self._entry(request)
        return wsman.empty_response(
            request.message_id,
            wsman.ACTION_PREFIX_TRANSFER + "GetResponse",
            self._shell_xml(entry.shell.shell_id, request.resource_uri, entry.owner, entry.idle_timeout, entry),
        )

    def _forget(self, shell_id: str) -> None:
        with self._lock:
            self._shells.pop(shell_id.upper(), None)

    def _command(self, request: Request, shell: Shell, user: str) -> bytes:
        body = request.body
        if body is None:
            raise wsman.invalid_fault("Command needs a CommandLine body.")
        command_id = body.attrib.get("CommandId")
        command_text = (body.findtext(_SHELL + "Command") or "").strip()
        arguments = [element.text or "" for element in body.findall(_SHELL + "Arguments")]
        with self._lock:  # the count and the new command as one step: concurrent Commands cannot both slip in
            limit = self.faults.max_concurrent_operations_per_user
            if sum(owned.operations for owned in self._owned(user)) >= limit:
                raise wsman.operations_quota_fault(limit)
            if isinstance(shell, PowerShellShell):
                command_id = shell.command(command_id, [base64.b64decode(argument) for argument in arguments])
            else:
                command_id = shell.command(command_id, command_text, arguments)
        return wsman.command_response(request.message_id, command_id)

    def _send(self, request: Request, shell: Shell) -> bytes:
        body = request.body
        for stream in body.findall(_SHELL + "Stream") if body is not None else []:
            data = base64.b64decode(stream.text or "")
            end = stream.attrib.get("End", "").lower() == "true"
            if data or end:
                shell.send(stream.attrib.get("CommandId"), data, end)
        return wsman.empty_response(
            request.message_id, wsman.ACTION_PREFIX_SHELL + "SendResponse", "<rsp:SendResponse/>"
        )

    def _receive(self, request: Request, shell: Shell) -> bytes:
        desired = request.body.find(_SHELL + "DesiredStream") if request.body is not None else None
        command_id = desired.attrib.get("CommandId") if desired is not None else None
        # keep the response inside the client's MaxEnvelopeSize: base64 inflates by 4/3
        budget = max(1024, (request.max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4)
        if isinstance(shell, PowerShellShell):
            chunks, done = shell.receive(command_id, request.operation_timeout, budget)
            streams = [wsman.stream_element("stdout", chunk, command_id) for chunk in chunks]
            # a finished pipeline's CommandState carries ExitCode 0 (pypsrp's recorded exchanges, e.g.
            # test_psrp_clear_commands.yml)
            return wsman.receive_response(request.message_id, streams, command_id, done, 0 if done else None)
        received = shell.receive(command_id, request.operation_timeout, budget)
        streams = [
            wsman.stream_element("stdout", received.stdout, command_id, end=received.done),
            wsman.stream_element("stderr", received.stderr, command_id, end=received.done),
        ]
        return wsman.receive_response(
            request.message_id, streams, command_id, received.done, received.exit_code
        )

    def _signal(self, request: Request, shell: Shell) -> bytes:
        body = request.body
        command_id = body.attrib.get("CommandId") if body is not None else None
        code = (body.findtext(_SHELL + "Code") or "").strip() if body is not None else ""
        shell.signal(command_id, code)
        return wsman.empty_response(
            request.message_id, wsman.ACTION_PREFIX_SHELL + "SignalResponse", "<rsp:SignalResponse/>"
        )

    def _delete(self, request: Request, shell: Shell) -> bytes:
        self._forget(shell.shell_id)
        shell.close()
        return wsman.empty_response(request.message_id, wsman.ACTION_PREFIX_TRANSFER + "DeleteResponse")
