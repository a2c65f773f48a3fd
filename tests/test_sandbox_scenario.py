"""Scenario loading and fleet building: shipped scenarios, seeded reproducibility, labelled faults, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sandbox_windows_support import Context, slmgr

from remediate.errors import UsageError
from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build, build_hosts, hosts_with_fault, load_scenario, shipped_scenarios
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.licensing import LicensingError

MIXED_FAULTS = [
    "0xC004F074",
    "0xC004C008",
    "0xC004F050",
    "0xC004F213",
    "0xC004F034",
    "0x80072EE2",
    "0xC004F069",
    "0x8007232B",
    "0xC004F06C",
    "0xC004F038",
    "0xC004F039",
    "0xC004F041",
    "0xC004F042",
    "0xC004E016",
]


def engine(spec: HostSpec) -> WindowsHost:
    assert isinstance(spec.engine, WindowsHost)
    return spec.engine


def test_shipped_scenarios() -> None:
    assert {"kms-moved", "after-imaging", "mixed-fleet", "healthy"} <= set(shipped_scenarios())
    for name in shipped_scenarios():
        hosts = build_hosts(name, None, seed=3)
        assert hosts and all(isinstance(h, HostSpec) for h in hosts)
        assert len({h.computer_name for h in hosts}) == len(hosts)


def test_mixed_fleet_has_a_host_for_every_error_plus_healthy_and_japanese_hosts() -> None:
    hosts = build_hosts("mixed-fleet", None, seed=1)
    for label in MIXED_FAULTS:
        assert hosts_with_fault(hosts, label), label
    assert len(hosts_with_fault(hosts, "healthy")) >= 2
    assert sum(1 for h in hosts if engine(h).state.japanese) >= 3


def _activation_code(host: WindowsHost) -> int:
    try:
        licensing.activate(host.state, host.world)
    except LicensingError as failure:
        return failure.hresult
    return 0


@pytest.mark.parametrize(
    "label", [c for c in MIXED_FAULTS if c not in ("0xC004F050", "0xC004E016", "0xC004F069")]
)
def test_activation_faults_show_their_code_when_the_host_activates_again(label: str) -> None:
    # the label is what the model produces: activating again gives the same documented code
    host = engine(hosts_with_fault(build_hosts("mixed-fleet", None, seed=1), label)[0])
    if label == "0xC004F038":
        assert _activation_code(host) == 0xC004F038  # one more request is still far below 25 (ref §4)
    else:
        assert _activation_code(host) == int(label, 16)


@pytest.mark.parametrize(("label", "key_label"), [("0xC004F069", "GVLK"), ("0xC004E016", "other edition")])
def test_key_faults_show_their_code_through_slmgr_ipk(label: str, key_label: str) -> None:
    # ref §1b: /ipk on an evaluation edition -> 0xC004F069; a key of another edition -> 0xC004E016
    host = engine(hosts_with_fault(build_hosts("mixed-fleet", None, seed=1), label)[0])
    from remediate.sandbox.windows.editions import GVLKS

    other = next(k for k, e in GVLKS.items() if e == "ServerDatacenter")
    text, code = slmgr(host.commands, "/ipk", other)
    assert code == licensing.to_signed(int(label, 16))
    assert f"Error: {label}" in text


def test_kms_moved_hosts_recover_after_a_dns_flush_or_ckms() -> None:
    # ref §4 / 232B: flush after DNS changes; ref §2: /ckms restores auto-discovery
    built = build("kms-moved", None, seed=5)
    cached = [engine(h) for h in built.hosts if h.computer_name.startswith("APP")]
    pinned = [engine(h) for h in built.hosts if h.computer_name.startswith("WEB")]
    assert cached and pinned
    host = cached[0]
    assert _activation_code(host) == 0xC004F074
    ipconfig = host.commands.native("ipconfig.exe")
    assert ipconfig is not None
    ipconfig(["/flushdns"], Context())
    assert _activation_code(host) == 0
    other = pinned[0]
    other.commands.native("ipconfig.exe")(["/flushdns"], Context())  # type: ignore[misc]
    assert _activation_code(other) == 0xC004F074  # /skms pins the old host: flushing is not enough
    slmgr(other.commands, "/ckms")
    assert _activation_code(other) == 0


def test_building_is_reproducible_with_a_seed_and_varies_with_another() -> None:
    def layout(seed: int) -> list[tuple[str, str, str]]:
        return [
            (h.computer_name, engine(h).fault, engine(h).state.ui_language)
            for h in build_hosts("after-imaging", 40, seed)
        ]

    assert layout(11) == layout(11)
    assert any(layout(s) != layout(11) for s in (12, 13, 14))


def test_count_splits_percent_groups_and_keeps_fixed_counts() -> None:
    hosts = build_hosts("mixed-fleet", 40, seed=2)
    assert len(hosts) == 40
    assert len(hosts_with_fault(hosts, "healthy")) == 40 - 15
    with pytest.raises(UsageError, match="fixed count"):
        build_hosts("mixed-fleet", 3, seed=2)


def test_transport_faults_come_from_the_group() -> None:
    hosts = build_hosts("after-imaging", None, seed=1)
    desktops = [h for h in hosts if h.computer_name.startswith("PC")]
    assert desktops and all(h.faults == TransportFaults(not_up_for_s=1.5) for h in desktops)


def test_unknown_scenario_lists_the_shipped_ones() -> None:
    with pytest.raises(UsageError) as raised:
        load_scenario("no-such-scenario")
    assert "kms-moved" in str(raised.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            "groups:\n  - name: a\n    count: 1\n    fault: 0xC004F999\n",
            4,
            "groups[0].fault",
            "unknown fault",
        ),
        (
            "groups:\n  - name: a\n    count: 1\n    edition: Home\n",
            4,
            "groups[0].edition",
            "unknown edition",
        ),
        ("groups:\n  - name: a\n    count: 1\n    colour: red\n", 4, "groups[0].colour", "unknown field"),
        ("groups:\n  - name: a\n    count: two\n", 3, "groups[0].count", "expected int"),
        (
            "groups:\n  - name: a\n    count: 1\n    transport: {latency_ms: slow}\n",
            4,
            "groups[0].transport.latency_ms",
            "expected int",
        ),
        (
            "groups:\n  - name: a\n    count: 1\n    language: fr-FR\n",
            4,
            "groups[0].language",
            "unknown language",
        ),
        (
            "world:\n  kms_hosts:\n    - {name: k.example}\ngroups: []\n",
            3,
            "world.kms_hosts[0]",
            "missing field",
        ),
        ("groups:\n  - name: a\n    count: 1\n    percent: 5\n", 2, "groups[0]", "exactly one"),
    ],
)
def test_bad_scenarios_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as raised:
        load_scenario(path)
    error = raised.value
    assert error.location is not None
    assert (error.location.file, error.location.line, error.location.field) == (path, line, field)
    assert words in error.message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "groups:\n  - name: a\n    count: [1\n")
    with pytest.raises(UsageError) as raised:
        load_scenario(path)
    assert raised.value.location is not None and raised.value.location.file == path
    assert raised.value.location.line is not None


def test_a_world_that_cannot_produce_the_fault_is_refused(tmp_path: Path) -> None:
    # ref §4: a server client activates once the count reaches 5, so ten hosts cannot all show 0xC004F038
    path = _write(tmp_path, "groups:\n  - name: a\n    count: 10\n    fault: 0xC004F038\n")
    with pytest.raises(UsageError, match="shows 0x00000000, not 0xC004F038") as raised:
        build_hosts(path, None, seed=1)
    assert raised.value.location is not None and raised.value.location.line == 2


def test_healthy_hosts_need_a_kms_host(tmp_path: Path) -> None:
    path = _write(tmp_path, "world:\n  kms_hosts: []\ngroups:\n  - name: a\n    count: 1\n")
    with pytest.raises(UsageError, match="0x8007232B, not healthy"):
        build_hosts(path, None, seed=1)
