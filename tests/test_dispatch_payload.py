"""What a dispatched host's task and report carry, in-process: sealed per run, secrets kept as secrets, scripts
and playbooks checked, reasons told in either language after the trip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from remediate.codes import ErrorCode
from remediate.dispatch.payload import PayloadError, report_in, report_out, task_in, task_out
from remediate.dispatch.secrets import RunKey, SealError
from remediate.dispatch.sites import sites_of
from remediate.engine import EngineOptions
from remediate.errors import UsageError
from remediate.inventory import Host
from remediate.plan import HostPlan
from remediate.playbook import PlaybookLibrary
from remediate.productkey import ProductKey
from remediate.reasons import Reason, phase_word
from remediate.render import Renderer, build_plan
from remediate.results import HostReport, Outcome, StepRecord, StepResult, StepStatus
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials
from remediate.values import RunValues

MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up
LIBRARY = PlaybookLibrary()


def host_plans(*hosts: Host, code: str = "0xC004F050") -> tuple[HostPlan, ...]:
    playbook = LIBRARY.get(ErrorCode.parse(code))
    values = RunValues(settings={}, secrets={"product_key": ProductKey.parse(MAK)})
    plan = build_plan(playbook, list(hosts), values, Renderer.for_library(LIBRARY), code=ErrorCode.parse(code),
                      allow=())
    return plan.hosts


def sealed_task(host_plan: HostPlan, key: RunKey) -> str:
    credentials = Credentials("CORP\\ops", Secret("pa55-w0rd!"))
    return key.seal(task_out(host_plan, ConnectionOptions(auth="ntlm"), credentials, EngineOptions(forks=7), True))


def scripts_of(host_plan: HostPlan) -> dict[str, str]:
    return {step.script_sha256: step.script for step in host_plan.steps}


def test_a_task_opens_only_with_its_runs_key_and_holds_no_secret_in_clear() -> None:
    (host_plan,) = host_plans(Host("pc1.corp.example", 5986, {"site": "tokyo"}))
    key = RunKey(b"k" * 32, "run-1")
    sealed = sealed_task(host_plan, key)
    assert MAK not in sealed and "pa55-w0rd!" not in sealed and "pc1.corp.example" not in sealed
    with pytest.raises(SealError):
        RunKey(b"k" * 32, "run-2").open(sealed)  # another run's key
    with pytest.raises(SealError):
        RunKey(b"o" * 32, "run-1").open(sealed)  # another dispatch key
    edited = sealed[:40] + ("A" if sealed[40] != "A" else "B") + sealed[41:]
    with pytest.raises(SealError):
        key.open(edited)


def test_a_task_comes_back_as_the_host_plan_it_was_with_its_secrets_still_secret() -> None:
    (host_plan,) = host_plans(Host("pc1.corp.example", 5986, {"site": "tokyo"}))
    task = task_in(RunKey(b"k" * 32, "r").open(sealed_task(host_plan, RunKey(b"k" * 32, "r"))), LIBRARY,
                   scripts_of(host_plan).get)
    assert task.host_plan.steps == host_plan.steps and task.host_plan.host == host_plan.host
    keys = [value for step in task.host_plan.steps for value in step.parameters.values()
            if isinstance(value, ProductKey)]
    assert keys and all(key.reveal() == MAK and str(key) != MAK for key in keys)
    assert task.credentials is not None and task.credentials.password is not None
    assert task.credentials.password.reveal() == "pa55-w0rd!" and str(task.credentials.password) != "pa55-w0rd!"
    assert (task.connection.auth, task.options.forks, task.key_watch) == ("ntlm", 7, True)


def test_a_worker_refuses_a_script_or_a_playbook_that_is_not_the_planned_one() -> None:
    (host_plan,) = host_plans(Host("pc1.corp.example", 5986, {"site": "tokyo"}))
    data = task_out(host_plan, ConnectionOptions(), None, EngineOptions(), False)
    first = host_plan.steps[0].script_sha256
    changed = {**scripts_of(host_plan), first: scripts_of(host_plan)[first] + "\nRemove-Item C:\\ -Recurse"}
    with pytest.raises(PayloadError, match="no script with its sha256"):
        task_in(data, LIBRARY, changed.get)
    other = json.loads(json.dumps(data))
    other["playbook"]["sha256"] = "0" * 64
    with pytest.raises(PayloadError, match="differs from the controller's"):
        task_in(other, LIBRARY, scripts_of(host_plan).get)


def test_a_report_keeps_its_reason_as_a_value_and_its_steps() -> None:
    result = StepResult(ok=False, hresult=ErrorCode.parse("0xC004F074"), output="no KMS", data={"x": 1})
    report = HostReport(
        host="pc1:5986", code="0xC004F074", outcome=Outcome.FAILED,
        steps=[StepRecord("activate", "fix", StepStatus.RAN, result, attempts=2, durations=[0.5, 0.25])],
        code_before=ErrorCode.parse("0xC004F074"), code_after=ErrorCode.parse("0xC004F074"),
        why=Reason("abandoned_changed", phase=phase_word("fix"), step="activate"), duration_s=1.5,
    )
    back = report_in(json.loads(json.dumps(report_out(report))))
    assert back.reason_in("ja") == report.reason_in("ja") and back.reason == report.reason
    assert dataclasses.astuple(back.steps[0]) == dataclasses.astuple(report.steps[0])
    assert (back.outcome, back.code_before, back.code_after, back.duration_s) == (
        Outcome.FAILED, report.code_before, report.code_after, 1.5)


def test_every_host_needs_a_site_with_a_plain_name() -> None:
    east, west = Host("a.corp.example", None, {"site": "east"}), Host("b.corp.example", None, {"site": "west"})
    plans = host_plans(east, west, Host("c.corp.example", None, {"site": "east"}))
    assert sites_of(plans) == {"east": [0, 2], "west": [1]}
    with pytest.raises(UsageError, match=r"1 host\(s\) have no site: d\.corp\.example"):
        sites_of(host_plans(east, Host("d.corp.example", None, {})))
    with pytest.raises(UsageError, match="a site name is"):
        sites_of(host_plans(Host("e.corp.example", None, {"site": "../etc"})))
