"""`remediate kms status`: what each KMS host says of itself, read-only, through the kms-host-state template, and
what its clients get from it.

For every host: its KMS host key (CSVLK, masked) and the CSVLK group it belongs to with the editions that group
activates (csvlk_groups.py, KMSPLAN), the Software Licensing service's version, the current count against the
thresholds (25 for client OSes, 5 for servers: activation reference §4), the port, DNS publishing and the
_vlmcs._tcp SRV record DNS holds for it, the cumulative requests from clients, and what its own logs say: the clients
whose latest request it refused (event 12290) and its last attempt to publish its SRV record (event 12293 / 12294).
`findings` turns these into the codes the clients see: 0xC004F041 (the host is not activated), 0xC004F038 (count
below a threshold), 0xC004F042 (clients newer than its key's group), the clients its log shows refused and with which
code, whether its SRV record could be published, and whether DNS auto-discovery finds it at all.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from remediate import resources
from remediate.csvlk_groups import CsvlkGroup, group_of, groups
from remediate.i18n import N_, translated
from remediate.ledger.records import MASK
from remediate.render import Renderer
from remediate.results import ExitCategory
from remediate.secret import Redactor
from remediate.status import HostStatus
from remediate.terminal import Column, print_fitted
from remediate.transport_text import tell

KMS_TEMPLATE = "kms-host-state.ps1.j2"
UNUSED = 0xFFFFFFFF  # what an unused uint32 counter reads (activation reference §3): no value
CLIENT_THRESHOLD = 25  # activation reference §4 (KMSPLAN): client OSes activate at a count of 25
SERVER_THRESHOLD = 5  # servers (and volume Office) at 5
COLUMNS = ("host", "computer_name", "kms_host", "csvlk", "csvlk_group", "activates", "license_status",
           "service_version", "current_count", "listening_port", "dns_publishing", "srv_record", "srv_priority",
           "srv_weight", "requests_total", "requests_failed", "clients_refused", "dns_publish_error", "clients_get",
           "error")
# Event 12290's code when the host's key (CSVLK) is too old for the client's version; the client is told 0xC004F042
# (learn.microsoft.com/troubleshoot/windows-server/licensing-and-activation/error-0xc004f015-activate-windows-10).
CSVLK_TOO_OLD = "0xC004F015"
ID_MISMATCH = "0xC004F042"
# Event 12293's code when the _VLMCS record is another host's and this one may not update it (learn.microsoft.com/
# troubleshoot/windows-server/licensing-and-activation/event-12293-error-0x800723-set-kms-host).
DNS_DENIED = "0x80072338"
NAMED = 5  # clients named in a finding; the rest are counted

WORDS = {  # gettext messages: translated(WORDS, language)
    "title": N_("KMS hosts ({count})"),
    "columns": (
        N_("host"), N_("key (group)"), N_("count"), N_("port"), N_("DNS"), N_("requests"), N_("what clients get"),
    ),
    "not_kms": N_("not a KMS host: no KMS host key (CSVLK) is installed"),
    "not_activated": N_("{code}: the KMS host itself is not activated; every client gets this code"),
    "count_both": N_(
        "{code}: count {count}, below {servers} (servers) and {clients} (client OSes): every client gets it until "
        "more clients ask"
    ),
    "count_clients": N_(
        "{code}: count {count}, below {clients}: client OSes get it; servers (from {servers}) activate"
    ),
    "too_new_servers": N_("{code}: Windows Server newer than build {build} gets it: the key is of {group}"),
    "no_servers": N_("{code}: servers get it: {group} activates client OSes only"),
    "too_new_clients": N_(
        "{code}: Windows 11 and other clients newer than build {build} get it: the key is of {group}"
    ),
    "unknown_group": N_("its key's CSVLK group is not known ({description}): which clients it activates is not known"),
    "no_srv": N_(
        "not in DNS (no {name} record names it; DNS publishing {publishing}): clients find it only when pointed "
        "at it (slmgr /skms); with no other KMS host in DNS they get {code}"
    ),
    "refused": N_("{code}: its log shows {count} client(s) refused with it (event 12290): {clients}"),
    "refused_too_old": N_(
        "{code}: its log shows {count} client(s) refused because its key (CSVLK) is too old for their version (event "
        "12290; the clients are told {told}): {clients}"
    ),
    "more": N_("{names} and {count} more"),
    "publish_failed": N_("{code}: publishing its SRV record in DNS ({domain}) failed (event 12293)"),
    "publish_denied": N_(
        "{code}: publishing its SRV record in DNS ({domain}) failed (event 12293): the _VLMCS record exists and this "
        "host has no permission to update it"
    ),
    "enabled": N_("enabled"),
    "disabled": N_("disabled"),
    "serves": N_("serves its clients"),
    "summary": N_("{serving} of {count} host(s) serve their clients without a finding"),
    "srv": N_("SRV {priority}/{weight}"),
    "no_srv_short": N_("no SRV"),
    "requests": N_("{total} ({failed} failed)"),
}


@dataclass(frozen=True)
class Finding:
    """Something about a KMS host its clients notice: the code they get (None: none of its own) and why."""

    code: str | None
    text: str


@functools.cache
def kms_script() -> str:
    """The read-only script every KMS host runs: the kms-host-state template, rendered once (no values)."""
    template = Renderer([resources.templates_dir()]).environment.get_template(KMS_TEMPLATE)
    return template.render(options={}, step={"id": "kms-status", "phase": "detect"})


def csvlk_group(status: HostStatus) -> CsvlkGroup | None:
    return group_of(str(status.data.get("description") or ""))


def is_kms_host(status: HostStatus) -> bool:
    return bool(status.data.get("kms_host"))


def findings(status: HostStatus, language: str = "en") -> list[Finding]:
    """What the clients of this KMS host get from it, worst first; empty when it serves them."""
    words = translated(WORDS, language)
    if status.result is None:
        return []
    data = status.data
    if not is_kms_host(status):
        return [Finding(None, words["not_kms"])]
    found: list[Finding] = []
    if status.result.license_status != 1:
        found.append(Finding("0xC004F041", words["not_activated"].format(code="0xC004F041")))
    count = _number(data.get("current_count"))
    if count is not None and count < CLIENT_THRESHOLD:
        kind = "count_both" if count < SERVER_THRESHOLD else "count_clients"
        found.append(Finding("0xC004F038", words[kind].format(code="0xC004F038", count=count,
                                                              servers=SERVER_THRESHOLD, clients=CLIENT_THRESHOLD)))
    group = csvlk_group(status)
    if group is None:
        found.append(Finding(None, words["unknown_group"].format(description=data.get("description") or "")))
    else:
        # Only what a newer group would activate: the newest group's limits are those of today's Windows.
        newest_server = max(g.server_max_build or 0 for g in groups().values())
        if not group.servers:
            found.append(Finding("0xC004F042", words["no_servers"].format(code="0xC004F042", group=group.title)))
        elif group.server_max_build is not None and group.server_max_build < newest_server:
            found.append(Finding("0xC004F042", words["too_new_servers"].format(
                code="0xC004F042", build=group.server_max_build, group=group.title)))
        if group.client_max_build is not None:
            found.append(Finding("0xC004F042", words["too_new_clients"].format(
                code="0xC004F042", build=group.client_max_build, group=group.title)))
    found.extend(_log_findings(status, language))
    if not data.get("srv_record"):
        publishing = words["enabled"] if data.get("dns_publishing") else words["disabled"]
        found.append(Finding(None, words["no_srv"].format(name=data.get("srv_name") or "_vlmcs._tcp",
                                                          publishing=publishing, code="0x8007232B")))
    return found


def refusals(status: HostStatus) -> dict[str, list[str]]:
    """The clients whose latest request the host's log (event 12290) shows refused, by the code it logged."""
    log = status.data.get("log")
    by_code: dict[str, list[str]] = {}
    for item in (log.get("refused") or []) if isinstance(log, dict) else []:
        if isinstance(item, dict) and item.get("code") and item.get("client"):
            by_code.setdefault(str(item["code"]), []).append(str(item["client"]))
    return by_code


def publish_error(status: HostStatus) -> tuple[str, str] | None:
    """The code of the host's last attempt to publish its SRV record when it failed (event 12293), and the domain."""
    log = status.data.get("log")
    publishing = log.get("publishing") if isinstance(log, dict) else None
    if not isinstance(publishing, dict) or publishing.get("published") is not False:
        return None
    return str(publishing.get("hresult") or "?"), str(publishing.get("domain") or "")


def _log_findings(status: HostStatus, language: str) -> list[Finding]:
    words = translated(WORDS, language)
    found = []
    for code, clients in refusals(status).items():
        names = ", ".join(clients[:NAMED])
        if len(clients) > NAMED:
            names = words["more"].format(names=names, count=len(clients) - NAMED)
        if code == CSVLK_TOO_OLD:
            text = words["refused_too_old"].format(code=code, count=len(clients), told=ID_MISMATCH, clients=names)
            found.append(Finding(ID_MISMATCH, text))
        else:
            found.append(Finding(code, words["refused"].format(code=code, count=len(clients), clients=names)))
    failed = publish_error(status)
    if failed is not None:
        code, domain = failed
        kind = "publish_denied" if code == DNS_DENIED else "publish_failed"
        found.append(Finding(None, words[kind].format(code=code, domain=domain)))
    return found


def _number(value: Any) -> int | None:
    """A count or counter as read; None when there is none (not a number, or the unused 4294967295)."""
    if isinstance(value, bool) or not isinstance(value, int) or value == UNUSED:
        return None
    return value


def blocking(status: HostStatus) -> bool:
    """Whether its clients fail because of the host itself: not a KMS host, not activated, or below the client
    threshold. (A key of an older group only fails newer clients: a finding, not a failure of the host.)"""
    return status.result is None or not is_kms_host(status) or any(
        finding.code in ("0xC004F041", "0xC004F038") for finding in findings(status))


def kms_row(status: HostStatus, language: str = "en") -> dict[str, Any]:
    data = status.data
    tail = data.get("partial_product_key")
    group = csvlk_group(status)
    found_srv = data.get("srv_record")
    srv: dict[str, Any] | None = found_srv if isinstance(found_srv, dict) else None
    found_requests = data.get("requests")
    requests: dict[str, Any] = found_requests if isinstance(found_requests, dict) else {}
    kms_host = is_kms_host(status)
    return {
        "host": status.host.label,
        "computer_name": status.computer_name,
        "kms_host": kms_host if status.result is not None else None,
        "csvlk": f"{MASK}{tail}" if tail else None,
        "csvlk_group": group.title if group else None,
        "activates": group.activates if group else None,
        "license_status": status.state if kms_host else None,
        "service_version": data.get("service_version"),
        "current_count": _number(data.get("current_count")) if kms_host else None,
        "listening_port": data.get("listening_port") if kms_host else None,
        "dns_publishing": data.get("dns_publishing") if kms_host else None,
        "srv_record": bool(srv) if kms_host else None,
        "srv_priority": srv.get("priority") if srv else None,
        "srv_weight": srv.get("weight") if srv else None,
        "requests_total": _number(requests.get("total")) if kms_host else None,
        "requests_failed": _number(requests.get("failed")) if kms_host else None,
        "requests": {name: _number(value) for name, value in requests.items()} if kms_host else None,
        "clients_refused": [{"client": client, "code": code} for code, clients in refusals(status).items()
                            for client in clients] if kms_host else None,
        "dns_publish_error": (publish_error(status) or (None,))[0] if kms_host else None,
        "clients_get": [{"code": finding.code, "text": finding.text} for finding in findings(status, language)],
        "error": status.error,
    }


def kms_json(statuses: Sequence[HostStatus], redactor: Redactor, language: str = "en") -> str:
    rows = [kms_row(status, language) for status in statuses]
    return json.dumps(redactor.value(rows), ensure_ascii=False, indent=2)


def kms_csv(statuses: Sequence[HostStatus], redactor: Redactor, language: str = "en") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for status in statuses:
        row = kms_row(status, language)
        row["clients_get"] = "; ".join(item["text"] for item in row["clients_get"])
        row["clients_refused"] = "; ".join(f"{item['client']} {item['code']}" for item in row["clients_refused"] or [])
        writer.writerow({name: _cell(row[name], redactor) for name in COLUMNS})
    return buffer.getvalue()


def _cell(value: Any, redactor: Redactor) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return redactor.text(str(value))


def print_kms(statuses: Sequence[HostStatus], console: Console, redactor: Redactor, language: str = "en") -> None:
    words = translated(WORDS, language)
    rows = []
    for status in statuses:
        row = kms_row(status, language)
        key = ""
        if row["csvlk"]:
            group = csvlk_group(status)
            key = f"{status.data.get('partial_product_key')} ({group.name if group else '?'})"
        dns = ""
        if row["srv_record"]:
            dns = words["srv"].format(priority=row["srv_priority"], weight=row["srv_weight"])
        elif row["kms_host"]:
            dns = words["no_srv_short"]
        requests = ""
        if row["requests_total"] is not None:
            requests = words["requests"].format(total=row["requests_total"], failed=row["requests_failed"])
        told = [f"{item['text']}" for item in row["clients_get"]]
        if status.error:
            told = [tell(status.error, language)]
        elif not told:
            told = [words["serves"]]
        rows.append((status.label, key, _text(row["current_count"]), _text(row["listening_port"]), dns, requests,
                     "\n".join(told)))
    ranks = (0, 2, 3, 1, 4, 1, 0)
    columns = [
        Column(header, rank=ranks[number], atom=number != 6, cells=[Text(redactor.text(row[number])) for row in rows])
        for number, header in enumerate(words["columns"])
    ]
    print_fitted(console, columns, str(words["title"]).format(count=len(statuses)))
    serving = sum(1 for status in statuses if not blocking(status))
    console.print(Text(str(words["summary"]).format(serving=serving, count=len(statuses))))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def kms_category(statuses: Sequence[HostStatus]) -> ExitCategory:
    """OK when every host is an activated KMS host at or above the client threshold, UNREACHABLE when none
    answered (or the credentials were refused), else FAILED."""
    if statuses and all(status.unreachable for status in statuses):
        return ExitCategory.UNREACHABLE
    if any(status.auth_failed for status in statuses):
        return ExitCategory.UNREACHABLE
    return ExitCategory.FAILED if any(blocking(status) for status in statuses) else ExitCategory.OK
