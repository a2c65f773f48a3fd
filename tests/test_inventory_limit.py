"""--limit: Ansible's host patterns over an inventory, and the hosts a command works on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from remediate.cli import main
from remediate.errors import InventoryError, UsageError
from remediate.inventory import Inventory
from remediate.inventory_formats import parse_inventory
from remediate.inventory_limit import inventory_hosts, select_hosts, split_pattern

SITE = """\
jump01 ansible_host=10.0.9.1

[web]
web01.corp.example
web02.corp.example
web03.corp.example

[db]
db01.corp.example:5986
db02.corp.example

[windows:children]
web
db

[prod]
web01.corp.example
db01.corp.example:5986

[lab]
[fd00::12]:5985
10.0.0.12:5986
"""


@pytest.fixture(scope="module")
def site() -> Inventory:
    return parse_inventory(SITE, Path("site.ini"))


def chosen(site: Inventory, pattern: str) -> list[str]:
    return [host.label for host in select_hosts(site, pattern)]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("web", ["web01.corp.example", "web02.corp.example", "web03.corp.example"]),
    ("windows", ["web01.corp.example", "web02.corp.example", "web03.corp.example", "db01.corp.example:5986",
                 "db02.corp.example"]),
    ("db02.corp.example", ["db02.corp.example"]),
    ("db01.corp.example", ["db01.corp.example:5986"]),  # the inventory name, or
    ("db01.corp.example:5986", ["db01.corp.example:5986"]),  # the label
    ("jump01", ["jump01"]),
    ("ungrouped", ["jump01"]),
    ("web:db", ["web01.corp.example", "web02.corp.example", "web03.corp.example", "db01.corp.example:5986",
                "db02.corp.example"]),
    ("db,jump01", ["jump01", "db01.corp.example:5986", "db02.corp.example"]),  # inventory order
    ("windows:&prod", ["web01.corp.example", "db01.corp.example:5986"]),
    ("windows:!prod", ["web02.corp.example", "web03.corp.example", "db02.corp.example"]),
    ("!prod:windows", ["web02.corp.example", "web03.corp.example", "db02.corp.example"]),  # modifiers apply last
    ("!windows", ["jump01", "[fd00::12]:5985", "10.0.0.12:5986"]),  # only exclusions: from all
    ("&prod", ["web01.corp.example", "db01.corp.example:5986"]),
    ("web*", ["web01.corp.example", "web02.corp.example", "web03.corp.example"]),
    ("*.corp.example:!web0?.corp.example", ["db01.corp.example:5986", "db02.corp.example"]),
    ("~(web|db)0[12]\\.", ["web01.corp.example", "web02.corp.example", "db01.corp.example:5986",
                           "db02.corp.example"]),
    ("web[0]", ["web01.corp.example"]),
    ("web[-1]", ["web03.corp.example"]),
    ("web[1:]", ["web02.corp.example", "web03.corp.example"]),
    ("windows[0:1]", ["web01.corp.example", "web02.corp.example"]),  # the end is included, as in Ansible
    ("fd00::12", ["[fd00::12]:5985"]),
    ("[fd00::12]:5985", ["[fd00::12]:5985"]),
    ("10.0.0.12:5986", ["10.0.0.12:5986"]),
    ("all", ["jump01", "web01.corp.example", "web02.corp.example", "web03.corp.example", "db01.corp.example:5986",
             "db02.corp.example", "[fd00::12]:5985", "10.0.0.12:5986"]),
])
def test_patterns_select_as_in_ansible(site: Inventory, pattern: str, expected: list[str]) -> None:
    assert chosen(site, pattern) == expected


def test_no_limit_is_every_host(site: Inventory) -> None:
    assert select_hosts(site, None) == list(site.hosts)


@pytest.mark.parametrize(("pattern", "parts"), [
    ("web:db:&prod:!web02", ["web", "db", "&prod", "!web02"]),
    ("web,db", ["web", "db"]),
    ("web[0:2]:db", ["web[0:2]", "db"]),
    ("fd00::12", ["fd00::12"]),
    ("web01:5986", ["web01:5986"]),
    ("a, b ,", ["a", "b"]),
])
def test_split_as_ansible_splits(pattern: str, parts: list[str]) -> None:
    assert split_pattern(pattern) == parts


def test_names_from_a_file(site: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    retry = tmp_path / "retry.txt"
    retry.write_text("# failed last night\nweb02.corp.example\n\ndb01.corp.example:5986\n", encoding="utf-8")
    assert chosen(site, f"@{retry}") == ["web02.corp.example", "db01.corp.example:5986"]
    assert chosen(site, f"@{retry}:!db") == ["web02.corp.example"]
    monkeypatch.chdir(tmp_path)
    assert chosen(site, "@retry.txt:&prod") == ["db01.corp.example:5986"]
    with pytest.raises(UsageError, match=r"--limit file not found: nothing\.txt"):
        select_hosts(site, "@nothing.txt")


@pytest.mark.parametrize(("pattern", "expected"), [
    ("webs", "--limit: 'webs' matches no group or host"),
    ("web:!webs", "--limit: 'webs' matches no group or host"),
    ("web:&Prod", "--limit: 'Prod' matches no group or host"),  # names compare with case, as in Ansible
    ("web:&db", "--limit 'web:&db' selects no host"),
    ("web[7]", "--limit: 'web[7]' matches no group or host"),
    ("~web(", "--limit: '~web(' is not a valid pattern"),
    (",", "--limit is empty"),
])
def test_a_pattern_that_selects_nothing_lists_what_exists(site: Inventory, pattern: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        select_hosts(site, pattern)
    assert str(caught.value).startswith(expected)
    if "valid pattern" not in expected:
        assert caught.value.hint is not None
        assert caught.value.hint.startswith("groups: all, ungrouped, web, db, windows, prod, lab; hosts: jump01, "
                                            "web01.corp.example")


def test_the_list_of_what_exists_is_cut_short(tmp_path: Path) -> None:
    big = parse_inventory("[web]\nweb[001:250]\n", Path("big.ini"))
    with pytest.raises(UsageError) as caught:
        select_hosts(big, "nope")
    assert caught.value.hint is not None and caught.value.hint.endswith("web020 and 230 more")


# Random inventories: a pattern's result is the set arithmetic of its parts, in inventory order.
GROUPS = ("g0", "g1", "g2", "g3")
memberships = st.lists(st.sets(st.sampled_from(GROUPS), min_size=1), min_size=1, max_size=12)


def random_inventory(membership: list[set[str]]) -> Inventory:
    sections = {group: [f"h{index:02d}" for index, groups in enumerate(membership) if group in groups]
                for group in GROUPS}
    text = "".join(f"[{group}]\n" + "".join(f"{host}\n" for host in hosts) for group, hosts in sections.items())
    return parse_inventory(text, Path("random.ini"))


def members(found: Inventory, group: str) -> set[str]:
    return {host.name for host in found.groups[group]}


@given(memberships, st.sampled_from(GROUPS), st.sampled_from(GROUPS), st.sampled_from(("", "&", "!")))
def test_union_intersection_and_exclusion_are_set_arithmetic(
    membership: list[set[str]], first: str, second: str, modifier: str
) -> None:
    found = random_inventory(membership)
    if not found.groups[first] or not found.groups[second]:
        with pytest.raises(UsageError):
            select_hosts(found, f"{first}:{modifier}{second}")
        return
    a, b = members(found, first), members(found, second)
    expected = {"": a | b, "&": a & b, "!": a - b}[modifier]
    if not expected:
        with pytest.raises(UsageError, match="selects no host"):
            select_hosts(found, f"{first}:{modifier}{second}")
        return
    selected = select_hosts(found, f"{first}:{modifier}{second}")
    assert {host.name for host in selected} == expected
    assert selected == [host for host in found.hosts if host in selected]  # inventory order
    assert select_hosts(found, f"{modifier}{second}:{first}") == selected  # modifiers apply after the rest


# --- the hosts a command works on ------------------------------------------------------------------------------


def test_a_host_reached_otherwise_than_over_winrm_is_refused_unless_left_out(tmp_path: Path) -> None:
    path = tmp_path / "site.ini"
    path.write_text("[win]\nwin01\n[linux]\nlx01 ansible_connection=ssh\n[win:vars]\nansible_connection=winrm\n",
                    encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        inventory_hosts(path)
    assert f"{path}:4: lx01: ansible_connection=ssh" in str(caught.value)
    assert caught.value.hint == "leave them out with --limit, e.g. --limit 'all:!lx01'"
    assert [host.label for host in inventory_hosts(path, limit="all:!linux")] == ["win01"]


def test_warnings_reach_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "site.yml"
    path.write_text("all:\n  hosts:\n    win01:\n      ansible_user: admin\n", encoding="utf-8")
    warnings: list[str] = []
    assert len(inventory_hosts(path, warn=warnings.append)) == 1
    assert warnings == [f"{path}: not used by remediate, ignored: ansible_user"]


def test_run_and_status_take_limit(tmp_path: Path) -> None:
    path = tmp_path / "site.ini"
    path.write_text(SITE, encoding="utf-8")
    runner = CliRunner()
    dry = runner.invoke(main, ["run", "0xC004F074", "--hosts", str(path), "--dry-run", "--output", "json",
                               "--limit", "windows:&prod"])
    assert dry.exit_code == 0, dry.output
    assert [host["host"] for host in json.loads(dry.stdout)["hosts"]] == ["web01.corp.example",
                                                                          "db01.corp.example:5986"]
    for command in (["status"], ["run", "0xC004F074"], ["run", "auto"]):
        refused = runner.invoke(main, [*command, "--hosts", str(path), "-l", "webs"])
        assert refused.exit_code == 2, refused.output
        assert "--limit: 'webs' matches no group or host" in refused.stderr
        assert "hint: groups: all, ungrouped, web, db, windows, prod, lab" in refused.stderr
