"""The shipped templates: each renders for every choice of its options, parses as PowerShell, keeps to the
dialect of templates/README.md, and matches its golden file under tests/golden/.

Set REMEDIATE_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (then review the diff).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import pytest

from remediate import resources
from remediate.expressions import template_environment
from remediate.powershell_syntax import changing_commands, declared_parameters, parse, syntax_problems
from remediate.render import gvlk_by_edition

TEMPLATES = resources.templates_dir()
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("REMEDIATE_UPDATE_GOLDEN") == "1"

ENVIRONMENT = template_environment([TEMPLATES])
TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("*.ps1.j2") if not p.name.startswith("_"))

# "Option <name>: <choice> | <choice> — ..." in the template's leading Jinja comment.
_OPTION_LINE = re.compile(
    r"^Option (?P<name>[a-z_]+): (?P<choices>[A-Za-z0-9_.-]+(?: \| [A-Za-z0-9_.-]+)*) —", re.M
)
_PHASES_LINE = re.compile(r"^Phases: (?P<phases>[a-z, ]+?) \(", re.M)


def _header(name: str) -> str:
    source = (TEMPLATES / name).read_text("utf-8")
    match = re.match(r"\{#-?(.*?)-?#\}", source, re.S)
    assert match, f"{name} starts without its header comment"
    return match.group(1)


def _choice(word: str) -> Any:
    return {"true": True, "false": False}.get(word, word)


def declared_options(name: str) -> dict[str, list[Any]]:
    return {
        m.group("name"): [_choice(c) for c in m.group("choices").split(" | ")]
        for m in _OPTION_LINE.finditer(_header(name))
    }


def declared_phases(name: str) -> set[str]:
    match = _PHASES_LINE.search(_header(name))
    assert match, f"{name}: the header names no Phases"
    return {p.strip() for p in match.group("phases").split(",")}


def option_combinations(name: str) -> list[dict[str, Any]]:
    options = declared_options(name)
    names = sorted(options)
    choices = itertools.product(*(options[n] for n in names))
    return [dict(zip(names, values, strict=True)) for values in choices]


def render(name: str, options: dict[str, Any]) -> str:
    return ENVIRONMENT.get_template(name).render(options=options, step={"id": "step", "phase": "fix"})


def golden_name(name: str, options: dict[str, Any]) -> str:
    stem = name.removesuffix(".ps1.j2")
    suffix = "".join(f"--{key}-{str(value).lower()}" for key, value in sorted(options.items()))
    return f"{stem}{suffix}.ps1"


def rendered_cases() -> Iterator[Any]:
    for name in TEMPLATE_NAMES:
        for options in option_combinations(name):
            yield pytest.param(name, options, id=golden_name(name, options))


CASES = list(rendered_cases())


@pytest.mark.parametrize(("name", "options"), CASES)
def test_renders_and_parses(name: str, options: dict[str, Any]) -> None:
    script = render(name, options)
    assert syntax_problems(script) == []


@pytest.mark.parametrize(("name", "options"), CASES)
def test_matches_golden_file(name: str, options: dict[str, Any]) -> None:
    script = render(name, options)
    golden = GOLDEN / golden_name(name, options)
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(script, "utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with REMEDIATE_UPDATE_GOLDEN=1"
    assert script == golden.read_text("utf-8"), f"{name} renders differently from {golden.name}"


def test_no_stale_golden_files() -> None:
    expected = {golden_name(c.values[0], c.values[1]) for c in CASES}
    present = {p.name for p in GOLDEN.glob("*.ps1")}
    assert present - expected == set()


# --- the dialect (templates/README.md) -------------------------------------------------------------------

# The commands of the dialect and the named parameters each may take (templates/README.md, "Commands").
DIALECT_CMDLETS: dict[str, set[str]] = {
    "Get-CimInstance": {"ClassName", "Namespace", "Filter"},
    "Invoke-CimMethod": {"InputObject", "MethodName", "Arguments"},
    "Clear-DnsClientCache": set(),
    "Resolve-DnsName": {"Name", "Type", "DnsOnly", "QuickTimeout"},
    "Test-NetConnection": {"ComputerName", "Port", "WarningAction"},
    "Get-WinEvent": {"FilterHashtable", "MaxEvents"},
    "Get-Date": set(),
    "Start-Sleep": {"Seconds"},
    "Where-Object": set(),
    "Select-Object": {"First", "Last", "Property", "ExpandProperty"},
    "ForEach-Object": set(),
    "ConvertTo-Json": {"Depth", "Compress"},
    "Out-String": set(),
    "Write-Output": set(),
    "Write-Error": {"Message"},
    "Write-Warning": {"Message"},
    "Write-Verbose": {"Message"},
}
DIALECT_NATIVES = {"cscript.exe", "ipconfig.exe", "w32tm.exe", "dism.exe", "netsh.exe"}
SLMGR_OPTIONS = {
    *("/ipk", "/ato", "/dli", "/dlv", "/xpr", "/skms", "/ckms", "/skms-domain", "/ckms-domain"),
    *("/dti", "/atp", "/upk", "/cpky", "/rearm", "/act-type"),
}
SLMGR_CALL = '& cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /'


def _commands(script: str) -> Iterator[tuple[str, list[str], str]]:
    """(command name, its -Parameter names, its text) of every command in the script."""
    stack = [parse(script).root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "command":
            continue
        name = next(c for c in node.children if c.type in ("command_name", "command_name_expr"))
        elements = next((c for c in node.children if c.type == "command_elements"), None)
        parameters = [
            (c.text or b"").decode().lstrip("-").rstrip(":")
            for c in (elements.children if elements is not None else [])
            if c.type == "command_parameter"
        ]
        yield (name.text or b"").decode(), parameters, (node.text or b"").decode()


def _code_lines(script: str) -> list[str]:
    """Lines with comments and quoted strings removed (a comment may say "where" or "select")."""
    lines = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        without_strings = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"", "''", stripped)
        lines.append(without_strings)
    return lines


@pytest.mark.parametrize(("name", "options"), CASES)
def test_keeps_to_the_dialect(name: str, options: dict[str, Any]) -> None:
    script = render(name, options)
    lines = script.splitlines()
    assert lines[0].startswith("param("), "param(...) must be the first statement"
    after_param = lines[next(i for i, line in enumerate(lines) if line.rstrip().endswith(")")) + 1]
    assert after_param == "$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Stop' must come next"
    assert lines[-1] == "} | ConvertTo-Json -Depth 6 -Compress", "the StepResult must be the last output"
    assert script.count("| ConvertTo-Json -Depth 6 -Compress") == 1, "exactly one StepResult"
    for key in ("ok", "hresult", "license_status", "changed", "output", "data"):
        assert re.search(rf"^    {key} = ", script, re.M), f"the StepResult lacks {key}"
    for command, parameters, text in _commands(script):
        if command in DIALECT_NATIVES:
            assert text.startswith(f"& {command} "), f"native {command} without the call operator: {text}"
            if command == "cscript.exe":
                assert text.startswith(SLMGR_CALL), text
                option = text.split('slmgr.vbs" ')[1].split()[0]
                assert option in SLMGR_OPTIONS, f"slmgr option outside the dialect: {option}"
            continue
        # Full cmdlet names only: an alias (?, %, gwmi, select, where, ...) is not in the table.
        assert command in DIALECT_CMDLETS, f"{command} is not a command of the dialect (alias?): {text}"
        allowed = DIALECT_CMDLETS[command] | {"ErrorAction"}
        for parameter in parameters:
            assert parameter in allowed, f"{command} -{parameter} is not in the dialect (abbreviated?)"
    for line in _code_lines(script):
        assert not re.search(r"(?<![\w\\])slmgr(?!\.vbs)", line, re.I), f"bare slmgr in: {line}"
        assert not re.search(r"\[[A-Za-z.]+\]::", line), f".NET static call in: {line}"
        assert not re.search(r"(?<![-\w])(?:function|while|do|for|switch|trap|class)\s*[({]", line), line
        assert "Invoke-Expression" not in line and "Start-Process" not in line and "Add-Type" not in line
    for line in lines:
        if "slmgr.vbs" in line:
            assert SLMGR_CALL in line, line


_AUTOMATIC = {"true", "false", "null", "_", "lastexitcode", "matches", "erroractionpreference"}


@pytest.mark.parametrize(("name", "options"), CASES)
def test_values_enter_only_as_parameters(name: str, options: dict[str, Any]) -> None:
    # Jinja sees nothing but options and step, so no value can be rendered into the text ...
    source = (TEMPLATES / name).read_text("utf-8")
    assert jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(source)) <= {"options", "step"}
    # ... and every variable the script reads without assigning it is declared in param().
    script = render(name, options)
    declared = declared_parameters(script)
    assert declared is not None
    declared_names = {p.name.lower() for p in declared}
    code = "\n".join(_code_lines(script)) + "\n" + "\n".join(re.findall(r"\"[^\"]*\"", script))
    used = {m.lower() for m in re.findall(r"\$(?!env:)([A-Za-z_][A-Za-z0-9_]*)", code)}
    assigned = {m.lower() for m in re.findall(r"^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\+?=", script, re.M)}
    assigned |= {m.lower() for m in re.findall(r"foreach \(\$([A-Za-z_][A-Za-z0-9_]*) in ", script)}
    unbound = used - assigned - declared_names - _AUTOMATIC
    assert unbound == set(), f"{name} reads variables that are neither parameters nor assigned: {unbound}"
    for parameter in declared:
        assert parameter.type in {"string", "int", "bool", "string[]", "hashtable"}, parameter


@pytest.mark.parametrize(("name", "options"), CASES)
def test_a_wql_filter_is_a_constant(name: str, options: dict[str, Any]) -> None:
    """-Filter takes a single-quoted WQL constant: no value of the step can reach the query text."""
    script = render(name, options)
    filters = re.findall(r"-Filter\s+(\S)", script)
    constants = re.findall(r"-Filter '([^']*)'", script)
    assert len(filters) == len(constants), f"{name}: a -Filter that is not a single-quoted constant"
    for condition in constants:
        assert "$" not in condition and "{" not in condition, condition


def test_declared_options_are_the_options_used() -> None:
    for name in TEMPLATE_NAMES:
        tree = ENVIRONMENT.parse((TEMPLATES / name).read_text("utf-8"))
        used = {
            node.attr
            for node in tree.find_all(jinja2.nodes.Getattr)
            if isinstance(node.node, jinja2.nodes.Name) and node.node.name == "options"
        }
        assert used == set(declared_options(name)), name


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("dns-flush.ps1.j2", {"method": "netsh"}),
        ("product-key-install.ps1.j2", {"key_source": "registry"}),
        ("edition-convert.ps1.j2", {"accept_eula": False}),
        ("edition-convert.ps1.j2", {}),
    ],
)
def test_unknown_option_choice_does_not_render(name: str, options: dict[str, Any]) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(name, options)


def test_read_only_templates_change_nothing() -> None:
    for name in TEMPLATE_NAMES:
        phases = declared_phases(name)
        for options in option_combinations(name):
            changes = changing_commands(render(name, options))
            if phases & {"fix"}:
                assert changes, f"{name} is declared a fix template but changes nothing"
            else:
                assert changes == [], f"{name} is declared read-only but changes the host: {changes}"


# --- what the scripts do (read as a change board would) ----------------------------------------------------

WINDOWS_PRODUCT = (
    "Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "
    "\"55c92734-d682-4d71-983e-d6ec3f16059f\" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | "
    "Select-Object -First 1"
)


def test_fixes_that_change_licensing_prove_it_through_cim() -> None:
    for name in ("activate.ps1.j2", "product-key-install.ps1.j2"):
        for options in option_combinations(name):
            script = render(name, options)
            slmgr_at = script.index("slmgr.vbs")
            assert WINDOWS_PRODUCT in script[slmgr_at:], f"{name} does not re-read the licence after slmgr"
    for name in ("kms-set.ps1.j2", "kms-clear.ps1.j2"):
        script = render(name, {})
        slmgr_at = script.index("slmgr.vbs")
        assert "Get-CimInstance -ClassName SoftwareLicensingService" in script[slmgr_at:]


def test_activation_success_is_decided_by_license_status() -> None:
    script = render("activate.ps1.j2", {})
    assert "$activated = $status -eq 1" in script
    assert "ok = $activated" in script


def test_product_keys_are_masked_in_output() -> None:
    for name, options in (
        ("product-key-install.ps1.j2", {"key_source": "parameter"}),
        ("product-key-install.ps1.j2", {"key_source": "gvlk"}),
        ("edition-convert.ps1.j2", {"accept_eula": True}),
    ):
        script = render(name, options)
        assert "'XXXXX-XXXXX-XXXXX-XXXXX-' + $lastFive" in script
        assert re.search(r"\$text = \$text\.Replace\(\$(?:key|ProductKey), \$masked\)", script), name
        assert ".Substring(24)" in script


def test_edition_conversion_refuses_on_a_domain_controller() -> None:
    script = render("edition-convert.ps1.j2", {"accept_eula": True})
    refuse_at = script.index("if ($domainRole -ge 4) {")
    assert "Win32_ComputerSystem" in script[:refuse_at]
    # The only DISM /Set-Edition call is in the else branch of the domain-controller check.
    set_edition_at = script.index("/Set-Edition:$TargetEdition /ProductKey:$ProductKey /AcceptEula")
    assert set_edition_at > script.index("else {", refuse_at)
    assert script.count("/Set-Edition") == 1


def test_kms_discovery_queries_the_vlmcs_srv_record() -> None:
    script = render("kms-discovery.ps1.j2", {"test_port": True})
    assert "Resolve-DnsName -Name $srvName -Type SRV" in script
    assert "'_vlmcs._tcp.{0}' -f $domain" in script
    assert "Test-NetConnection -ComputerName $record.NameTarget -Port $record.Port" in script
    assert "Test-NetConnection" not in render("kms-discovery.ps1.j2", {"test_port": False})


def test_escalation_facts_never_carry_a_full_key() -> None:
    for options in option_combinations("escalation-facts.ps1.j2"):
        script = render("escalation-facts.ps1.j2", options)
        assert "installation_id = $product.OfflineInstallationId" in script
        assert "partial_product_key = $product.PartialProductKey" in script
        assert "channel = $product.ProductKeyChannel" in script
        # the firmware key is reduced to "is there one"
        assert "[bool]$service.OA3xOriginalProductKey" in script
        assert re.search(r"= \$service\.OA3xOriginalProductKey\s*$", script, re.M) is None


# --- the GVLK table ---------------------------------------------------------------------------------------

GVLK_PATTERN = re.compile(r"^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$")


def _gvlk_for(table: Mapping[str, Any], sku: int, build: int) -> list[str]:
    return [e["key"] for e in table.get(str(sku), []) if e["min_build"] <= build <= e["max_build"]]


def test_gvlk_table_is_keyed_by_sku_with_disjoint_build_ranges() -> None:
    table = gvlk_by_edition().value
    assert len(table) >= 30
    for sku, entries in table.items():
        assert sku.isdigit(), sku
        ranges = sorted((e["min_build"], e["max_build"]) for e in entries)
        for entry in entries:
            assert set(entry) == {"edition", "min_build", "max_build", "key"}, entry
            assert GVLK_PATTERN.match(entry["key"]), entry
            assert entry["min_build"] <= entry["max_build"]
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end < start, f"SKU {sku}: overlapping build ranges"


@pytest.mark.parametrize(
    ("sku", "build", "key"),
    [
        (48, 22631, "W269N-WFGWX-YVC9B-4J6C9-T83GX"),  # Windows 11 Pro 23H2
        (48, 19045, "W269N-WFGWX-YVC9B-4J6C9-T83GX"),  # Windows 10 Pro 22H2
        (4, 26100, "NPPR9-FWDCX-D2C8J-H872K-2YT43"),  # Windows 11 Enterprise 24H2
        (125, 19044, "M7XTQ-FN8P6-TTKYV-9D4CC-J462D"),  # Windows 10 Enterprise LTSC 2021
        (125, 14393, "DCPHK-NFMTC-H88MJ-PFHPY-QJ4BJ"),  # Windows 10 Enterprise LTSB 2016
        (7, 26100, "TVRH6-WHNXV-R9WG3-9XRFY-MY832"),  # Server 2025 Standard
        (8, 26100, "D764K-2NDRG-47T6Q-P8T8W-YP6DF"),  # Server 2025 Datacenter
        (7, 20348, "VDYBN-27WPP-V4HQT-9VMD4-VMK7H"),  # Server 2022 Standard
        (8, 20348, "WX4NM-KYWYW-QJJR4-XV3QB-6VM33"),  # Server 2022 Datacenter
        (7, 17763, "N69G4-B89J2-4G8F4-WWYCC-J464C"),  # Server 2019 Standard
        (12, 17763, "WMDGN-G9PQG-XVVXX-R3X43-63DFG"),  # Server 2019 Datacenter, Server Core
        (48, 7601, "FJ82H-XT6CR-J8D7P-XQJJ2-GPDD4"),  # Windows 7 Professional SP1
    ],
)
def test_gvlk_lookup_matches_microsofts_table(sku: int, build: int, key: str) -> None:
    assert _gvlk_for(gvlk_by_edition().value, sku, build) == [key]


@pytest.mark.parametrize(("sku", "build"), [(7, 30000), (101, 22631), (79, 20348), (8, 19045)])
def test_gvlk_lookup_finds_nothing_for_unlisted_editions(sku: int, build: int) -> None:
    # A future server build, Home (101), an evaluation edition (79), a server SKU at a client build.
    assert _gvlk_for(gvlk_by_edition().value, sku, build) == []


def test_gvlk_file_documents_its_keying() -> None:
    text = (Path(resources.__file__).parent / "data" / "gvlk.yaml").read_text("utf-8")
    assert "OperatingSystemSKU" in text and "min_build" in text and "BuildNumber" in text
