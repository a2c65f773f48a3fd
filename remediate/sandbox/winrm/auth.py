"""HTTP authentication as WinRM does it: Basic, or NTLM / Negotiate / Kerberos with WinRM message encryption.

NTLM binds to the TCP connection: one ConnectionAuth lives as long as its connection, and the server handles
that connection's requests strictly in order (NTLM sealing uses sequence numbers).

CredSSP runs pyspnego's CredSSP acceptor (a TLS channel inside HTTP, NTLM inside that, then the user's password
delegated to the host, which must be the account's); its message encryption is TLS records, in chunks of 16 KiB
(multipart/x-multi-encrypted) as Windows sends them.

Certificate authentication (HTTPS only) maps the client certificate's UPN to the account, as WinRM's certificate
mapping does; the TLS layer has already checked that the sandbox CA issued it.

Kerberos is accepted through pyspnego's acceptor (MIT GSSAPI) with the hosts' service keys from a keytab
(ServiceKeytab). A ticket the host cannot accept (clock skew, a ticket for another service, a key the keytab
lacks) is answered as Windows answers it: 401 with the Kerberos error token, from which the client learns why.
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import spnego
import spnego.exceptions
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.channel_bindings import GssChannelBindings

from remediate.sandbox.winrm.tls import certificate_upn

# kerberos: Negotiate with Kerberos only, as a domain that switched NTLM off ("Restrict NTLM: deny all").
AuthScheme = Literal["basic", "ntlm", "negotiate", "kerberos", "credssp", "certificate"]
AUTH_SCHEMES: tuple[AuthScheme, ...] = ("basic", "ntlm", "negotiate", "kerberos", "credssp", "certificate")
# The schemes whose logon is NTLM (or may be), so whose account goes into the NTLM user file.
NTLM_SCHEMES: tuple[AuthScheme, ...] = ("ntlm", "negotiate", "kerberos", "credssp")
# What a client sends as its Authorization for certificate authentication (MS-WSMV; pypsrp sends it so).
CERTIFICATE_PROFILE = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

_BOUNDARY = b"--Encrypted Boundary"
_SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_CREDSSP_PROTOCOL = "application/HTTP-CredSSP-session-encrypted"
_CREDSSP_CHUNK = 16384  # Windows seals CredSSP messages in chunks of 16 KiB, as multipart/x-multi-encrypted
_LENGTH = re.compile(rb"Length=(\d+)")
_SPNEGO_OID = b"\x06\x06\x2b\x06\x01\x05\x05\x02"  # 1.3.6.1.5.5.2 as DER, inside a SPNEGO initial token
_KERBEROS_OID = "1.2.840.113554.1.2.2"


@dataclass(frozen=True)
class Credentials:
    """The one account a sandbox host accepts. `username` is `DOMAIN\\user` or a bare `user`."""

    username: str
    password: str = field(repr=False)

    @property
    def domain(self) -> str:
        return self.username.split("\\", 1)[0] if "\\" in self.username else ""

    @property
    def user(self) -> str:
        return self.username.split("\\", 1)[1] if "\\" in self.username else self.username

    def matches(self, username: str, password: str) -> bool:
        """Windows compares user names case-insensitively and passwords exactly."""
        return username.lower() == self.username.lower() and password == self.password

    def is_principal(self, principal: str | None) -> bool:
        """Whether a logon's principal is this account: `DOMAIN\\user` (NTLM), or `user@REALM` (Kerberos) whose
        realm's first label is the domain (SANDBOX.TEST for sandbox\\admin)."""
        if not principal:
            return False
        if "@" in principal:
            user, _, realm = principal.rpartition("@")
            domain_matches = not self.domain or realm.split(".")[0].lower() == self.domain.lower()
            return user.lower() == self.user.lower() and domain_matches
        return principal.split("\\")[-1].lower() == self.user.lower()


class NTLMUserFile:
    """The process-wide credential file pyspnego's NTLM acceptor reads (env NTLM_USER_FILE).

    The variable is set once, before the first acceptor exists; later fleets add their accounts to that file.
    The acceptor takes the first line matching a user, so one process cannot serve one user name with two
    passwords at once: register() refuses that while the other fleet still runs.
    """

    _lock = threading.Lock()
    _path: Path | None = None
    _accounts: ClassVar[dict[tuple[str, str], tuple[str, int]]] = {}  # (domain, user) -> (password, users)

    @classmethod
    def register(cls, credentials: Credentials) -> None:
        key = cls._account(credentials)
        with cls._lock:
            password, holders = cls._accounts.get(key, (credentials.password, 0))
            if holders and password != credentials.password:
                raise ValueError(
                    f"the user {credentials.username} is already served with another password in this "
                    "process; use another user name or the same password"
                )
            cls._accounts[key] = (credentials.password, holders + 1)
            cls._write()

    @classmethod
    def unregister(cls, credentials: Credentials) -> None:
        key = cls._account(credentials)
        with cls._lock:
            password, holders = cls._accounts.get(key, (credentials.password, 0))
            if holders <= 1:
                cls._accounts.pop(key, None)
            else:
                cls._accounts[key] = (password, holders - 1)
            cls._write()

    @staticmethod
    def _account(credentials: Credentials) -> tuple[str, str]:
        """The file's key for an account: Windows matches domain and user name case-insensitively."""
        return (credentials.domain.lower(), credentials.user.lower())

    @classmethod
    def _write(cls) -> None:
        if cls._path is None:
            handle, name = tempfile.mkstemp(prefix="remediate-sandbox-ntlm-", suffix=".txt")
            os.close(handle)
            cls._path = Path(name)
            atexit.register(cls._remove)
        # smbpasswd lines (DOMAIN\\user:uid:LM hash:NT hash:flags:last change): the acceptor reads the hashes
        # instead of computing them, LM's DES in pure Python included, on every logon
        lines = [
            f"{domain}\\{user}:0:{lmowfv1(password).hex().upper()}:{ntowfv1(password).hex().upper()}:"
            "[U          ]:LCT-00000000"
            for (domain, user), (password, _) in cls._accounts.items()
        ]
        cls._path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.environ["NTLM_USER_FILE"] = str(cls._path)

    @classmethod
    def _remove(cls) -> None:
        if cls._path is not None:
            cls._path.unlink(missing_ok=True)


class ServiceKeytab:
    """The process-wide keytab (env KRB5_KTNAME) from which pyspnego's Kerberos acceptor takes the service keys.

    MIT Kerberos reads one keytab per process: fleets running side by side share it, so a second fleet with
    another keytab is refused while the first still runs. When the last one stops, KRB5_KTNAME is as before.
    """

    _lock = threading.Lock()
    _path: ClassVar[str | None] = None
    _users: ClassVar[int] = 0
    _before: ClassVar[str | None] = None

    @classmethod
    def register(cls, path: Path) -> None:
        name = f"FILE:{Path(path).resolve()}"
        with cls._lock:
            if cls._users and name != cls._path:
                raise ValueError(f"this process already serves Kerberos with the keytab {cls._path}; one keytab "
                                 "serves a process (put every host's keys in it)")
            if not cls._users:
                cls._before = os.environ.get("KRB5_KTNAME")
            cls._path, cls._users = name, cls._users + 1
            os.environ["KRB5_KTNAME"] = name

    @classmethod
    def unregister(cls) -> None:
        with cls._lock:
            cls._users = max(0, cls._users - 1)
            if cls._users == 0:
                cls._path = None
                if cls._before is None:
                    os.environ.pop("KRB5_KTNAME", None)
                else:
                    os.environ["KRB5_KTNAME"] = cls._before


def _kerberos_refusal(context: Any, client_token: bytes) -> bytes | None:
    """The Kerberos error token (KRB-ERROR) to answer a refused Kerberos logon with, as Windows does; None when
    the logon was not Kerberos or the acceptor made none.

    pyspnego hides why MIT's acceptor refused: GSSAPI keeps the error on the inner security context (its
    `_last_err`, deferred so that the error token can still be sent) and pyspnego then fails with a misleading
    AttributeError. The error and its token are dug out here.
    """
    inner = context
    if inner is not None and hasattr(inner, "_context_list"):  # pyspnego's Negotiate wrapper: the chosen mech
        try:
            inner = inner._context
        except (KeyError, StopIteration, AttributeError):
            return None
    security_context = getattr(inner, "_context", None)
    failure = getattr(security_context, "_last_err", None)
    token: bytes | None = getattr(failure, "token", None)
    if not token:
        return None
    if client_token.startswith(b"\x60") and _SPNEGO_OID in client_token[:16]:
        from spnego._spnego import NegState, NegTokenResp  # the SPNEGO reply Windows wraps the error in

        return bytes(NegTokenResp(NegState.reject, _KERBEROS_OID, token).pack())
    return token


@dataclass
class AuthDecision:
    """What the server answers to a request's Authorization header."""

    accepted: bool  # False: answer 401 with `headers` and no body
    headers: list[tuple[str, str]] = field(default_factory=list)
    username: str | None = None


class ConnectionAuth:
    """Authentication and message-encryption state of one TCP connection."""

    def __init__(
        self,
        scheme: AuthScheme,
        credentials: Credentials,
        reject_all: bool = False,
        channel_binding: bytes | None = None,
        peer_certificate: bytes | None = None,
    ) -> None:
        self.scheme = scheme
        self.peer_certificate = peer_certificate  # certificate: the client's TLS certificate (DER), if it sent one
        self.credentials = credentials
        self.reject_all = reject_all  # every attempt fails, as with wrong credentials
        # over HTTPS: NTLM must be bound to this TLS channel (Windows' CbtHardeningLevel "Relaxed" checks it)
        self.channel_binding = channel_binding
        self.username: str | None = None
        self._context: Any = None  # a pyspnego acceptor, once a handshake started
        self._established = False

    @property
    def challenge(self) -> str:
        return {"basic": 'Basic realm="WSMAN"', "credssp": "CredSSP"}.get(self.scheme, "Negotiate")

    def check(self, authorization: str | None) -> AuthDecision:
        """Decide about one request. Basic authenticates every request; NTLM once per connection."""
        if self.scheme == "basic":
            return self._check_basic(authorization)
        if self.scheme == "certificate":
            return self._check_certificate(authorization)
        if self._established and not authorization:
            return AuthDecision(True, username=self.username)
        if self.scheme == "credssp":
            return self._step_credssp(authorization)
        return self._step_negotiate(authorization)

    def _refuse(self) -> AuthDecision:
        self._context = None
        self._established = False
        return AuthDecision(False, [("WWW-Authenticate", self.challenge)])

    def _check_basic(self, authorization: str | None) -> AuthDecision:
        if not authorization or not authorization.lower().startswith("basic "):
            return self._refuse()
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return self._refuse()
        username, _, password = decoded.partition(":")
        if self.reject_all or not self.credentials.matches(username, password):
            return self._refuse()
        self.username = username
        return AuthDecision(True, username=username)

    def _check_certificate(self, authorization: str | None) -> AuthDecision:
        if (authorization or "").strip() != CERTIFICATE_PROFILE or self.peer_certificate is None:
            return self._refuse()
        upn = certificate_upn(self.peer_certificate)
        if self.reject_all or not self.credentials.is_principal(upn):
            return self._refuse()
        self.username = upn
        return AuthDecision(True, username=upn)

    def _step_credssp(self, authorization: str | None) -> AuthDecision:
        scheme, _, token_text = (authorization or "").partition(" ")
        if scheme.lower() != "credssp" or not token_text.strip():
            return self._refuse()
        try:
            if self._context is None or self._established:
                self._established = False
                self._context = spnego.server(protocol="credssp")
            out_token = self._context.step(base64.b64decode(token_text.strip()))
        except (spnego.exceptions.SpnegoError, ValueError):
            return self._refuse()
        if not self._context.complete:
            token = base64.b64encode(out_token or b"").decode()
            return AuthDecision(False, [("WWW-Authenticate", f"CredSSP {token}")])
        delegated = self._context.get_extra_info("client_credential")
        user = f"{delegated.domain_name}\\{delegated.username}" if getattr(delegated, "domain_name", "") else (
            getattr(delegated, "username", ""))
        if self.reject_all or not self.credentials.matches(user, getattr(delegated, "password", "")):
            return self._refuse()  # the password the client delegated is not the account's
        self._established = True
        self.username = user
        return AuthDecision(True, username=user)

    def _step_negotiate(self, authorization: str | None) -> AuthDecision:
        if not authorization:
            return self._refuse()
        scheme, _, token_text = authorization.partition(" ")
        if scheme.lower() not in ("negotiate", "ntlm", "kerberos") or not token_text.strip():
            return self._refuse()
        try:
            token = base64.b64decode(token_text.strip())
        except ValueError:
            return self._refuse()
        try:
            if self._context is None or self._established:
                self._established = False
                bindings = (
                    GssChannelBindings(application_data=self.channel_binding)
                    if self.channel_binding
                    else None
                )
                self._context = spnego.server(
                    protocol="negotiate",
                    options=spnego.NegotiateOptions.wrapping_winrm,
                    channel_bindings=bindings,
                )
            out_token = self._context.step(token)
        except (spnego.exceptions.SpnegoError, ValueError, AttributeError):
            refusal = _kerberos_refusal(self._context, token)
            decision = self._refuse()
            if refusal:
                decision.headers = [("WWW-Authenticate", f"Negotiate {base64.b64encode(refusal).decode()}")]
            return decision
        if self.scheme == "kerberos" and self._context.negotiated_protocol != "kerberos":
            return self._refuse()  # NTLM is switched off on this host
        reply = "Negotiate" + (f" {base64.b64encode(out_token).decode()}" if out_token else "")
        if not self._context.complete:
            return AuthDecision(False, [("WWW-Authenticate", reply)])
        if self.reject_all or not self.credentials.is_principal(self._context.client_principal):
            return self._refuse()
        self._established = True
        self.username = self._context.client_principal
        return AuthDecision(True, [("WWW-Authenticate", reply)] if out_token else [], self.username)

    def unwrap(self, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted request body (WinRM message encryption)."""
        if not self._established:
            raise ValueError("encrypted message on a connection without a security context")
        parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
        message = b""
        for index in range(0, len(parts) - 1, 2):
            length_match = _LENGTH.search(parts[index])
            payload = parts[index + 1]
            if payload.endswith(_BOUNDARY + b"--\r\n"):
                payload = payload[: -len(_BOUNDARY + b"--\r\n")]
            payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            header_length = struct.unpack("<i", payload[:4])[0]
            header = payload[4 : 4 + header_length]
            plain: bytes = self._context.unwrap_winrm(header, payload[4 + header_length :])
            if length_match and int(length_match.group(1)) != len(plain):
                raise ValueError("decrypted length does not match the announced length")
            message += plain
        return message

    def wrap(self, message: bytes) -> tuple[str, bytes]:
        """Encrypt a response body; returns the Content-Type and the multipart body."""
        protocol, kind = _SPNEGO_PROTOCOL, "multipart/encrypted"
        chunks = [message]
        if self.scheme == "credssp":
            protocol = _CREDSSP_PROTOCOL
            chunks = [message[start : start + _CREDSSP_CHUNK] for start in range(0, len(message), _CREDSSP_CHUNK)]
            kind = "multipart/x-multi-encrypted" if len(chunks) > 1 else kind
        body = b"".join(self._wrap_part(chunk, protocol) for chunk in chunks) + _BOUNDARY + b"--\r\n"
        return f'{kind};protocol="{protocol}";boundary="Encrypted Boundary"', body

    def _wrap_part(self, message: bytes, protocol: str) -> bytes:
        header: bytes
        wrapped: bytes
        header, wrapped, padding = self._context.wrap_winrm(message)
        head = "\r\n".join(
            [
                _BOUNDARY.decode(),
                f"\tContent-Type: {protocol}",
                f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(message) + padding}",
                _BOUNDARY.decode(),
                "\tContent-Type: application/octet-stream",
                "",
            ]
        ).encode()
        return head + struct.pack("<i", len(header)) + header + wrapped
