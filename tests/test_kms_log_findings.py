"""What `remediate kms status` makes of a KMS host's own logs (the kms-host-state template's `data.log`): clients
refused in event 12290, grouped by the code logged, and a failed SRV publishing in event 12293."""

from __future__ import annotations

from typing import Any

from remediate.inventory import Host
from remediate.kms_status import findings, kms_row
from remediate.results import StepResult
from remediate.status import HostStatus


def kms_host(log: dict[str, Any]) -> HostStatus:
    data = {"kms_host": True, "computer_name": "KMS01", "current_count": 50, "srv_record": {"priority": 0, "weight": 0},
            "description": "Windows(R) Operating System, VOLUME_KMS_WS25 channel", "log": log}
    return HostStatus(Host("kms01.corp.example"), result=StepResult(ok=True, license_status=1, data=data))


def test_refused_clients_are_grouped_by_code_and_a_long_list_is_counted() -> None:
    refused = [{"client": f"pc{n:02}.corp.example", "code": "0xC004F038"} for n in range(1, 8)]
    refused.append({"client": "srv1.corp.example", "code": "0xC004F06C"})
    status = kms_host({"clients": 9, "refused": refused, "publishing": {"published": True, "domain": "corp.example",
                                                                        "hresult": None}})
    texts = {finding.code: finding.text for finding in findings(status)}
    assert "7 client(s)" in texts["0xC004F038"] and "pc05.corp.example and 2 more" in texts["0xC004F038"]
    assert "pc06" not in texts["0xC004F038"]
    assert "srv1.corp.example" in texts["0xC004F06C"] and "event 12290" in texts["0xC004F06C"]
    assert not any("12293" in finding.text for finding in findings(status))
    assert "pc05.corp.example ほか 2 台" in " ".join(finding.text for finding in findings(status, "ja"))
    assert len(kms_row(status)["clients_refused"]) == 8 and kms_row(status)["dns_publish_error"] is None


def test_a_failed_publishing_names_its_code_and_a_host_without_logs_has_no_log_finding() -> None:
    failed = kms_host({"clients": 0, "refused": [], "publishing": {"published": False, "domain": "corp.example",
                                                                   "hresult": "0x8007232A"}})
    (publishing,) = [finding for finding in findings(failed) if "12293" in finding.text]
    assert "0x8007232A" in publishing.text and "corp.example" in publishing.text and "_VLMCS" not in publishing.text
    assert kms_row(failed)["dns_publish_error"] == "0x8007232A"
    quiet = kms_host({"clients": 0, "refused": [], "publishing": None})
    assert not any("1229" in finding.text for finding in findings(quiet))
    assert kms_row(quiet)["clients_refused"] == [] and kms_row(quiet)["dns_publish_error"] is None
