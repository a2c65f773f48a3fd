"""Change windows: `run --dry-run --save-plan` writes what the board approves; `run --plan` executes exactly that
or refuses (exit 2, nothing touched) and says what changed."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate import audit
from remediate.cli import main
from remediate.codes import ErrorCode
from remediate.inventory import Host
from remediate.playbook import Playbook, PlaybookLibrary
from remediate.render import Renderer, build_plan
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts
from remediate.saved_plan import SavedPlan
from remediate.secret import Secret
from remediate.values import RunValues

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Sbx-saved-plan-tests-3c"
KEY_ALPHABET = "BCDFGHJKMPQRTVWXY2346789"
KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"  # a published KMS client key (GVLK)
OTHER_KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"


def invoke(arguments: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, arguments, env=env or {}, catch_exceptions=False)


@pytest.fixture
def fleet_and_hosts(tmp_path: Path) -> Iterator[tuple[Fleet, Path]]:
    fleet = Fleet.start(build_hosts("kms-moved", 3, 0), auth="ntlm", password=PASSWORD)
    with fleet:
        yield fleet, fleet.write_hosts_file(tmp_path / "hosts.txt")


@pytest.fixture
def own_playbooks(tmp_path: Path) -> Path:
    """A copy of 0xC004F074's playbook and the templates, to change."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(ROOT / "playbooks" / "0xC004F074.yaml", folder)
    shutil.copytree(ROOT / "templates", folder / "templates")
    return folder


def test_an_approved_plan_runs_and_fixes_and_the_audit_names_it(
    fleet_and_hosts: tuple[Fleet, Path], tmp_path: Path
) -> None:
    fleet, hosts = fleet_and_hosts
    plan_file, log = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    saved = invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan", str(plan_file)])
    assert saved.exit_code == 0, saved.output
    content = json.loads(plan_file.read_text("utf-8"))
    assert content["code"] == "0xC004F074" and len(content["hosts"]) == 3
    step = content["hosts"][0]["steps"][0]
    assert step["script_sha256"] == hashlib.sha256(step["script"].encode("utf-8")).hexdigest()
    env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    ran = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts), "--audit", str(log)], env)
    assert ran.exit_code == 0, ran.output
    assert ran.output.count("fixed") >= 3
    assert audit.verify(log).ok
    started = next(event for event in audit.read_events(log) if event["type"] == audit.RUN_STARTED)
    assert started["plan_sha256"] == hashlib.sha256(plan_file.read_bytes()).hexdigest()
    # The code, when given, must be the plan's.
    wrong = invoke(["run", "0xC004F050", "--plan", str(plan_file), "--hosts", str(hosts)], env)
    assert wrong.exit_code == 2 and "is a plan for 0xC004F074, not 0xC004F050" in wrong.output


def test_any_change_since_approval_is_refused_and_nothing_is_touched(
    fleet_and_hosts: tuple[Fleet, Path], own_playbooks: Path, tmp_path: Path
) -> None:
    fleet, hosts = fleet_and_hosts
    env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    plan_file, log = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    common = ["--hosts", str(hosts), "--playbooks", str(own_playbooks)]
    assert invoke(["run", "0xC004F074", *common, "--dry-run", "--save-plan", str(plan_file)]).exit_code == 0
    run = ["run", "--plan", str(plan_file), *common, "--audit", str(log)]

    def refused(*expected: str, arguments: list[str] = run) -> None:
        result = invoke(arguments, env)
        assert result.exit_code == 2, result.output
        for text in expected:
            assert text in result.output, result.output
        assert "nothing was touched" in result.output or "edited" in result.output
        assert not log.exists()

    template = own_playbooks / "templates" / "license-state.ps1.j2"
    original_template = template.read_text("utf-8")
    template.write_text(original_template + "# reviewed again\n", "utf-8")
    refused("step license-state: script changed (template license-state.ps1.j2)")
    template.write_text(original_template, "utf-8")

    playbook = own_playbooks / "0xC004F074.yaml"
    original_playbook = playbook.read_text("utf-8")
    playbook.write_text(original_playbook.replace("could be contacted", "could not be reached", 1), "utf-8")
    refused("playbook 0xC004F074: its file changed")
    playbook.write_text(original_playbook, "utf-8")

    original_hosts = hosts.read_text("utf-8")
    lines = original_hosts.rstrip("\n").split("\n")
    dropped = lines[-1].split()[0]
    hosts.write_text("\n".join(lines[:-1]) + "\n", "utf-8")
    refused(f"host {dropped}: approved but not in the hosts file now")
    hosts.write_text(original_hosts, "utf-8")

    refused("steps planned now that were not approved: kms-port, set-kms",
            "approved steps no longer planned: clear-kms",
            arguments=[*run, "--set", "kms_host=kms09.corp.example"])
    with_host = tmp_path / "with-host.json"
    assert invoke(["run", "0xC004F074", *common, "--set", "kms_host=kms08.corp.example", "--dry-run",
                   "--save-plan", str(with_host)]).exit_code == 0
    refused("step set-kms: parameter KmsHost: approved kms08.corp.example, now kms09.corp.example",
            arguments=["run", "--plan", str(with_host), *common, "--set", "kms_host=kms09.corp.example",
                       "--audit", str(log)])

    content = json.loads(plan_file.read_text("utf-8"))
    edited = json.loads(json.dumps(content))
    edited["hosts"][0]["steps"][0]["script"] += "Restart-Computer\n"
    edited_file = tmp_path / "edited.json"
    edited_file.write_text(json.dumps(edited, indent=2), "utf-8")
    refused("was edited after it was saved",
            arguments=["run", "--plan", str(edited_file), *common, "--audit", str(log)])

    # Every refusal left the hosts alone: the approved plan still finds all three broken and fixes them.
    ran = invoke([*run, "--output", "json"], env)
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["summary"]["counts"]["fixed"] == 3


def test_a_different_secret_is_refused_by_its_digest_and_shown_masked(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("app01.corp.example\n", "utf-8")
    plan_file = tmp_path / "plan.json"
    secret = ["--secret-env", "product_key=NEW_KEY"]
    saved = invoke(["run", "0xC004F050", "--hosts", str(hosts), *secret, "--dry-run", "--save-plan",
                    str(plan_file)], {"NEW_KEY": KEY})
    assert saved.exit_code == 0, saved.output
    assert KEY not in plan_file.read_text("utf-8") and "2YT43" in plan_file.read_text("utf-8")
    same = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts), *secret, "--dry-run"], {"NEW_KEY": KEY})
    assert same.exit_code == 0, same.output
    other = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts), *secret], {"NEW_KEY": OTHER_KEY})
    assert other.exit_code == 2
    assert "parameter ProductKey: approved XXXXX-XXXXX-XXXXX-XXXXX-2YT43, now XXXXX-XXXXX-XXXXX-XXXXX-T83GX" in (
        other.output
    )
    assert KEY not in other.output and OTHER_KEY not in other.output


@pytest.fixture(scope="module")
def key_playbook() -> tuple[Playbook, Renderer]:
    library = PlaybookLibrary(())
    return library.get(ErrorCode.parse("0xC004F050")), Renderer.for_library(library)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.lists(st.text(KEY_ALPHABET, min_size=5, max_size=5), min_size=5, max_size=5))
def test_no_full_product_key_in_the_plan_file(
    groups: list[str], key_playbook: tuple[Playbook, Renderer], tmp_path: Path
) -> None:
    key = "-".join(groups)
    playbook, renderer = key_playbook
    hosts = [Host("app01.corp.example"), Host("app02.corp.example", 5986)]
    plan = build_plan(playbook, hosts, RunValues(secrets={"product_key": Secret(key)}), renderer)
    plan_file = tmp_path / "plan.json"
    SavedPlan.from_plan(plan).write(plan_file)
    text = plan_file.read_text("utf-8")
    assert key not in text and key.replace("-", "") not in text
    assert f"XXXXX-XXXXX-XXXXX-XXXXX-{groups[-1]}" in text  # what the board reads: the last five only
    assert hashlib.sha256(key.encode()).hexdigest() not in text
    assert SavedPlan.load(plan_file).differences(plan) == []


def test_auto_and_mismatched_options_are_refused_clearly(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("app01.corp.example\n", "utf-8")
    plan_file = tmp_path / "plan.json"
    assert invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan",
                   str(plan_file)]).exit_code == 0
    auto = invoke(["run", "auto", "--plan", str(plan_file), "--hosts", str(hosts)])
    assert auto.exit_code == 2 and "auto picks each host's playbook from a live detect" in auto.output
    not_dry = invoke(["run", "0xC004F074", "--hosts", str(hosts), "--save-plan", str(plan_file)])
    assert not_dry.exit_code == 2 and "add --dry-run" in not_dry.output
    no_code = invoke(["run", "--hosts", str(hosts), "--dry-run"])
    assert no_code.exit_code == 2 and "give the error code" in no_code.output


def test_plan_options_that_do_not_go_together_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("app01.corp.example\n", "utf-8")
    plan_file = tmp_path / "plan.json"
    assert invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan",
                   str(plan_file)]).exit_code == 0
    approved = plan_file.read_bytes()
    other = tmp_path / "other.json"
    both = invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan", str(other),
                   "--plan", str(plan_file)])
    assert both.exit_code == 2
    assert "error: --save-plan and --plan do not go together: save a plan, or run a saved one" in both.output
    assert not other.exists()
    opt_in = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts), "--allow", "edition-conversion"])
    assert opt_in.exit_code == 2
    assert (f"error: --allow: {plan_file} was approved with no opt-in; leave --allow out to use the plan's"
            in opt_in.output)
    auto = invoke(["run", "auto", "--plan", str(plan_file), "--hosts", str(hosts)])
    assert "so it has no plan to approve; run --plan with the plan's error code (or no code)" in auto.output
    assert plan_file.read_bytes() == approved
