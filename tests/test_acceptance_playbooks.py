"""Acceptance: against a sandbox fleet, every shipped playbook turns a host with its error into `fixed` where the
activation reference says a script can fix it, and into `escalate` with the collected facts where it cannot; a
healthy host stays `healthy` and untouched.

Everything runs as a user runs it: `remediate run CODE --hosts FILE --output json --audit LOG` with the values a
user would give, over real WinRM (NTLM, sealed messages) with unmodified pypsrp, to sandbox hosts. One host per
fault label the sandbox offers (and per documented cause, and per set of values a user would give), all in one
fleet for the module; each run names its own hosts plus the one healthy host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate import audit
from remediate.cli import main
from remediate.engine import Engine
from remediate.playbook import PlaybookLibrary
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build
from remediate.sandbox.windows.fault_recipes import HEALTHY, RECIPES
from remediate.sandbox.windows.state import LICENSED, HostState

# Made-up MAKs, valid in this scenario's world only (the sandbox's activation service knows them).
CLIENT_MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"
SERVER_MAK = "4HNCB-T8RJX-2QWPV-K7MDY-G9F3C"
KMS_HOST = "kms01.corp.example"  # the scenario's working KMS host

SCENARIO = f"""
name: acceptance
description: One host per fault label and documented cause (and per set of values a user gives), one healthy.
world:
  domain: corp.example
  kms_hosts:
    - {{name: {KMS_HOST}, address: 10.0.0.5, count: 60}}
  activation:
    reachable: true
    keys:
      - {{key: {CLIENT_MAK}, channel: MAK, editions: [Enterprise, Professional], remaining: 50}}
      - {{key: {SERVER_MAK}, channel: MAK, editions: [ServerStandard, ServerDatacenter], remaining: 50}}
groups:
  - {{name: f074a, prefix: STALE, count: 1, fault: 0xC004F074, cause: stale-dns-cache}}
  - {{name: f074b, prefix: OLDKMS, count: 1, fault: 0xC004F074, cause: registered-old-kms}}
  - {{name: f074c, prefix: KMSFW, count: 1, fault: 0xC004F074, cause: kms-firewalled, language: ja-JP}}
  - {{name: nosrv, prefix: NOSRV, count: 2, fault: 0x8007232B, language: ja-JP}}
  - {{name: skew, prefix: SKEW, count: 1, edition: Enterprise, fault: 0xC004F06C, domain_role: 1}}
  - {{name: f038, prefix: LOWCOUNT, count: 1, edition: Enterprise, fault: 0xC004F038, domain_role: 1}}
  - {{name: f039, prefix: KMSOFF, count: 1, fault: 0xC004F039}}
  - {{name: f041, prefix: KMSNEW, count: 1, edition: ServerDatacenter, fault: 0xC004F041}}
  - {{name: f042, prefix: KMSSRVONLY, count: 2, edition: Enterprise, fault: 0xC004F042, domain_role: 1}}
  - {{name: c008, prefix: KMSHOSTKEY, count: 1, fault: 0xC004C008, language: ja-JP}}
  - {{name: c020, prefix: MAKOUT, count: 1, fault: 0xC004C020}}
  - {{name: c003, prefix: MAKBLOCK, count: 1, fault: 0xC004C003}}
  - {{name: f051, prefix: KEYBLOCK, count: 1, fault: 0xC004F051}}
  - {{name: f050, prefix: BADKEY, count: 2, edition: Enterprise, fault: 0xC004F050, domain_role: 1}}
  - {{name: e016, prefix: OTHERKEY, count: 2, fault: 0xC004E016}}
  - {{name: f069, prefix: EVAL, count: 2, edition: ServerStandardEval, fault: 0xC004F069}}
  - {{name: f069dc, prefix: EVALDC, count: 1, edition: ServerStandardEval, fault: 0xC004F069, domain_role: 5}}
  - {{name: f213, prefix: NEWBOARD, count: 1, edition: Professional, fault: 0xC004F213, domain_role: 0,
      language: ja-JP}}
  - {{name: f034, prefix: DEFKEY, count: 2, edition: Professional, fault: 0xC004F034, domain_role: 0}}
  - {{name: offline, prefix: NOINET, count: 1, fault: 0x80072EE2}}
  - {{name: dcom, prefix: DCOM, count: 1, fault: 0x80070005}}
  - {{name: healthy, prefix: OK, count: 1, language: ja-JP}}
"""
HEALTHY_HOST = "OK01"

FIXED, ESCALATE = "fixed", "escalate"
KEYS = {"CLIENT_MAK": CLIENT_MAK, "SERVER_MAK": SERVER_MAK}
EDITION_CONVERSION = [
    "--allow", "edition-conversion", "--set", "target_edition=ServerStandard",
    "--secret-env", "product_key=SERVER_MAK",
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One `remediate run`: the playbook, the fault hosts it is pointed at with the outcome the reference calls
    for, and the values a user gives."""

    code: str
    expected: dict[str, str]
    options: list[str] = field(default_factory=list)
    why: str = ""

    @property
    def exit_code(self) -> int:  # DESIGN §6: 0 every host healthy or fixed; 4 no failure, one needs a human
        return 4 if ESCALATE in self.expected.values() else 0


CASES = [
    Case("0xC004F074", {"STALE01": FIXED, "OLDKMS01": FIXED, "KMSFW01": FIXED},
         why="F074/232B: flush the DNS cache; SLMGR-DOC: /ckms back to the SRV records when the /skms host is gone"),
    Case("0x8007232B", {"NOSRV01": ESCALATE},
         why="§1a 0x8007232B: no KMS host in DNS and none named: a person publishes the SRV record or names one"),
    Case("0x8007232B", {"NOSRV02": FIXED}, ["--set", f"kms_host={KMS_HOST}"],
         why="§1a 0x8007232B: point the client at a KMS host with slmgr /skms"),
    Case("0xC004F06C", {"SKEW01": FIXED}, why="§1a 0xC004F06C / F074: w32tm /resync"),
    Case("0xC004F038", {"LOWCOUNT01": ESCALATE}, why="§1a 0xC004F038: add machines to the KMS pool (the KMS host)"),
    Case("0xC004F039", {"KMSOFF01": FIXED}, why="§1a 0xC004F039: use a KMS host that responds (DNS offers one)"),
    Case("0xC004F041", {"KMSNEW01": ESCALATE}, why="§1a 0xC004F041: activate the KMS host itself"),
    Case("0xC004F042", {"KMSSRVONLY01": ESCALATE}, why="§1a 0xC004F042: only a person knows the right KMS host"),
    Case("0xC004F042", {"KMSSRVONLY02": FIXED}, ["--set", f"kms_host={KMS_HOST}"],
         why="§1a 0xC004F042: point clients at the correct host"),
    Case("0xC004C008", {"KMSHOSTKEY01": ESCALATE}, why="C008: ask the Licensing Activation Centers"),
    Case("0xC004C020", {"MAKOUT01": ESCALATE}, why="§1a 0xC004C020: request more activations"),
    Case("0xC004C003", {"MAKBLOCK01": ESCALATE}, why="§1a 0xC004C003: get a new MAK"),
    Case("0xC004F051", {"KEYBLOCK01": ESCALATE}, why="§1a 0xC004F051: get a new key"),
    Case("0xC004F050", {"BADKEY01": FIXED}, ["--secret-env", "product_key=CLIENT_MAK"],
         why="§1a 0xC004F050: install the correct key for the edition"),
    Case("0xC004F050", {"BADKEY02": ESCALATE},
         why="§1a 0xC004F050: without a correct key (and no KMS host in DNS) only a person can supply one"),
    Case("0xC004E016", {"OTHERKEY01": FIXED}, ["--secret-env", "product_key=SERVER_MAK"],
         why="§1b 0xC004E016: a key for the installed edition"),
    Case("0xC004E016", {"OTHERKEY02": ESCALATE}, why="§1b 0xC004E016: without a key for this edition: a person"),
    Case("0xC004F069", {"EVAL02": ESCALATE}, why="§1b 0xC004F069 / CONVERT: conversion needs the opt-in"),
    Case("0xC004F213", {"NEWBOARD01": ESCALATE}, why="§1b 0xC004F213: not automatable without a key"),
    Case("0xC004F034", {"DEFKEY01": FIXED}, ["--set", "use_gvlk=true"],
         why="§1b 0xC004F034: install a real key - the GVLK where a KMS host exists"),
    Case("0xC004F034", {"DEFKEY02": FIXED}, ["--secret-env", "product_key=CLIENT_MAK"],
         why="§1b 0xC004F034: install a real key"),
    Case("0x80072EE2", {"NOINET01": ESCALATE}, why="§1b 0x80072EE2: no way out to Microsoft: phone activation"),
    Case("0x80070005", {"DCOM01": ESCALATE},
         why="0x80070005 article: denied to an administrator too, the SELF account's DCOM permissions: a person"),
]  # fmt: skip


@dataclass
class World:
    fleet: Fleet
    hosts: dict[str, HostSpec]
    directory: Path

    def state(self, name: str) -> HostState:
        state: HostState = self.hosts[name].engine.state  # type: ignore[attr-defined]
        return state

    def hosts_file(self, names: list[str], tag: str) -> Path:
        """A hosts file naming these hosts, in the format `remediate sandbox up` writes."""
        lines = []
        for name in names:
            endpoint = self.fleet.endpoint(name)
            lines.append(f"{endpoint.address}:{endpoint.port} scheme=http auth=ntlm")
        path = self.directory / f"hosts-{tag}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def label(self, name: str) -> str:
        endpoint = self.fleet.endpoint(name)
        return f"{endpoint.address}:{endpoint.port}"

    def run(self, code: str, names: list[str], options: list[str], tag: str) -> tuple[Result, Path]:
        log = self.directory / f"audit-{tag}.jsonl"
        arguments = ["run", code, "--hosts", str(self.hosts_file(names, tag)), "--output", "json"]
        env = {"REMEDIATE_USERNAME": self.fleet.username, "REMEDIATE_PASSWORD": self.fleet.password, **KEYS}
        result = CliRunner().invoke(main, [*arguments, "--audit", str(log), *options], env=env)
        return result, log


def snapshot(state: HostState) -> tuple[Any, ...]:
    """What a change to a host's licence set-up would alter."""
    return (
        state.key, state.channel, state.license_status, state.license_status_reason, state.kms_machine,
        state.kms_port, state.edition.edition_id, state.clock_offset_s, dict(state.dns_cache),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("acceptance")
    scenario = directory / "acceptance.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        yield World(fleet, {spec.computer_name: spec for spec in built.hosts}, directory)


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The engine's pauses between attempts are recorded instead of waited (a playbook may ask for 60 s); the
    attempts themselves still go over WinRM."""
    asked: list[float] = []
    monkeypatch.setattr(Engine, "sleep", lambda self, seconds: asked.append(seconds))
    return asked


def test_the_cases_cover_every_fault_label_the_sandbox_offers(world: World) -> None:
    assert {case.code for case in CASES} == set(RECIPES) - {HEALTHY}
    for case in CASES:
        for name in case.expected:  # each host was built with the fault its case runs the playbook of
            assert getattr(world.hosts[name].engine, "fault", None) == case.code, name
    assert getattr(world.hosts[HEALTHY_HOST].engine, "fault", None) == HEALTHY


def steps_of(log: Path, host: str) -> list[dict[str, Any]]:
    return [e for e in audit.read_events(log) if e["type"] == audit.STEP and e.get("host") == host]


def assert_healthy_and_untouched(world: World, report: dict[str, Any], log: Path, before: tuple[Any, ...]) -> None:
    label = world.label(HEALTHY_HOST)
    (healthy,) = [host for host in report["hosts"] if host["host"] == label]
    assert healthy["outcome"] == "healthy", healthy["reason"]
    assert {step["phase"] for step in healthy["steps"]} == {"detect"}
    recorded = steps_of(log, label)
    assert recorded and {event["phase"] for event in recorded} == {"detect"}  # no fix step was sent to it
    assert snapshot(world.state(HEALTHY_HOST)) == before
    assert world.state(HEALTHY_HOST).license_status == LICENSED


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{'-'.join(c.expected)}" for c in CASES])
def test_each_playbook_fixes_what_a_script_can_and_hands_over_the_rest(
    world: World, case: Case, no_waiting: list[float]
) -> None:
    names = list(case.expected)
    before = snapshot(world.state(HEALTHY_HOST))
    result, log = world.run(case.code, [*names, HEALTHY_HOST], case.options, "-".join(names))
    assert result.exit_code == case.exit_code, (case.why, result.output)
    report = json.loads(result.stdout)
    by_label = {host["host"]: host for host in report["hosts"]}
    for name, expected in case.expected.items():
        host = by_label[world.label(name)]
        assert host["computer_name"] == name
        # The reference says: case.why. The outcome must follow it.
        assert host["outcome"] == expected, (case.why, host["reason"])
        state = world.state(name)
        if expected == FIXED:
            assert any(s["phase"] == "fix" and s["status"] == "ran" for s in host["steps"])
            proof = [s for s in host["steps"] if s["phase"] == "verify"]
            assert proof and all(s["result"]["ok"] for s in proof)
            assert any(s["result"]["license_status"] == LICENSED for s in proof)
            assert state.license_status == LICENSED  # the sandbox agrees: Windows is activated
        else:
            assert state.license_status != LICENSED
            assert host["guidance"]  # what the person must do
            facts = next(s for s in host["steps"] if s["id"] == "facts" and s["phase"] == "escalate")
            data = facts["result"]["data"]
            assert {"installation_id", "partial_product_key", "channel", "license_status"} <= data.keys()
            if state.key is not None:  # a key is installed: the facts name it the way Windows does
                assert data["partial_product_key"] == state.key[-5:]
                assert data["installation_id"] and data["installation_id"].isdigit()
                assert data["channel"]
    assert_healthy_and_untouched(world, report, log, before)
    assert audit.verify(log).ok
    everything = result.output + log.read_text(encoding="utf-8")
    assert CLIENT_MAK not in everything and SERVER_MAK not in everything


def test_access_denied_to_an_administrator_hands_over_with_the_rules_engine_s_event(
    world: World, no_waiting: list[float]
) -> None:
    """The 0x80070005 article: slmgr /ato denied, event 8229 with 0x80070005: the SELF account's DCOM permissions."""
    result, _ = world.run("0x80070005", ["DCOM01"], [], "dcom")
    assert result.exit_code == 4, result.output
    (host,) = json.loads(result.stdout)["hosts"]
    assert host["outcome"] == ESCALATE and "SELF" in host["guidance"] and "dcomcnfg" in host["guidance"]
    event = next(s for s in host["steps"] if s["id"] == "rules-engine")
    assert event["result"]["data"]["rules_engine_error"] == "0x80070005"
    assert event["result"]["data"]["dcom_self_permission_suspected"] is True
    healthy, _ = world.run("0x80070005", [HEALTHY_HOST], [], "dcom-healthy")
    assert healthy.exit_code == 0


def test_online_activation_is_retried_as_the_playbook_says_before_it_hands_over(
    world: World, no_waiting: list[float]
) -> None:
    """0x80072EE2 can be transient: the activation is tried three times, 60 s apart, before the phone route."""
    result, log = world.run("0x80072EE2", ["NOINET01"], [], "retry-ee2")
    assert result.exit_code == 4
    activations = [e for e in steps_of(log, world.label("NOINET01")) if e["step"] == "activate"]
    assert [e["attempt"] for e in activations] == [1, 2, 3]
    assert all(e["hresult"] == "0x80072EE2" for e in activations)
    assert no_waiting.count(60.0) == 2
    escalated = [e for e in steps_of(log, world.label("NOINET01")) if e["phase"] == "escalate"]
    assert {"facts", "proxy"} <= {e["step"] for e in escalated}


def test_an_evaluation_server_is_converted_with_the_opt_in_then_activated_after_the_restart(
    world: World, no_waiting: list[float]
) -> None:
    """CONVERT: DISM /Set-Edition with a key of the target edition; the conversion completes at the restart, so
    the run that converts hands over (restart, then run again) and the next run activates and proves it."""
    first, _ = world.run("0xC004F069", ["EVAL01"], EDITION_CONVERSION, "convert-1")
    assert first.exit_code == 4, first.output
    (host,) = json.loads(first.stdout)["hosts"]
    assert host["outcome"] == ESCALATE and "restart" in host["guidance"]
    convert = next(s for s in host["steps"] if s["id"] == "convert-edition")
    assert convert["status"] == "ran" and convert["result"]["changed"]
    assert convert["result"]["data"]["restart_required"] is True
    # DISM exits 3010 and "Restart Windows to complete this operation.": the edition changes at the restart
    assert world.state("EVAL01").edition.edition_id == "ServerStandardEval" and world.state("EVAL01").restart_pending
    world.hosts["EVAL01"].engine.restart()  # type: ignore[attr-defined]
    assert "Eval" not in world.state("EVAL01").edition.edition_id
    second, _ = world.run("0xC004F069", ["EVAL01"], EDITION_CONVERSION, "convert-2")
    assert second.exit_code == 0, second.output
    (host,) = json.loads(second.stdout)["hosts"]
    assert host["outcome"] == FIXED
    ran = {s["id"] for s in host["steps"] if s["status"] == "ran"}
    assert "activate" in ran and "convert-edition" not in ran  # converted once, never twice
    assert world.state("EVAL01").license_status == LICENSED


def test_a_domain_controller_is_never_converted(world: World, no_waiting: list[float]) -> None:
    """CONVERT: not possible on a domain controller, even with the opt-in: the script refuses, a person acts."""
    result, _ = world.run("0xC004F069", ["EVALDC01"], EDITION_CONVERSION, "dc")
    assert result.exit_code == 4, result.output
    (host,) = json.loads(result.stdout)["hosts"]
    assert host["outcome"] == ESCALATE and host["guidance"]
    convert = next(s for s in host["steps"] if s["id"] == "convert-edition")
    assert convert["result"]["data"]["refused"] == "domain_controller" and not convert["result"]["changed"]
    assert world.state("EVALDC01").edition.edition_id == "ServerStandardEval"


UNCOVERED = sorted(
    str(book.code) for book in PlaybookLibrary().all() if str(book.code) not in {case.code for case in CASES}
)


@pytest.mark.parametrize("code", UNCOVERED)
def test_every_other_shipped_playbook_leaves_a_healthy_host_healthy_and_untouched(world: World, code: str) -> None:
    before = snapshot(world.state(HEALTHY_HOST))
    result, log = world.run(code, [HEALTHY_HOST], [], f"healthy-{code}")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["counts"]["healthy"] == 1
    assert_healthy_and_untouched(world, report, log, before)
