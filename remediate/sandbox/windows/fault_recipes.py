"""Licensing faults a scenario can give a host: how to set up the host and its world so that the
documented cause is present, and the action that shows the fault (the activation Windows retries by itself,
or the /ipk an administrator tried). Scenario building runs that action and checks the HRESULT, so a label
is never a claim the model does not back.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.editions import EDITIONS, edition, gvlk_for
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import (
    EVAL,
    KMS_HOST,
    MAK,
    NOTIFICATION,
    RETAIL,
    HostState,
    KeyRecord,
    KmsHost,
    SrvRecord,
    World,
)

HEALTHY = "healthy"


def fake_key(rng: random.Random, tail: str | None = None) -> str:
    """A well-formed product key that no real product uses (characters as in real keys)."""
    alphabet = "BCDFGHJKMPQRTVWXY2346789"
    groups = ["".join(rng.choice(alphabet) for _ in range(5)) for _ in range(5)]
    if tail:
        groups[-1] = tail
    return "-".join(groups)


@dataclass
class Attempt:
    """What shows a fault: `activate`, or `install` of `key`."""

    action: str
    key: str | None = field(default=None, repr=False)


Recipe = Callable[[HostState, World, random.Random], Attempt]


def _install_gvlk(state: HostState, world: World) -> None:
    key = gvlk_for(state.edition.edition_id)
    if key is None:
        raise ValueError(f"no published GVLK for edition {state.edition.edition_id}")
    licensing.install_product_key(state, world, key)


def _special_kms(world: World, state: HostState, label: str, **fields: Any) -> KmsHost:
    """A KMS host with one defect, shared by the hosts of a world that have that fault."""
    name = f"kms-{label}.{state.domain}"
    for host in world.kms_hosts:
        if host.name == name:
            return host
    address = f"10.0.{200 + len(world.kms_hosts) % 50}.{10 + len(world.kms_hosts)}"
    host = KmsHost(name, address, **fields)
    world.add_kms_host(host)
    return host


def _registered_to(state: HostState, kms: KmsHost) -> None:
    state.kms_machine = kms.name  # ref §2 /skms: the client uses this host only
    state.kms_port = kms.port


def healthy(state: HostState, world: World, rng: random.Random) -> Attempt:
    _install_gvlk(state, world)
    return Attempt("activate")


def stale_kms_record(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F074: the KMS host moved; the client's DNS cache still holds the old SRV and A records (ref §1a
    0xC004F074: stale `_VLMCS` SRV record; ref §4 / 232B: flush the cache after DNS changes)."""
    _install_gvlk(state, world)
    old = _special_kms(world, state, "old", reachable=False, pingable=False)  # the old host is gone
    state.dns_cache[(f"_vlmcs._tcp.{state.domain}", "SRV")] = [SrvRecord(old.name, old.port)]
    state.dns_cache[(old.name, "A")] = [old.address]
    return Attempt("activate")


def registered_old_kms(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F074: the client was pointed by name (/skms) at a KMS host that has gone (ref §1a 0xC004F074:
    incorrect host; ref §2: /skms disables auto-discovery)."""
    _install_gvlk(state, world)
    _registered_to(state, _special_kms(world, state, "old", reachable=False, pingable=False))
    return Attempt("activate")


def firewalled_kms(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F074: the registered KMS host is behind a firewall that blocks TCP 1688 and lets ping through: F074's
    own Test-NetConnection example (PingSucceeded True, TcpTestSucceeded False; ref §1a: TCP 1688 blocked)."""
    _install_gvlk(state, world)
    _registered_to(state, _special_kms(world, state, "fw", reachable=False))
    return Attempt("activate")


def no_srv_records(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0x8007232B: the host's DNS domain has no _vlmcs SRV records (ref §1a 0x8007232B)."""
    _install_gvlk(state, world)
    state.domain = f"nosrv.{state.domain}"
    return Attempt("activate")


def clock_skew(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F06C: the client clock is more than 4 hours off (ref §4)."""
    _install_gvlk(state, world)
    state.clock_offset_s = rng.choice((-1, 1)) * rng.uniform(5, 30) * 3600
    return Attempt("activate")


def low_count(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F038: the KMS host count is below the threshold (ref §4: 25 client OS, 5 server)."""
    _install_gvlk(state, world)
    _registered_to(state, _special_kms(world, state, "small", count=0))
    return Attempt("activate")


def cloned_cmid(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F038: the clients were cloned from an image that was not generalized, so they share one Client Machine
    ID and the KMS host counts them once: its count stays below the threshold however many clones ask (KMSGEN:
    "the KMS host count doesn't increase even though there are enough clients"; sysprep /generalize resets it)."""
    _install_gvlk(state, world)
    state.cmid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"cmid.cloned-image.{state.domain}"))
    threshold = licensing.KMS_THRESHOLD[state.edition.family]
    _registered_to(state, _special_kms(world, state, "clones", count=threshold - 2))
    return Attempt("activate")


def dcom_self_removed(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0x80070005 for an administrator too: the SELF account lost its DCOM access permissions (learn.microsoft.com/
    troubleshoot/windows-server/licensing-and-activation/error-0x80070005-access-denied)."""
    _install_gvlk(state, world)
    state.dcom_self_denied = True
    return Attempt("activate")


def kms_not_enabled(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F039: the KMS does not respond (ref §1a 0xC004F039)."""
    _install_gvlk(state, world)
    _registered_to(state, _special_kms(world, state, "off", kms_enabled=False))
    return Attempt("activate")


def kms_not_activated(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F041: the KMS host itself is not activated (ref §1a)."""
    _install_gvlk(state, world)
    _registered_to(state, _special_kms(world, state, "new", activated=False))
    return Attempt("activate")


def kms_wrong_product(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F042: the KMS host cannot activate this product (ref §1a; §4: client-OS hosts serve only
    clients)."""
    _install_gvlk(state, world)
    other = "client" if state.edition.server else "server"
    _registered_to(state, _special_kms(world, state, f"{other}only", families=(other,)))
    return Attempt("activate")


def kms_host_key_exhausted(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004C008: this host is to be a KMS host; its key is beyond its activation limit (ref §1a
    0xC004C008)."""
    key = fake_key(rng)
    world.add_key(KeyRecord(key, KMS_HOST, (state.edition.edition_id,), remaining=0))
    licensing.install_product_key(state, world, key)
    return Attempt("activate")


def blocked_mak(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004C003: the activation server blocks the MAK (ref §1a 0xC004C003)."""
    key = fake_key(rng)
    world.add_key(KeyRecord(key, MAK, (state.edition.edition_id,), remaining=100, blocked_at="activation"))
    licensing.install_product_key(state, world, key)
    return Attempt("activate")


def blocked_key_typed(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F051: the key the administrator typed is blocked (ref §1a 0xC004F051)."""
    _unactivated_without_kms(state, world)
    key = fake_key(rng)
    world.add_key(KeyRecord(key, MAK, (state.edition.edition_id,), remaining=100, blocked_at="install"))
    return Attempt("install", key)


def mak_exhausted(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004C020: the MAK has no activations left (ref §1a)."""
    key = fake_key(rng)
    world.add_key(KeyRecord(key, MAK, (state.edition.edition_id,), remaining=0))
    licensing.install_product_key(state, world, key)
    return Attempt("activate")


def _unactivated_without_kms(state: HostState, world: World) -> None:
    """A workgroup host with its edition's GVLK and no KMS in reach: it waits for a proper key."""
    state.domain = f"nosrv.{state.domain}"
    state.oob_grace_minutes = 0
    _install_gvlk(state, world)


def invalid_key_typed(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F050: the key the administrator typed is not a valid key (ref §1a 0xC004F050)."""
    _unactivated_without_kms(state, world)
    return Attempt("install", fake_key(rng))


def other_edition_key(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004E016: the key typed is valid, for another edition (ref §1b 0xC004E016)."""
    _unactivated_without_kms(state, world)
    for other in EDITIONS.values():
        key = gvlk_for(other.edition_id)
        if other.edition_id != state.edition.edition_id and other.server == state.edition.server and key:
            return Attempt("install", key)
    raise ValueError(f"no other edition for {state.edition.edition_id}")


def evaluation_edition(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F069: an evaluation edition whose evaluation ended; /ipk is refused (ref §1b 0xC004F069, §4
    CONVERT)."""
    if not state.edition.evaluation:
        state.edition = edition(state.edition.edition_id + "Eval") if state.edition.server else state.edition
    if not state.edition.evaluation:
        raise ValueError("0xC004F069 needs a Windows Server edition (it has an evaluation edition)")
    state.key = fake_key(rng)
    state.channel = EVAL
    state.grace_minutes = 0
    state.license_status, state.license_status_reason = (
        NOTIFICATION,
        0xC004F009,
    )  # ref §2a: grace time expired
    full = gvlk_for(state.edition.conversion_targets[0]) or ""
    return Attempt("install", full)


def lost_digital_licence(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F213: no product key found after a hardware change (ref §1b 0xC004F213)."""
    state.key = None
    state.channel = None
    state.hardware_changed = True
    state.license_status, state.license_status_reason, state.grace_minutes = NOTIFICATION, 0xC004F213, 0
    return Attempt("activate")


def default_retail_key(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0xC004F034: Retail channel with the generic default key (ref §1b 0xC004F034)."""
    key = fake_key(rng, tail="3V66T")
    world.add_key(KeyRecord(key, RETAIL, (state.edition.edition_id,), default_key=True))
    licensing.install_product_key(state, world, key)
    return Attempt("activate")


def offline(state: HostState, world: World, rng: random.Random) -> Attempt:
    """0x80072EE2: a MAK host that cannot reach the online activation service (ref §1b 0x80072EE2)."""
    key = fake_key(rng)
    world.add_key(KeyRecord(key, MAK, (state.edition.edition_id,), remaining=1000))
    licensing.install_product_key(state, world, key)
    state.internet = False
    return Attempt("activate")


# fault label -> {cause name -> recipe}; the first cause is the default.
RECIPES: dict[str, dict[str, Recipe]] = {
    HEALTHY: {"kms-client": healthy},
    "0xC004F074": {
        "stale-dns-cache": stale_kms_record,
        "registered-old-kms": registered_old_kms,
        "kms-firewalled": firewalled_kms,
    },
    "0x8007232B": {"no-srv-records": no_srv_records},
    "0xC004F06C": {"clock-skew": clock_skew},
    "0xC004F038": {"low-count": low_count, "cloned-cmid": cloned_cmid},
    "0xC004F039": {"kms-not-enabled": kms_not_enabled},
    "0xC004F041": {"kms-not-activated": kms_not_activated},
    "0xC004F042": {"kms-wrong-product": kms_wrong_product},
    "0xC004C008": {"kms-host-key-exhausted": kms_host_key_exhausted},
    "0xC004C020": {"mak-exhausted": mak_exhausted},
    "0xC004C003": {"blocked-mak": blocked_mak},
    "0xC004F051": {"blocked-key-typed": blocked_key_typed},
    "0xC004F050": {"invalid-key-typed": invalid_key_typed},
    "0xC004E016": {"other-edition-key": other_edition_key},
    "0xC004F069": {"evaluation-edition": evaluation_edition},
    "0xC004F213": {"lost-digital-licence": lost_digital_licence},
    "0xC004F034": {"default-retail-key": default_retail_key},
    "0x80072EE2": {"offline": offline},
    "0x80070005": {"dcom-self-removed": dcom_self_removed},
}


def apply_fault(state: HostState, world: World, label: str, cause: str | None, rng: random.Random) -> int:
    """Set the fault up and show it; returns the HRESULT the host now reports (0 for healthy)."""
    causes = RECIPES[label]
    recipe = causes[cause] if cause else next(iter(causes.values()))
    attempt = recipe(state, world, rng)
    try:
        if attempt.action == "install":
            assert attempt.key is not None
            licensing.install_product_key(state, world, attempt.key)
        else:
            licensing.activate(state, world)
    except LicensingError as failure:
        return failure.hresult
    return 0
