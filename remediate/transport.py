"""Talking to one host over WinRM: the one module that imports pypsrp and requests.

A Session is one open RunspacePool on one host, reused for every step on that host. A step is sent as a
script (`add_script`) with its values bound as PowerShell parameters (`add_parameter`); product keys and
secrets are revealed here, at the last moment, and nowhere else. The read-only steps of a phase go as one
invocation (`run_batch`: one statement per step). Every pypsrp / requests / spnego failure is translated into a
TransportError at one point (`translate`), with its TransportErrorKind and whether a retry may help; no message
carries a password or a full product key. Kerberos failures (a wrong password, a missing SPN, clock skew, a host
without the key of its SPN) are told apart by the Kerberos error code beneath them.

Per host, the wire sees: one round trip to log on (NTLM over HTTP: the last token rides on the pool's Create),
two to open the pool, two per invocation (Command, Receive), and the close, which the engine sends in the
background.
"""

from __future__ import annotations

import base64
import enum
import errno
import functools
import hashlib
import importlib
import logging
import math
import os
import secrets as random_tokens
import socket
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import requests
import spnego
import spnego.exceptions
from pypsrp._utils import get_hostname
from pypsrp.complex_objects import ApartmentState, HostInfo, Pipeline, RemoteStreamOptions
from pypsrp.encryption import WinRMEncryption
from pypsrp.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)
from pypsrp.messages import (
    ApplicationPrivateData,
    CreatePipeline,
    MessageType,
    PipelineState,
    RunspacePoolInitData,
    RunspacePoolStateMessage,
    SessionCapability,
)
from pypsrp.negotiate import HTTPNegotiateAuth
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import NAMESPACES, WSMan, WSManAction, _TransportHTTP
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the NTLM hashes pyspnego computes from a password

from remediate.connector import BatchRun, ScriptCall
from remediate.errors import TransportError, TransportErrorKind, UsageError
from remediate.i18n import _
from remediate.inventory import AUTH_METHODS, DEFAULT_PORTS, SCHEMES, Host
from remediate.productkey import ProductKey
from remediate.results import ResultFormatError, ScriptRun, StepResult
from remediate.secret import Redactor, Secret, secrets_in

# pypsrp logs every timed-out request with a traceback; without a handler Python would print those to stderr.
for _library in ("pypsrp", "spnego", "requests_credssp"):
    logging.getLogger(_library).addHandler(logging.NullHandler())

USERNAME_ENV = "REMEDIATE_USERNAME"
PASSWORD_ENV = "REMEDIATE_PASSWORD"
# Auths that can seal WinRM messages themselves (needed over plain HTTP).
ENCRYPTING_AUTHS = ("negotiate", "ntlm", "kerberos", "credssp")
# The optional extras an auth needs: (extra, the modules it installs). pypsrp imports them only at logon.
AUTH_EXTRAS = {"kerberos": ("kerberos", ("gssapi", "krb5")), "credssp": ("credssp", ("requests_credssp",))}
DEFAULT_SPN_SERVICE = "HTTP"  # the SPN a Windows WinRM client asks for: HTTP/<host name as in the URL>
PIPELINE_FAILED = 5  # PSInvocationState.FAILED
PIPELINE_RUNNING = 1


def _extra_error_types() -> tuple[type[Exception], ...]:
    """The errors of the optional extras that pypsrp lets through untranslated: krb5's and GSSAPI's (getting a
    ticket with a password raises krb5.Krb5Error), requests-credssp's (a refused CredSSP logon)."""
    found: list[type[Exception]] = []
    try:
        from gssapi.raw.misc import GSSError
        from krb5 import Krb5Error

        found += [Krb5Error, GSSError]
    except ImportError:
        pass
    try:
        from requests_credssp.exceptions import AuthenticationException, NTStatusException

        found += [AuthenticationException, NTStatusException]
    except ImportError:
        pass
    return tuple(found)


_LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    WinRMError,
    requests.exceptions.RequestException,
    spnego.exceptions.SpnegoError,
    OSError,
    *_extra_error_types(),
)
# pypsrp waits OperationTimeout + 2 s for the HTTP answer of a request that names an OperationTimeout.
ANSWER_GRACE_S = 2.0
MIN_POLL_S = 0.5  # the shortest OperationTimeout a Receive asks for
STOP_TIMEOUT_S = 1  # OperationTimeout of the Signal that stops a timed-out step (its answer: 3 s at most)


class WSManFault(enum.IntEnum):
    """WS-Management fault codes (pypsrp reports them in decimal: 0x80338029 is 2150858793)."""

    OPERATION_TIMEOUT = 0x80338029  # nothing happened within OperationTimeout (poll again)
    # Quota faults, as Windows' wsmerror.h numbers them (reference: winrm-sandbox-notes, "Quota fault codes").
    MAX_SHELLS_PER_USER = 0x803381A5  # 2150859173: "This user is allowed a maximum number of N concurrent shells"
    MAX_CONCURRENT_OPERATIONS = 0x803381A6  # 2150859174: MaxConcurrentOperationsPerUser (1500 by default)
    MAX_SHELLS_PER_HOST = 0x803381AC


QUOTA_FAULTS = frozenset(
    {WSManFault.MAX_SHELLS_PER_USER, WSManFault.MAX_CONCURRENT_OPERATIONS, WSManFault.MAX_SHELLS_PER_HOST}
)


class _Transport(_TransportHTTP):
    """pypsrp's HTTP transport, with fewer round trips to log on and no proxy look-up on every request.

    Logging on (NTLM or Negotiate with message encryption, i.e. over HTTP): pypsrp first sends an anonymous
    request to be told which schemes the host takes, then its tokens with empty bodies, then the message. Here the
    first token goes out at once, and with NTLM the last token rides on the first message itself, sealed with the
    keys it has just made, as Windows' own client does: one round trip before the first message instead of three.
    Over HTTPS, pypsrp's own handshake stays (its last token must carry the TLS channel binding).

    requests scans the environment for proxy settings on each request of a session that trusts it; remediate
    connects without a proxy (no_proxy), so the session stops trusting the environment once it is built (the
    CA bundle settings from the environment are read while it is built, as before).
    """

    _template: requests.PreparedRequest | None = None

    def _build_session(self) -> requests.Session:
        session = super()._build_session()
        session.trust_env = False
        self._template = None
        return session

    def send(
        self,
        message: bytes,
        *,
        retries_on_read_timeout: int = 0,
        timeout: int | float | tuple[int | float, int | float] | None = None,
    ) -> bytes:
        if self.session is None:
            self.session = self._build_session()
        auth = self.session.auth
        if self.wrap_required and self.encryption is None:
            if isinstance(auth, HTTPNegotiateAuth):
                return self._log_on_and_send(auth, message, timeout)
        elif not retries_on_read_timeout and not self.session.cookies:
            return self._send_request(self._prepared(self.session, message), timeout=timeout)
        return super().send(message, retries_on_read_timeout=retries_on_read_timeout, timeout=timeout)

    def _prepared(self, session: requests.Session, message: bytes) -> requests.PreparedRequest:
        """The request carrying one message, as pypsrp's send builds it: a copy of the session's request (its
        headers, URL and auth, prepared once) with the message's body and type. requests would merge the
        session's settings into a new request and parse the URL again for every message."""
        if self._template is None:
            self._template = session.prepare_request(requests.Request("POST", self.endpoint))
        request = self._template.copy()
        headers = request.headers
        if self.wrap_required:
            assert self.encryption is not None
            content_type, payload = self.encryption.wrap_message(message)
            protocol = self.encryption.protocol
            headers["Content-Type"] = f'{content_type};protocol="{protocol}";boundary="Encrypted Boundary"'
        else:
            payload = message
            headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
        headers["Content-Length"] = str(len(payload))
        request.body = payload
        return request

    def _log_on_and_send(
        self, auth: HTTPNegotiateAuth, message: bytes, timeout: int | float | tuple[int | float, int | float] | None
    ) -> bytes:
        host = get_hostname(self.endpoint) or self.server
        context = spnego.client(
            auth.username,
            auth.password,
            hostname=auth.hostname_override or host,
            service=auth.service,
            protocol=auth.auth_provider,
            options=spnego.NegotiateOptions.wrapping_winrm,
        )
        auth.contexts[host] = context  # where pypsrp looks for it when it logs on again
        token: bytes | None = context.step()
        while not context.complete:
            answer = self._post(b"", {"Authorization": _negotiate_header(token)}, timeout)
            in_token = _offered_token(answer)  # named as in pypsrp's handle_401 (see _reading_host_answer)
            if answer.status_code not in (200, 401) or in_token is None:
                raise AuthenticationError(f"Failed to authenticate the user {self.username} with {self.auth}")
            token = context.step(in_token)
            if answer.status_code == 200 and not context.complete:
                raise AuthenticationError(f"Failed to authenticate the user {self.username} with {self.auth}")
        self.encryption = WinRMEncryption(context, WinRMEncryption.SPNEGO)
        content_type, payload = self.encryption.wrap_message(message)
        headers = {
            "Content-Type": f'{content_type};protocol="{WinRMEncryption.SPNEGO}";boundary="Encrypted Boundary"',
            "Content-Length": str(len(payload)),
        }
        if token:  # NTLM's last token, carried by the first message
            headers["Authorization"] = _negotiate_header(token)
        session = self.session
        assert session is not None
        prepared = session.prepare_request(
            requests.Request("POST", self.endpoint, data=payload, headers={**session.headers, **headers},
                             auth=_as_is)
        )
        return self._send_request(prepared, timeout=timeout)

    def _post(
        self, body: bytes, headers: dict[str, str], timeout: int | float | tuple[int | float, int | float] | None
    ) -> requests.Response:
        """One request outside pypsrp's handshake (no hook answers its 401); its body is read before it returns,
        so the next request goes out on the same connection, which NTLM is bound to."""
        session = self.session
        assert session is not None
        prepared = session.prepare_request(
            requests.Request("POST", self.endpoint, data=body, headers={**session.headers, **headers}, auth=_as_is)
        )
        answer = session.send(prepared, timeout=timeout if timeout is not None else
                              (self.connection_timeout, self.read_timeout))
        _ = answer.content
        return answer


def _as_is(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A requests auth that adds nothing: the request carries its own Authorization header."""
    return request


def _negotiate_header(token: bytes | None) -> str:
    return "Negotiate " + base64.b64encode(token or b"").decode("ascii")


def _offered_token(answer: requests.Response) -> bytes | None:
    """The host's next token, from WWW-Authenticate: Negotiate <base64>."""
    for part in answer.headers.get("WWW-Authenticate", "").split(","):
        scheme, _, value = part.strip().partition(" ")
        if scheme.lower() in ("negotiate", "ntlm", "kerberos") and value.strip():
            return base64.b64decode(value.strip())
    return None


class _StepWSMan(WSMan):
    """pypsrp's WSMan, with Receive and Signal bounded so that a step's timeout is a hard cap.

    pypsrp sends a Receive that got no answer again, up to 5 times, each time waiting OperationTimeout + 2 s:
    a hung host would hold a step six times longer than asked. Here a Receive is sent once; Session.run decides
    whether time is left to send it again. A Signal (stopping a step) names a short OperationTimeout, so that
    stopping a hung host does not wait for the connection timeout.
    """

    def __init__(self, server: str, **options: Any) -> None:
        super().__init__(server, **options)
        # WSMan.__init__ builds its transport itself; _Transport adds behaviour and no state of its own.
        self.transport.__class__ = _Transport

    def receive(
        self,
        resource_uri: str,
        resource: Any,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> Any:
        answer = self.invoke(WSManAction.RECEIVE, resource_uri, resource, option_set, selector_set, timeout)
        return answer.find("s:Body", namespaces=NAMESPACES)

    def signal(
        self,
        resource_uri: str,
        resource: Any,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> Any:
        return super().signal(resource_uri, resource, option_set, selector_set, timeout or STOP_TIMEOUT_S)


# pypsrp's WSMan() registers its XML namespaces again in ElementTree's process-wide table, each by deleting the
# entry and adding it back: two threads building one at once can meet a name the other has just deleted
# (KeyError), which would fail a host that was never touched. Every WSMan is built under this lock.
_WSMAN_BUILD = threading.Lock()


def build_wsman(server: str, options: ConnectionOptions, credentials: Credentials | None) -> WSMan:
    """The WSMan connection object for one host (nothing is sent yet). Safe to call from many threads."""
    extra: dict[str, Any] = {"negotiate_service": options.spn_service}
    if options.auth == "certificate":
        extra = {**extra, "certificate_pem": options.certificate_pem,
                 "certificate_key_pem": options.certificate_key_pem}
    password = credentials.password.reveal() if credentials and credentials.password else None
    if password is not None and options.auth == "ntlm":
        password = _ntlm_hashes(password)
    with _WSMAN_BUILD:
        return _StepWSMan(
            server,
            port=options.effective_port,
            username=credentials.username if credentials else None,
            password=password,
            ssl=options.scheme == "https",
            auth=options.auth,
            cert_validation=_cert_validation(options),  # a CA bundle path works too
            connection_timeout=max(1, math.ceil(options.connection_timeout)),
            read_timeout=max(1, math.ceil(options.connection_timeout)),
            operation_timeout=options.operation_timeout,
            encryption="auto",
            reconnection_backoff=options.receive_backoff,
            no_proxy=True,
            **extra,
        )


@functools.lru_cache(maxsize=4)
def _ntlm_hashes(password: str) -> str:
    """The password as pyspnego also takes it for NTLM: "LM-hash:NT-hash" in hex. Computed once per run rather
    than once per host (the LM hash is DES in pure Python)."""
    return f"{lmowfv1(password).hex()}:{ntowfv1(password).hex()}"


def _cert_validation(options: ConnectionOptions) -> bool | str:
    if options.insecure:
        return False
    return options.ca_file or True


def poll_timeout(remaining_s: float, operation_timeout: float) -> float:
    """The OperationTimeout of the next Receive of a step with `remaining_s` left before its deadline.

    Its worst case (no answer at all: OperationTimeout + ANSWER_GRACE_S) ends by the deadline. When the
    Receive after this one could not fit any more, this one takes all the time that is left instead.
    """
    fits = remaining_s - ANSWER_GRACE_S
    if fits - operation_timeout < MIN_POLL_S + ANSWER_GRACE_S:
        return round(max(MIN_POLL_S, fits), 3)
    return float(operation_timeout)


@dataclass(frozen=True)
class Credentials:
    """Who to log on as. The password is a Secret: its repr and str are masked."""

    username: str
    password: Secret | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Credentials | None:
        """REMEDIATE_USERNAME / REMEDIATE_PASSWORD, or None when no user name is set."""
        environ = os.environ if environ is None else environ
        username = environ.get(USERNAME_ENV, "")
        if not username:
            return None
        password = environ.get(PASSWORD_ENV)
        return cls(username, Secret(password, source=f"${PASSWORD_ENV}") if password else None)

    @property
    def secrets(self) -> list[Secret]:
        return [self.password] if self.password is not None else []


def credential_secrets(credentials: Credentials | None) -> list[Secret]:
    """The secrets of these credentials to mask (none when a ticket or certificate stands for the user)."""
    return credentials.secrets if credentials is not None else []


@dataclass(frozen=True)
class ConnectionOptions:
    """Run-wide connection settings; a host's own variables (scheme, auth, ca_file, port) override them."""

    auth: str = "negotiate"
    scheme: str = "https"
    port: int | None = None  # None: 5986 for https, 5985 for http
    ca_file: str | None = None  # a CA bundle to verify the host's certificate against
    insecure: bool = False  # skip certificate verification (explicit and loud, see cli)
    # Seconds to connect, and to wait for any answer outside a step (logon, opening and closing the pool): a
    # host that accepts TCP but never answers HTTP is given up after this long.
    connection_timeout: float = 30.0
    operation_timeout: int = 20  # WS-Man OperationTimeout: how long one Receive may wait on the host
    receive_backoff: float = 0.5  # pause before sending again a Receive that got no answer (time permitting)
    certificate_pem: str | None = None  # auth=certificate: client certificate and key
    certificate_key_pem: str | None = None
    spn_service: str = DEFAULT_SPN_SERVICE  # Kerberos: the service part of the host's SPN (<service>/<host>)

    def __post_init__(self) -> None:
        if self.auth not in AUTH_METHODS:
            raise UsageError(_("unknown auth {auth!r}; one of {choices}").format(
                auth=self.auth, choices=', '.join(AUTH_METHODS)))
        if self.scheme not in SCHEMES:
            raise UsageError(_("unknown scheme {scheme!r}; one of {choices}").format(
                scheme=self.scheme, choices=', '.join(SCHEMES)))

    def for_host(self, host: Host) -> ConnectionOptions:
        variables = host.variables
        return replace(
            self,
            auth=variables.get("auth", self.auth),
            scheme=variables.get("scheme", self.scheme),
            ca_file=variables.get("ca_file", self.ca_file),
            port=host.port if host.port is not None else self.port,
        )

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    def spn(self, host: Host) -> str:
        """The service principal name a Kerberos logon to `host` asks the KDC for."""
        return f"{self.spn_service}/{host.name}"

    def check_safe(self) -> None:
        """Refuse combinations that would be unsafe or cannot work, whoever logs on."""
        require_extra(self.auth)
        if self.scheme == "http" and self.auth not in ENCRYPTING_AUTHS:
            raise UsageError(
                _("auth {auth} over http would send everything in clear text").format(auth=self.auth),
                hint=_("use --scheme https, or an auth that seals messages: negotiate, ntlm, kerberos, credssp"),
            )
        if self.auth == "certificate" and (not self.certificate_pem or not self.certificate_key_pem):
            raise UsageError(_("auth certificate needs a client certificate and key (PEM files)"))
        if self.scheme == "https" and self.ca_file and not os.path.isfile(self.ca_file):
            # Found now, not as "refused: could not connect" on every host after retries.
            raise UsageError(_("ca_file {ca_file}: no such file").format(
                ca_file=self.ca_file), hint=_("give the path of your CA bundle (PEM)"))

    def check(self, credentials: Credentials | None) -> None:
        """check_safe, and that the auth has the credentials it needs."""
        self.check_safe()
        has_password = credentials is not None and credentials.password is not None
        if self.auth in ("basic", "ntlm", "credssp") and not has_password:
            raise UsageError(
                _("auth {auth} needs a user name and password").format(auth=self.auth),
                hint=_("set {user} and {password}, or answer the prompt").format(
                    user=USERNAME_ENV, password=PASSWORD_ENV),
            )


def require_extra(auth: str) -> None:
    """A UsageError naming the install command when `auth` needs an optional extra that is not installed."""
    if auth not in AUTH_EXTRAS:
        return
    extra, modules = AUTH_EXTRAS[auth]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise UsageError(
                _("auth {auth} needs the optional '{extra}' extra, which is not installed (Python module "
                  "{module} is missing: {error})").format(auth=auth, extra=extra, module=module, error=error),
                hint=_("pip install 'remediate[{extra}]'").format(extra=extra),
            ) from None


def reveal(value: Any) -> Any:
    """The value PowerShell must receive: secrets and keys in clear. Only for add_parameter."""
    if isinstance(value, (Secret, ProductKey)):
        return value.reveal()
    if isinstance(value, Mapping):
        return {str(key): reveal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(item) for item in value]
    return value


def _root_causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                yield from _root_causes(arg)
        for attribute in ("reason", "base_error"):  # urllib3's reason; pyspnego's GSSAPI error
            beneath = getattr(current, attribute, None)
            if isinstance(beneath, BaseException):
                yield from _root_causes(beneath)
        current = current.__cause__ or current.__context__


def _connection_kind(error: BaseException) -> tuple[TransportErrorKind, bool, str]:
    """(kind, transient, message) for a requests ConnectionError, by looking at what lies beneath it."""
    for cause in _root_causes(error):
        if isinstance(cause, socket.gaierror):
            return TransportErrorKind.DNS, False, "the host name does not resolve"
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            message = "the connection was refused (WinRM not listening, or the host is down)"
            return TransportErrorKind.REFUSED, True, message
        if isinstance(cause, (ConnectionResetError, BrokenPipeError)):
            return TransportErrorKind.PROTOCOL, True, "the connection was dropped by the host"
        if type(cause).__name__ in ("NameResolutionError",):
            return TransportErrorKind.DNS, False, "the host name does not resolve"
        if type(cause).__name__ in ("RemoteDisconnected", "ProtocolError", "IncompleteRead"):
            return TransportErrorKind.PROTOCOL, True, "the connection was dropped before an answer came"
        if isinstance(cause, (TimeoutError, socket.timeout)):
            return TransportErrorKind.TIMEOUT, True, "the connection timed out"
    text = str(error)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return TransportErrorKind.DNS, False, "the host name does not resolve"
    return TransportErrorKind.REFUSED, True, "could not connect"


@dataclass(frozen=True)
class Logon:
    """How a logon was attempted, for error messages: the auth, the user (None: a ticket cache), the SPN."""

    auth: str | None = None
    user: str | None = None
    spn: str | None = None


def translate(
    error: BaseException,
    host: str,
    secrets: list[Secret | ProductKey] | None = None,
    *,
    logon: Logon | None = None,
) -> TransportError:
    """The one place where pypsrp, requests, spnego and Kerberos errors become TransportError.

    logon: how the failed logon was made (auth, user, SPN), for the messages that name them.
    """
    kind, transient, message = _classify(error, logon or Logon())
    return TransportError(kind, Redactor(secrets or []).text(message), host=host, transient=transient)


def _classify(error: BaseException, logon: Logon) -> tuple[TransportErrorKind, bool, str]:
    if isinstance(error, TransportError):
        return error.kind, error.transient, error.message
    kerberos = kerberos_problem(error, logon)
    if kerberos is not None:
        return TransportErrorKind.AUTH, False, kerberos
    if type(error).__name__ == "NTStatusException":  # requests-credssp: the host's answer to a CredSSP logon
        status = _as_int(getattr(error, "status", None)) or 0
        if status == SEC_E_LOGON_DENIED:
            return TransportErrorKind.AUTH, False, "CredSSP: the host refused the user name or password"
        return TransportErrorKind.AUTH, False, f"CredSSP: the host refused the logon (status 0x{status:08X})"
    if type(error).__name__ == "AuthenticationException":
        return TransportErrorKind.AUTH, False, f"CredSSP: authentication failed: {_short(error)}"
    if isinstance(error, requests.exceptions.SSLError):
        message = f"TLS failed (certificate not trusted, or not TLS): {_short(error)}"
        return TransportErrorKind.TLS, False, message
    if isinstance(error, (requests.exceptions.ConnectTimeout,)):
        return TransportErrorKind.TIMEOUT, True, "timed out while connecting"
    if isinstance(error, (requests.exceptions.ReadTimeout, requests.exceptions.Timeout)):
        return TransportErrorKind.TIMEOUT, True, "the host did not answer in time"
    if isinstance(error, requests.exceptions.ConnectionError):
        return _connection_kind(error)
    if isinstance(error, AuthenticationError):
        said = "the host refused the client certificate" if logon.auth == "certificate" else _short(error)
        return TransportErrorKind.AUTH, False, f"authentication failed: {said}" + _refusal_note(logon)
    if isinstance(error, spnego.exceptions.SpnegoError):
        return TransportErrorKind.AUTH, False, f"authentication failed: {_short(error)}"
    if isinstance(error, WSManFaultError):
        code = _as_int(error.code)
        reason = (error.reason or "").strip()
        if code in QUOTA_FAULTS or "concurrent shells" in reason or "quota" in reason.lower():
            return TransportErrorKind.QUOTA, True, f"WinRM quota reached: {reason or error.code}"
        return TransportErrorKind.PROTOCOL, False, f"WS-Management fault {error.code}: {reason}"
    if isinstance(error, WinRMTransportError):
        code = _as_int(error.code)
        if code == 401:
            return TransportErrorKind.AUTH, False, "authentication failed (HTTP 401)" + _refusal_note(logon)
        if code is not None and code >= 500:
            return TransportErrorKind.PROTOCOL, True, f"the host answered HTTP {code}"
        return TransportErrorKind.PROTOCOL, False, f"the host answered HTTP {code}"
    if isinstance(error, WinRMError):
        return TransportErrorKind.PROTOCOL, False, f"WinRM protocol error: {_short(error)}"
    if isinstance(error, (ConnectionError, OSError)):
        return _connection_kind(error)
    return TransportErrorKind.PROTOCOL, False, f"{type(error).__name__}: {_short(error)}"


def _refusal_note(logon: Logon) -> str:
    """What a refused logon may mean with this auth: with negotiate, a Kerberos failure hidden by pyspnego's
    silent fallback to NTLM; with a certificate, no account mapped to it."""
    if logon.auth == "negotiate":
        return ("; with --auth negotiate a Kerberos failure (wrong password, missing SPN, clock skew) silently "
                "falls back to NTLM, which the host refused or does not allow: --auth kerberos reports Kerberos' "
                "own reason")
    if logon.auth == "certificate":
        return ("; the host maps no account to this client certificate (WinRM's certificate mapping: the user "
                "principal name in the certificate, and its issuing CA)")
    return ""


SEC_E_LOGON_DENIED = 0x8009030C  # what a host's CredSSP acceptor answers to a wrong password

# Kerberos error numbers (RFC 4120 §7.5.9, and MIT's krb5 error table) as MIT reports them: code - KRB5_BASE.
KRB5_BASE = -1765328384  # ERROR_TABLE_BASE_krb5
KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
KDC_ERR_CLIENT_REVOKED = 18
KDC_ERR_KEY_EXPIRED = 23
KDC_ERR_PREAUTH_FAILED = 24
KRB_AP_ERR_BAD_INTEGRITY = 31
KRB_AP_ERR_TKT_EXPIRED = 32
KRB_AP_ERR_NOT_US = 35
KRB_AP_ERR_SKEW = 37
KRB_AP_ERR_MODIFIED = 41
KRB_AP_ERR_BADKEYVER = 44
KRB5_CC_NOTFOUND = 141  # no ticket of that user in the cache
KRB5_REALM_UNKNOWN = 154
KRB5_KDC_UNREACH = 156
KRB5_FCC_NOFILE = 195  # no credentials cache found
KRB5_REALM_CANT_RESOLVE = 220


def _kerberos_code(error: BaseException) -> tuple[int, str] | None:
    """(Kerberos error number, its text) of the first Kerberos error beneath `error`, if any.

    krb5.Krb5Error (getting a ticket with a password) carries `err_code`; GSSAPI errors (logging on to the host)
    carry the same codes as their minor status, which pyspnego keeps as `base_error`.
    """
    for cause in _root_causes(error):
        for attribute in ("err_code", "min_code"):
            code = getattr(cause, attribute, None)
            if isinstance(code, int) and not isinstance(code, bool) and code:
                signed = code - (1 << 32) if code >= 1 << 31 else code
                number = signed - KRB5_BASE
                if 0 <= number < 256:
                    return number, _short(cause)
    return None


def _skew_side(error: BaseException) -> str:
    """Whose clocks are apart: the KDC refused this machine's ticket request (a password logon gets its ticket
    through krb5, which raises Krb5Error), or the host refused the ticket (its error token was being read when
    the logon failed), or, where neither shows, any two of the three."""
    if _getting_ticket_with_password(error):
        return "this machine's clock and the KDC's"
    if any(_reading_host_answer(cause) for cause in _root_causes(error)):
        return "the host refused the ticket: its clock and this machine's (or the KDC's)"
    return "the clocks of this machine, the KDC and the host"


def _getting_ticket_with_password(error: BaseException) -> bool:
    """Whether the error came from asking the KDC for a ticket with the user's password (pyspnego does that
    through krb5, whose errors are Krb5Error; everything later goes through GSSAPI)."""
    return any(type(cause).__name__ == "Krb5Error" for cause in _root_causes(error))


def _reading_host_answer(error: BaseException) -> bool:
    """Whether a token from the host was being processed when `error` was raised (pypsrp's HTTPNegotiateAuth's
    handle_401, and _Transport's logon, have the host's token as `in_token` from the second round on)."""
    trace = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_name in ("handle_401", "_log_on_and_send") and frame.f_locals.get("in_token"):
            return True
        trace = trace.tb_next
    return False


def kerberos_problem(error: BaseException, logon: Logon) -> str | None:
    """What a Kerberos failure means for the user, in words that say what to do; None if it is no Kerberos error."""
    found = _kerberos_code(error)
    if found is None:
        return None
    number, text = found
    user = logon.user or "the user of the ticket cache"
    spn = logon.spn or "the host's SPN"
    if number == KRB_AP_ERR_SKEW:
        return "Kerberos: clock skew: " + _skew_side(error) + (
            " differ by more than Kerberos allows (5 minutes by default); set the time right (NTP; on Windows "
            "w32tm /resync) and try again")
    wrong_password = number == KRB_AP_ERR_BAD_INTEGRITY and _getting_ticket_with_password(error)
    if number == KDC_ERR_PREAUTH_FAILED or wrong_password:
        return f"Kerberos: the KDC refused the password of {user} (wrong password)"
    if number == KDC_ERR_C_PRINCIPAL_UNKNOWN:
        hint = " (give the user as user@REALM, e.g. ops@CORP.EXAMPLE.COM)" if "\\" in user else ""
        return f"Kerberos: the KDC does not know the user {user}{hint}"
    if number == KDC_ERR_CLIENT_REVOKED:
        return f"Kerberos: the account {user} is disabled or locked out"
    if number == KDC_ERR_KEY_EXPIRED:
        return f"Kerberos: the password of {user} has expired; change it, then try again"
    if number == KDC_ERR_S_PRINCIPAL_UNKNOWN:
        return (f"Kerberos: the KDC knows no service principal {spn} (missing SPN): reach the host by the name "
                f"its SPN is registered for (its DNS name, not an address or alias), or register the SPN "
                f"(setspn -S {spn} <computer account>); --spn-service changes the service part")
    if number in (KRB_AP_ERR_NOT_US, KRB_AP_ERR_MODIFIED, KRB_AP_ERR_BAD_INTEGRITY):
        return (f"Kerberos: the host cannot decrypt its ticket for {spn}: the SPN is registered to another "
                f"account than the host's (setspn -Q {spn}), or the host lacks its key")
    if number == KRB_AP_ERR_BADKEYVER:
        return (f"Kerberos: the host's key for {spn} is out of date (key version): the host's keytab or computer "
                "account password changed on one side only")
    if number == KRB_AP_ERR_TKT_EXPIRED:
        return "Kerberos: the ticket has expired; get a new one (kinit) and try again"
    if number in (KRB5_KDC_UNREACH, KRB5_REALM_CANT_RESOLVE, KRB5_REALM_UNKNOWN):
        return (f"Kerberos: no KDC could be reached ({text}); check the realm's kdc entries in krb5.conf, or "
                "its DNS SRV records and port 88")
    if number in (KRB5_FCC_NOFILE, KRB5_CC_NOTFOUND):
        return (f"Kerberos: no ticket for {user} ({text}); run kinit, or set {USERNAME_ENV} and {PASSWORD_ENV}")
    return f"Kerberos: {text}"


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _record_text(record: Any) -> str:
    """The message of a PSRP ErrorRecord (or whatever pypsrp gave us)."""
    exception = getattr(record, "exception", None)
    for source in (exception, record):
        if source is None:
            continue
        for properties in ("adapted_properties", "extended_properties"):
            found = getattr(source, properties, None) or {}
            message = found.get("Message") if isinstance(found, dict) else None
            if message:
                return str(message)
    for attribute in ("details_message", "message"):
        value = getattr(record, attribute, None)
        if value:
            return str(value)
    return str(record)


class Session:
    """One open connection to one host: one RunspacePool, reused for every step."""

    def __init__(
        self,
        host: Host,
        options: ConnectionOptions,
        credentials: Credentials | None = None,
    ) -> None:
        self.host = host
        self.label = host.label
        self.options = options.for_host(host)
        self.credentials = credentials
        self._pool: RunspacePool | None = None
        self._wsman: WSMan | None = None

    @contextmanager
    def _translated(self, secrets: list[Secret | ProductKey] | None = None) -> Iterator[None]:
        try:
            yield
        except TransportError:
            raise
        except _LIBRARY_ERRORS as error:
            known = [*(secrets or []), *credential_secrets(self.credentials)]
            raise translate(error, self.label, known, logon=self.logon) from None

    @property
    def logon(self) -> Logon:
        """How this session logs on, for the messages of a failed logon."""
        user = self.credentials.username if self.credentials else None
        return Logon(auth=self.options.auth, user=user, spn=self.options.spn(self.host))

    def open(self) -> Session:
        options = self.options
        options.check(self.credentials)
        with self._translated():
            self._wsman = build_wsman(self.host.connect_name, options, self.credentials)
            self._pool = RunspacePool(self._wsman)
            self._pool._serializer = self._pool._fragmenter.serializer = _ReusedSerializer()
            try:
                self._pool.open()
            except BaseException:
                self.close()  # a half-open pool would hold one of the user's shells on the host
                raise
        return self

    def close(self) -> None:
        """Close the pool (and its shell on the host). Errors while closing are not worth reporting."""
        pool, self._pool = self._pool, None
        if pool is not None:
            with suppress(*_LIBRARY_ERRORS):
                pool.close()
        if self._wsman is not None:
            self._wsman.transport.close()
            self._wsman = None

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun:
        """Run one step's script with its parameters; wait at most timeout_s. Raises TransportError."""
        batch = self.run_batch([ScriptCall(script, parameters, timeout_s)])
        if batch.error is not None:
            raise batch.error
        return batch.runs[0]

    def run_batch(self, calls: Sequence[ScriptCall]) -> BatchRun:
        """Several scripts as one pipeline of statements: one Command request, then Receives until it ends.

        Between two statements a Write-Output of a marker (unguessable by a script) tells their output and
        records apart. The invocation may take the sum of its scripts' timeouts; each marker that comes resets
        the budget of the rest, so no script is cut short while it is within its own limit.
        """
        if self._pool is None:
            raise TransportError(TransportErrorKind.PROTOCOL, "the session is not open", host=self.label)
        known = [secret for call in calls for secret in secrets_in(call.parameters)]
        budgets = [call.timeout_s for call in calls]
        started = time.monotonic()
        shell = _StatementsShell(self._pool, calls)
        error: TransportError | None = None
        try:
            with self._translated(known):
                shell.begin_invoke()  # one Command request; then one Receive per poll until the pipeline ends
                deadline = started + sum(budgets)
                while shell.state == PIPELINE_RUNNING:
                    if time.monotonic() >= deadline:
                        self._stop(shell)
                        left = sum(budgets[len(shell.ends):])
                        message = f"the step did not finish within {left:g}s"
                        error = TransportError(TransportErrorKind.TIMEOUT, message, host=self.label, transient=True)
                        break
                    seen = len(shell.ends)
                    self._poll(shell, deadline)
                    if len(shell.ends) > seen:  # a script finished: the rest have their whole budgets from now
                        deadline = time.monotonic() + sum(budgets[len(shell.ends):])
        except TransportError as fault:
            error = fault
        ended = error is None and shell.state != PIPELINE_RUNNING
        return BatchRun(_split_runs(shell, len(calls), ended, started, known), error)

    def _poll(self, shell: PowerShell, deadline: float) -> None:
        """One Receive that ends by the deadline. No answer in time: the next poll sends it again."""
        timeout = poll_timeout(deadline - time.monotonic(), self.options.operation_timeout)
        try:
            shell.poll_invoke(timeout=timeout)  # type: ignore[arg-type]  # an xs:duration takes fractions
        except requests.exceptions.Timeout:
            # The connection that timed out is gone, and the message sealing with it: log on again (as pypsrp
            # does before it sends a Receive again).
            if self._wsman is not None:
                self._wsman.transport.encryption = None
            time.sleep(max(0.0, min(self.options.receive_backoff, deadline - time.monotonic())))

    def _stop(self, shell: PowerShell) -> None:
        with suppress(*_LIBRARY_ERRORS):  # the host may be gone; the timeout is what we report
            shell.stop()


# Between the statements of one invocation: a value no script can guess, so none can fake the end of a step.
_STEP_END = f"remediate-step-end-{random_tokens.token_hex(16)}"
_SERIALIZED_LIMIT = 128  # invocations whose serialized Command message is kept for reuse
_SERIALIZED: OrderedDict[bytes, bytes] = OrderedDict()  # reuse key -> the CREATE_PIPELINE message's CLIXML
_DESERIALIZED: OrderedDict[str, Any] = OrderedDict()  # received messages that pypsrp only reads, by content
_SERIALIZED_LOCK = threading.Lock()
_READ_ALIKE = (ApplicationPrivateData, SessionCapability, RunspacePoolInitData, RunspacePoolStateMessage, PipelineState)


class _Pipeline(Pipeline):
    """pypsrp's Pipeline without its deep copy of every command for each serialization (a safeguard for lxml;
    remediate serializes with ElementTree, which builds new elements each time)."""

    def _get_statements(self) -> list[list[Any]]:
        statements: list[list[Any]] = []
        current: list[Any] = []
        commands: list[Any] = self.commands or []
        commands[-1].end_of_statement = True
        for command in commands:
            current.append(command)
            if command.end_of_statement:
                statements.append(current)
                current = []
        return statements


class _ReusedSerializer(Serializer):
    """pypsrp's serializer, keeping what every host of a fleet exchanges alike.

    Sent: the serialized Command message of an invocation, for the next invocation of the same scripts with the
    same values (a fleet sends the same steps to every host): pypsrp serializes it afresh each time, and it holds
    no id of the pool or the pipeline (those are in the message header). Received: the messages that open a pool
    and that end a pipeline (capability, private data, init data, states), which hosts of one build send byte for
    byte alike and pypsrp only reads.
    """

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        kind = getattr(metadata, "object", None)
        if kind not in _READ_ALIKE or not isinstance(element, str):
            return super().deserialize(element, metadata, clear)
        key = kind.__name__ + "\0" + element
        with _SERIALIZED_LOCK:
            kept = _DESERIALIZED.get(key)
            if kept is not None:
                _DESERIALIZED.move_to_end(key)
                return kept
        value = super().deserialize(element, metadata, clear)
        with _SERIALIZED_LOCK:
            _DESERIALIZED[key] = value
            while len(_DESERIALIZED) > _SERIALIZED_LIMIT:
                _DESERIALIZED.popitem(last=False)
        return value

    def serialize(
        self, value: Any, metadata: Any = None, parent: Any = None, clear: bool = True
    ) -> Any:
        key = getattr(value, "reuse_key", None)
        if key is None or parent is not None or metadata is not None:
            return super().serialize(value, metadata, parent, clear)
        with _SERIALIZED_LOCK:
            kept = _SERIALIZED.get(key)
            if kept is not None:
                _SERIALIZED.move_to_end(key)
                return kept
        element = super().serialize(value)
        assert element is not None  # a CREATE_PIPELINE message always serializes to an element
        data = ElementTree.tostring(element, encoding="utf-8", method="xml")
        with _SERIALIZED_LOCK:
            _SERIALIZED[key] = data
            while len(_SERIALIZED) > _SERIALIZED_LIMIT:
                _SERIALIZED.popitem(last=False)
        return data


class _KeyedCreatePipeline(CreatePipeline):
    """A CREATE_PIPELINE message that names what it holds (a digest of its scripts and values)."""

    reuse_key: bytes


class _StatementsShell(PowerShell):
    """A pypsrp PowerShell that runs scripts as statements, keeping output and records in the order they came,
    and where each statement ended (`ends`: when each step-end marker was received)."""

    def __init__(self, pool: RunspacePool, calls: Sequence[ScriptCall]) -> None:
        super().__init__(pool)
        self.events: list[tuple[str, Any]] = []  # ("output" | "error" | "warning" | "end", value)
        self.ends: list[float] = []
        digest = hashlib.sha256()
        for index, call in enumerate(calls):
            if index:
                self.add_cmdlet("Write-Output").add_parameter("InputObject", _STEP_END).add_statement()
            self.add_script(call.script)
            digest.update(b"\0script\0" + call.script.encode("utf-8"))
            for name, value in call.parameters.items():
                revealed = reveal(value)
                self.add_parameter(name, revealed)
                digest.update(b"\0parameter\0" + repr((name, revealed)).encode("utf-8"))
            if index < len(calls) - 1:
                self.add_statement()
        self._reuse_key = digest.digest()
        self._errors_taken = 0
        self._warnings_taken = 0

    def begin_invoke(self) -> None:  # type: ignore[override]  # no input, no options: what steps need
        pool = self.runspace_pool
        pipeline = _Pipeline(is_nested=False, cmds=self.commands, history=None, redirect_err_to_out=False)
        message = _KeyedCreatePipeline(
            True,
            ApartmentState(value=pool.apartment_state),
            RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
            False,
            HostInfo(host=pool.host),
            pipeline,
            False,
        )
        message.reuse_key = self._reuse_key
        self._invoke(message)

    def poll_invoke(self, timeout: int | None = None) -> None:
        try:
            responses = self.runspace_pool._receive(self.id, timeout=timeout)
        except WSManFaultError as fault:
            if _as_int(fault.code) == WSManFault.OPERATION_TIMEOUT:
                return  # nothing happened yet: poll again
            raise
        for kind, value in responses:
            if kind == MessageType.PIPELINE_OUTPUT:
                item = value.data.data
                self.output.append(item)
                if item == _STEP_END:
                    self.ends.append(time.monotonic())
                    self.events.append(("end", None))
                else:
                    self.events.append(("output", item))
            elif kind in (MessageType.ERROR_RECORD, MessageType.PIPELINE_STATE):
                # pypsrp has added the record (a failed pipeline's too) to streams.error, in this order
                while self._errors_taken < len(self.streams.error):
                    self.events.append(("error", self.streams.error[self._errors_taken]))
                    self._errors_taken += 1
            elif kind == MessageType.WARNING_RECORD:
                while self._warnings_taken < len(self.streams.warning):
                    self.events.append(("warning", self.streams.warning[self._warnings_taken]))
                    self._warnings_taken += 1


def _split_runs(
    shell: _StatementsShell, count: int, ended: bool, started: float, known: list[Secret | ProductKey]
) -> list[ScriptRun]:
    """One ScriptRun per script that finished: those followed by a marker, and the last one to run when the
    pipeline ended (completed, or failed by that script)."""
    groups: list[list[tuple[str, Any]]] = [[]]
    for kind, value in shell.events:
        if kind == "end":
            groups.append([])
        else:
            groups[-1].append((kind, value))
    finished = len(groups) - 1 + (1 if ended else 0)
    failed = ended and shell.state == PIPELINE_FAILED
    runs: list[ScriptRun] = []
    now = time.monotonic()
    for index in range(min(finished, count)):
        began = shell.ends[index - 1] if index else started
        stopped = shell.ends[index] if index < len(shell.ends) else now
        run = _collect(groups[index], failed and index == len(groups) - 1, known)
        run.duration_s = stopped - began
        runs.append(run)
    return runs


def _collect(events: list[tuple[str, Any]], failed: bool, known: list[Secret | ProductKey]) -> ScriptRun:
    """One script's ScriptRun from its output and records; `failed`: it ended the pipeline with a throw."""
    redactor = Redactor(known, max_text=None)  # masks only; the audit log truncates
    errors = [redactor.text(_record_text(value)) for kind, value in events if kind == "error"]
    warnings = [redactor.text(str(value)) for kind, value in events if kind == "warning"]
    output = [value for kind, value in events if kind == "output" and value is not None]
    if failed:
        message = errors[-1] if errors else "the script failed"
        return _failed(message, errors, warnings)
    if not output:
        message = "the script printed no result" + (f": {errors[-1]}" if errors else "")
        return _failed(message, errors, warnings)
    last = output[-1]
    if not isinstance(last, str):
        message = f"the script's last output is a {type(last).__name__}, not the JSON result"
        return _failed(message, errors, warnings)
    try:
        result = StepResult.from_json(last)
    except ResultFormatError as error:
        message = redactor.text(error.message)
        return _failed(message, errors, warnings)
    if known:  # a script that echoes a key back must not carry it further
        result = replace(result, output=redactor.text(result.output))
    return ScriptRun(result, errors=errors, warnings=warnings)


def _failed(message: str, errors: list[str], warnings: list[str]) -> ScriptRun:
    return ScriptRun(StepResult.failure(message), script_error=message, errors=errors, warnings=warnings)
