"""The transport's error texts told in the reader's language, at display time.

remediate/transport.py writes what went wrong talking to a host in English (`refused: the connection was refused
(WinRM not listening, or the host is down)`): the audit log, JSON, CSV and JUnit keep it so. Views tell it with
`tell(text, language)`: the kind and each known text in `language`; a text from a library or the OS that is not
known here stays as it was written.
"""

from __future__ import annotations

import re
import string
from functools import cache

from remediate.errors import TransportErrorKind
from remediate.i18n import N_, gettext_in

# A kind (the text before `: `) -> its word for a reader; English readers see the kind itself.
KINDS: dict[str, str] = {
    TransportErrorKind.DNS.value: N_("name resolution"),
    TransportErrorKind.REFUSED.value: N_("connection refused"),
    TransportErrorKind.TIMEOUT.value: N_("no answer in time"),
    TransportErrorKind.TLS.value: N_("TLS"),
    TransportErrorKind.AUTH.value: N_("logon"),
    TransportErrorKind.QUOTA.value: N_("WinRM quota"),
    TransportErrorKind.PROTOCOL.value: N_("protocol"),
    TransportErrorKind.SCRIPT.value: N_("script"),
}

# The texts remediate/transport.py writes (and pypsrp's refused logon), each whole; a field matches any text (a
# detail may be empty) and is told again (a known text may hold another: "the host's SPN" stands for a name).
KNOWN: tuple[str, ...] = (
    N_("the host name does not resolve"),
    N_("the connection was refused (WinRM not listening, or the host is down)"),
    N_("the connection was dropped by the host"),
    N_("the connection was dropped before an answer came"),
    N_("the connection timed out"),
    N_("could not connect"),
    N_("timed out while connecting"),
    N_("the host did not answer in time"),
    N_("authentication failed (HTTP 401)"),
    N_("authentication failed: {detail}"),
    N_("the host refused the client certificate"),
    N_("Failed to authenticate the user {user} with {auth}"),
    N_("CredSSP: the host refused the user name or password"),
    N_("CredSSP: the host refused the logon (status {status})"),
    N_("CredSSP: authentication failed: {detail}"),
    N_("TLS failed (certificate not trusted, or not TLS): {detail}"),
    N_("WinRM quota reached: {detail}"),
    N_("WS-Management fault {code}: {reason}"),
    N_("the host answered HTTP {code}"),
    N_("WinRM protocol error: {detail}"),
    N_("the session is not open"),
    N_("the step did not finish within {seconds}s"),
    # Kerberos (transport.kerberos_problem)
    N_("Kerberos: clock skew: this machine's clock and the KDC's differ by more than Kerberos allows (5 minutes by "
       "default); set the time right (NTP; on Windows w32tm /resync) and try again"),
    N_("Kerberos: clock skew: the host refused the ticket: its clock and this machine's (or the KDC's) differ by "
       "more than Kerberos allows (5 minutes by default); set the time right (NTP; on Windows w32tm /resync) and "
       "try again"),
    N_("Kerberos: clock skew: the clocks of this machine, the KDC and the host differ by more than Kerberos allows "
       "(5 minutes by default); set the time right (NTP; on Windows w32tm /resync) and try again"),
    N_("Kerberos: the KDC refused the password of {user} (wrong password)"),
    N_("Kerberos: the KDC does not know the user {user} (give the user as user@REALM, e.g. ops@CORP.EXAMPLE.COM)"),
    N_("Kerberos: the KDC does not know the user {user}"),
    N_("Kerberos: the account {user} is disabled or locked out"),
    N_("Kerberos: the password of {user} has expired; change it, then try again"),
    N_("Kerberos: the KDC knows no service principal {spn} (missing SPN): reach the host by the name its SPN is "
       "registered for (its DNS name, not an address or alias), or register the SPN (setspn -S {same_spn} "
       "<computer account>); --spn-service changes the service part"),
    N_("Kerberos: the host cannot decrypt its ticket for {spn}: the SPN is registered to another account than the "
       "host's (setspn -Q {same_spn}), or the host lacks its key"),
    N_("Kerberos: the host's key for {spn} is out of date (key version): the host's keytab or computer account "
       "password changed on one side only"),
    N_("Kerberos: the ticket has expired; get a new one (kinit) and try again"),
    N_("Kerberos: no KDC could be reached ({detail}); check the realm's kdc entries in krb5.conf, or its DNS SRV "
       "records and port 88"),
    N_("Kerberos: no ticket for {user} ({detail}); run kinit, or set REMEDIATE_USERNAME and REMEDIATE_PASSWORD"),
    N_("the user of the ticket cache"),
    N_("the host's SPN"),
)
# What transport.py adds after a refused logon (what the refusal may mean with this auth).
NOTES: tuple[str, ...] = (
    N_("; with --auth negotiate a Kerberos failure (wrong password, missing SPN, clock skew) silently falls back "
       "to NTLM, which the host refused or does not allow: --auth kerberos reports Kerberos' own reason"),
    N_("; the host maps no account to this client certificate (WinRM's certificate mapping: the user principal "
       "name in the certificate, and its issuing CA)"),
)


def tell(text: str, language: str) -> str:
    """`text` (a transport error, `kind: message` or a message alone) in `language`."""
    if language == "en" or not text:
        return text
    kind, colon, message = text.partition(": ")
    if colon and kind in KINDS:
        return kind_word(kind, language) + ": " + _message(message, language)
    return _message(text, language)


def kind_word(kind: str, language: str) -> str:
    """A kind of transport error (refused, auth, ...) in `language`."""
    kind = str(kind)  # a TransportErrorKind is looked up by its value
    return gettext_in(language, KINDS[kind]) if language != "en" and kind in KINDS else kind


def _message(text: str, language: str) -> str:
    for note in NOTES:
        if text.endswith(note) and len(text) > len(note):
            return _message(text[: -len(note)], language) + gettext_in(language, note)
    for template, pattern in _patterns():
        found = pattern.fullmatch(text)
        if found:
            fields = {name: _message(value, language) for name, value in found.groupdict().items()}
            return gettext_in(language, template).format_map(fields)
    return text


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each known text as a pattern: its words as written, each field any text (a detail may be empty)."""
    patterns = []
    for template in KNOWN:
        parts = []
        for literal, name, _, _ in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if name:
                parts.append(f"(?P<{name}>.*)" if name == "detail" else f"(?P<{name}>.+?)")
        patterns.append((template, re.compile("".join(parts), re.DOTALL)))
    return patterns
