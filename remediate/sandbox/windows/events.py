"""The host's event logs, the records the licensing service writes, and Get-WinEvent over them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remediate.sandbox.commands import CmdletError, CommandContext, Invocation
from remediate.sandbox.seam import ErrorRecord, PSObject
from remediate.sandbox.windows.state import Event, HostState, World

SPP_PROVIDER = "Microsoft-Windows-Security-SPP"
KMS_REQUEST_EVENT = 12288  # ref §3 "Event log": the client sent an activation request to the KMS machine
# The client processed the KMS host's response ("After KMS response validation"). Info, comma-separated (doc EVT
# ff793440 Table 11, and its source, the Volume Activation 2.0 Operations Guide's KMS events table): HRESULT, Status
# (flags, "note 1"), fBound (activated flag), Unused, Count (the KMS current count), Activation Interval, Renewal
# Interval (minutes), Client Time; the example "0x0, 0x4000008, 0, 0, 4, 120, 10080, 1/14/2006 2:30" is a response
# whose count was too low. Note 1's flags: SL_VL_BINDING_STATUS_OTHER_PC 0x00000008 (a warning of the OEM check),
# SL_VL_BINDING_ERROR_NO_BINDING_SERVER_REGISTRATION 0x01000000, ..._INVALID_REGISTRATION_DATA_TYPE 0x02000000,
# ..._NOT_ENOUGH_COUNT 0x04000000, ..._NOT_WINDOWS_SLP 0x08000000.
KMS_RESPONSE_EVENT = 12289
NOT_ENOUGH_COUNT_FLAG = 0x04000000
# A failed activation attempt (slmgr /ato, slui, the service's own retries): Application log, Security-SPP, level
# Error, "License Activation (slui.exe) failed with the following error code:\nhr=0x…\nCommand-line arguments:\n…"
# [obs: a real host's event text, https://pastebin.com/dCCk8qMc; Microsoft reads the activation error from event
# 8198 in "Troubleshoot ADBA clients that don't activate", learn.microsoft.com/troubleshoot/windows-server/
# licensing-and-activation/troubleshoot-adba-clients-not-activate]. The attempt's error is here — not in
# LicenseStatusReason, which keeps the state's own reason (0xC004F056 for an unactivated KMS client, 0x4004F00C in
# out-of-box grace).
ACTIVATION_FAILED_EVENT = 8198

_MESSAGES_EN = {
    KMS_REQUEST_EVENT: "The client has sent an activation request to the key management service machine.",
    KMS_RESPONSE_EVENT: "The client has processed an activation response from the key management service "
    "machine.",
    ACTIVATION_FAILED_EVENT: "License Activation (slui.exe) failed with the following error code:",
}
_MESSAGES_JA = {
    KMS_REQUEST_EVENT: "クライアントはキー管理サービス コンピューターにライセンス認証要求を送信しました。",
    KMS_RESPONSE_EVENT: "クライアントはキー管理サービス コンピューターからの"
    "ライセンス認証応答を処理しました。",
    # [inf] the localized wording; the hr= line that follows is not localized
    ACTIVATION_FAILED_EVENT: "ライセンス認証 (slui.exe) が次のエラー コードで失敗しました:",
}
NO_EVENTS_EN = "No events were found that match the specified selection criteria."
NO_EVENTS_JA = "指定された選択基準に一致するイベントは見つかりませんでした。"


def hresult_text(code: int) -> str:
    """An HRESULT as the licensing service writes it into event data: 0x0 for success, else 0x + 8 hex."""
    return "0x0" if code == 0 else f"0x{code & 0xFFFFFFFF:08X}"


def log_kms_request(
    state: HostState, world: World, hresult: int, server: str, act_id: str, minutes_to_expiration: int,
    license_status: int | None = None, required: int | None = None,
) -> None:
    """Event 12288 (ref §3 "Event log"): Info = HRESULT, Status flags, Server:Port, CMID, ClientTime, VMInfo,
    LicenseStatus, MinutesToExpiration, ActID, N-policy. The HRESULT is the inner code of a 0xC004F074
    (ref §1a 0xC004F074: "look at event 12288 for the inner HRESULT")."""
    now = state.utc_now(world)
    if required is None:
        required = 5 if state.edition.server else 25  # ref §4 thresholds: the N-policy the client asks for
    if license_status is None:
        license_status = state.license_status
    # [doc F074: "Info: 0xC004F06C, 0x00000000, <KMS Host FQDN>:1688, 36f27b39-…, 2010/09/29 17:52, 0, 2, 41760,
    # 68531fb9-…, 5"] status flags as 0x + 8 hex digits, VMInfo as a plain number, the time zero-padded
    props: list[Any] = [
        hresult_text(hresult),
        "0x00000000",
        server,
        state.cmid,
        now.strftime("%Y/%m/%d %H:%M"),
        "0",
        str(license_status),
        str(minutes_to_expiration),
        act_id,
        str(required),
    ]
    message = _message(state, KMS_REQUEST_EVENT) + "\nInfo:\n" + ", ".join(str(p) for p in props)
    state.events.append(
        Event(
            KMS_REQUEST_EVENT,
            SPP_PROVIDER,
            "Application",
            now,
            message,
            props,
            level=4,  # [doc F074] "Level: Information", also for a request the KMS host refused (0xC004F06C)
        )
    )


def log_kms_response(state: HostState, world: World, bound: bool, count: int, activation_interval: int,
                     renewal_interval: int) -> None:
    """Event 12289 (see KMS_RESPONSE_EVENT) for a response of the two shapes Microsoft's table documents: the client
    activated (fBound 1), or the count was below what it needs (fBound 0, NOT_ENOUGH_COUNT). The response is valid in
    both (HRESULT 0x0). [inf] Whether and how a refusal of another kind (0xC004F041, 0xC004F042, 0xC004F06C) is
    logged is not documented: no 12289 is written for it. The OEM-check warning flag is never set (no SLIC here)."""
    now = state.utc_now(world)
    flags = 0 if bound else NOT_ENOUGH_COUNT_FLAG
    # [inf] the values as 12288's (the F074 sample): ", " between them, the time as 12288 writes it
    props: list[Any] = [
        "0x0",
        f"0x{flags:08X}",
        "1" if bound else "0",
        "0",
        str(count),
        str(activation_interval),
        str(renewal_interval),
        now.strftime("%Y/%m/%d %H:%M"),
    ]
    message = _message(state, KMS_RESPONSE_EVENT) + "\nInfo:\n" + ", ".join(props)
    state.events.append(Event(KMS_RESPONSE_EVENT, SPP_PROVIDER, "Application", now, message, props, level=4))


def log_activation_failure(state: HostState, world: World, hresult: int, command_line: str = "-Embedding") -> None:
    """Event 8198: a failed activation attempt and its HRESULT (see ACTIVATION_FAILED_EVENT)."""
    now = state.utc_now(world)
    props: list[Any] = [hresult_text(hresult), command_line]
    message = f"{_message(state, ACTIVATION_FAILED_EVENT)}\nhr={props[0]}\nCommand-line arguments:\n{command_line}"
    state.events.append(Event(ACTIVATION_FAILED_EVENT, SPP_PROVIDER, "Application", now, message, props, level=2))


# The KMS host's events [doc EVT ff793440: "Log file name 12290: Applications and Services Logs\Key Management
# Service", provider Microsoft-Windows-Security-Licensing-SLC; doc F074 prints one: "An activation request has been
# processed.\nInfo:\n0xC004F06C,5,<KMS Client name>,<CMID>,2010/9/29 21:46,0,2,41520,<ActID>"]
KMS_HOST_LOG = "Key Management Service"
KMS_HOST_PROVIDER = "Microsoft-Windows-Security-Licensing-SLC"
KMS_REQUEST_PROCESSED_EVENT = 12290
# Publishing the SRV record [doc EVT: 12293 "Publishing the Key Management Service (KMS) to DNS in the '%2' domain
# failed.%nInfo:%n%1", 12294 "... is successful."; learn.microsoft.com/troubleshoot/windows-server/licensing-and-
# activation/event-12293-error-0x800723-set-kms-host shows 12293 in the Application log from Security-SPP]
DNS_PUBLISH_FAILED_EVENT = 12293
DNS_PUBLISHED_EVENT = 12294


def log_kms_host_request(kms_log: list[Event], host_now: datetime, client: HostState, world: World, hresult: int,
                         act_id: str) -> None:
    """Event 12290 on the KMS host: HRESULT, the minimum count the client needs, client name, CMID, client time,
    VM info, licence status, minutes to expiration, ActID (F074's sample: comma-separated without spaces)."""
    required = 5 if client.edition.server else 25  # ref §4 thresholds
    props = [hresult_text(hresult), str(required), client.fqdn, client.cmid,
             client.utc_now(world).strftime("%Y/%m/%d %H:%M"), "0", str(client.license_status),
             str(client.grace_minutes), act_id]
    message = "An activation request has been processed.\nInfo:\n" + ",".join(props)
    kms_log.append(Event(KMS_REQUEST_PROCESSED_EVENT, KMS_HOST_PROVIDER, KMS_HOST_LOG, host_now, message, props))


def log_dns_publishing(state: HostState, world: World, domain: str, hresult: int) -> None:
    """Event 12294 (published) or 12293 (failed, with the HRESULT) on a KMS host."""
    now = state.utc_now(world)
    if hresult == 0:
        message = f"Publishing the Key Management Service (KMS) to DNS in the '{domain}' domain is successful."
        state.events.append(Event(DNS_PUBLISHED_EVENT, SPP_PROVIDER, "Application", now, message, [domain]))
        return
    message = (f"Publishing the Key Management Service (KMS) to DNS in the '{domain}' domain failed.\nInfo:\n"
               f"{hresult_text(hresult)}")
    state.events.append(Event(DNS_PUBLISH_FAILED_EVENT, SPP_PROVIDER, "Application", now, message,
                              [hresult_text(hresult), domain], level=3))


# The rules engine's failed scheduled action: Application log, Security-SPP, event 8229, level Warning [doc: "Error
# 0x80070005 (Access denied) when you activate Windows": "The rules engine failed to perform one or more scheduled
# actions.\nError Code:0x80070005\nPath:C:\Windows\System32\SLUI.exe"]
RULES_ENGINE_FAILED_EVENT = 8229


def log_rules_engine_failure(state: HostState, world: World, hresult: int) -> None:
    """Event 8229 with the error the rules engine's scheduled action got."""
    path = "C:\\Windows\\System32\\SLUI.exe"
    props = [hresult_text(hresult), path]
    message = f"The rules engine failed to perform one or more scheduled actions.\nError Code:{props[0]}\nPath:{path}"
    state.events.append(Event(RULES_ENGINE_FAILED_EVENT, SPP_PROVIDER, "Application", state.utc_now(world), message,
                              props, level=3))


def _message(state: HostState, event_id: int) -> str:
    return (_MESSAGES_JA if state.japanese else _MESSAGES_EN)[event_id]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _event_object(state: HostState, event: Event) -> PSObject:
    props = [
        PSObject(["System.Diagnostics.Eventing.Reader.EventProperty", "System.Object"], {"Value": value})
        for value in event.properties
    ]
    level_names = {2: "Error", 3: "Warning", 4: "Information"}
    level_names_ja = {2: "エラー", 3: "警告", 4: "情報"}
    return PSObject(
        [
            "System.Diagnostics.Eventing.Reader.EventLogRecord",
            "System.Diagnostics.Eventing.Reader.EventRecord",
            "System.Object",
        ],
        {
            "Id": event.id,
            "ProviderName": event.provider,
            "LogName": event.log,
            "MachineName": state.fqdn,
            "TimeCreated": event.time,
            "Level": event.level,
            "LevelDisplayName": (level_names_ja if state.japanese else level_names).get(event.level, ""),
            "Message": event.message,
            "Properties": props,
        },
        to_string="System.Diagnostics.Eventing.Reader.EventLogRecord",
    )


def get_win_event(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    query = call.named.get("FilterHashtable")
    if not isinstance(query, dict):
        raise CmdletError(
            ErrorRecord(
                message="The sandbox's Get-WinEvent takes "
                "-FilterHashtable @{ LogName = ...; ProviderName = ...; Id = ... }.",
                fully_qualified_error_id="ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetWinEventCommand",
                category="InvalidArgument",
                activity="Get-WinEvent",
            ),
            terminating=True,
        )
    fields = {str(k).lower(): v for k, v in query.items()}
    logs = {str(v).lower() for v in _as_list(fields.get("logname"))}
    providers = {str(v).lower() for v in _as_list(fields.get("providername"))}
    ids = {int(v) for v in _as_list(fields.get("id"))}
    found = [
        e
        for e in reversed(state.events)  # newest first, as Get-WinEvent returns them
        if (not logs or e.log.lower() in logs)
        and (not providers or e.provider.lower() in providers)
        and (not ids or e.id in ids)
    ]
    max_events = call.named.get("MaxEvents")
    if max_events is not None:
        found = found[: int(max_events)]
    if not found:
        raise CmdletError(
            ErrorRecord(
                message=NO_EVENTS_JA if state.japanese else NO_EVENTS_EN,
                fully_qualified_error_id="NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand",
                category="ObjectNotFound",
                exception_type="System.Exception",
                activity="Get-WinEvent",
            )
        )
    return [_event_object(state, e) for e in found]
