"""Scenarios: YAML files describing a fleet of emulated Windows hosts, their licensing faults, the world they
share (DNS, KMS hosts, online activation) and the transport faults of each group. Building one is seeded, so a
run is reproducible.

    hosts = build_hosts("mixed-fleet", count=None, seed=7)
    [h.computer_name for h in hosts if h.engine.fault == "0xC004F074"]

The format (see the shipped files under remediate/sandbox/scenarios/ for complete examples):

    name: kms-moved
    description: ...
    hosts: 20                      # default host count (else the sum of the groups' counts)
    world:
      domain: corp.example         # the hosts' DNS domain
      kms_hosts:                   # default: one healthy host kms01.<domain> publishing its SRV record
        - {name: kms02.corp.example, address: 10.0.0.6, count: 60, families: [client, server],
           reachable: true, activated: true, kms_enabled: true, port: 1688, clock_offset_s: 0, publish: true,
           csvlk: ws2022,          # its key's CSVLK group: which clients it activates (data/csvlk_groups.yaml)
           serve: true,            # also a host of the fleet (over WinRM): `remediate kms status` reads it
           office: false,          # Office's KMS host key installed too: it activates volume Office
           dns_denied: false}      # the _VLMCS record is another host's: publishing fails (event 12293)
      dns:
        srv: [{name: _vlmcs._tcp.corp.example, target: kms02.corp.example, port: 1688}]
        a: [{name: kms-old.corp.example, address: 10.0.0.9}]
      activation:
        reachable: true
        keys: [{key: XXXXX-..., channel: MAK, editions: [ServerStandard], remaining: 10}]
    groups:
      - name: app                  # host names: prefix (default: the name) + number
        count: 5                   # exact count, or
        percent: 60                # a share of the hosts the fixed counts leave
        edition: ServerStandard
        language: en-US            # or languages: {en-US: 80, ja-JP: 20}
        fault: 0xC004F074          # or faults: {0xC004F074: 50, healthy: 50}
        cause: stale-dns-cache     # optional: which documented cause (fault_recipes.RECIPES)
        domain_role: 3
        state: {clock_offset_s: 0} # optional HostState settings
        transport: {latency_ms: 20}  # TransportFaults fields; {allow_unencrypted: true} lets clear text in
        office: true               # volume Office 2016 beside Windows: it tries its KMS activation (office.py)
        durations:                 # seconds its slow operations take (durations.Durations; default 0: at once)
          tcp_connect_timeout_s: 21          # a number, or
          licensing_enumeration_s: [1, 3]    # a range: each host draws its own value (seeded)

Realistic durations and their sources: scenarios/README.md.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from remediate.csvlk_groups import groups
from remediate.errors import Location, UsageError
from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.windows import kms_service, office
from remediate.sandbox.windows.durations import DURATION_FIELDS, Durations
from remediate.sandbox.windows.editions import EDITIONS, edition
from remediate.sandbox.windows.fault_recipes import HEALTHY, RECIPES, apply_fault
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.office import OfficeProduct
from remediate.sandbox.windows.state import CHANNELS, HostState, KeyRecord, KmsHost, SrvRecord, World

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
LANGUAGES = ("en-US", "ja-JP")
HOST_STATE_SETTINGS = {
    "clock_offset_s": float,
    "time_source_offset_s": float,
    "time_source_reachable": bool,
    "internet": bool,
    "proxy": str,
    "dns_server_reachable": bool,
    "oob_grace_minutes": int,
    "activation_type": int,
    "host_caching": bool,
    "cmid": str,  # a Client Machine ID the group's hosts share (cloned from an image not generalized)
}
_NAME_OK = re.compile(r"^[A-Za-z0-9-]{1,15}$")
KMS_HOST_LABEL = "kms-host"  # the `fault` of a served KMS host's engine: it is no client with a fault


@dataclass
class KmsSpec:
    host: KmsHost
    publish: bool
    serve: bool = False  # the KMS host is a machine of the fleet too, reached over WinRM (kms_service.serve)
    dns_denied: bool = False  # it may not update the _VLMCS record, which another host owns: its SRV is not there


@dataclass
class GroupSpec:
    name: str
    prefix: str
    count: int | None
    percent: float | None
    edition_id: str
    languages: dict[str, float]
    faults: dict[str, float]
    cause: str | None
    domain_role: int
    settings: dict[str, Any]
    transport: TransportFaults
    line: int | None = None
    office: bool = False  # volume Office beside Windows (office.py)
    durations: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (low, high) seconds


@dataclass
class Scenario:
    name: str
    path: Path
    description: str = ""
    hosts: int | None = None
    domain: str = "corp.example"
    kms_hosts: list[KmsSpec] = field(default_factory=list)
    srv_records: list[tuple[str, SrvRecord]] = field(default_factory=list)
    a_records: list[tuple[str, str]] = field(default_factory=list)
    activation_reachable: bool = True
    keys: list[KeyRecord] = field(default_factory=list)
    groups: list[GroupSpec] = field(default_factory=list)

    def build_world(self) -> World:
        world = World()
        world.activation.reachable = self.activation_reachable
        for spec in self.kms_hosts:
            host = dataclasses.replace(spec.host, clients=set(), requests={}, events=[], served=spec.serve)
            published = spec.publish and not spec.dns_denied
            world.add_kms_host(host, publish_srv_in=self.domain if published else None)
        for name, record in self.srv_records:
            world.dns.add_srv(name, dataclasses.replace(record))
        for name, address in self.a_records:
            world.dns.add_a(name, address)
        for key in self.keys:
            world.add_key(dataclasses.replace(key))
        return world


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


# --- YAML with line numbers ---------------------------------------------------------------------------------


class _Doc:
    """A parsed YAML document that remembers the line of every value, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str | int, ...], int] = {}

    def error(self, where: tuple[str | int, ...], message: str) -> UsageError:
        line = None
        probe = where
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        return UsageError(message, Location(self.path, line, _field_name(where) or None))

    def convert(self, node: yaml.Node, where: tuple[str | int, ...] = ()) -> Any:
        self.lines[where] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in result:
                    raise self.error((*where, key), f"duplicate key {key!r}")
                path = (*where, key)
                self.lines[path] = key_node.start_mark.line + 1
                result[key] = self.convert(value_node, path)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*where, i)) for i, item in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node, deep=True)


def _field_name(where: tuple[str | int, ...]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _read(path: Path) -> tuple[_Doc, Any]:
    doc = _Doc(path)
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as failure:
        mark = failure.problem_mark
        raise UsageError(
            f"not valid YAML: {failure.problem}", Location(path, mark.line + 1 if mark else None)
        ) from None
    except OSError as failure:
        raise UsageError(f"cannot read scenario: {failure.strerror}", Location(path)) from None
    if node is None:
        raise UsageError("empty scenario file", Location(path))
    return doc, doc.convert(node)


# --- validation ---------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def mapping(self, value: Any, where: tuple[str | int, ...], allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.doc.error(where, "expected a mapping")
        for key in value:
            if key not in allowed:
                raise self.doc.error(
                    (*where, key), f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}"
                )
        return value

    def listing(self, value: Any, where: tuple[str | int, ...]) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.doc.error(where, "expected a list")
        return value

    def typed(self, value: Any, kind: type, where: tuple[str | int, ...]) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.doc.error(where, f"expected {kind.__name__}, got {value!r}")
        return value

    def weights(self, value: Any, where: tuple[str | int, ...]) -> dict[str, float]:
        mapping = self.mapping(value, where, set(value) if isinstance(value, dict) else set())
        result = {str(k): float(self.typed(v, float, (*where, k))) for k, v in mapping.items()}
        if any(w < 0 for w in result.values()) or sum(result.values()) <= 0:
            raise self.doc.error(where, "weights must be non-negative and not all zero")
        return result


def _fault_label(reader: _Reader, value: Any, where: tuple[str | int, ...]) -> str:
    # YAML reads an unquoted 0xC004F074 as a number
    text = (
        f"0x{value & 0xFFFFFFFF:08X}"
        if isinstance(value, int) and not isinstance(value, bool)
        else str(value)
    )
    text = text.strip()
    if text.lower() == HEALTHY:
        return HEALTHY
    for label in RECIPES:
        if label.lower() == text.lower():
            return label
    raise reader.doc.error(where, f"unknown fault {text!r}; known: {', '.join(RECIPES)}")


def _kms(reader: _Reader, value: Any, where: tuple[str | int, ...], domain: str) -> KmsSpec:
    allowed = {
        "name",
        "address",
        "port",
        "reachable",
        "kms_enabled",
        "activated",
        "families",
        "count",
        "clock_offset_s",
        "publish",
        "serve",
        "csvlk",
        "low_priority",
        "office",
        "dns_denied",
    }
    data = reader.mapping(value, where, allowed)
    for required in ("name", "address"):
        if required not in data:
            raise reader.doc.error(where, f"missing field {required!r}")
    kinds = {
        "name": str,
        "address": str,
        "port": int,
        "reachable": bool,
        "kms_enabled": bool,
        "activated": bool,
        "count": int,
        "clock_offset_s": float,
        "csvlk": str,
        "low_priority": bool,
        "office": bool,
    }
    fields = {k: reader.typed(data[k], kind, (*where, k)) for k, kind in kinds.items() if k in data}
    if "csvlk" in fields and fields["csvlk"] not in groups():
        raise reader.doc.error((*where, "csvlk"), f"unknown CSVLK group {fields['csvlk']!r}; known: "
                               f"{', '.join(groups())}")
    if "families" in data:
        families = reader.listing(data["families"], (*where, "families"))
        for i, family in enumerate(families):
            if family not in ("client", "server"):
                raise reader.doc.error((*where, "families", i), "a family is 'client' or 'server'")
        fields["families"] = tuple(families)
    publish = reader.typed(data.get("publish", True), bool, (*where, "publish"))
    serve = reader.typed(data.get("serve", False), bool, (*where, "serve"))
    denied = reader.typed(data.get("dns_denied", False), bool, (*where, "dns_denied"))
    return KmsSpec(KmsHost(**fields), publish, serve, denied)


def _group(reader: _Reader, value: Any, where: tuple[str | int, ...]) -> GroupSpec:
    allowed = {
        "name",
        "prefix",
        "count",
        "percent",
        "edition",
        "language",
        "languages",
        "fault",
        "faults",
        "cause",
        "domain_role",
        "state",
        "transport",
        "office",
        "durations",
    }
    data = reader.mapping(value, where, allowed)
    if "name" not in data:
        raise reader.doc.error(where, "missing field 'name'")
    name = reader.typed(data["name"], str, (*where, "name"))
    if ("count" in data) == ("percent" in data):
        raise reader.doc.error(where, "give exactly one of 'count' and 'percent'")
    count = reader.typed(data["count"], int, (*where, "count")) if "count" in data else None
    if count is not None and count < 0:
        raise reader.doc.error((*where, "count"), "count must be >= 0")
    percent = reader.typed(data["percent"], float, (*where, "percent")) if "percent" in data else None
    if percent is not None and not 0 <= percent <= 100:
        raise reader.doc.error((*where, "percent"), "percent must be between 0 and 100")
    edition_id = reader.typed(data.get("edition", "ServerStandard"), str, (*where, "edition"))
    if edition_id.lower() not in EDITIONS:
        known = ", ".join(e.edition_id for e in EDITIONS.values())
        raise reader.doc.error((*where, "edition"), f"unknown edition {edition_id!r}; known: {known}")
    if "language" in data and "languages" in data:
        raise reader.doc.error(where, "give 'language' or 'languages', not both")
    languages = (
        reader.weights(data["languages"], (*where, "languages"))
        if "languages" in data
        else {reader.typed(data.get("language", "en-US"), str, (*where, "language")): 1.0}
    )
    for language in languages:
        if language not in LANGUAGES:
            raise reader.doc.error(
                (*where, "languages" if "languages" in data else "language"),
                f"unknown language {language!r}; known: {', '.join(LANGUAGES)}",
            )
    if "fault" in data and "faults" in data:
        raise reader.doc.error(where, "give 'fault' or 'faults', not both")
    if "faults" in data:
        raw = reader.weights(data["faults"], (*where, "faults"))
        faults = {_fault_label(reader, k, (*where, "faults", k)): w for k, w in raw.items()}
    else:
        faults = {_fault_label(reader, data.get("fault", HEALTHY), (*where, "fault")): 1.0}
    cause = data.get("cause")
    if cause is not None and (len(faults) != 1 or cause not in RECIPES[next(iter(faults))]):
        options = sorted({c for label in faults for c in RECIPES[label]})
        raise reader.doc.error(
            (*where, "cause"), f"unknown cause {cause!r} for this fault; known: {', '.join(options)}"
        )
    domain_role = reader.typed(data.get("domain_role", 3), int, (*where, "domain_role"))
    if not 0 <= domain_role <= 5:
        raise reader.doc.error(
            (*where, "domain_role"), "domain_role is 0-5 (Win32_ComputerSystem.DomainRole)"
        )
    settings_raw = reader.mapping(data.get("state", {}), (*where, "state"), set(HOST_STATE_SETTINGS))
    settings = {
        k: reader.typed(v, HOST_STATE_SETTINGS[k], (*where, "state", k)) for k, v in settings_raw.items()
    }
    transport_fields = {f.name: f for f in dataclasses.fields(TransportFaults)}
    transport_raw = reader.mapping(data.get("transport", {}), (*where, "transport"), set(transport_fields))
    kinds = {"int": int, "float": float, "bool": bool}
    transport_values = {}
    for key, raw_value in transport_raw.items():
        kind = kinds.get(str(transport_fields[key].type), str)
        transport_values[key] = reader.typed(raw_value, kind, (*where, "transport", key))
    prefix = reader.typed(
        data.get("prefix", re.sub(r"[^A-Za-z0-9]", "", name).upper()[:10] or "HOST"), str, (*where, "prefix")
    )
    durations = _durations(reader, data.get("durations", {}), (*where, "durations"))
    return GroupSpec(
        name,
        prefix,
        count,
        percent,
        EDITIONS[edition_id.lower()].edition_id,
        languages,
        faults,
        cause,
        domain_role,
        settings,
        TransportFaults(**transport_values),
        reader.doc.lines.get(where),
        reader.typed(data.get("office", False), bool, (*where, "office")),
        durations,
    )


def _durations(reader: _Reader, value: Any, where: tuple[str | int, ...]) -> dict[str, tuple[float, float]]:
    """A group's durations: each a number of seconds or a [low, high] range."""
    result: dict[str, tuple[float, float]] = {}
    for name, raw in reader.mapping(value, where, set(DURATION_FIELDS)).items():
        at = (*where, name)
        if isinstance(raw, list):
            if len(raw) != 2:
                raise reader.doc.error(at, "a range is [low, high]")
            low, high = (reader.typed(item, float, (*at, i)) for i, item in enumerate(raw))
        else:
            low = high = reader.typed(raw, float, at)
        if not 0 <= low <= high:
            raise reader.doc.error(at, "seconds must be >= 0, and low <= high")
        result[name] = (low, high)
    return result


def _draw_durations(ranges: dict[str, tuple[float, float]], rng: random.Random) -> Durations:
    """One host's durations: a value drawn from each range, in field order (so the same seed draws the same)."""
    values = {name: rng.uniform(*ranges[name]) if name in ranges else 0.0 for name in DURATION_FIELDS}
    return Durations(**values)


def _parse(doc: _Doc, data: Any, path: Path) -> Scenario:
    reader = _Reader(doc)
    top = reader.mapping(data, (), {"name", "description", "hosts", "world", "groups"})
    scenario = Scenario(
        name=str(top.get("name", path.stem)), path=path, description=str(top.get("description", ""))
    )
    if "hosts" in top:
        scenario.hosts = reader.typed(top["hosts"], int, ("hosts",))
    world = reader.mapping(top.get("world", {}), ("world",), {"domain", "kms_hosts", "dns", "activation"})
    scenario.domain = reader.typed(world.get("domain", scenario.domain), str, ("world", "domain")).lower()
    if "kms_hosts" in world:
        scenario.kms_hosts = [
            _kms(reader, item, ("world", "kms_hosts", i), scenario.domain)
            for i, item in enumerate(reader.listing(world["kms_hosts"], ("world", "kms_hosts")))
        ]
    else:
        scenario.kms_hosts = [KmsSpec(KmsHost(f"kms01.{scenario.domain}", "10.0.0.5", count=60), True)]
    dns = reader.mapping(world.get("dns", {}), ("world", "dns"), {"srv", "a"})
    for i, item in enumerate(reader.listing(dns.get("srv"), ("world", "dns", "srv"))):
        where = ("world", "dns", "srv", i)
        srv = reader.mapping(item, where, {"name", "target", "port", "priority", "weight"})
        if "name" not in srv or "target" not in srv:
            raise doc.error(where, "an SRV record needs 'name' and 'target'")
        record = SrvRecord(
            reader.typed(srv["target"], str, (*where, "target")),
            reader.typed(srv.get("port", 1688), int, (*where, "port")),
            reader.typed(srv.get("priority", 0), int, (*where, "priority")),
            reader.typed(srv.get("weight", 0), int, (*where, "weight")),
        )
        scenario.srv_records.append((reader.typed(srv["name"], str, (*where, "name")), record))
    for i, item in enumerate(reader.listing(dns.get("a"), ("world", "dns", "a"))):
        where = ("world", "dns", "a", i)
        a = reader.mapping(item, where, {"name", "address"})
        if "name" not in a or "address" not in a:
            raise doc.error(where, "an A record needs 'name' and 'address'")
        scenario.a_records.append(
            (
                reader.typed(a["name"], str, (*where, "name")),
                reader.typed(a["address"], str, (*where, "address")),
            )
        )
    activation = reader.mapping(world.get("activation", {}), ("world", "activation"), {"reachable", "keys"})
    scenario.activation_reachable = reader.typed(
        activation.get("reachable", True), bool, ("world", "activation", "reachable")
    )
    for i, item in enumerate(reader.listing(activation.get("keys"), ("world", "activation", "keys"))):
        where = ("world", "activation", "keys", i)
        key = reader.mapping(
            item, where, {"key", "channel", "editions", "remaining", "blocked_at", "default_key"}
        )
        if "key" not in key or "channel" not in key or "editions" not in key:
            raise doc.error(where, "a key needs 'key', 'channel' and 'editions'")
        if key["channel"] not in CHANNELS:
            raise doc.error((*where, "channel"), f"channel is one of {', '.join(CHANNELS)}")
        scenario.keys.append(
            KeyRecord(
                reader.typed(key["key"], str, (*where, "key")),
                key["channel"],
                tuple(str(e) for e in reader.listing(key["editions"], (*where, "editions"))),
                reader.typed(key["remaining"], int, (*where, "remaining"))
                if key.get("remaining") is not None
                else None,
                key.get("blocked_at"),
                bool(key.get("default_key", False)),
            )
        )
    groups = reader.listing(top.get("groups"), ("groups",))
    if not groups:
        raise doc.error(("groups",), "a scenario needs at least one group")
    scenario.groups = [_group(reader, item, ("groups", i)) for i, item in enumerate(groups)]
    prefixes = [g.prefix.lower() for g in scenario.groups]
    if len(set(prefixes)) != len(prefixes):
        raise doc.error(("groups",), "two groups have the same host name prefix; give one a 'prefix'")
    return scenario


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`kms-moved`) or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        candidate = SCENARIOS_DIR / f"{name_or_path}.yaml"
        if not candidate.exists():
            raise UsageError(
                f"unknown scenario {str(name_or_path)!r}",
                hint=f"shipped scenarios: {', '.join(shipped_scenarios())}; or give a file path",
            )
        path = candidate
    doc, data = _read(path)
    return _parse(doc, data, path)


# --- building -----------------------------------------------------------------------------------------------


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of `total` by weight (stable order)."""
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    left = total - sum(counts.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), list(weights).index(k)))[:left]:
        counts[key] += 1
    return counts


def _group_counts(scenario: Scenario, count: int | None) -> list[int]:
    fixed = sum(g.count or 0 for g in scenario.groups)
    shares = {str(i): g.percent for i, g in enumerate(scenario.groups) if g.percent is not None}
    total = count if count is not None else (scenario.hosts if scenario.hosts is not None else fixed)
    if total < fixed:
        raise UsageError(
            f"the groups with a fixed count need {fixed} hosts; asked for {total}",
            Location(scenario.path, None, "count"),
        )
    if total > fixed and not any(shares.values()):
        raise UsageError(
            f"{total} hosts asked, but the groups have fixed counts totalling {fixed} and no group "
            "takes a percent of the rest",
            Location(scenario.path, None, "count"),
        )
    split = _split(total - fixed, {k: v for k, v in shares.items() if v}) if total > fixed else {}
    return [g.count if g.count is not None else split.get(str(i), 0) for i, g in enumerate(scenario.groups)]


@dataclass
class BuiltFleet:
    scenario: Scenario
    world: World
    hosts: list[HostSpec]

    def with_fault(self, label: str) -> list[HostSpec]:
        return hosts_with_fault(self.hosts, label)


def hosts_with_fault(hosts: list[HostSpec], label: str) -> list[HostSpec]:
    """The hosts a scenario gave this fault label ("healthy", "0xC004F074", ...)."""
    return [h for h in hosts if getattr(h.engine, "fault", None) == label]


def build(scenario: str | Path | Scenario, count: int | None = None, seed: int = 0) -> BuiltFleet:
    """Build the world and every host of a scenario. The same scenario, count and seed give the same fleet."""
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    rng = random.Random(seed)
    world = spec.build_world()
    hosts: list[HostSpec] = []
    serial = 0
    for index, (group, size) in enumerate(zip(spec.groups, _group_counts(spec, count), strict=True)):
        faults = [label for label, n in _split(size, group.faults).items() for _ in range(n)]
        languages = [lang for lang, n in _split(size, group.languages).items() for _ in range(n)]
        rng.shuffle(faults)
        rng.shuffle(languages)
        width = max(2, len(str(size)))
        for number in range(1, size + 1):
            serial += 1
            name = f"{group.prefix}{number:0{width}d}"
            if not _NAME_OK.match(name):
                raise UsageError(
                    f"host name {name!r} is not a valid NetBIOS name (1-15 letters, digits, '-')",
                    Location(spec.path, group.line, f"groups[{index}].prefix"),
                )
            state = HostState(
                name,
                edition=edition(group.edition_id),
                domain=spec.domain,
                domain_role=group.domain_role,
                ui_language=languages[number - 1],
                ip_address=f"10.1.{serial // 250}.{serial % 250 + 2}",
            )
            state.rng.seed(f"{seed}:{name}")
            for key, value in group.settings.items():
                setattr(state, key, value)
            label = faults[number - 1]
            host_rng = random.Random(f"{seed}:{name}:fault")
            try:
                shown = apply_fault(state, world, label, group.cause, host_rng)
            except ValueError as failure:
                raise UsageError(
                    str(failure), Location(spec.path, group.line, f"groups[{index}].fault")
                ) from None
            expected = 0 if label == HEALTHY else int(label, 16)
            if shown != expected:
                raise UsageError(
                    f"host {name} of group {group.name!r} shows 0x{shown:08X}, not {label}: the world this "
                    "scenario "
                    "describes does not produce that fault for it (for example a KMS host count that reached "
                    "its "
                    "threshold, or no healthy KMS host for healthy hosts)",
                    Location(spec.path, group.line, f"groups[{index}]"),
                )
            if group.office:
                product = OfficeProduct()
                state.office.append(product)
                office.activate(state, world, product)  # Office's own automatic activation
            # set once the fault is in place: building a fleet takes no modelled time
            state.durations = _draw_durations(group.durations, random.Random(f"{seed}:{name}:durations"))
            engine = WindowsHost(state, world, fault=label)
            hosts.append(HostSpec(name, engine, dataclasses.replace(group.transport)))
    for kms_spec in spec.kms_hosts:
        if kms_spec.serve:
            kms = next(host for host in world.kms_hosts if host.name == kms_spec.host.name)
            state = kms_service.serve(kms, world, spec.domain, kms_spec.publish, str(seed), kms_spec.dns_denied)
            hosts.append(HostSpec(state.computer_name, WindowsHost(state, world, fault=KMS_HOST_LABEL)))
    return BuiltFleet(spec, world, hosts)


def build_hosts(scenario: str | Path, count: int | None, seed: int) -> list[HostSpec]:
    """The hosts of a scenario, ready for remediate.sandbox.fleet.Fleet.start()."""
    return build(scenario, count, seed).hosts
