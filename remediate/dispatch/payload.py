"""A host's task and its report as JSON, and back.

A task is everything a worker needs to run one host as the controller would: the host, its rendered steps (raw
parameter values included: it travels sealed, see secrets.py), the connection settings, the credentials and
the engine's options. The playbook travels by code and sha256: the worker runs it from its own copy and refuses
a copy that differs. A step's script travels by its sha256 too (hosts share their scripts: the controller puts
each one in the broker once per run, events.py); the worker checks the text it gets against that sha256, which
came sealed, so what runs is what was planned (and, for `run --plan`, approved).

A report is the host's HostReport, its reason kept as a value so that the controller tells it in any language.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from remediate.codes import ErrorCode
from remediate.engine import EngineOptions
from remediate.inventory import Host
from remediate.plan import HostPlan, PlannedStep
from remediate.playbook import Playbook, RetryPolicy, Text
from remediate.productkey import ProductKey
from remediate.reasons import Argument, Localized, Reason
from remediate.results import HostReport, Outcome, StepRecord, StepResult, StepStatus
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials


class PayloadError(Exception):
    """A task this worker cannot run as planned (its playbook differs, a script does not match its sha256)."""


class Playbooks(Protocol):
    """The worker's playbooks (a PlaybookLibrary): the one that handles a code."""

    def find(self, code: ErrorCode) -> Playbook | None: ...


# --- parameter values: typed, so that secrets and keys stay what they are on the worker --------------------


def _value_out(value: Any) -> Any:
    if isinstance(value, Secret):
        return {"$": "secret", "v": value.reveal()}
    if isinstance(value, ProductKey):
        return {"$": "product_key", "v": value.reveal()}
    if isinstance(value, Mapping):
        return {"$": "map", "v": {str(name): _value_out(item) for name, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_value_out(item) for item in value]
    return value


def _value_in(value: Any) -> Any:
    if isinstance(value, list):
        return [_value_in(item) for item in value]
    if isinstance(value, dict):
        kind, inner = value.get("$"), value.get("v")
        if kind == "secret":
            return Secret(str(inner), source="the dispatched task")
        if kind == "product_key":
            return ProductKey.parse(str(inner), source="the dispatched task")
        if kind == "map" and isinstance(inner, dict):
            return {name: _value_in(item) for name, item in inner.items()}
        raise PayloadError(f"unknown value kind {kind!r}")
    return value


# --- the task ------------------------------------------------------------------------------------------------


def _step_out(step: PlannedStep) -> dict[str, Any]:
    return {
        "id": step.id, "phase": step.phase, "template": step.template,
        "description": {"en": step.description.en, "ja": step.description.ja},
        "script_sha256": step.script_sha256,
        "parameters": {name: _value_out(value) for name, value in step.parameters.items()},
        "display_parameters": dict(step.display_parameters), "only_if": step.only_if,
        "retry": step.retry.to_dict() if step.retry is not None else None,
        "idempotent": step.idempotent, "timeout_s": step.timeout_s,
    }


def _step_in(data: Mapping[str, Any], scripts: Callable[[str], str | None]) -> PlannedStep:
    script = scripts(str(data["script_sha256"]))
    if script is None or hashlib.sha256(script.encode("utf-8")).hexdigest() != data["script_sha256"]:
        raise PayloadError(f"step {data['id']}: no script with its sha256 {data['script_sha256']}")
    retry = data.get("retry")
    return PlannedStep(
        id=data["id"], phase=data["phase"], template=data["template"],
        description=Text(data["description"]["en"], data["description"]["ja"]),
        script=script, script_sha256=data["script_sha256"],
        parameters={name: _value_in(value) for name, value in data["parameters"].items()},
        display_parameters=dict(data["display_parameters"]), only_if=data.get("only_if"),
        retry=RetryPolicy(attempts=int(retry["attempts"]), delay_s=float(retry["delay_s"]),
                          on_hresult=tuple(ErrorCode.parse(code) for code in retry["on_hresult"]))
        if retry else None,
        idempotent=bool(data["idempotent"]), timeout_s=float(data["timeout_s"]),
    )


def _host_out(host: Host) -> dict[str, Any]:
    return {"name": host.name, "port": host.port, "variables": dict(host.variables),
            "source": str(host.source) if host.source is not None else None, "line": host.line,
            "connect_address": host.connect_address}


def _host_in(data: Mapping[str, Any]) -> Host:
    return Host(name=data["name"], port=data["port"], variables=dict(data["variables"]),
                source=Path(data["source"]) if data.get("source") else None, line=data.get("line"),
                connect_address=data.get("connect_address"))


def task_out(host_plan: HostPlan, connection: ConnectionOptions, credentials: Credentials | None,
             options: EngineOptions, key_watch: bool) -> dict[str, Any]:
    """One host's task, as JSON (to be sealed: it holds the host's secrets and the credentials in clear)."""
    return {
        "host": _host_out(host_plan.host),
        "label": host_plan.label,
        "playbook": {"code": str(host_plan.playbook.code), "sha256": host_plan.playbook.sha256},
        "steps": [_step_out(step) for step in host_plan.steps],
        "connection": dataclasses.asdict(connection),
        "credentials": None if credentials is None else {
            "username": credentials.username,
            "password": credentials.password.reveal() if credentials.password is not None else None,
        },
        "options": dataclasses.asdict(options),
        "key_watch": key_watch,  # the key ledger watches this run's installs and activations
    }


@dataclasses.dataclass(frozen=True)
class HostTask:
    host_plan: HostPlan
    connection: ConnectionOptions
    credentials: Credentials | None
    options: EngineOptions
    key_watch: bool


def task_in(data: Mapping[str, Any], library: Playbooks, scripts: Callable[[str], str | None]) -> HostTask:
    """A task as the worker runs it, its scripts found by sha256 with `scripts`; PayloadError when its playbook
    is not the worker's or a script is not the one planned."""
    code = ErrorCode.parse(data["playbook"]["code"])
    playbook = library.find(code)
    if playbook is None:
        raise PayloadError(f"this worker has no playbook for {code}")
    if playbook.sha256 != data["playbook"]["sha256"]:
        raise PayloadError(f"this worker's playbook for {code} ({playbook.source}) differs from the controller's")
    host = _host_in(data["host"])
    steps = tuple(_step_in(step, scripts) for step in data["steps"])
    given = data.get("credentials")
    credentials = None if given is None else Credentials(
        given["username"], Secret(given["password"], source="the dispatched task") if given["password"] else None)
    return HostTask(
        host_plan=HostPlan(host=host, label=data["label"], playbook=playbook, steps=steps),
        connection=ConnectionOptions(**data["connection"]),
        credentials=credentials,
        options=EngineOptions(**data["options"]),
        key_watch=bool(data["key_watch"]),
    )


# --- the report ----------------------------------------------------------------------------------------------


def _argument_out(value: Argument) -> Any:
    if isinstance(value, Reason):
        return reason_out(value)
    if isinstance(value, Localized):
        return {"en": value.en, "ja": value.ja}
    return value


def reason_out(reason: Reason) -> dict[str, Any]:
    return {"reason": reason.id, "args": {name: _argument_out(value) for name, value in reason.args.items()}}


def _argument_in(value: Any) -> Argument:
    if isinstance(value, dict) and "reason" in value:
        return reason_in(value)
    if isinstance(value, dict):
        return Localized(value["en"], value["ja"])
    return str(value)


def reason_in(data: Mapping[str, Any]) -> Reason:
    return Reason(data["reason"], **{name: _argument_in(value) for name, value in data["args"].items()})


def _code(text: str | None) -> ErrorCode | None:
    return ErrorCode.parse(text) if text else None


def _record_in(data: Mapping[str, Any]) -> StepRecord:
    result = data.get("result")
    return StepRecord(
        id=data["id"], phase=data["phase"], status=StepStatus(data["status"]),
        result=StepResult.from_mapping(result) if result is not None else None,
        attempts=int(data["attempts"]), durations=[float(value) for value in data["durations"]],
        script_sha256=data.get("script_sha256"), note=data.get("note"), error_kind=data.get("error_kind"),
    )


def report_out(report: HostReport) -> dict[str, Any]:
    body = report.to_dict()
    body["why"] = reason_out(report.why) if report.why is not None else None
    body["duration_s"] = report.duration_s
    return body


def report_in(data: Mapping[str, Any]) -> HostReport:
    why = reason_in(data["why"]) if data.get("why") else None
    report = HostReport(
        host=data["host"], code=data["code"], outcome=Outcome(data["outcome"]),
        steps=[_record_in(step) for step in data["steps"]],
        code_before=_code(data.get("code_before")), code_after=_code(data.get("code_after")),
        guidance=data.get("guidance"), duration_s=float(data["duration_s"]),
        computer_name=data.get("computer_name"), why=why,
    )
    if why is None:
        report.reason = data.get("reason") or ""
    return report
