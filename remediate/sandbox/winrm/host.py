"""One emulated host's WinRM service: its shells, its quota, and the WS-Man operations on them."""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter
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


class WinRMService:
    """Dispatches WS-Man requests of authenticated users to the shells of one host."""

    def __init__(self, computer_name: str, engine: seam.HostEngine, faults: TransportFaults) -> None:
        self.computer_name = computer_name
        self.engine = engine
        self.faults = faults
        self._shells: dict[str, tuple[Shell, str]] = {}  # shell id -> (shell, owner)
        self._lock = threading.Lock()

    @property
    def shell_count(self) -> int:
        with self._lock:
            return len(self._shells)

    def handle(self, request: Request, user: str, address: str) -> bytes:
        verb = request.verb
        if verb == "Create":
            return self._create(request, user, address)
        if verb == "Get" and request.shell_id:
            return self._get(request)
        shell = self._shell(request)
        if verb == "Command":
            return self._command(request, shell)
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
            shells = [shell for shell, _ in self._shells.values()]
            self._shells.clear()
        for shell in shells:
            shell.close()

    # --- operations -----------------------------------------------------------------------------------------

    def _entry(self, request: Request) -> tuple[Shell, str]:
        """The shell the request addresses and its owner; shell ids are case-insensitive."""
        with self._lock:
            entry = self._shells.get((request.shell_id or "").upper())
        if entry is None:
            raise wsman.shell_not_found_fault(request.shell_id or "")
        return entry

    def _shell(self, request: Request) -> Shell:
        return self._entry(request)[0]

    def _create(self, request: Request, user: str, address: str) -> bytes:
        body = request.body
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            owned = Counter(owner.lower() for _, owner in self._shells.values())
            if owned[user.lower()] >= self.faults.max_shells_per_user:
                raise wsman.quota_fault(self.faults.max_shells_per_user)
            shell: Shell
            if request.resource_uri.startswith(wsman.RESOURCE_POWERSHELL):
                shell = PowerShellShell(shell_id, self.engine, self.computer_name)
            elif request.resource_uri.lower() == wsman.RESOURCE_CMD:
                shell = CmdShell(shell_id, self.engine)
            else:
                raise wsman.invalid_fault(f"The resource URI {request.resource_uri} is not supported.")
            self._shells[shell_id] = (shell, user)
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
            self._shell_xml(shell_id, request, user),
        )

    def _shell_xml(self, shell_id: str, request: Request, user: str) -> str:
        return (
            f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{escape(request.resource_uri)}"
            f"</rsp:ResourceUri><rsp:Owner>{escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:State>Connected</rsp:State></rsp:Shell>"
        )

    def _get(self, request: Request) -> bytes:
        shell, owner = self._entry(request)
        return wsman.empty_response(
            request.message_id,
            wsman.ACTION_PREFIX_TRANSFER + "GetResponse",
            self._shell_xml(shell.shell_id, request, owner),
        )

    def _forget(self, shell_id: str) -> None:
        with self._lock:
            self._shells.pop(shell_id, None)

    def _command(self, request: Request, shell: Shell) -> bytes:
        body = request.body
        if body is None:
            raise wsman.invalid_fault("Command needs a CommandLine body.")
        command_id = body.attrib.get("CommandId")
        command_text = (body.findtext(_SHELL + "Command") or "").strip()
        arguments = [element.text or "" for element in body.findall(_SHELL + "Arguments")]
        if isinstance(shell, PowerShellShell):
            command_id = shell.command(command_id, [base64.b64decode(argument) for argument in arguments])
        else:
            command_id = shell.command(command_id, command_text, arguments)
        return wsman.command_response(request.message_id, command_id)

    def _send(self, request: Request, shell: Shell) -> bytes:
        body = request.body
        for stream in body.findall(_SHELL + "Stream") if body is not None else []:
            data = base64.b64decode(stream.text or "")
            if data:
                shell.send(stream.attrib.get("CommandId"), data)
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
            return wsman.receive_response(request.message_id, streams, command_id, done)
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
