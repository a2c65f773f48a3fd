"""Inventories with groups: Ansible's YAML and INI, CSV exports; connection variables; every message a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from remediate.errors import InventoryError
from remediate.inventory import Host, Inventory, parse_hosts
from remediate.inventory_formats import detect_format, load_inventory, parse_inventory
from remediate.secret import MASK

SITE_YAML = """\
# the site inventory, as Ansible reads it
all:
  vars:
    kms_host: kms01.corp.example
    note: from-all
  hosts:
    jump01:
      ansible_host: 10.0.9.1
  children:
    windows:
      vars:
        ansible_connection: winrm
        ansible_winrm_transport: ntlm
        ansible_winrm_scheme: https
        ansible_winrm_ca_trust_path: /etc/pki/corp-ca.pem
        note: from-windows
      children:
        web:
          vars:
            note: from-web
          hosts:
            web01.corp.example:
            web02.corp.example:
              note: from-host
        db:
          hosts:
            db01.corp.example:5986:
"""

SITE_INI = """\
# the same site inventory in INI
jump01 ansible_host=10.0.9.1

[all:vars]
kms_host=kms01.corp.example
note=from-all

[windows:children]
web
db

[windows:vars]
ansible_connection=winrm
ansible_winrm_transport=ntlm     ; a comment
ansible_winrm_scheme="https"
ansible_winrm_ca_trust_path=/etc/pki/corp-ca.pem
note=from-windows

[web]
web01.corp.example
web02.corp.example note=from-host

[web:vars]
note=from-web

[db]
db01.corp.example:5986
"""


def inventory(text: str, name: str, **options: object) -> Inventory:
    return parse_inventory(text, Path("/srv/inventories") / name, **options)  # type: ignore[arg-type]


def problems(text: str, name: str = "site.yml", **options: object) -> str:
    with pytest.raises(InventoryError) as caught:
        inventory(text, name, **options)
    return str(caught.value)


def by_label(found: Inventory) -> dict[str, Host]:
    return {host.label: host for host in found.hosts}


@pytest.mark.parametrize(("text", "name"), [(SITE_YAML, "site.yml"), (SITE_INI, "site.ini")])
def test_groups_children_and_variables_in_ansibles_precedence(text: str, name: str) -> None:
    found = inventory(text, name)
    hosts = by_label(found)
    assert list(hosts) == ["jump01", "web01.corp.example", "web02.corp.example", "db01.corp.example:5986"]
    # all < parent group < child group < host
    assert [hosts[label].variables["note"] for label in hosts] == ["from-all", "from-web", "from-host",
                                                                   "from-windows"]
    assert all(host.variables["kms_host"] == "kms01.corp.example" for host in hosts.values())
    web01 = hosts["web01.corp.example"]
    assert web01.variables == {"kms_host": "kms01.corp.example", "note": "from-web", "scheme": "https",
                               "auth": "ntlm", "ca_file": "/etc/pki/corp-ca.pem"}
    assert found.groups_of(web01) == ("all", "windows", "web")
    assert found.groups_of(hosts["jump01"]) == ("all", "ungrouped")
    assert [host.label for host in found.groups["windows"]] == [
        "web01.corp.example", "web02.corp.example", "db01.corp.example:5986"]
    # ansible_host is where to connect; the host keeps its inventory name in every report
    assert hosts["jump01"].connect_name == "10.0.9.1" and hosts["jump01"].name == "jump01"
    assert hosts["db01.corp.example:5986"].port == 5986
    assert all(host.line is not None and host.source == Path("/srv/inventories") / name for host in hosts.values())


def test_yaml_and_ini_of_one_site_are_the_same_inventory() -> None:
    yaml_hosts, ini_hosts = inventory(SITE_YAML, "site.yml"), inventory(SITE_INI, "site.ini")

    def shape(found: Inventory) -> list[tuple[object, ...]]:
        return [(h.label, h.port, h.connect_name, h.variables, found.groups_of(h)) for h in found.hosts]

    assert shape(yaml_hosts) == shape(ini_hosts)


def test_groups_of_one_depth_apply_by_name_or_by_ansible_group_priority() -> None:
    text = """\
all:
  children:
    b_site: {hosts: {web01: }, vars: {note: from-b}}
    a_role: {hosts: {web01: }, vars: {note: from-a}}
"""
    assert inventory(text, "i.yml").hosts[0].variables["note"] == "from-b"  # b after a: b wins
    prioritised = text.replace("note: from-a}", "note: from-a, ansible_group_priority: 10}")
    assert inventory(prioritised, "i.yml").hosts[0].variables["note"] == "from-a"


def test_a_deeper_group_wins_whatever_its_name() -> None:
    text = """\
[zz]
web01
[aa:children]
zz
[aa:vars]
note=parent
[zz:vars]
note=child
"""
    assert inventory(text, "i.ini").hosts[0].variables["note"] == "child"


def test_a_host_in_two_groups_is_one_host_with_both_groups() -> None:
    found = inventory("[web]\nweb01 note=a\n[prod]\nweb01 extra=b\n", "i.ini")
    (host,) = found.hosts
    assert found.groups_of(host) == ("all", "web", "prod")
    assert host.variables == {"note": "a", "extra": "b"}


def test_yaml_anchors_and_merge_keys_share_group_variables() -> None:
    text = """\
all:
  children:
    tokyo:
      vars: &winrm {ansible_connection: winrm, ansible_winrm_transport: ntlm}
      hosts: {tk01: }
    osaka:
      vars:
        <<: *winrm
        ansible_winrm_scheme: http
      hosts: {os01: }
"""
    assert [(host.label, host.variables) for host in inventory(text, "site.yml").hosts] == [
        ("tk01", {"auth": "ntlm"}), ("os01", {"scheme": "http", "auth": "ntlm"})]


def test_host_ranges_expand_as_in_ansible() -> None:
    text = "[web]\nweb[01:03].corp.example\ndb-[a:c]\nnode[0:6:3]:5986\n"
    assert [host.label for host in inventory(text, "i.ini").hosts] == [
        "web01.corp.example", "web02.corp.example", "web03.corp.example", "db-a", "db-b", "db-c",
        "node0:5986", "node3:5986", "node6:5986"]


def test_csv_export_with_host_port_groups_and_variables(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    path = tmp_path / "cmdb.csv"
    path.write_text(
        "Host,Port,Groups,Scheme,KMS Host,CA-File\n"
        "tk-app01.corp.example,5986,tokyo prod,https,kms01.corp.example,certs/ca.pem\n"
        '"tk-app02.corp.example",,tokyo,,,\n'
        "10.0.4.20:5985,,osaka;prod,http,,\n",
        encoding="utf-8",
    )
    found = load_inventory(path)
    assert found.format == "csv"
    hosts = by_label(found)
    assert list(hosts) == ["tk-app01.corp.example:5986", "tk-app02.corp.example", "10.0.4.20:5985"]
    assert hosts["tk-app01.corp.example:5986"].variables == {
        "scheme": "https", "kms_host": "kms01.corp.example", "ca_file": str(tmp_path / "certs" / "ca.pem")}
    assert hosts["tk-app02.corp.example"].variables == {}  # empty cells set nothing
    assert [host.label for host in found.groups["prod"]] == ["tk-app01.corp.example:5986", "10.0.4.20:5985"]
    assert hosts["10.0.4.20:5985"].line == 4


def test_a_plain_hosts_file_is_read_as_it_always_was() -> None:
    text = "# lab\nkms01.lab.example\n[fd00::12]:5985 scheme=http auth=ntlm\n[fd00::13]\nweb01 note=\"a b\"\n"
    found = inventory(text, "hosts.txt")
    assert found.format == "hosts"
    assert list(found.hosts) == parse_hosts(text, Path("/srv/inventories/hosts.txt"))
    assert found.groups["all"] == found.groups["ungrouped"] == found.hosts


@pytest.mark.parametrize(("text", "name", "expected"), [
    ("all:\n  hosts:\n    web01:\n", "inventory", "yaml"),
    ("---\nweb:\n  hosts: {web01: }\n", "inventory", "yaml"),
    ("[web]\nweb01\n", "inventory", "ini"),
    ("host,port\nweb01,5986\n", "inventory", "csv"),
    ("hostname;scheme\nweb01;https\n", "inventory", "csv"),
    ("web01\n[fd00::12]\n[fd00::13]:5985\n", "inventory", "hosts"),
    ("10.0.0.12:5986 scheme=https\n", "hosts.txt", "hosts"),
    ('web01 note="rack: 3"\nweb02\n', "hosts.txt", "hosts"),
    ("web01 ansible_host=10.0.0.5\n", "inventory", "ini"),
    ("web01\n", "site.yaml", "yaml"),
    ("web01\n", "site.ini", "ini"),
])
def test_the_format_is_told_by_extension_then_content(text: str, name: str, expected: str) -> None:
    assert detect_format(text, Path(name)) == expected


_plain_names = st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{2,6}){0,2}(:[1-9][0-9]{0,3})?", fullmatch=True)
_plain_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_plain_lines = st.tuples(_plain_names, st.lists(st.tuples(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                                                          _plain_values), max_size=3))


@given(st.lists(_plain_lines, min_size=1, max_size=5))
def test_every_valid_hosts_file_is_read_as_a_hosts_file(lines: list[tuple[str, list[tuple[str, str]]]]) -> None:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = "".join(name + "".join(f" {key}={quoted(value)}" for key, value in variables) + "\n"
                   for name, variables in lines)
    try:
        hosts = parse_hosts(text, Path("hosts"))
    except InventoryError:
        assume(False)
        return
    assume(not any(key.startswith("ansible_") for _, variables in lines for key, _ in variables))
    assert detect_format(text, Path("hosts")) == "hosts"
    assert list(parse_inventory(text, Path("hosts")).hosts) == hosts


# --- connection variables ---------------------------------------------------------------------------------------


def one_host(variables: str, **options: object) -> Host:
    found = inventory(f"[win]\nwin01 {variables}\n", "i.ini", **options)
    return found.hosts[0]


@pytest.mark.parametrize(("variables", "expected"), [
    ("ansible_winrm_transport=ntlm", {"auth": "ntlm"}),
    ("ansible_winrm_transport=kerberos", {"auth": "kerberos"}),
    ("ansible_winrm_transport=credssp", {"auth": "credssp"}),
    ("ansible_winrm_transport=basic", {"auth": "basic"}),
    ("ansible_winrm_transport=ssl", {"auth": "basic"}),
    ("ansible_winrm_transport=plaintext", {"auth": "basic"}),
    ("ansible_winrm_transport=certificate", {"auth": "certificate"}),
    ("ansible_psrp_auth=negotiate", {"auth": "negotiate"}),
    ("ansible_psrp_auth=Kerberos", {"auth": "kerberos"}),
    ("ansible_winrm_scheme=http", {"scheme": "http"}),
    ("ansible_psrp_protocol=HTTPS", {"scheme": "https"}),
    ("ansible_winrm_ca_trust_path=/etc/pki/ca.pem", {"ca_file": "/etc/pki/ca.pem"}),
    ("ansible_psrp_ca_cert=certs/ca.pem", {"ca_file": "certs/ca.pem"}),
    ("ansible_psrp_cert_trust_path=/ca.pem", {"ca_file": "/ca.pem"}),
    ("ansible_port=5985", {"scheme": "http"}),  # Ansible's winrm and psrp: 5985 without a scheme is http
    ("ansible_port=5985 ansible_winrm_scheme=https", {"scheme": "https"}),
    ("ansible_winrm_server_cert_validation=validate", {}),
    ("ansible_psrp_cert_validation=ignore ansible_psrp_protocol=http", {"scheme": "http"}),
])
def test_each_connection_variable_maps_to_remediates(variables: str, expected: dict[str, str]) -> None:
    assert one_host(variables).variables == expected


@pytest.mark.parametrize(("variables", "port", "address"), [
    ("ansible_port=5986", 5986, "win01"),
    ("ansible_winrm_port=15986 ansible_port=5986", 15986, "win01"),
    ("ansible_psrp_port=25986 ansible_port=5986", 25986, "win01"),
    ("ansible_host=10.0.0.7", None, "10.0.0.7"),
    ("ansible_host=[fd00::7]", None, "fd00::7"),
    ("ansible_winrm_host=10.0.0.8 ansible_host=10.0.0.7", None, "10.0.0.8"),
    ("ansible_psrp_host=win01.corp.example ansible_host=10.0.0.7", None, "win01.corp.example"),
])
def test_address_and_port_and_the_plugins_own_variable_wins(variables: str, port: int | None, address: str) -> None:
    host = one_host(variables)
    assert (host.port, host.connect_name, host.name) == (port, address, "win01")


def test_an_alias_keeps_its_name_in_reports_and_may_be_no_dns_name() -> None:
    host = one_host("ansible_host=10.0.0.7 ansible_port=5986")
    assert host.label == "win01" and host.connect_name == "10.0.0.7" and host.port == 5986
    alias = inventory("[win]\nsql_primary ansible_host=10.0.0.9\n", "i.ini").hosts[0]
    assert alias.label == "sql_primary" and alias.connect_name == "10.0.0.9"
    assert "bad host name 'sql_primary'" in problems("[win]\nsql_primary\n", "i.ini")


def test_with_ansible_connection_set_only_that_plugins_variables_count() -> None:
    found = inventory("[win]\nwin01 ansible_connection=psrp ansible_psrp_auth=ntlm ansible_winrm_transport=kerberos"
                      " ansible_winrm_port=1\n", "i.ini")
    assert found.hosts[0].variables == {"auth": "ntlm"} and found.hosts[0].port is None
    assert found.warnings == ("/srv/inventories/i.ini: not used by remediate, ignored: ansible_winrm_port, "
                              "ansible_winrm_transport",)


def test_winrm_and_psrp_variables_that_disagree_without_ansible_connection_are_refused() -> None:
    message = problems("[win]\nwin01 ansible_winrm_scheme=http ansible_psrp_protocol=https\n", "i.ini")
    assert message.startswith("/srv/inventories/i.ini:2: ansible_psrp_protocol: ansible_winrm_scheme and "
                               "ansible_psrp_protocol disagree")


def test_unknown_ansible_variables_are_ignored_with_one_warning_naming_them() -> None:
    text = "[win]\nwin01 ansible_user=admin ansible_become=true\nwin02 ansible_shell_type=powershell\n"
    found = inventory(text, "i.ini")
    assert found.warnings == ("/srv/inventories/i.ini: not used by remediate, ignored: ansible_become, "
                              "ansible_shell_type, ansible_user",)
    assert all(host.variables == {} for host in found.hosts)


def test_remediates_own_setting_names_are_no_connection_settings_in_an_ansible_inventory() -> None:
    found = inventory("[win]\nwin01 auth=basic scheme=http port=80\n", "i.ini")
    assert found.hosts[0].variables == {} and found.hosts[0].port is None
    assert "variables named auth, port, scheme are not connection settings" in found.warnings[0]


@pytest.mark.parametrize("variable", ["ansible_winrm_server_cert_validation", "ansible_psrp_cert_validation"])
def test_turning_certificate_validation_off_needs_insecure(variable: str) -> None:
    text = f"all:\n  vars:\n    {variable}: ignore\n  hosts:\n    win01:\n"
    message = problems(text)
    assert message.startswith(f"/srv/inventories/site.yml:3: {variable}: certificate validation turned off for "
                              "this host: remediate turns it off only for a whole run, with --insecure")
    assert inventory(text, "site.yml", insecure=True).hosts[0].variables == {}
    # over http there is no certificate to validate
    assert inventory(text, "site.yml", scheme="http").hosts[0].label == "win01"


@pytest.mark.parametrize("variable", ["ansible_password", "ansible_winrm_password", "ansible_winrm_pass",
                                      "ansible_psrp_password", "ansible_become_pass", "ansible_ssh_pass"])
def test_a_password_in_an_inventory_is_refused_with_its_line_and_never_shown(variable: str) -> None:
    yaml_message = problems(f"all:\n  hosts:\n    win01:\n      {variable}: Hunter2-Secret\n")
    assert yaml_message.startswith(f"/srv/inventories/site.yml:4: {variable}: a password does not belong in an "
                                   f"inventory (value {MASK})")
    assert "REMEDIATE_PASSWORD" in yaml_message
    ini_message = problems(f"[win]\nwin01\n[win:vars]\n{variable} = 'Hunter2-Secret'\n", "i.ini")
    assert ini_message.startswith(f"/srv/inventories/i.ini:4: {variable}: a password does not belong")
    for message in (yaml_message, ini_message):
        assert "Hunter2" not in message


def test_a_password_in_a_group_without_hosts_is_refused_too() -> None:
    text = "all:\n  hosts: {win01: }\n  children:\n    empty:\n      vars: {ansible_password: Hunter2-Secret}\n"
    assert problems(text).startswith("/srv/inventories/site.yml:5: ansible_password: a password does not belong")


def test_vaulted_values_are_never_decrypted() -> None:
    vault = "!vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3133\n"
    found = inventory(f"all:\n  hosts:\n    win01:\n      site_code: {vault}", "site.yml")
    assert found.hosts[0].variables == {}
    assert found.warnings == ("/srv/inventories/site.yml: values encrypted with Ansible Vault are not decrypted, "
                              "left out: site_code",)
    refused = problems(f"all:\n  hosts:\n    win01:\n      ansible_host: {vault}")
    assert "site.yml:4: ansible_host: the value is encrypted with Ansible Vault" in refused


def test_yaml_values_become_text_and_lists_or_mappings_are_no_playbook_values() -> None:
    text = ("all:\n  hosts:\n    win01:\n      enabled: yes\n      count: 3\n      empty:\n"
            "      roles: [a, b]\n      config: {a: 1}\n")
    assert inventory(text, "site.yml").hosts[0].variables == {"enabled": "true", "count": "3"}


@pytest.mark.parametrize(("variables", "expected"), [
    ("ansible_port=70000", "i.ini:2: ansible_port: bad port '70000': expected a number from 1 to 65535"),
    ("ansible_port=abc", "i.ini:2: ansible_port: bad port 'abc'"),
    ("ansible_host=10.0.0.7:5986", "i.ini:2: ansible_host: '10.0.0.7:5986' has a port: give the address alone"),
    ("ansible_host=010.0.0.7", "i.ini:2: ansible_host: '010.0.0.7' is the IPv4 address 8.0.0.7 written in "
     "another form"),
    ("ansible_host='{{ inventory_hostname }}.corp'", "i.ini:2: ansible_host: '{{ inventory_hostname }}.corp' is "
     "an Ansible template: remediate does not evaluate templates"),
    ("ansible_winrm_scheme=ftp", "i.ini:2: ansible_winrm_scheme: the scheme must be http or https, not 'ftp'"),
    ("ansible_winrm_transport=digest", "i.ini:2: ansible_winrm_transport: unknown authentication 'digest'; one of"),
    ("ansible_winrm_transport=ntlm,kerberos", "i.ini:2: ansible_winrm_transport: give one authentication"),
    ("ansible_psrp_cert_validation=maybe", "i.ini:2: ansible_psrp_cert_validation: expected validate or ignore"),
    ("ansible_connection=winrm ansible_winrm_ca_trust_path=''", "i.ini:2: ansible_winrm_ca_trust_path: the CA "
     "path is empty"),
])
def test_bad_connection_variables_name_file_line_and_field(variables: str, expected: str) -> None:
    assert f"/srv/inventories/{expected}" in problems(f"[win]\nwin01 {variables}\n", "i.ini")


# --- errors of each format ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("all:\n  hosts:\n    - web01\n", "site.yml:2: hosts: hosts: is a mapping of host names, each followed by a "
     "colon, not a list"),
    ("all:\n  host:\n    web01:\n", "site.yml:2: host: a group holds hosts:, children: and vars:, not host:"),
    ("all:\n  hosts:\n    web01:\n    web01:\n", "site.yml:4: web01: given twice in one mapping"),
    ("all:\n  hosts:\n    web01:\n\tweb02:\n", "site.yml:4: not valid YAML"),
    ("all:\n  children:\n    web: [web01]\n", "site.yml:3: web: group web holds hosts:, children: and vars:, "
     "not a list"),
    ("plugin: amazon.aws.aws_ec2\n", "site.yml:1: plugin: this configures an inventory plugin"),
    ("all:\n  hosts:\n    web01:\n      - a\n", "site.yml:3: web01: a host's variables are a mapping"),
    ("all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n"
     "          hosts: {web01: }\n", "site.yml:3: a: group a is a child of its own descendant b: a loop"),
    ("all:\n  hosts:\n    web[03:01]:\n", "site.yml:3: web[03:01]: a host range runs from low to high"),
    ("all:\n  hosts:\n    web[1:20:0]:\n", "site.yml:3: web[1:20:0]: a host range's step is a number above 0"),
    ("all:\n  hosts:\n    web[01:100]:\n", "site.yml:3: web[01:100]: the bounds of a zero-padded range have one "
     "length"),
    ("all:\n  hosts:\n    web01:99999:\n", "site.yml:3: web01:99999: bad port '99999'"),
    ("all:\n  hosts:\n    web\u200b01:\n", "site.yml:3: invisible character U+200B at column 8"),
    ("all:\n  vars: {a: 1}\n", "site.yml: no hosts: the inventory names no host"),
])
def test_yaml_errors_name_file_line_and_field(text: str, expected: str) -> None:
    assert f"/srv/inventories/{expected}" in problems(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("[web:vars]\nnote=a\n[db]\ndb01\n", "i.ini:1: web: [web:vars] sets variables of group web, but no [web] or "
     "[web:children] section defines it"),
    ("[win:children]\nweb\n[db]\ndb01\n", "i.ini:2: web: [win:children] names group web, but no [web] or "
     "[web:children] section defines it"),
    ("[web:hosts2]\nweb01\n", "i.ini:1: [web:hosts2]: unknown section kind :hosts2"),
    ("[web]\nweb01 note\n", "i.ini:2: note: expected key=value after the host"),
    ("[web]\nweb01 note='open\n", "i.ini:2: a quote is not closed on this line"),
    ("[web]\nweb01\n[web:vars]\njust words\n", "i.ini:4: expected key=value in a :vars section"),
    ("[web]\nweb 01.corp\n", "i.ini:2: 01.corp: expected key=value after the host"),
    ("[web]\nweb01\nWEB01.\n", "i.ini:3: WEB01.: duplicate host: already listed on line 2 as web01 (both are "
     "web01:5986)"),
    ("[web]\nweb01 ansible_host=10.0.0.5\nweb02 ansible_host=10.0.0.5\n", "i.ini:3: web02: duplicate host: "
     "already listed on line 2 as web01 (both are 10.0.0.5:5986)"),
])
def test_ini_errors_name_file_line_and_field(text: str, expected: str) -> None:
    assert f"/srv/inventories/{expected}" in problems(text, "i.ini")


def test_hosts_on_other_ports_of_one_address_are_distinct_hosts() -> None:
    found = inventory("[lab]\nws01 ansible_host=127.0.0.1 ansible_port=5001\n"
                      "ws02 ansible_host=127.0.0.1 ansible_port=5002\n", "i.ini")
    assert [(h.label, h.connect_name, h.port) for h in found.hosts] == [("ws01", "127.0.0.1", 5001),
                                                                        ("ws02", "127.0.0.1", 5002)]


@pytest.mark.parametrize(("text", "expected"), [
    ("host,port\nweb01,99999\n", "c.csv:2: port: bad port '99999'"),
    ("host,port\nweb01:5986,5985\n", "c.csv:2: port: the host says port 5986 and the port column 5985"),
    ("host,note\nweb01,a,b\n", "c.csv:2: 3 cells, but the header row has 2 columns"),
    ("host,note,Note\nweb01,a,b\n", "c.csv:1: note: this column is named twice"),
    ("host,1st\nweb01,a\n", "c.csv:1: 1st: a column name is letters, digits and _"),
    ("name,port\nweb01,5986\n", "c.csv:1: the header row names no host column"),
    ("host,auth\nweb01,digest\n", "c.csv:2: auth: auth must be one of"),
    ("host,note\n,a\n", "c.csv:2: host: no host in this row"),
    ("host,groups\nweb01,a\nweb01,b\n", "c.csv:3: web01: duplicate host: already listed on line 2"),
])
def test_csv_errors_name_file_line_and_field(text: str, expected: str) -> None:
    assert f"/srv/inventories/{expected}" in problems(text, "c.csv")


def test_every_problem_is_reported_at_once() -> None:
    message = problems("[web]\nweb01 ansible_port=0\nweb02 ansible_winrm_scheme=ftp\n", "i.ini")
    assert message.startswith("/srv/inventories/i.ini: 2 problems:")
    assert "i.ini:2: ansible_port" in message and "i.ini:3: ansible_winrm_scheme" in message


def test_a_group_variables_problem_is_reported_once_for_all_its_hosts() -> None:
    message = problems("[web]\nweb01\nweb02\n[web:vars]\nansible_port=0\n", "i.ini")
    assert message.count("ansible_port") == 1 and message.startswith("/srv/inventories/i.ini:5: ansible_port")


def test_a_product_key_as_a_host_is_masked() -> None:
    key = "VK7JG-NPHTM-C97JM-9MPGT-3V66T"
    message = problems(f"[web]\n{key}\n", "i.ini")
    assert "i.ini:2: this is a product key, not a host" in message
    assert not any(group in message for group in key.split("-"))


def test_load_inventory_reads_the_file_and_says_what_is_wrong_with_it(tmp_path: Path) -> None:
    path = tmp_path / "site.yml"
    path.write_text(SITE_YAML, encoding="utf-16")  # with a BOM, as Notepad's "Unicode"
    assert len(load_inventory(path).hosts) == 4
    with pytest.raises(InventoryError, match="hosts file not found"):
        load_inventory(tmp_path / "missing.yml")
