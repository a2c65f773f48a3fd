"""Acceptance: `run auto` and `status` choose each host's playbook from what Windows really records.

On a real unactivated host LicenseStatusReason keeps the state's own reason (0xC004F056, 0x4004F00C); the error
an activation attempt gave is in event 8198, a KMS request's inner error in event 12288 (the sandbox records them
so). Every fault below must reach its own playbook through that evidence, never through a guess.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-diagnosis-tests-5d"
SCENARIO = """
name: diagnosis
description: One host per kind of evidence.
hosts: 11
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 60}
groups:
  - {name: stale, prefix: STALE, count: 1, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache}
  - {name: nosrv, prefix: NOSRV, count: 1, edition: ServerStandard, fault: 0x8007232B}
  - {name: kmshostkey, prefix: KMSHOSTKEY, count: 1, edition: ServerStandard, fault: 0xC004C008}
  - {name: newboard, prefix: NEWBOARD, count: 1, edition: Professional, fault: 0xC004F213, domain_role: 0}
  - {name: expired, prefix: EVAL, count: 1, edition: ServerStandard, fault: 0xC004F069}
  - {name: skewed, prefix: SKEW, count: 1, edition: ServerStandard, fault: 0xC004F06C}
  - {name: healthy, prefix: OK, count: 1, edition: ServerStandard}
  # Office 2016 volume beside Windows; the KMS host has no Office host key, so Office's attempts fail (0xC004F042)
  - {name: office, prefix: OFFICE, count: 1, edition: Enterprise, domain_role: 1, office: true}
  - {name: skewoffice, prefix: SKEWOFF, count: 1, edition: ServerStandard, fault: 0xC004F06C, office: true}
  # clones of an image that was not generalized: one Client Machine ID, so the KMS host's count does not grow
  - {name: clones, prefix: CLONE, count: 2, edition: Enterprise, domain_role: 1, fault: 0xC004F038, cause: cloned-cmid,
     office: true}
"""
# host -> the playbook its evidence must lead to (None: nothing to fix)
EXPECTED = {
    "STALE01": "0xC004F074",
    "NOSRV01": "0x8007232B",
    "KMSHOSTKEY01": "0xC004C008",
    "NEWBOARD01": "0xC004F213",  # no key, and the attempt found none in the firmware (not 0xC004F014's advice)
    "EVAL01": "0xC004F069",  # an expired evaluation: conversion (not 0xC004F009's "activate by phone")
    "SKEW01": "0xC004F06C",
    "OK01": None,
    "OFFICE01": None,  # Windows is licensed; Office is not, and no Windows playbook changes Office
    "SKEWOFF01": "0xC004F06C",  # Windows' own attempt, not Office's later one (0xC004F042), names the code
    "CLONE01": "0xC004F038",
    "CLONE02": "0xC004F038",
}


def test_status_and_run_auto_choose_each_playbook_from_the_evidence(tmp_path: Path) -> None:
    scenario = tmp_path / "diagnosis.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    with Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD}
        status = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "json"], env=env)
        auto = CliRunner().invoke(main, ["run", "auto", "--hosts", str(hosts), "--output", "json", "--audit",
                                         str(tmp_path / "auto.jsonl")], env=env)
    read = {entry["computer_name"]: entry for entry in json.loads(status.stdout)}
    assert {name: entry["playbook"] for name, entry in read.items()} == EXPECTED, status.output
    for name, entry in read.items():  # each choice says what it rests on
        assert entry["evidence"] and entry["evidence_source"], name
    # Windows' own reason says only "not activated" for the KMS clients; the code came from event 8198.
    assert read["NOSRV01"]["data"]["license_status_reason"] in ("0xC004F056", "0x4004F00C")
    assert "event 8198" in read["NOSRV01"]["evidence"]
    report = json.loads(auto.stdout)
    ran = {host["computer_name"]: host["code"] for host in report["hosts"]}
    for name, playbook in EXPECTED.items():
        if playbook is not None:
            assert ran[name] == playbook, (name, ran[name])
    # Office: status says so, and run auto hands it over instead of running a Windows playbook on it.
    office = read["OFFICE01"]
    assert office["state"] == "Licensed" and office["hresult"] is None
    assert [p["license_status"] for p in office["data"]["office"]] != [1]
    assert office["data"]["office_last_activation_error"] == "0xC004F042"
    assert "Office not licensed" in office["evidence"]
    assert "0xC004F042" in read["SKEWOFF01"]["data"]["office_last_activation_error"]
    (handed,) = [host for host in report["hosts"] if host["computer_name"] == "OFFICE01"]
    assert handed["outcome"] == "escalate" and handed["reason_id"] == "office_not_handled"
    assert handed["reason"].startswith("Office: not handled") and not handed["steps"]
    assert status.exit_code == 1 and auto.exit_code != 0
    # The clones are named as such: the same CMID, the reason the KMS host's count stays below 25.
    clones = {name: entry for name, entry in read.items() if name.startswith("CLONE")}
    assert {entry["data"]["client_machine_id"] for entry in clones.values()} == {
        clones["CLONE01"]["data"]["client_machine_id"]}
    assert clones["CLONE01"]["shares_cmid_with"] == clones["CLONE02"]["host"]
    assert clones["CLONE02"]["shares_cmid_with"] == clones["CLONE01"]["host"]
    assert all("sysprep /generalize" in entry["evidence"] for entry in clones.values())
    assert not any(entry["shares_cmid_with"] for name, entry in read.items() if name not in clones)
    # Their Office asked the same KMS host later (0xC004F042, event 12288 with Office's activation ID): the
    # playbook's reads of event 12288 are Windows' request, not Office's.
    for host in (host for host in report["hosts"] if host["computer_name"].startswith("CLONE")):
        event = next(step for step in host["steps"] if step["id"] == "kms-event")
        facts = next(step for step in host["steps"] if step["id"] == "facts")
        assert event["result"]["data"]["inner_hresult"] == "0xC004F038", event["result"]["data"]
        assert facts["result"]["data"]["last_kms_request_hresult"] == "0xC004F038"
