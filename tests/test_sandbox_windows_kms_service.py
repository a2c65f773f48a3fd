"""KMS hosts as machines of the fleet: a scenario serves a world's KMS host over WinRM, and what its clients ask
shows in its own slmgr /dlv and SoftwareLicensingService (ref §2a KMS host section, §3 counters, §4 thresholds;
KMSPLAN's CSVLK groups)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sandbox_windows_support import cmdlet, slmgr

from remediate.errors import UsageError
from remediate.sandbox.scenario import KMS_HOST_LABEL, build
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.editions import edition, gvlk_for
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import HostState, KmsHost, World

SCENARIO = """
name: kms
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 3, csvlk: ws2022, serve: true}
    - {name: kms02.corp.example, address: 10.0.0.6, count: 60, csvlk: ws2019, serve: true, publish: false}
    - {name: kms03.corp.example, address: 10.0.0.7, count: 60, serve: true, activated: false, publish: false}
groups:
  - {name: app, prefix: APP, count: 1, fault: 0xC004F038}
"""


def served(tmp_path: Path) -> tuple[World, dict[str, WindowsHost]]:
    path = tmp_path / "kms.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    built = build(path, None, 0)
    engines = {spec.computer_name: spec.engine for spec in built.hosts}
    return built.world, engines  # type: ignore[return-value]


def client(world: World, edition_id: str, kms: str, name: str) -> HostState:
    """A fresh KMS client pointed at one KMS host (slmgr /skms)."""
    state = HostState(name, edition=edition(edition_id))
    key = gvlk_for(edition_id)
    assert key is not None
    licensing.install_product_key(state, world, key)
    state.kms_machine = kms
    return state


def activation_code(state: HostState, world: World) -> int:
    try:
        licensing.activate(state, world)
    except LicensingError as failure:
        return failure.hresult
    return 0


def kms_section(host: WindowsHost) -> list[str]:
    text, code = slmgr(host.commands, "/dlv")
    assert code == 0
    lines = text.split("\r\n")
    return lines[lines.index("Key Management Service is enabled on this machine"):]


def test_a_served_kms_host_shows_the_count_and_requests_its_clients_made(tmp_path: Path) -> None:
    world, hosts = served(tmp_path)
    assert {name for name, host in hosts.items() if host.fault == KMS_HOST_LABEL} == {"KMS01", "KMS02", "KMS03"}
    kms01 = hosts["KMS01"]
    assert kms_section(kms01)[1:3] == ["    Current count: 3", "    Listening on Port: 1688"]
    server = client(world, "ServerStandard", "kms01.corp.example", "SRV1")
    assert activation_code(server, world) == 0xC004F038  # ref §4: servers activate at 5; this one is the 4th
    assert activation_code(client(world, "ServerStandard", "kms01.corp.example", "SRV2"), world) == 0  # the 5th
    section = kms_section(kms01)
    assert section[1] == "    Current count: 5"
    assert "    Total requests received: 2" in section
    assert "    Failed requests received: 1" in section
    assert "    Requests with License Status Initial grace period: 2" in section
    service = cmdlet(kms01.commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    assert service.get("KeyManagementServiceCurrentCount") == 5
    assert service.get("KeyManagementServiceTotalRequests") == 2


def test_the_key_of_a_served_host_names_its_csvlk_group_and_an_old_one_refuses_newer_clients(
    tmp_path: Path,
) -> None:
    world, hosts = served(tmp_path)
    text, _ = slmgr(hosts["KMS02"].commands, "/dlv")
    assert "Description: Windows(R) Operating System, VOLUME_KMS_WS19 channel" in text
    assert text.startswith("Software licensing service version: 10.0.17763.1")  # hosted on Server 2019
    assert "    DNS publishing disabled" in text
    # KMSPLAN: the Server 2019 group activates servers up to 2019 and Windows 10: newer ones get 0xC004F042
    assert activation_code(client(world, "ServerStandard", "kms02.corp.example", "NEW1"), world) == 0xC004F042
    assert activation_code(client(world, "Enterprise", "kms02.corp.example", "WIN11"), world) == 0xC004F042
    assert activation_code(client(world, "EnterpriseS", "kms02.corp.example", "LTSC"), world) == 0  # build 17763
    assert "Description: Windows(R) Operating System, VOLUME_KMS_WS22 channel" in slmgr(hosts["KMS01"].commands,
                                                                                          "/dlv")[0]


def test_a_kms_host_that_is_not_activated_shows_it_and_its_clients_get_c004f041(tmp_path: Path) -> None:
    world, hosts = served(tmp_path)
    text, _ = slmgr(hosts["KMS03"].commands, "/dli")
    assert "License Status: Initial grace period" in text
    assert "Key Management Service is enabled on this machine" not in text
    assert activation_code(client(world, "ServerStandard", "kms03.corp.example", "C1"), world) == 0xC004F041


def test_a_kms_host_without_a_group_activates_what_its_families_allow() -> None:
    world = World()
    world.add_kms_host(KmsHost("kms9.corp.example", "10.0.0.9", count=60, families=("client",)))
    assert activation_code(client(world, "Enterprise", "kms9.corp.example", "W1"), world) == 0
    assert activation_code(client(world, "ServerStandard", "kms9.corp.example", "S1"), world) == 0xC004F042


def test_an_unknown_csvlk_group_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("csvlk: ws2019", "csvlk: ws2012"), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        build(path, None, 0)
    assert "unknown CSVLK group 'ws2012'; known: ws2025, ws2022, ws2019, ws2016, w10" in str(caught.value)
