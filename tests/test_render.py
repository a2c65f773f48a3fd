"""Rendering: Playbook + Hosts + values -> Plan, with every template problem found before any connection."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate import render
from remediate.errors import PlaybookError, TemplateError, UsageError
from remediate.inventory import Host, parse_hosts
from remediate.plan import Plan
from remediate.playbook import Playbook, load_playbook
from remediate.powershell_syntax import changing_commands, declared_parameters
from remediate.productkey import ProductKey
from remediate.render import Renderer, build_plan
from remediate.secret import Secret
from remediate.values import RunValues

DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "templates"
KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"  # Microsoft's published KMS client key for Windows 10/11 Pro


def test_playbook() -> Playbook:
    return load_playbook(DATA / "playbooks" / "0xC004F074.yaml", [TEMPLATES])


test_playbook.__test__ = False  # type: ignore[attr-defined]


def plan_for(hosts: list[Host], run: RunValues, allow: tuple[str, ...] = ()) -> Plan:
    # A fresh Renderer each time: nothing is reused from an earlier rendering.
    return build_plan(test_playbook(), hosts, run, Renderer([TEMPLATES]), allow=allow)


def scripts(plan: Plan) -> dict[str, str]:
    return {step.id: step.script for step in plan.hosts[0].steps}


def one_step_playbook(tmp_path: Path, template: str, step: str = "", phase: str = "detect") -> Playbook:
    """A playbook of one step over one template, both written to tmp_path."""
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "probe.ps1.j2").write_text(textwrap.dedent(template), encoding="utf-8")
    verify = (
        ""
        if phase != "fix"
        else (
            "  - id: check-again\n    phase: verify\n    template: test-license-state.ps1.j2\n"
            "    description: {en: Verify, ja: 確認}\n"
        )
    )
    detect = (
        ""
        if phase == "detect"
        else (
            "  - id: check\n    phase: detect\n    template: test-license-state.ps1.j2\n"
            "    description: {en: Check, ja: 確認}\n"
        )
    )
    text = (
        'code: "0xC004F074"\ntitle: {en: T, ja: T}\nsummary: {en: S, ja: S}\n'
        "parameters:\n  kms_host: {type: fqdn, description: {en: K, ja: K}}\n"
        "steps:\n" + detect + f"  - id: probe\n    phase: {phase}\n    template: probe.ps1.j2\n"
        "    description: {en: Probe, ja: 調査}\n"
        + textwrap.indent(textwrap.dedent(step).strip() + "\n", "    ")
        + verify
        + "escalate: {when: on_failure, guidance: {en: G, ja: G}}\n"
    )
    path = tmp_path / "0xC004F074.yaml"
    path.write_text(text, encoding="utf-8")
    return load_playbook(path, [tmp_path / "templates", TEMPLATES])


def renderer_for(tmp_path: Path) -> Renderer:
    return Renderer([tmp_path / "templates", TEMPLATES])


# --- the plan ----------------------------------------------------------------------------------------------


def test_the_plan_holds_exact_scripts_raw_values_for_the_transport_and_masked_values_for_people() -> None:
    host = Host("client01.lab.example.com", variables={"kms_host": "kms01.lab.example.com"})
    run = RunValues(settings={"kms_port": "1689"}, secrets={"product_key": Secret(KEY)})
    plan = plan_for([host], run)
    host_plan = plan.hosts[0]
    assert [s.id for s in host_plan.steps] == [
        "license-state",
        "set-kms",
        "install-key",
        "activate",
        "verify-state",
    ]
    set_kms = host_plan.steps[1]
    assert set_kms.parameters == {"KmsHost": "kms01.lab.example.com", "KmsPort": 1689}
    assert set_kms.display_parameters == {"KmsHost": "kms01.lab.example.com", "KmsPort": "1689"}
    assert "/skms $target" in set_kms.script and "kms01" not in set_kms.script
    install = host_plan.steps[2]
    key = install.parameters["ProductKey"]
    assert isinstance(key, ProductKey) and key.reveal() == KEY
    assert install.display_parameters["ProductKey"].endswith("2YT43")
    assert KEY not in install.display_parameters["ProductKey"]
    assert KEY not in repr(plan) and KEY not in json.dumps(plan.to_dict())
    activate = host_plan.steps[3]
    assert activate.only_if == "steps['license-state'].data.license_status != 1"
    assert activate.retry is not None and activate.retry.attempts == 3
    assert activate.timeout_s == 180.0
    assert [(s.id, s.reason) for s in host_plan.skipped] == [("convert-edition", "opt-in")]


def test_render_time_conditions_and_opt_ins_decide_which_steps_are_planned() -> None:
    plan = plan_for([Host("web03")], RunValues(), allow=("edition-conversion",))
    host_plan = plan.hosts[0]
    assert "set-kms" not in [s.id for s in host_plan.steps]
    assert "convert-edition" in [s.id for s in host_plan.steps]
    skipped = {s.id: s.detail for s in host_plan.skipped}
    assert skipped == {
        "set-kms": "its condition is false: when kms_host",
        "install-key": "its condition is false: when product_key",
    }


def test_the_json_form_of_a_plan() -> None:
    plan = plan_for([Host("a"), Host("b", port=5986)], RunValues(settings={"kms_host": "kms.example.com"}))
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["code"] == "0xC004F074"
    assert data["playbook"]["sha256"] == test_playbook().sha256
    assert [h["host"] for h in data["hosts"]] == ["a", "b:5986"]
    step = data["hosts"][0]["steps"][1]
    assert step["id"] == "set-kms" and step["phase"] == "fix"
    assert step["parameters"] == {"KmsHost": "kms.example.com", "KmsPort": "1688"}
    assert data["scripts"][step["script_sha256"]] == plan.hosts[0].steps[1].script
    skipped = {s["id"]: s["reason"] for s in data["hosts"][0]["skipped_steps"]}
    assert skipped == {"install-key": "when", "convert-edition": "opt-in"}


def test_hosts_with_the_same_plan_are_grouped() -> None:
    hosts = [Host(f"client{i:03}", variables={"kms_host": "kms01.example.com"}) for i in range(500)]
    hosts.insert(10, Host("odd-one", variables={"note": "rack 3"}))
    plan = plan_for(hosts, RunValues())
    groups = plan.groups()
    assert [len(g) for g in groups] == [500, 1]
    assert groups[1][0].label == "odd-one"


def test_the_gvlk_table_is_a_built_in_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "gvlk.yaml"
    table.write_text("ServerStandard: WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY\nProfessional: " + KEY + "\n", "utf-8")
    monkeypatch.setattr(render, "GVLK_FILE", table)
    render.gvlk_by_edition.cache_clear()
    try:
        playbook = one_step_playbook(
            tmp_path,
            "param([hashtable]$GvlkTable)\n$ErrorActionPreference = 'Stop'\n$GvlkTable.Count\n",
            step="params: {GvlkTable: gvlk_by_edition}",
        )
        plan = build_plan(playbook, [Host("a")], RunValues(), renderer_for(tmp_path))
    finally:
        render.gvlk_by_edition.cache_clear()
    step = plan.hosts[0].steps[0]
    assert step.parameters["GvlkTable"]["Professional"] == KEY
    assert step.display_parameters == {"GvlkTable": "<GVLK table: 2 editions>"}
    assert KEY not in json.dumps(plan.to_dict())


# --- template problems -------------------------------------------------------------------------------------


def test_a_template_sees_no_values(tmp_path: Path) -> None:
    playbook = one_step_playbook(
        tmp_path,
        "param([string]$KmsHost)\n$ErrorActionPreference = 'Stop'\n$x = '{{ kms_host }}'\n",
        step="params: {KmsHost: kms_host}",
    )
    with pytest.raises(TemplateError) as caught:
        build_plan(
            playbook, [Host("a")], RunValues(settings={"kms_host": "k.example.com"}), renderer_for(tmp_path)
        )
    message = str(caught.value)
    assert "probe.ps1.j2:3" in message
    assert "'kms_host' is undefined" in message
    assert "step probe" in message


def test_a_template_syntax_error_names_template_line_and_step(tmp_path: Path) -> None:
    playbook = one_step_playbook(tmp_path, "param()\n{% if options.x %}\n$a = 1\n")
    with pytest.raises(TemplateError) as caught:
        renderer_for(tmp_path).script(playbook, playbook.step("probe"))
    assert "probe.ps1.j2:3" in str(caught.value) and "step probe" in str(caught.value)


def test_a_template_saved_as_shift_jis_is_a_template_error_naming_file_and_line(tmp_path: Path) -> None:
    playbook = one_step_playbook(tmp_path, "param()\n")
    template = tmp_path / "templates" / "probe.ps1.j2"
    template.write_bytes("param()\n$ErrorActionPreference = 'Stop'\n# ライセンスの状態\n".encode("cp932"))
    with pytest.raises(TemplateError) as caught:
        build_plan(playbook, [Host("a")], RunValues(), renderer_for(tmp_path))
    assert str(caught.value).startswith(f"{template}:3: not UTF-8 text (byte 0x83): save the template as UTF-8")
    assert "step probe" in str(caught.value)


def test_a_missing_include_names_the_including_template_not_the_playbook(tmp_path: Path) -> None:
    playbook = one_step_playbook(tmp_path, "param()\n{% include '_absent.ps1.j2' %}\n")
    with pytest.raises(TemplateError) as caught:
        renderer_for(tmp_path).script(playbook, playbook.step("probe"))
    template = tmp_path / "templates" / "probe.ps1.j2"
    assert str(caught.value).startswith(f"{template}:2: template _absent.ps1.j2 not found")
    [problem] = renderer_for(tmp_path).problems(playbook)
    # Said once, at the playbook's step, with where the include is.
    assert str(problem).count("0xC004F074.yaml:") == 1
    assert "probe.ps1.j2:2: template _absent.ps1.j2 not found" in str(problem)


def test_a_script_that_does_not_parse_as_powershell_is_refused(tmp_path: Path) -> None:
    playbook = one_step_playbook(tmp_path, "param()\n$ErrorActionPreference = 'Stop'\nif ($true) {\n")
    with pytest.raises(
        TemplateError, match=r"probe\.ps1\.j2: the rendered script does not parse as PowerShell"
    ):
        build_plan(playbook, [Host("a")], RunValues(), renderer_for(tmp_path))


def test_options_shape_the_script(tmp_path: Path) -> None:
    template = (
        "param()\n{% if options.wait %}\nStart-Sleep -Seconds 5\n{% endif %}\nWrite-Output -InputObject 'x'\n"
    )
    waiting = one_step_playbook(tmp_path, template, step="options: {wait: true}")
    assert "Start-Sleep" in renderer_for(tmp_path).script(waiting, waiting.step("probe"))
    plain = one_step_playbook(tmp_path, template, step="options: {wait: false}")
    assert "Start-Sleep" not in renderer_for(tmp_path).script(plain, plain.step("probe"))


@pytest.mark.parametrize(
    ("template", "step", "expected"),
    [
        (
            "param([string]$KmsHost)\n$ErrorActionPreference = 'Stop'\n",
            "params: {KmsHost: kms_host, KmsPort: kms_host}",
            "steps[probe].params.KmsPort: probe.ps1.j2 declares no parameter $KmsPort (it declares: KmsHost)",
        ),
        (
            "param([string]$KmsHost, [string]$Other)\n$ErrorActionPreference = 'Stop'\n",
            "params: {KmsHost: kms_host}",
            "steps[probe].params: probe.ps1.j2 declares $Other without a default, but the step does not",
        ),
        (
            "param([int]$KmsHost)\n$ErrorActionPreference = 'Stop'\n",
            "params: {KmsHost: kms_host}",
            "steps[probe].params.KmsHost: $KmsHost is [int] in probe.ps1.j2 but kms_host is a fqdn",
        ),
        ("$a = 1\n", "", "steps[probe].template: probe.ps1.j2 renders no param(...) block"),
        (
            "param()\n& ipconfig.exe /flushdns\n",
            "",
            "steps[probe].phase: a detect step must only read, but probe.ps1.j2 changes the host",
        ),
    ],
)
def test_the_param_block_must_match_the_step(tmp_path: Path, template: str, step: str, expected: str) -> None:
    playbook = one_step_playbook(tmp_path, template, step=step)
    problems = [str(p) for p in renderer_for(tmp_path).problems(playbook)]
    assert any(expected in p for p in problems), problems
    with pytest.raises(PlaybookError):
        build_plan(playbook, [Host("a")], RunValues(), renderer_for(tmp_path))


def test_a_fix_step_may_change_the_host(tmp_path: Path) -> None:
    playbook = one_step_playbook(tmp_path, "param()\n& ipconfig.exe /flushdns\n", phase="fix")
    assert renderer_for(tmp_path).problems(playbook) == []


def test_the_test_playbook_has_no_template_problems() -> None:
    assert Renderer([TEMPLATES]).problems(test_playbook()) == []


def test_declared_parameters_and_changing_commands() -> None:
    script = (
        "param(\n    [string]$KmsHost,\n    [int]$KmsPort = 1688\n)\n"
        '$t = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /dli | Out-String\n'
        '$u = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /ato | Out-String\n'
        "$r = Invoke-CimMethod -InputObject $s -MethodName RefreshLicenseStatus\n"
    )
    assert [(p.name, p.type, p.has_default) for p in declared_parameters(script) or []] == [
        ("KmsHost", "string", False),
        ("KmsPort", "int", True),
    ]
    assert [line for line, _ in changing_commands(script)] == [6, 7]


# --- hostile values ----------------------------------------------------------------------------------------

HOSTILE_PIECES = [
    "'",
    '"',
    "`",
    "$(Remove-Item -Path C:\\ -Recurse)",
    "; Stop-Computer",
    "\n",
    "\r\n",
    "{{ 7*7 }}",
    "{% if true %}x{% endif %}",
    "{# c #}",
    "@{}",
    "#",
    "<#",
    "$env:PATH",
    "\u202e",
    "ｋｍｓ",
    "キー",
    "\x00",
    "kms01.example.com",
    "1688",
]
hostile_text = st.one_of(
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map("".join),
    st.text(max_size=40),
)

BENIGN = {"kms_host": "kms01.example.com", "kms_port": "1688", "note": "benign"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=hostile_text,
    name=st.sampled_from(sorted(BENIGN)),
    source=st.sampled_from(["set", "host"]),
)
def test_hostile_values_never_change_a_script(value: str, name: str, source: str) -> None:
    benign = plan_for([Host("h", variables=dict(BENIGN))], RunValues())
    settings_ = dict(BENIGN) if source == "host" else {}
    variables = dict(BENIGN)
    if source == "set":
        settings_[name] = value
        variables.pop(name)
    else:
        variables[name] = value
    try:
        plan = plan_for([Host("h", variables=variables)], RunValues(settings=settings_))
    except UsageError:
        return  # refused as a bad value for its type, before anything renders: fine
    rendered = scripts(plan)
    expected = scripts(benign)
    for step_id, script in rendered.items():
        assert script == expected[step_id]


@settings(max_examples=60, deadline=None)
@given(value=hostile_text)
def test_hostile_secrets_never_change_a_script_nor_show(value: str) -> None:
    try:
        plan = plan_for([Host("h")], RunValues(secrets={"product_key": Secret(value)}))
    except UsageError as error:
        if len(value.strip()) > 5:
            assert value.strip() not in str(error)
        return
    benign = plan_for([Host("h")], RunValues(secrets={"product_key": Secret(KEY)}))
    assert scripts(plan) == scripts(benign)


def test_a_hostile_text_value_is_passed_as_a_parameter_not_as_text() -> None:
    hostile = "'; Remove-Item -Path C:\\ -Recurse; '{{ 7*7 }}$(whoami)"
    benign = plan_for([Host("h")], RunValues(settings={"note": "benign"}))
    plan = plan_for([Host("h")], RunValues(settings={"note": hostile}))
    step = plan.hosts[0].steps[0]
    assert step.parameters == {"Note": hostile}
    assert hostile not in step.script and "49" not in step.script
    assert scripts(plan) == scripts(benign)


def test_conditions_are_tried_with_every_combination_of_their_parameters(tmp_path: Path) -> None:
    # Fails only when kms_host is given: the comparison of a text with a number is an error in Jinja.
    playbook = one_step_playbook(
        tmp_path,
        "param()\n$ErrorActionPreference = 'Stop'\n",
        step="when: kms_host and kms_host > 3",
    )
    problems = [str(p) for p in renderer_for(tmp_path).problems(playbook)]
    assert len(problems) == 1
    assert "steps[probe].when: cannot evaluate the condition 'kms_host and kms_host > 3'" in problems[0]
    fine = one_step_playbook(
        tmp_path, "param()\n$ErrorActionPreference = 'Stop'\n", step="when: not kms_host"
    )
    assert renderer_for(tmp_path).problems(fine) == []


def test_bad_values_of_every_host_are_reported_at_once() -> None:
    hosts = parse_hosts("h1 kms_host=bad_x\nh2\nh3 kms_host=-dash.example.com\n", Path("hosts.txt"))
    with pytest.raises(UsageError) as caught:
        plan_for(hosts, RunValues())
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 problems with parameter values:"
    assert lines[1].startswith("  hosts.txt:1: h1: kms_host: not a valid host name: 'bad_x'")
    assert lines[2].startswith("  hosts.txt:3: h3: kms_host: not a valid host name: '-dash.example.com'")


def test_a_script_with_an_escape_sequence_is_refused_before_a_change_board_reads_it(tmp_path: Path) -> None:
    # ESC [1A ESC [2K moves the cursor up and erases the line: the preview would not show what is sent.
    template = "param()\n$ErrorActionPreference = 'Stop'\n& ipconfig.exe /flushdns # \x1b[1A\x1b[2K\n"
    playbook = one_step_playbook(tmp_path, template, phase="fix")
    with pytest.raises(TemplateError) as caught:
        build_plan(playbook, [Host("a")], RunValues(), renderer_for(tmp_path))
    assert "the rendered script holds the control character U+001B at line 3, column 28" in str(caught.value)
    assert "\x1b" not in str(caught.value)
