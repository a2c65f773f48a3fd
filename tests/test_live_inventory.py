"""An Ansible inventory with groups and connection variables drives `status` and `run --limit GROUP` on sandbox
hosts, the inventory file used as Ansible has it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.fleet import Endpoint, Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-live-inventory-tests-4k"
SCENARIO = """
name: two-offices
description: Four KMS clients with stale DNS caches, two in each office.
hosts: 4
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: stale, prefix: APP, count: 4, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache}
"""


def ansible_inventory(fleet: Fleet, username: str) -> str:
    """Tokyo through the psrp plugin's variables, Osaka through winrm's; each host an alias of 127.0.0.1."""
    tokyo, osaka = fleet.endpoints[:2], fleet.endpoints[2:]

    def hosts(prefix: str, endpoints: list[Endpoint]) -> str:
        return "".join(f"            {prefix}{index:02d}:\n"
                       f"              ansible_host: {endpoint.address}\n"
                       f"              ansible_port: {endpoint.port}\n"
                       for index, endpoint in enumerate(endpoints, 1))

    return f"""\
# Windows hosts of both offices (ansible-playbook -i this file works the same)
all:
  vars:
    ansible_user: '{username}'
  children:
    windows:
      vars:
        ansible_shell_type: powershell
      children:
        tokyo:
          vars:
            ansible_connection: psrp
            ansible_psrp_protocol: http
            ansible_psrp_auth: ntlm
          hosts:
{hosts("tk", tokyo)}        osaka:
          vars:
            ansible_connection: winrm
            ansible_winrm_scheme: http
            ansible_winrm_transport: ntlm
          hosts:
{hosts("os", osaka)}"""


@pytest.mark.slow
def test_an_ansible_inventory_drives_status_and_a_run_limited_to_one_group(tmp_path: Path) -> None:
    scenario = tmp_path / "two-offices.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    with Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD) as fleet:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(ansible_inventory(fleet, fleet.username), encoding="utf-8")
        written = hashlib.sha256(inventory.read_bytes()).hexdigest()
        names = {alias: endpoint.computer_name
                 for alias, endpoint in zip(["tk01", "tk02", "os01", "os02"], fleet.endpoints, strict=True)}
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD}
        runner = CliRunner()
        before = runner.invoke(main, ["status", "--hosts", str(inventory), "--output", "json"], env=env)
        run = runner.invoke(main, ["run", "0xC004F074", "--hosts", str(inventory), "--limit", "tokyo",
                                   "--audit", str(tmp_path / "audit.jsonl"), "--output", "json"], env=env)
        after = runner.invoke(main, ["status", "--hosts", str(inventory), "--output", "json"], env=env)
        osaka = runner.invoke(main, ["status", "--hosts", str(inventory), "--limit", "osaka"], env=env)
    assert hashlib.sha256(inventory.read_bytes()).hexdigest() == written
    # Every host is read, named by its inventory name; ansible_user and ansible_shell_type are not used (warned).
    assert before.exit_code == 1, before.output
    statuses = json.loads(before.stdout)
    assert {status["host"]: status["computer_name"] for status in statuses} == names
    assert all(status["hresult"] == "0xC004F074" for status in statuses)
    assert f"warning: {inventory}: not used by remediate, ignored: ansible_shell_type, ansible_user" in before.stderr
    # The run fixes Tokyo and touches nothing in Osaka.
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert {host["host"]: host["outcome"] for host in report["hosts"]} == {"tk01": "fixed", "tk02": "fixed"}
    licensed = {status["host"]: status["licensed"] for status in json.loads(after.stdout)}
    assert licensed == {"tk01": True, "tk02": True, "os01": False, "os02": False}
    assert after.exit_code == 1
    assert osaka.exit_code == 1 and "0 of 2 licensed" in osaka.output
    assert PASSWORD not in before.output + run.output + after.output + osaka.output
