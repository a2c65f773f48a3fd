"""The activation model's outcomes for the documented cases (each test cites the reference section)."""

from __future__ import annotations

import pytest
from test_sandbox_windows_support import (
    MAK_KEY,
    PRO_GVLK,
    SERVER_GVLK,
    Context,
    cmdlet,
    gvlk_host,
    mak_host,
    slmgr,
    world_with_kms,
)

from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import (
    LICENSED,
    NOTIFICATION,
    HostState,
    KeyRecord,
    KmsHost,
    SrvRecord,
    World,
)


def activate_code(state: HostState, world: World) -> int:
    try:
        licensing.activate(state, world)
    except LicensingError as failure:
        return failure.hresult
    return 0


def event_12288_codes(state: HostState) -> list[str]:
    return [e.properties[0] for e in state.events if e.id == 12288]


def test_gvlk_client_activates_against_the_kms_host_found_in_dns() -> None:
    # ref §4: discovery through _vlmcs._tcp SRV records; validity 180 days
    world = world_with_kms()
    state = gvlk_host(world)
    assert activate_code(state, world) == 0
    assert state.license_status == LICENSED
    assert state.grace_minutes == 180 * 24 * 60
    assert state.discovered is not None and state.discovered.name == "kms1.corp.example"
    assert event_12288_codes(state) == ["0x0"]


def activation_failures(state: HostState) -> list[str]:
    """The hr of each event 8198 (a failed activation attempt), oldest first."""
    return [event.properties[0] for event in state.events if event.id == 8198]


def test_missing_srv_records_give_dns_name_does_not_exist() -> None:
    # ref §1a 0x8007232B: the client can't find the KMS SRV records
    world = World()
    state = gvlk_host(world)
    assert activate_code(state, world) == 0x8007232B
    assert activation_failures(state) == ["0x8007232B"]  # event 8198; the licence keeps its own reason
    assert state.license_status_reason == 0x4004F00C


def test_unreachable_kms_gives_c004f074_with_the_inner_code_in_event_12288() -> None:
    # ref §1a 0xC004F074 (look at event 12288 for the inner HRESULT) and 0x800706BA (firewall / port 1688)
    world = world_with_kms(reachable=False)
    state = gvlk_host(world)
    assert activate_code(state, world) == 0xC004F074
    assert event_12288_codes(state) == ["0x800706BA"]
    assert activation_failures(state) == ["0xC004F074"]
    assert state.license_status_reason == 0x4004F00C  # the state's own reason, not the attempt's
    assert state.license_status != LICENSED


def test_stale_cached_srv_record_survives_until_the_dns_cache_is_flushed() -> None:
    # ref §4 / 232B: `ipconfig /flushdns` after DNS changes
    world = world_with_kms()
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    cmdlet(commands, "Resolve-DnsName", Name="_vlmcs._tcp.corp.example", Type="SRV")  # cached now
    # the KMS host moves: old host gone, new one published
    world.kms_hosts[0].reachable = False
    world.dns.srv.clear()
    world.add_kms_host(KmsHost("kms2.corp.example", "10.0.0.6"), publish_srv_in="corp.example")
    assert activate_code(state, world) == 0xC004F074
    program = commands.native("ipconfig.exe")
    assert program is not None
    program(["/flushdns"], Context())
    assert activate_code(state, world) == 0
    assert state.discovered is not None and state.discovered.name == "kms2.corp.example"


@pytest.mark.parametrize(("skew_hours", "expected"), [(3.9, 0), (4.1, 0xC004F06C), (-5, 0xC004F06C)])
def test_clock_skew_over_four_hours_gives_c004f06c(skew_hours: float, expected: int) -> None:
    # ref §4 / F074: time compared in UTC; > 4 h skew -> 0xC004F06C
    world = world_with_kms()
    state = gvlk_host(world, clock_offset_s=skew_hours * 3600)
    assert activate_code(state, world) == expected


def test_w32tm_resync_clears_the_skew() -> None:
    # ref §1a 0xC004F06C fix: `w32tm /resync`
    world = world_with_kms()
    state = gvlk_host(world, clock_offset_s=6 * 3600)
    assert activate_code(state, world) == 0xC004F06C
    program = WindowsCommands(state, world).native("w32tm.exe")
    assert program is not None
    assert program(["/resync"], Context()).exit_code == 0
    assert activate_code(state, world) == 0


def test_kms_count_below_threshold_gives_c004f038_until_enough_clients_ask() -> None:
    # ref §4: servers activate when the host count is >= 5 (client OS >= 25); the host counts unique CMIDs
    world = world_with_kms(count=3)
    first = gvlk_host(world, "SRV01")
    second = gvlk_host(world, "SRV02")
    assert activate_code(first, world) == 0xC004F038  # count 4
    assert activate_code(second, world) == 0  # count 5
    assert activate_code(first, world) == 0  # same CMID, count stays 5, now enough
    assert world.kms_hosts[0].count == 5


def test_client_os_needs_25() -> None:
    # ref §4 KMSPLAN: client OS threshold 25
    world = world_with_kms(count=10)
    state = HostState("PC01", edition=edition("Professional"))
    licensing.install_product_key(state, world, PRO_GVLK)
    assert activate_code(state, world) == 0xC004F038


def test_unactivated_kms_host_gives_c004f041() -> None:
    # ref §1a 0xC004F041
    world = world_with_kms(activated=False)
    assert activate_code(gvlk_host(world), world) == 0xC004F041


def test_kms_host_that_does_not_serve_the_product_gives_c004f042() -> None:
    # ref §1a 0xC004F042; ref §4: a client-OS KMS host activates only client OSes
    world = world_with_kms(families=("client",))
    assert activate_code(gvlk_host(world), world) == 0xC004F042


def test_kms_that_does_not_answer_gives_c004f039() -> None:
    # ref §1a 0xC004F039: KMS not enabled / did not respond
    world = world_with_kms(kms_enabled=False)
    assert activate_code(gvlk_host(world), world) == 0xC004F039


def test_skms_disables_discovery_and_ckms_restores_it() -> None:
    # ref §2 / §4: /skms disables auto-discovery; /ckms restores it
    world = world_with_kms()
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    slmgr(commands, "/skms", "kms-old.corp.example:1688")
    assert activate_code(state, world) == 0xC004F074
    assert event_12288_codes(state)[-1] == "0x8007232B"  # the named host does not resolve
    slmgr(commands, "/ckms")
    assert activate_code(state, world) == 0


def test_skms_domain_looks_up_srv_records_in_that_domain() -> None:
    # ref §2 /skms-domain: forces lookup in one DNS domain
    world = world_with_kms(domain="kms.example")
    state = gvlk_host(world)
    assert activate_code(state, world) == 0x8007232B
    slmgr(WindowsCommands(state, world), "/skms-domain", "kms.example")
    assert activate_code(state, world) == 0


def test_discovery_tries_the_next_srv_record_when_one_host_is_down() -> None:
    # ref §4: picks another at random on failure
    world = world_with_kms()
    world.kms_hosts[0].reachable = False
    world.add_kms_host(KmsHost("kms2.corp.example", "10.0.0.6"), publish_srv_in="corp.example")
    state = gvlk_host(world)
    assert activate_code(state, world) == 0
    assert sorted(event_12288_codes(state)) in (["0x0"], ["0x0", "0x800706BA"])


def test_mak_activation_counts_down_and_then_fails_with_c004c020() -> None:
    # ref §1a 0xC004C020: MAK activation count used up
    world = World()
    state = mak_host(world, remaining=1)
    assert activate_code(state, world) == 0
    other = HostState("MAK02", edition=edition("ServerStandard"))
    licensing.install_product_key(other, world, MAK_KEY)
    assert activate_code(other, world) == 0xC004C020


def test_slmgr_ato_skips_activate_for_a_licensed_mak() -> None:
    # ref §2 /ato: skips Activate() for a MAK that is already Licensed (protects the MAK count)
    world = World()
    state = mak_host(world, remaining=1)
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/ato")[1] == 0
    assert world.key_record(MAK_KEY).remaining == 0  # type: ignore[union-attr]
    text, code = slmgr(commands, "/ato")
    assert code == 0 and "Product activated successfully." in text  # no second activation was spent


def test_blocked_keys() -> None:
    # ref §1a 0xC004F051 (blocked at install) and 0xC004C003 (blocked by the activation server)
    world = World()
    world.add_key(
        KeyRecord("BLOCK-AAAAA-BBBBB-CCCCC-DDDDD", "MAK", ("ServerStandard",), blocked_at="install")
    )
    world.add_key(
        KeyRecord("BLOCK-EEEEE-FFFFF-GGGGG-HHHHH", "MAK", ("ServerStandard",), blocked_at="activation")
    )
    state = HostState("S", edition=edition("ServerStandard"))
    with pytest.raises(LicensingError) as raised:
        licensing.install_product_key(state, world, "BLOCK-AAAAA-BBBBB-CCCCC-DDDDD")
    assert raised.value.hresult == 0xC004F051
    licensing.install_product_key(state, world, "BLOCK-EEEEE-FFFFF-GGGGG-HHHHH")
    assert activate_code(state, world) == 0xC004C003


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (PRO_GVLK, 0xC004E016),  # ref §1b: /ipk with a key for a different edition
        ("QQQQQ-WWWWW-EEEEE-RRRRR-TTTTT", 0xC004F050),  # ref §1a: not a valid key
        ("W269N-WFGWX-YVC9B-4J6C9", 0xC004F050),  # ref §1a: typo (a group missing)
        (
            "W269N\u2014WFGWX\u2014YVC9B\u20144J6C9\u2014T83GX",
            0xC004F050,
        ),  # ref §1a: em-dashes from a clipboard
    ],
)
def test_wrong_keys(key: str, expected: int) -> None:
    world = World()
    state = HostState("S", edition=edition("ServerStandard"))
    with pytest.raises(LicensingError) as raised:
        licensing.install_product_key(state, world, key)
    assert raised.value.hresult == expected
    assert state.key is None


def test_ipk_on_an_evaluation_edition_gives_c004f069() -> None:
    # ref §1b 0xC004F069: /ipk on Windows Server evaluation editions
    state = HostState("E", edition=edition("ServerStandardEval"))
    with pytest.raises(LicensingError) as raised:
        licensing.install_product_key(state, World(), SERVER_GVLK)
    assert raised.value.hresult == 0xC004F069


def test_online_activation_unreachable_gives_80072ee2() -> None:
    # ref §1b 0x80072EE2: online activation timed out reaching Microsoft
    world = World()
    state = mak_host(world, internet=False)
    assert activate_code(state, world) == 0x80072EE2
    state.internet = True
    world.activation.reachable = False
    assert activate_code(state, world) == 0x80072EE2
    world.activation.reachable = True
    assert activate_code(state, world) == 0


def test_kms_host_key_beyond_its_limit_gives_c004c008() -> None:
    # ref §1a 0xC004C008: KMS host key usable for 10 activations on at most 6 computers
    world = World()
    world.add_key(KeyRecord("CSVLK-AAAAA-BBBBB-CCCCC-DDDDD", "KMS_HOST", ("ServerStandard",), remaining=0))
    state = HostState("KMS9", edition=edition("ServerStandard"))
    licensing.install_product_key(state, world, "CSVLK-AAAAA-BBBBB-CCCCC-DDDDD")
    assert activate_code(state, world) == 0xC004C008


def test_lost_digital_licence_gives_c004f213() -> None:
    # ref §1b 0xC004F213: no product key was found on the system (hardware change)
    world = World()
    state = HostState("PC", edition=edition("Professional"), hardware_changed=True)
    commands = WindowsCommands(state, world)
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    from test_sandbox_windows_support import cmdlet_error

    error = cmdlet_error(commands, "Invoke-CimMethod", InputObject=products[0], MethodName="Activate")
    assert error.record.hresult == licensing.to_signed(0xC004F213)


def test_generic_default_key_sits_in_notification_with_c004f034() -> None:
    # ref §1b 0xC004F034: Notification Reason 0xC004F034 on a Retail install with the generic default key
    world = World()
    world.add_key(KeyRecord("DEFLT-AAAAA-BBBBB-CCCCC-3V66T", "RETAIL", ("Professional",), default_key=True))
    state = HostState("PC", edition=edition("Professional"))
    licensing.install_product_key(state, world, "DEFLT-AAAAA-BBBBB-CCCCC-3V66T")
    assert (state.license_status, state.license_status_reason) == (NOTIFICATION, 0xC004F034)
    assert activate_code(state, world) == 0xC004F034


def test_a_licensed_client_stays_licensed_when_a_renewal_fails() -> None:
    # ref §4: validity 180 days; a failed renewal does not end it [inf: reason unchanged]
    world = world_with_kms()
    state = gvlk_host(world)
    assert activate_code(state, world) == 0
    world.kms_hosts[0].reachable = False
    state.discovered = None
    assert activate_code(state, world) == 0xC004F074
    assert state.license_status == LICENSED and state.license_status_reason == 0


def test_unactivated_gvlk_after_grace_shows_c004f056() -> None:
    # ref §1b 0xC004F056: the normal notification reason of an unactivated GVLK client
    state = HostState("S", edition=edition("ServerStandard"), oob_grace_minutes=0)
    licensing.install_product_key(state, World(), SERVER_GVLK)
    assert (state.license_status, state.license_status_reason) == (NOTIFICATION, 0xC004F056)


def test_host_state_repr_never_shows_the_key() -> None:
    world = World()
    state = mak_host(world)
    assert MAK_KEY not in repr(state)
    assert MAK_KEY not in repr(world.key_record(MAK_KEY))
    assert MAK_KEY not in repr(world)
    assert "MAK01" in repr(state)


def test_srv_record_port_is_used() -> None:
    # ref §4: the SRV record carries the port
    world = World()
    world.add_kms_host(KmsHost("kms1.corp.example", "10.0.0.5", port=1700))
    world.dns.add_srv("_vlmcs._tcp.corp.example", SrvRecord("kms1.corp.example", 1700))
    assert activate_code(gvlk_host(world), world) == 0


def test_concurrent_clients_count_each_cmid_once() -> None:
    # ref §4: the KMS host counts unique CMIDs; servers activate from a count of 5
    import threading

    world = world_with_kms(count=0)
    hosts = [gvlk_host(world, f"SRV{i:02d}") for i in range(12)]
    results: dict[str, int] = {}

    def run(state: HostState) -> None:
        for _ in range(3):
            results[state.computer_name] = activate_code(state, world)

    threads = [threading.Thread(target=run, args=(h,)) for h in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert world.kms_hosts[0].count == 12
    assert set(results.values()) <= {0, 0xC004F038}
    assert all(activate_code(h, world) == 0 for h in hosts)  # past the threshold of 5, everyone activates
    assert world.kms_hosts[0].count == 12
