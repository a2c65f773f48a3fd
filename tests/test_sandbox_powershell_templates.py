"""Every shipped template, rendered with the options its playbooks give it, runs inside the dialect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from sandbox_powershell_fakes import FakeCommands, run

from remediate.sandbox.powershell.parser import parse_script

ROOT = Path(__file__).parent.parent
STEP_RESULT_KEYS = {"ok", "hresult", "license_status", "changed", "output", "data"}
SAMPLE_VALUES: dict[str, Any] = {
    "KmsHost": "kms.example.com",
    "LookupDomain": "example.com",
    "TargetEdition": "ServerStandard",
    "ProductKey": "VDYBN-27WPP-V4HQT-9VMD4-VMK7H",
    "ReferenceTimeUtc": "2024-03-05T14:00:00Z",
}
SAMPLE_BY_TYPE: dict[str | None, Any] = {
    "string": "x",
    "int": 1688,
    "bool": False,
    "string[]": [],
    "hashtable": {},
}


def _uses() -> list[tuple[str, dict[str, Any], str, str]]:
    """(template, options, step id, phase) for every distinct use of a template in the playbooks."""
    seen: set[tuple[str, str]] = set()
    uses: list[tuple[str, dict[str, Any], str, str]] = []
    for playbook in sorted((ROOT / "playbooks").glob("*.yaml")):
        for step in yaml.safe_load(playbook.read_text(encoding="utf-8")).get("steps", []):
            options = step.get("options") or {}
            key = (step["template"], json.dumps(options, sort_keys=True))
            if key not in seen:
                seen.add(key)
                uses.append((step["template"], options, step["id"], step["phase"]))
    return uses


USES = _uses()


@pytest.mark.parametrize(
    ("template", "options", "step_id", "phase"), USES, ids=[f"{u[0]}-{u[1]}" for u in USES]
)
def test_template_runs_inside_the_dialect_and_ends_with_one_step_result(
    template: str, options: dict[str, Any], step_id: str, phase: str
) -> None:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "templates"), undefined=jinja2.StrictUndefined
    )
    script = environment.get_template(template).render(options=options, step={"id": step_id, "phase": phase})
    declared = parse_script(script).parameters
    parameters = {
        parameter.name: SAMPLE_VALUES.get(parameter.name, SAMPLE_BY_TYPE.get(parameter.type_name))
        for parameter in declared
        if parameter.default is None
    }
    outcome = run(
        script, parameters, commands=FakeCommands(), env={"SystemRoot": "C:\\Windows", "COMPUTERNAME": "H1"}
    )
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output, "no StepResult written"
    result = json.loads(outcome.output[-1])
    assert set(result) == STEP_RESULT_KEYS
    assert isinstance(result["ok"], bool) and isinstance(result["changed"], bool)
    assert isinstance(result["data"], dict)
