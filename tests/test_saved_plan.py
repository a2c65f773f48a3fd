"""Change windows: `run --dry-run --save-plan` writes what the board approves; `run --plan` executes exactly that
or refuses (exit 2, nothing touched) and says what changed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    script = content["scripts"][step["script_sha256"]]  # each script once: the hosts share it
    assert step["script_sha256"] == hashlib.sha256(script.encode("utf-8")).hexdigest()
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
    edited["scripts"][edited["hosts"][0]["steps"][0]["script_sha256"]] += "Restart-Computer\n"
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


def test_an_inventory_alias_moved_to_another_address_is_not_the_approved_host(tmp_path: Path) -> None:
    inventory = tmp_path / "site.yml"
    inventory.write_text("all:\n  hosts:\n    app01:\n      ansible_host: 10.0.0.5\n", "utf-8")
    plan_file = tmp_path / "plan.json"
    assert invoke(["run", "0xC004F074", "--hosts", str(inventory), "--dry-run", "--save-plan",
                   str(plan_file)]).exit_code == 0
    assert invoke(["run", "--plan", str(plan_file), "--hosts", str(inventory), "--dry-run"]).exit_code == 0
    inventory.write_text("all:\n  hosts:\n    app01:\n      ansible_host: 10.0.0.6\n", "utf-8")
    moved = invoke(["run", "--plan", str(plan_file), "--hosts", str(inventory), "--dry-run"])
    assert moved.exit_code == 2
    assert "{'address': '10.0.0.5'}, now {'address': '10.0.0.6'}" in moved.output


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


def signed_bytes(content: dict[str, Any]) -> bytes:
    """A plan file's content as it is signed and hashed: canonical JSON without its sha256 and approvals (what
    anyone can recompute: the format is documented)."""
    body = {key: value for key, value in content.items() if key not in ("sha256", "approvals")}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def forge(plan_file: Path, template_text_now: Path, own_playbooks: Path, hosts: Path) -> Path:
    """Defect once found: render a changed template, copy the NEW script hashes (not the text) and the playbook's
    sha256 into the approved plan, and recompute the plan's own sha256."""
    current = tmp = plan_file.with_name("current.json")
    assert invoke(["run", "0xC004F074", "--hosts", str(hosts), "--playbooks", str(own_playbooks), "--dry-run",
                   "--save-plan", str(tmp)]).exit_code == 0
    now = json.loads(current.read_text("utf-8"))
    forged = json.loads(plan_file.read_text("utf-8"))
    for old_host, new_host in zip(forged["hosts"], now["hosts"], strict=True):
        old_host["playbook_sha256"] = new_host["playbook_sha256"]
        for old_step, new_step in zip(old_host["steps"], new_host["steps"], strict=True):
            old_step["script_sha256"] = new_step["script_sha256"]  # the approved TEXT is left as it was
    forged["playbook"]["sha256"] = now["playbook"]["sha256"]
    forged["sha256"] = hashlib.sha256(signed_bytes(forged)).hexdigest()
    out = plan_file.with_name("forged.json")
    out.write_text(json.dumps(forged, indent=2), "utf-8")
    return out


def test_a_forged_plan_with_copied_hashes_is_refused_by_its_text(
    fleet_and_hosts: tuple[Fleet, Path], own_playbooks: Path, tmp_path: Path
) -> None:
    fleet, hosts = fleet_and_hosts
    env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    plan_file, log = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    common = ["--hosts", str(hosts), "--playbooks", str(own_playbooks)]
    assert invoke(["run", "0xC004F074", *common, "--dry-run", "--save-plan", str(plan_file)]).exit_code == 0
    template = own_playbooks / "templates" / "license-state.ps1.j2"
    template.write_text(template.read_text("utf-8") + "Restart-Computer -Force\n", "utf-8")
    forged = forge(plan_file, template, own_playbooks, hosts)
    result = invoke(["run", "--plan", str(forged), *common, "--audit", str(log)], env)
    assert result.exit_code == 2, result.output
    assert "step license-state: script changed" in result.output
    assert not log.exists()  # nothing was sent


def ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    """A new Ed25519 key pair made by ssh-keygen, as an approver has; returns the private key and public line."""
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, key.with_suffix(".pub").read_text("utf-8").strip()


@pytest.mark.slow
def test_signed_approvals_are_required_counted_and_recorded(
    fleet_and_hosts: tuple[Fleet, Path], tmp_path: Path
) -> None:
    fleet, hosts = fleet_and_hosts
    env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    alice, alice_pub = ssh_key(tmp_path, "alice")
    bob, bob_pub = ssh_key(tmp_path, "bob")
    mallory, _ = ssh_key(tmp_path, "mallory")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'alice@corp.example namespaces="remediate-plan" {alice_pub}\n'
                       f"bob@corp.example {bob_pub}\n", "utf-8")
    plan_file, log = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    assert invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan", str(plan_file),
                   "--expires", "72h"]).exit_code == 0
    run = ["run", "--plan", str(plan_file), "--hosts", str(hosts), "--audit", str(log),
           "--allowed-signers", str(signers), "--min-approvals", "2"]

    unsigned = invoke(run, env)
    assert unsigned.exit_code == 2 and "0 valid approval(s)" in unsigned.output and not log.exists()
    for key in (alice, mallory):
        assert invoke(["plan", "approve", str(plan_file), "--key", str(key)]).exit_code == 0
    short = invoke(run, env)  # mallory is not an allowed signer: one approval of two
    assert short.exit_code == 2 and "1 valid approval(s)" in short.output and "is not an allowed signer" in short.output
    assert not log.exists()

    # The signature interoperates: ssh-keygen itself verifies it against the same allowed_signers file.
    content = json.loads(plan_file.read_text("utf-8"))
    message = signed_bytes(content)
    signature = tmp_path / "alice.sig"
    signature.write_text(content["approvals"][0]["signature"], "ascii")
    verified = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "alice@corp.example",
                               "-n", "remediate-plan", "-s", str(signature)], input=message, capture_output=True)
    assert verified.returncode == 0, verified.stderr

    assert invoke(["plan", "approve", str(plan_file), "--key", str(bob)]).exit_code == 0
    ran = invoke(run, env)
    assert ran.exit_code == 0, ran.output
    started = next(event for event in audit.read_events(log) if event["type"] == audit.RUN_STARTED)
    assert sorted(approver["principal"] for approver in started["approvers"]) == ["alice@corp.example",
                                                                                 "bob@corp.example"]
    assert all(approver["fingerprint"].startswith("SHA256:") for approver in started["approvers"])


@pytest.mark.slow
def test_an_edited_signed_plan_and_an_expired_plan_are_refused(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("pc1.corp.example\n", "utf-8")
    alice, alice_pub = ssh_key(tmp_path, "alice")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"alice@corp.example {alice_pub}\n", "utf-8")
    plan_file = tmp_path / "plan.json"
    assert invoke(["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--save-plan", str(plan_file),
                   "--expires", "1h"]).exit_code == 0
    assert invoke(["plan", "approve", str(plan_file), "--key", str(alice)]).exit_code == 0
    content = json.loads(plan_file.read_text("utf-8"))
    # Re-dated by someone who can write the file: its own sha256 recomputed, the signature no longer fits.
    content["expires"] = "2999-01-01T00:00:00Z"
    content["sha256"] = hashlib.sha256(signed_bytes(content)).hexdigest()
    plan_file.write_text(json.dumps(content), "utf-8")
    edited = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts), "--allowed-signers", str(signers)])
    assert edited.exit_code == 2 and "0 valid approval(s)" in edited.output
    content["expires"] = "2000-01-01T00:00:00Z"
    content["sha256"] = hashlib.sha256(signed_bytes(content)).hexdigest()
    plan_file.write_text(json.dumps(content), "utf-8")
    expired = invoke(["run", "--plan", str(plan_file), "--hosts", str(hosts)])
    assert expired.exit_code == 2 and "the plan expired at 2000-01-01T00:00:00Z" in expired.output
