"""Every template's rendered scripts run on the sandbox through pypsrp without a dialect error.

Each template is rendered with every set of `options` some shipped playbook gives it (through the one Renderer),
then sent to sandbox hosts over real WinRM - one pypsrp RunspacePool per host, reused for every script, as a
Session does - with representative values bound as PowerShell parameters. The pipeline must complete without a
dialect, parse or CommandNotFound error and end with one StepResult as JSON. A script that steps outside the
dialect fails loudly over the same path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate import resources
from remediate.installation_ids import IID_TEMPLATE, iid_script
from remediate.kms_status import KMS_TEMPLATE, kms_script
from remediate.playbook import Playbook, PlaybookLibrary, Step
from remediate.render import BUILTIN_TABLES, Renderer, sample_value
from remediate.results import StepResult
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build
from remediate.status import STATUS_TEMPLATE, status_script

LIBRARY = PlaybookLibrary()
RENDERER = Renderer.for_library(LIBRARY)
SERVER_MAK = "4HNCB-T8RJX-2QWPV-K7MDY-G9F3C"  # made up: valid in this scenario's world only
SCENARIO = f"""
name: templates
description: Hosts the templates run on - healthy, a Japanese KMS client behind a firewall, an evaluation server,
  and the KMS host itself.
world:
  domain: corp.example
  kms_hosts:
    - {{name: kms01.corp.example, address: 10.0.0.5, count: 60, csvlk: ws2022, serve: true}}
  activation:
    reachable: true
    keys:
      - {{key: {SERVER_MAK}, channel: MAK, editions: [ServerStandard, ServerDatacenter], remaining: 50}}
groups:
  - {{name: healthy, prefix: OK, count: 1}}
  - {{name: f074ja, prefix: KMSFW, count: 1, fault: 0xC004F074, cause: kms-firewalled, language: ja-JP}}
  - {{name: eval, prefix: EVAL, count: 1, edition: ServerStandardEval, fault: 0xC004F069}}
"""
# What a user would give each playbook parameter.
VALUES: dict[str, Any] = {
    "kms_host": "kms01.corp.example",
    "kms_port": 1688,
    "lookup_domain": "corp.example",
    "reference_time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "product_key": SERVER_MAK,
    "target_edition": "ServerStandard",
}
# Errors that mean a script left the dialect, or the sandbox does not know a command it uses.
DIALECT_ERRORS = {"SandboxNotEmulated", "ParseException", "CommandNotFoundException"}


def _uses() -> list[tuple[Playbook, Step]]:
    """One (playbook, step) for every distinct (template, options) any shipped playbook uses."""
    seen: set[tuple[str, str]] = set()
    uses: list[tuple[Playbook, Step]] = []
    for book in sorted(LIBRARY.all(), key=lambda b: str(b.code)):
        for step in book.steps:
            key = (step.template, json.dumps(dict(step.options), sort_keys=True))
            if key not in seen:
                seen.add(key)
                uses.append((book, step))
    return uses


USES = _uses()


def parameters(book: Playbook, step: Step) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for ps_name, source in step.params.items():
        if source in BUILTIN_TABLES:
            values[ps_name] = dict(BUILTIN_TABLES[source]().value)
        elif source in VALUES:
            values[ps_name] = VALUES[source]
        else:
            values[ps_name] = sample_value(book.parameters[source])
    return values


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunspacePool]]:
    scenario = tmp_path_factory.mktemp("templates") / "templates.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    hosts = build(scenario, None, 0).hosts
    with Fleet.start(hosts, auth="ntlm") as fleet:
        opened: dict[str, RunspacePool] = {}
        try:
            for spec in hosts:
                name = spec.computer_name
                pool = RunspacePool(WSMan(fleet.endpoint(name).address, **fleet.client_options(name)))
                pool.open()
                opened[name] = pool
            yield opened
        finally:
            for pool in opened.values():
                pool.close()


def invoke(pool: RunspacePool, script: str, values: dict[str, Any]) -> PowerShell:
    shell = PowerShell(pool)
    shell.add_script(script)
    for name, value in values.items():
        shell.add_parameter(name, value)
    shell.invoke()
    return shell


def dialect_errors(shell: PowerShell) -> list[str]:
    return [
        f"{record.fq_error}: {record.exception.adapted_properties.get('Message', '') if record.exception else ''}"
        for record in shell.streams.error
        if record.fq_error in DIALECT_ERRORS or record.reason in DIALECT_ERRORS
    ]


# The templates commands run on their own, rendered once without values: status, keys iids, kms status.
COMMAND_SCRIPTS = {STATUS_TEMPLATE: status_script, IID_TEMPLATE: iid_script, KMS_TEMPLATE: kms_script}


def test_every_template_is_covered() -> None:
    templates = {use[1].template for use in USES} | set(COMMAND_SCRIPTS)
    shipped = {p.name for p in resources.templates_dir().glob("*.ps1.j2") if not p.name.startswith("_")}
    assert templates == shipped


@pytest.mark.parametrize("template", sorted(COMMAND_SCRIPTS))
def test_the_scripts_commands_run_end_with_one_step_result_over_winrm(
    pools: dict[str, RunspacePool], template: str
) -> None:
    script = COMMAND_SCRIPTS[template]()
    for name, pool in pools.items():
        shell = invoke(pool, script, {})
        assert dialect_errors(shell) == [], (name, template)
        assert shell.state == PSInvocationState.COMPLETED, (name, template, [str(r) for r in shell.streams.error])
        result = StepResult.from_json(shell.output[-1])
        assert result.data["computer_name"] == name


@pytest.mark.parametrize(
    ("book", "step"), USES, ids=[f"{s.template}-{json.dumps(dict(s.options), sort_keys=True)}" for _, s in USES]
)
def test_rendered_script_runs_over_winrm_and_ends_with_one_step_result(
    pools: dict[str, RunspacePool], book: Playbook, step: Step
) -> None:
    script = RENDERER.script(book, step)
    values = parameters(book, step)
    for name, pool in pools.items():
        shell = invoke(pool, script, values)
        assert dialect_errors(shell) == [], (name, step.template)
        failure = [str(record) for record in shell.streams.error]
        assert shell.state == PSInvocationState.COMPLETED, (name, step.template, failure)
        assert shell.output, (name, step.template, "no output")
        last = shell.output[-1]
        assert isinstance(last, str), (name, step.template, type(last))
        result = StepResult.from_json(last)  # raises when it is not a StepResult
        keys = set(json.loads(last))
        assert {"ok", "hresult", "license_status", "changed", "output", "data"} <= keys, (name, keys)
        assert isinstance(result.data, dict)
        assert SERVER_MAK not in last  # a key given as a parameter never comes back in full


LICENSE_STATE = next(s for b, s in USES if s.template == "license-state.ps1.j2")
LICENSE_BOOK = next(b for b, s in USES if s.template == "license-state.ps1.j2")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda s: s.replace("$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Stop'\n"
                             "gci C:\\"), "SandboxNotEmulated"),  # an alias of a command not emulated
        (lambda s: s.replace("$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Stop'\n"
                             "Invoke-Expression 'Get-Date'"), "SandboxNotEmulated"),  # text run as code
        (lambda s: s.replace("$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Stop'\n"
                             "Get-LicenseFacts -All"), "CommandNotFoundException"),  # no such command
    ],
    ids=["alias", "invoke-expression", "unknown-command"],
)  # fmt: skip
def test_a_script_outside_the_dialect_fails_loudly_over_the_same_path(
    pools: dict[str, RunspacePool], change: Any, error: str
) -> None:
    script = RENDERER.script(LICENSE_BOOK, LICENSE_STATE)
    changed = change(script)
    assert changed != script
    shell = invoke(pools["OK01"], changed, {})
    assert shell.state == PSInvocationState.FAILED
    assert [record.fq_error for record in shell.streams.error] == [error]
    assert shell.output == []  # no StepResult: the engine reports the step as a script error, not a result
    # The unchanged script still runs on the same pool: the failure was the script's, not the session's.
    again = invoke(pools["OK01"], script, {})
    assert again.state == PSInvocationState.COMPLETED
    assert StepResult.from_json(again.output[-1]).data["computer_name"] == "OK01"
