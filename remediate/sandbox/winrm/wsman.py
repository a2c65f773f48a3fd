"""WS-Management envelopes: parse a request, build responses and faults shaped as Windows sends them."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "pwsh": "http://schemas.microsoft.com/powershell",
}

ACTION_PREFIX_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
ACTION_PREFIX_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
RESOURCE_POWERSHELL = "http://schemas.microsoft.com/powershell/"
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
RESOURCE_CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
COMMAND_STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
COMMAND_STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def valid_timeout(text: str) -> bool:
    """Whether an OperationTimeout header, if present, is a duration Windows takes (PT-1S is not)."""
    return not text or bool(_DURATION.match(text))


def parse_duration(text: str | None, default: float) -> float:
    """xs:duration as WS-Man uses it (PT20S, PT20.000S, PT1M) -> seconds."""
    match = _DURATION.match((text or "").strip())
    if not match:
        return default
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


@dataclass(frozen=True)
class ProviderFault:
    """The plugin a fault comes from (f:ProviderFault), e.g. the cmd shell plugin."""

    provider: str
    path: str


class WSManFault(Exception):
    """A fault the server answers with HTTP 500, as Windows does.

    reason: the SOAP Reason text, where Windows words it apart from the WSManFault message (default: the message);
    detail: the w:FaultDetail URI Windows adds to some faults; provider: set when a shell plugin raised it (the
    message then sits inside f:ProviderFault)."""

    def __init__(
        self,
        code: int,
        subcode: str,
        message: str,
        soap_code: str = "s:Receiver",
        *,
        reason: str | None = None,
        detail: str | None = None,
        provider: ProviderFault | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.message = message
        self.soap_code = soap_code
        self.reason = reason or message
        self.detail = detail
        self.provider = provider


def operation_timeout_fault() -> WSManFault:
    # worded as Windows words it: its text ends with a space before the one every fault text ends with
    # (pypsrp's recorded exchange test_winrs_operation_timeout.yml)
    return WSManFault(
        2150858793,
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in "
        "OperationTimeout. ",
    )


def shell_not_found_fault(shell_id: str) -> WSManFault:
    return WSManFault(
        2150858843,
        "w:InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
        soap_code="s:Sender",
    )


# The quota faults: codes from wsmerror.h (ERROR_WSMAN_QUOTA_MAX_SHELLS 0x803381A5, ERROR_WSMAN_QUOTA_MAX_OPERATIONS
# 0x803381A6), texts as Windows words them in public reports of both faults (reference/winrm-sandbox-notes.md,
# "Quota fault codes"), subcode wsman:QuotaLimit (MS-WSMV 3.1.4.5.2.1).


def shells_quota_fault(max_shells: int) -> WSManFault:
    """A Create beyond MaxShellsPerUser."""
    return WSManFault(
        2150859173,
        "w:QuotaLimit",
        "The WS-Management service cannot process the request. This user is allowed a maximum number of "
        f"{max_shells} concurrent shells, which has been exceeded. Close existing shells or raise the quota "
        "for this user.",
    )


def operations_quota_fault(max_operations: int) -> WSManFault:
    """A Command beyond MaxConcurrentOperationsPerUser."""
    return WSManFault(
        2150859174,
        "w:QuotaLimit",
        "The WS-Management service cannot process the request. This user is allowed a maximum number of "
        f"{max_operations} concurrent operations, which has been exceeded. Close existing operations for this "
        "user, or raise the quota for this user.",
    )


def already_exists_fault() -> WSManFault:
    """A Create naming a ShellId that is in use (ERROR_WSMAN_ALREADY_EXISTS 0x80338033, wsmerror.h)."""
    return WSManFault(
        2150858803,
        "w:AlreadyExists",
        "The WS-Management service cannot create the resource because it already exists.",
        soap_code="s:Sender",
    )


def unsupported_fault(what: str) -> WSManFault:
    return WSManFault(
        2150858771,
        "w:ActionNotSupported",
        f"The WS-Management service cannot process the request. The action is not supported: {what}",
        soap_code="s:Sender",
    )


def invalid_fault(message: str) -> WSManFault:
    return WSManFault(2150858817, "w:InvalidParameter", message, soap_code="s:Sender")


_FAULT_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"
CMD_PLUGIN = ProviderFault("Shell cmd plugin", "%systemroot%\\system32\\winrscmd.dll")


def command_not_found_fault(command_id: str | None, shell_id: str) -> WSManFault:
    """A Receive, Send or Signal for a command the shell does not have (ERROR_WSMAN_INVALID_SELECTORS; the
    recorded exchange test_psrp_receive_failure.yml in pypsrp's tests)."""
    return WSManFault(
        2150858843,
        "w:InvalidSelectors",
        "The Windows Remote Shell received a request to perform an operation on a command identifier that does "
        "not exist. Either the command has completed execution or the client specified an invalid command "
        "identifier.",
        soap_code="s:Sender",
        reason="The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource.",
        detail=_FAULT_DETAIL + "UnexpectedSelectors",
    )


def cmd_parameter_fault() -> WSManFault:
    """What the cmd shell plugin answers a request it cannot take, such as a Receive that names no command
    (ERROR_INVALID_PARAMETER, 87; the recorded exchange test_winrs_fail_poll_process.yml)."""
    return WSManFault(
        87,
        "w:InvalidParameter",
        "The parameter is incorrect.",
        soap_code="s:Sender",
        detail=_FAULT_DETAIL + "InvalidValue",
        provider=CMD_PLUGIN,
    )


def invalid_timeout_fault(text: str) -> WSManFault:
    """An OperationTimeout header that is not a positive xs:duration (ERROR_WSMAN_INVALID_HEADER, 0x8033800F;
    the recorded exchange test_psrp_is_alive_other_wsman_error.yml, for PT-1S)."""
    return WSManFault(
        2150858767,
        "a:InvalidMessageInformationHeader",
        f"The WS-Management service cannot process the request. The XML contains an invalid timeout field in the "
        f"SOAP header: {text}.",
        soap_code="s:Sender",
        reason="The WS-Management service cannot process the request. The request contains one or more invalid "
        "SOAP headers.",
    )


@dataclass
class Request:
    """One parsed WS-Man request."""

    action: str
    resource_uri: str
    message_id: str
    operation_timeout: float
    max_envelope_size: int
    operation_timeout_text: str = ""  # as written; checked by valid_timeout()
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None

    @property
    def verb(self) -> str:
        """The last part of the action URI: Create, Command, Send, Receive, Signal, Delete, Get, ..."""
        return self.action.rstrip("/").rsplit("/", 1)[-1]

    @property
    def shell_id(self) -> str | None:
        return self.selectors.get("ShellId")


def _tag(qualified: str) -> str:
    """`wsman:Selector` as ElementTree names it, `{namespace}Selector`: a name it finds without a path search."""
    prefix, _, local = qualified.partition(":")
    return "{" + NS[prefix] + "}" + local


_HEADER, _BODY = _tag("s:Header"), _tag("s:Body")
_SELECTOR_SET, _SELECTOR = _tag("wsman:SelectorSet"), _tag("wsman:Selector")
_OPTION_SET, _OPTION = _tag("wsman:OptionSet"), _tag("wsman:Option")
_ACTION, _MESSAGE_ID = _tag("wsa:Action"), _tag("wsa:MessageID")
_RESOURCE_URI, _OPERATION_TIMEOUT = _tag("wsman:ResourceURI"), _tag("wsman:OperationTimeout")
_MAX_ENVELOPE_SIZE = _tag("wsman:MaxEnvelopeSize")


def parse_request(data: bytes) -> Request:
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError as error:
        raise invalid_fault(f"The request is not well-formed XML: {error}") from None
    header = envelope.find(_HEADER)
    if header is None:
        raise invalid_fault("The request has no SOAP header.")

    def text(tag: str) -> str:
        element = header.find(tag)
        return (element.text or "").strip() if element is not None else ""

    def named(set_tag: str, tag: str) -> dict[str, str]:
        return {
            element.attrib.get("Name", ""): (element.text or "").strip()
            for group in header.findall(set_tag)
            for element in group.findall(tag)
        }

    body = envelope.find(_BODY)
    size_text = text(_MAX_ENVELOPE_SIZE)
    timeout_text = text(_OPERATION_TIMEOUT)
    return Request(
        action=text(_ACTION),
        resource_uri=text(_RESOURCE_URI),
        message_id=text(_MESSAGE_ID),
        operation_timeout=parse_duration(timeout_text, 60.0),
        operation_timeout_text=timeout_text,
        max_envelope_size=int(size_text) if size_text.isdigit() else 153600,
        selectors=named(_SELECTOR_SET, _SELECTOR),
        options=named(_OPTION_SET, _OPTION),
        body=body[0] if body is not None and len(body) else None,
    )


_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{wsa}" xmlns:x="{wst}" xmlns:w="{wsman}" '
    'xmlns:rsp="{rsp}" xmlns:p="{wsmv}">'
).format(**NS)


def envelope(action: str, relates_to: str, body: str, extra_header: str = "") -> bytes:
    """A response envelope; RelatesTo carries the request's MessageID (the header pypsrp checks)."""
    message_id = f"uuid:{str(uuid.uuid4()).upper()}"
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>{extra_header}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    # Windows' fault texts come from message tables and end with a space (pypsrp's recorded exchanges, e.g.
    # test_psrp_receive_failure.yml: "... an invalid command identifier. ")
    message = escape(fault.message + " ")
    if fault.provider is not None:
        message = (
            f"<f:ProviderFault provider={quoteattr(fault.provider.provider)} path={quoteattr(fault.provider.path)}>"
            f"{message}</f:ProviderFault>"
        )
    detail = f"<w:FaultDetail>{escape(fault.detail)}</w:FaultDetail>" if fault.detail else ""
    body = (
        f"<s:Fault><s:Code><s:Value>{fault.soap_code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason + " ")}</s:Text></s:Reason>'
        f'<s:Detail>{detail}<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f"Code={quoteattr(str(fault.code))} Machine={quoteattr(machine)}>"
        f"<f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def resource_created(
    relates_to: str, address: str, resource_uri: str, shell_id: str, shell_xml: str
) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated>{shell_xml}"
    )
    return envelope(ACTION_PREFIX_TRANSFER + "CreateResponse", relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return envelope(ACTION_PREFIX_SHELL + "CommandResponse", relates_to, body)


def empty_response(relates_to: str, action: str, body: str = "") -> bytes:
    return envelope(action, relates_to, body)


def stream_element(name: str, data: bytes, command_id: str | None, end: bool = False) -> str:
    import base64

    attributes = f' Name="{name}"'
    if command_id:
        attributes += f' CommandId="{command_id}"'
    if end:
        attributes += ' End="true"'
    return f"<rsp:Stream{attributes}>{base64.b64encode(data).decode()}</rsp:Stream>"


def receive_response(
    relates_to: str, streams: list[str], command_id: str | None, done: bool, exit_code: int | None = None
) -> bytes:
    state = ""
    if command_id:
        state_uri = COMMAND_STATE_DONE if done else COMMAND_STATE_RUNNING
        exit_xml = f"<rsp:ExitCode>{exit_code}</rsp:ExitCode>" if done and exit_code is not None else ""
        state = (
            f'<rsp:CommandState CommandId="{command_id}" State="{state_uri}">{exit_xml}</rsp:CommandState>'
        )
    body = f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"
    return envelope(ACTION_PREFIX_SHELL + "ReceiveResponse", relates_to, body)
