"""The HTTP/1.1 listener of one emulated host: connections, authentication, encryption, transport faults.

The process's one acceptor thread (acceptor.py) accepts connections for every listener; then one thread per
TCP connection handles that connection's requests strictly in order (NTLM sealing counts messages), idle
keep-alive connections are never timed out (pypsrp keeps its security context per connection), and
TCP_NODELAY avoids Nagle's delay on every round trip.

As Windows' WinRM service by default, a listener serves only the URL path /wsman and refuses unencrypted
traffic over HTTP unless its host's AllowUnencrypted is set (TransportFaults.allow_unencrypted).
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from remediate.sandbox.faults import FaultState
from remediate.sandbox.winrm import acceptor, request_head, workers, wsman
from remediate.sandbox.winrm.auth import AuthScheme, ConnectionAuth, Credentials
from remediate.sandbox.winrm.host import WinRMService
from remediate.sandbox.winrm.wsman import WSManFault

_DESIRED_STREAM = "{" + wsman.NS["rsp"] + "}DesiredStream"
_HANG_LIMIT_S = 600.0  # a hung Receive gives up after this long even if the client never leaves
# WinRM's listeners serve the URL prefix "wsman" (URLPrefix in winrm/config/listener, "Installation and
# configuration for Windows Remote Management"); the HTTP Server API matches a prefix case-insensitively
# ("UrlPrefix Strings") and answers any other path itself with its own 404 page, as `curl http://<host>:5985`
# of a Windows Server 2022 host shows in public write-ups.
_WSMAN_PATH = "/wsman"
_NOT_FOUND_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
    b"<HTML><HEAD><TITLE>Not Found</TITLE>\r\n"
    b'<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
    b"<BODY><h2>Not Found</h2>\r\n<hr><p>HTTP Error 404. The requested resource is not found.</p>\r\n"
    b"</BODY></HTML>\r\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clients connect at once (the default backlog of 5 resets them)
    block_on_close = False
    allow_reuse_address = False

    listener: WinRMListener

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken connections and failed TLS handshakes are the client's business, not a server crash."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _Server
    raw_requestline: bytes  # set by handle_one_request

    def setup(self) -> None:
        listener = self.server.listener
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if listener.ssl_context is not None:
            self.request = listener.ssl_context.wrap_socket(self.request, server_side=True)
        listener.track(self.request)
        super().setup()
        peer = None
        if listener.auth_scheme == "certificate" and isinstance(self.request, ssl.SSLSocket):
            peer = self.request.getpeercert(binary_form=True)
        self.auth = ConnectionAuth(
            listener.auth_scheme,
            listener.credentials,
            reject_all=listener.faults.faults.unauthorized,
            channel_binding=listener.channel_binding,
            peer_certificate=peer,
        )

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.listener.untrack(self.request)

    def parse_request(self) -> bool:
        """BaseHTTPRequestHandler.parse_request, the header fields read by request_head (see there); a request
        line other than `<method> <target> HTTP/1.1` is parsed by http.server itself."""
        line = request_head.REQUEST_LINE.fullmatch(self.raw_requestline)
        if line is None:
            return super().parse_request()
        self.command, self.path = line.group(1).decode("ascii"), line.group(2).decode("ascii")
        self.request_version = "HTTP/1.1"
        self.requestline = self.raw_requestline.decode("ascii").rstrip("\r\n")
        self.close_connection = False
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = request_head.read_headers(self.rfile)
        except http.client.LineTooLong as error:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(error))
            return False
        except http.client.HTTPException as error:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(error))
            return False
        if (self.headers.get("Connection") or "").lower() == "close":
            self.close_connection = True
        if (self.headers.get("Expect") or "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox serves many requests per second."""

    def do_POST(self) -> None:
        listener = self.server.listener
        if listener.faults.faults.latency_ms:
            time.sleep(listener.faults.faults.latency_ms / 1000)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.partition("?")[0].lower() != _WSMAN_PATH:
            self._respond(404, _NOT_FOUND_PAGE, [("Content-Type", "text/html; charset=us-ascii")])
            return
        clear_text_refused = listener.ssl_context is None and not listener.faults.faults.allow_unencrypted
        if clear_text_refused and listener.auth_scheme == "basic":
            # AllowUnencrypted=false: Basic over HTTP is refused with 401 whatever the credentials (pywinrm
            # issues 59 and 258, masterzen/winrm issue 75: an empty 401 until AllowUnencrypted is set)
            self._respond(401, b"", [("WWW-Authenticate", self.auth.challenge)])
            return

        decision = self.auth.check(self.headers.get("Authorization"))
        if not decision.accepted:
            self._respond(401, b"", decision.headers)
            return
        if not body:  # the empty request pypsrp sends to set up message encryption
            self._respond(200, b"", decision.headers)
            return

        encrypted = (self.headers.get("Content-Type") or "").startswith(
            ("multipart/encrypted", "multipart/x-multi-encrypted")  # the second: CredSSP, over 16 KiB
        )
        if clear_text_refused and not encrypted:
            # AllowUnencrypted=false: an authenticated NTLM/Negotiate request without message encryption gets
            # HTTP 500 with no body (pywinrm issues 129 and 208, winrm4j issue 151: "Code 500" until
            # AllowUnencrypted is set)
            self._respond(500, b"", [])
            return
        try:
            message = self.auth.unwrap(body) if encrypted else body
        except Exception:  # a message that does not decrypt: Windows answers it as unauthenticated
            self._respond(401, b"", [("WWW-Authenticate", self.auth.challenge)])
            self.close_connection = True
            return

        if listener.faults.take_http_5xx():
            self._respond(500, b"", [])
            return
        with workers.deferred():  # pipelines this request starts run once the response is sent
            self._serve_wsman(message, decision.username or listener.credentials.username, encrypted)

    def _serve_wsman(self, message: bytes, user: str, encrypted: bool) -> None:
        listener = self.server.listener
        relates_to = ""
        try:
            request = wsman.parse_request(message)
            relates_to = request.message_id
            if request.verb == "Receive" and _receives_for_command(request):
                if listener.faults.take_drop():
                    self._drop()
                    return
                if listener.faults.take_hang():
                    self._hang()
                    return
            status, response = 200, listener.service.handle(request, user, listener.url)
        except WSManFault as fault:
            status, response = 500, wsman.fault_envelope(fault, relates_to, listener.computer_name)
        except Exception as error:  # a server bug answers as Windows' internal error; the host keeps serving
            internal = WSManFault(
                2147500037, "w:InternalError", f"Internal error: {type(error).__name__}: {error}"
            )
            status, response = 500, wsman.fault_envelope(internal, relates_to, listener.computer_name)
        if encrypted:
            content_type, payload = self.auth.wrap(response)
            self._respond(status, payload, [("Content-Type", content_type)])
        else:
            self._respond(status, response, [("Content-Type", "application/soap+xml;charset=UTF-8")])

    def _respond(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        """Status line, headers and body in one write: one segment on the wire per response."""
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        head: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # filled by send_header
        self.wfile.write(b"".join(head) + b"\r\n" + body)
        head.clear()

    def _drop(self) -> None:
        """Close the connection without an answer, as a host that lost its network does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def _hang(self) -> None:
        """Never answer: wait until the client gives up (closes the connection) or the listener stops."""
        self.close_connection = True
        deadline = time.monotonic() + _HANG_LIMIT_S
        listener = self.server.listener
        while time.monotonic() < deadline and not listener.stopped.is_set():
            readable, _, _ = select.select([self.request], [], [], 0.2)
            if readable:
                try:
                    if not self.request.recv(1, socket.MSG_PEEK):
                        break
                except (OSError, ValueError):
                    break
        self._drop()


def _receives_for_command(request: wsman.Request) -> bool:
    desired = request.body.find(_DESIRED_STREAM) if request.body is not None else None
    return desired is not None and bool(desired.attrib.get("CommandId"))


class WinRMListener:
    """One host's HTTP(S) endpoint on 127.0.0.1.

    Host down (refuse_connections) and "WinRM not up yet" (not_up_for_s) keep the port bound but not
    listening, so connections are refused (RST) exactly as from a host without a listener.
    """

    def __init__(
        self,
        service: WinRMService,
        faults: FaultState,
        credentials: Credentials,
        auth_scheme: AuthScheme,
        ssl_context: ssl.SSLContext | None = None,
        address: str = "127.0.0.1",
        port: int = 0,
        channel_binding: bytes | None = None,
    ) -> None:
        self.channel_binding = channel_binding
        self.service = service
        self.faults = faults
        self.credentials = credentials
        self.auth_scheme = auth_scheme
        self.ssl_context = ssl_context
        self.stopped = threading.Event()
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        self._server = _Server((address, port), _Handler, bind_and_activate=False)
        self._server.listener = self
        self._server.server_bind()
        bound = self._server.server_address
        self.address: str = str(bound[0])
        self.port: int = int(bound[1])
        self._listening = threading.Event()
        self._lifecycle = threading.Lock()  # start, the delayed activation and stop, one at a time
        self._delayed: threading.Timer | None = None

    @property
    def computer_name(self) -> str:
        return self.service.computer_name

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}/wsman"

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def start(self) -> None:
        faults = self.faults.faults
        if faults.refuse_connections:
            return
        if faults.not_up_for_s > 0:
            self._delayed = threading.Timer(faults.not_up_for_s, self._activate)
            self._delayed.daemon = True
            self._delayed.start()
        else:
            self._activate()

    def _activate(self) -> None:
        """Listen, and let the process's acceptor hand this host its connections."""
        with self._lifecycle:
            if self.stopped.is_set():
                return
            self._server.server_activate()
            self._server.socket.setblocking(False)  # the acceptor must never block on one host
            acceptor.shared().add(self._server.socket, self._accept)
            self._listening.set()

    def _accept(self) -> None:
        """On the acceptor thread: take every waiting connection and give each its own thread."""
        while True:
            try:
                connection, client = self._server.get_request()
            except OSError:  # BlockingIOError: none left; anything else: the next readiness retries
                return
            connection.setblocking(True)
            try:
                self._server.process_request(connection, client)  # ThreadingMixIn: starts its thread
            except Exception:
                self._server.shutdown_request(connection)

    def track(self, connection: Any) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: Any) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def stop(self) -> None:
        with self._lifecycle:
            self.stopped.set()
            if self._delayed is not None:
                self._delayed.cancel()
            if self._listening.is_set():
                acceptor.shared().remove(self._server.socket)
            self._server.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections block in a read: end them
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.service.close_all()
