"""Run-wide values and how each host's parameter values are decided."""

from __future__ import annotations

import codecs
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediate.errors import ParameterValueError, ProductKeyError, UsageError
from remediate.inventory import Host, parse_hosts
from remediate.productkey import ProductKey
from remediate.secret import Secret
from remediate.values import ParameterSpec, RunValues, likely_typos, resolve

KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"


@dataclass(frozen=True)
class Param:
    """Stands in for the playbook model's parameter: only what the ParameterSpec protocol asks for."""

    name: str
    type: str
    required: bool = False
    default: object = None
    secret: bool = False
    choices: Sequence[str] | None = None


def _params(*params: Param) -> dict[str, ParameterSpec]:
    return {p.name: p for p in params}


PARAMS = _params(
    Param("kms_host", "fqdn"),
    Param("kms_port", "port", default=1688),
    Param("flush_dns", "bool", default=True),
    Param("product_key", "product_key"),
    Param("admin_password", "string", secret=True),
)
HOST = Host("ws01", None, {}, Path("hosts.txt"), 4)


def _usage(func: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(UsageError) as caught:
        func(*args, **kwargs)  # type: ignore[operator]
    return str(caught.value)


def test_defaults_when_nothing_is_given() -> None:
    values = resolve(PARAMS, HOST, RunValues.from_options([], [], None, environ={}))
    assert values == {
        "kms_host": None,
        "kms_port": 1688,
        "flush_dns": True,
        "product_key": None,
        "admin_password": None,
    }


def test_precedence_default_then_set_then_host_variable() -> None:
    run = RunValues.from_options(["kms_port=1700", "kms_host=kms01.example.com"], [], None, environ={})
    (plain, override) = parse_hosts(
        "ws01\nws02 kms_port=1800 kms_host=kms02.example.com flush_dns=no\n", None
    )
    assert resolve(PARAMS, plain, run)["kms_port"] == 1700
    assert resolve(PARAMS, plain, run)["kms_host"] == "kms01.example.com"
    values = resolve(PARAMS, override, run)
    assert (values["kms_port"], values["kms_host"], values["flush_dns"]) == (1800, "kms02.example.com", False)


def test_secrets_from_environment() -> None:
    environ = {"REMEDIATE_KEY": KEY.lower(), "LAB_PW": "hunter2"}
    run = RunValues.from_options(
        [], ["product_key=REMEDIATE_KEY", "admin_password=LAB_PW"], None, environ=environ
    )
    assert "hunter2" not in repr(run) and KEY not in repr(run).upper()
    values = resolve(PARAMS, HOST, run)
    assert isinstance(values["product_key"], ProductKey) and values["product_key"].reveal() == KEY
    assert isinstance(values["admin_password"], Secret) and values["admin_password"].reveal() == "hunter2"


def test_missing_or_empty_environment_variable_names_it_never_a_value() -> None:
    message = _usage(RunValues.from_options, [], ["product_key=REMEDIATE_KEY"], None, environ={})
    assert message == "--secret-env product_key=REMEDIATE_KEY: environment variable REMEDIATE_KEY is not set"
    message = _usage(
        RunValues.from_options, [], ["product_key=REMEDIATE_KEY"], None, environ={"REMEDIATE_KEY": ""}
    )
    assert message.endswith("environment variable REMEDIATE_KEY is empty")


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("product_key", "--secret-env expects NAME=VARIABLE"),
        ("product_key=", "--secret-env expects NAME=VARIABLE"),
        ("Product-Key=X", "a parameter name is lower-case letters"),
        ("product_key=1BAD", "--secret-env product_key=...: the text after = is not an environment variable name"),
    ],
)
def test_bad_secret_env_options(option: str, expected: str) -> None:
    assert expected in _usage(RunValues.from_options, [], [option], None, environ={})


@pytest.mark.parametrize(
    "option",
    [
        f"product_key={KEY}",  # the shell expanded --secret-env product_key=$NEW_KEY
        f"product_key={KEY.replace('-', '')}",  # the same key kept without hyphens: a valid variable name
        "admin_password=pa$$-w0rd!",
        f"{KEY}=NEW_KEY",
        f"{KEY.replace('-', '')}=NEW_KEY",
    ],
)
def test_a_secret_typed_into_secret_env_is_never_echoed(option: str) -> None:
    message = _usage(RunValues.from_options, [], [option], None, environ={})
    assert message.startswith("--secret-env")
    for secret in (KEY, KEY.replace("-", ""), KEY.replace("-", "")[:20], "pa$$-w0rd!"):
        assert secret not in message


def test_a_key_typed_as_a_set_name_is_masked() -> None:
    message = _usage(RunValues.from_options, [f"{KEY}=1"], [], None, environ={})
    assert message == "--set 'XXXXX-XXXXX-XXXXX-XXXXX-T83GX': a parameter name is lower-case letters, digits and _"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["kms_host"], "--set expects name=value, got 'kms_host'"),
        (["Kms=x"], "--set 'Kms': a parameter name is lower-case letters, digits and _"),
        (["a=1", "a=2"], "--set a=... is given twice"),
        (["scheme=https"], "--set scheme: scheme is a connection setting: write it in the hosts file"),
        ([KEY], "--set expects name=value, got 'XXXXX-XXXXX-XXXXX-XXXXX-T83GX'"),
    ],
)
def test_bad_set_options(options: list[str], expected: str) -> None:
    message = _usage(RunValues.from_options, options, [], None, environ={})
    assert message == expected
    assert KEY not in message


def test_a_secret_never_comes_from_set() -> None:
    run = RunValues.from_options([f"product_key={KEY}"], [], None, environ={})
    message = _usage(resolve, PARAMS, HOST, run)
    assert message == (
        "--set product_key: product_key is a secret: "
        "secrets come from --secret-env or --secrets-file, never the command line"
    )
    run = RunValues.from_options(["admin_password=hunter2"], [], None, environ={})
    message = _usage(resolve, PARAMS, HOST, run)
    assert "never the command line" in message and "hunter2" not in message


def test_a_secret_never_comes_from_a_hosts_file() -> None:
    (host,) = parse_hosts(f"ws01 product_key={KEY}\n", Path("hosts.txt"))
    message = _usage(resolve, PARAMS, host, RunValues())
    assert message.startswith("hosts.txt:1: ws01: product_key: product_key is a secret: secrets come from")
    assert KEY not in message


def test_set_for_an_unknown_parameter_lists_the_parameters() -> None:
    run = RunValues.from_options(["kms_hots=kms01.example.com"], [], None, environ={})
    message = _usage(resolve, PARAMS, HOST, run)
    assert message.startswith("--set kms_hots: the playbook has no parameter kms_hots")
    assert "its parameters are: admin_password, flush_dns, kms_host, kms_port, product_key" in message


def test_a_misspelt_parameter_is_caught_on_the_command_line_and_flagged_in_a_hosts_file() -> None:
    run = RunValues.from_options(["kms_hots=kms01.example.com"], [], None, environ={})
    assert "the playbook has no parameter kms_hots (did you mean kms_host?)" in _usage(resolve, PARAMS, HOST, run)
    hosts = parse_hosts('ws01 kms_hots=kms01.example.com note="rack 3" scheme=http\n', Path("hosts.txt"))
    assert likely_typos(PARAMS, hosts) == [
        "hosts.txt:1: ws01: kms_hots: the playbook has no parameter kms_hots, so it is not used; "
        "did you mean kms_host?"
    ]


def test_required_but_missing_names_the_parameter_and_the_host() -> None:
    params = _params(
        Param("kms_host", "fqdn", required=True), Param("product_key", "product_key", required=True)
    )
    run = RunValues.from_options(["kms_host=kms01.example.com"], [], None, environ={})
    message = _usage(resolve, params, Host("ws07", 5986, {}, None, None), run)
    assert message == (
        "host ws07:5986: parameter product_key is required; "
        "give it with --secret-env product_key=VARIABLE or a product_key=... line in --secrets-file"
    )
    message = _usage(resolve, params, HOST, RunValues())
    assert message == (
        "host ws01: parameter kms_host is required; "
        "give it with --set kms_host=... or kms_host=... on the host's line in the hosts file"
    )


def test_bad_values_say_where_they_came_from() -> None:
    (host,) = parse_hosts("ws01\nws02 kms_port=http\n", Path("hosts.txt"))[1:]
    with pytest.raises(ParameterValueError) as caught:
        resolve(PARAMS, host, RunValues())
    assert str(caught.value) == "hosts.txt:2: ws02: kms_port: expected a port number (1-65535), got 'http'"
    run = RunValues.from_options(["kms_host=kms01"], [], None, environ={})
    with pytest.raises(ParameterValueError) as caught:
        resolve(PARAMS, HOST, run)
    assert str(caught.value).startswith("--set kms_host: expected a fully qualified domain name, got 'kms01'")


def test_bad_key_from_environment_names_the_option_never_the_key() -> None:
    bad = KEY[:-1] + "0"
    run = RunValues.from_options([], ["product_key=PK"], None, environ={"PK": bad})
    with pytest.raises(ProductKeyError) as caught:
        resolve(PARAMS, HOST, run)
    message = str(caught.value)
    assert message.startswith("--secret-env product_key=PK: not a valid product key: character 29 is '0'")
    assert bad not in message and bad[:-1] not in message


def _secrets_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.txt"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_secrets_file(tmp_path: Path) -> None:
    path = _secrets_file(
        tmp_path,
        f'# lab secrets\n\nproduct_key = {KEY}\nadmin_password="pa#ss word"\n  # indented comment\n',
    )
    run = RunValues.from_options([], [], path, environ={})
    assert run.warnings == []
    values = resolve(PARAMS, HOST, run)
    assert values["product_key"] == ProductKey.parse(KEY)
    assert isinstance(values["admin_password"], Secret)
    assert values["admin_password"].reveal() == "pa#ss word"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_secrets_file_readable_by_others_warns(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path, "admin_password=x\n", mode=0o644)
    run = RunValues.from_options([], [], path, environ={})
    assert run.warnings == [
        f"secrets file {path} is readable by other users (mode 0644); run: chmod 600 {path}"
    ]
    path.chmod(0o640)
    assert len(RunValues.from_options([], [], path, environ={}).warnings) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hunter2\n", "secrets.txt:1: expected name=value"),
        (
            "# c\nPass Word=hunter2\n",
            "secrets.txt:2: a name is lower-case letters, digits and _ (not a digit first)",
        ),
        ("admin_password=\n", "secrets.txt:1: admin_password: admin_password has an empty value"),
        ('admin_password=""\n', "secrets.txt:1: admin_password: admin_password has an empty value"),
        (
            "admin_password=a\nadmin_password=hunter2\n",
            "secrets.txt:2: admin_password: admin_password is given twice (first on line 1)",
        ),
    ],
)
def test_secrets_file_errors_name_file_and_line_never_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _secrets_file(tmp_path, text)
    message = _usage(RunValues.from_options, [], [], path, environ={})
    assert message == f"{tmp_path}/{expected}"
    assert "hunter2" not in message


def test_secrets_file_missing_or_not_utf8(tmp_path: Path) -> None:
    assert _usage(RunValues.from_options, [], [], tmp_path / "nope", environ={}) == (
        f"secrets file not found: {tmp_path / 'nope'}"
    )
    path = tmp_path / "sjis.txt"
    path.write_bytes("a=1\nadmin_password=パスワード\n".encode("cp932"))
    assert (
        _usage(RunValues.from_options, [], [], path, environ={})
        == f"{path}:2: secrets file is not UTF-8 text"
    )


def test_the_same_name_from_two_sources_is_refused(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path, "admin_password=x\n")
    message = _usage(RunValues.from_options, [], ["admin_password=PW"], path, environ={"PW": "y"})
    assert (
        message
        == f"{path}:1: admin_password: admin_password is given by both --secret-env and the secrets file"
    )
    message = _usage(
        RunValues.from_options, ["admin_password=x"], ["admin_password=PW"], None, environ={"PW": "y"}
    )
    assert "given by --set and by a secret source" in message
    message = _usage(RunValues.from_options, [], ["a=PW", "a=PW"], None, environ={"PW": "y"})
    assert message == "--secret-env a=... is given twice"


def test_a_secret_for_an_unknown_parameter_says_where_it_was_given(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path, "# c\nadmin_pasword=x\n")
    message = _usage(resolve, PARAMS, HOST, RunValues.from_options([], [], path, environ={}))
    assert message.startswith(f"{path}:2: admin_pasword: the playbook has no parameter admin_pasword")
    assert "its parameters are: admin_password, flush_dns" in message
    run = RunValues.from_options([], ["pk=PK"], None, environ={"PK": "x"})
    message = _usage(resolve, PARAMS, HOST, run)
    assert message.startswith("--secret-env pk=PK: the playbook has no parameter pk")


def test_a_secrets_file_written_by_windows_powershell_is_read(tmp_path: Path) -> None:
    # `"product_key=..." | Out-File secrets.txt` in Windows PowerShell 5.1: UTF-16 LE with a BOM, CRLF.
    path = tmp_path / "secrets.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + f"# lab\r\nproduct_key={KEY}\r\n".encode("utf-16-le"))
    path.chmod(0o600)
    run = RunValues.from_options([], [], path, environ={})
    assert run.secrets["product_key"].reveal() == KEY
    assert resolve(PARAMS, HOST, run)["product_key"] == ProductKey.parse(KEY)



# --- per-host secrets: name@HOST=value ---------------------------------------------------------------------

CID_PARAMS = _params(Param("confirmation_id", "string", secret=True), Param("admin_password", "string", secret=True))
WEB01, WEB02 = Host("web01.corp.example", None, {}), Host("127.0.0.1", 58715, {})


def test_a_secret_for_one_host_goes_to_that_host_only_and_wins_over_the_run_wide_one(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path, "confirmation_id=000000\n"
                                   "confirmation_id@WEB01.corp.example = 111111-111111\n"
                                   "confirmation_id@127.0.0.1:58715=\"222222 222222\"\n"
                                   "admin_password=pw\n")
    run = RunValues.from_options([], [], path, environ={})
    first, second = resolve(CID_PARAMS, WEB01, run), resolve(CID_PARAMS, WEB02, run)
    other = resolve(CID_PARAMS, Host("web03", None, {}), run)
    assert isinstance(first["confirmation_id"], Secret) and first["confirmation_id"].reveal() == "111111-111111"
    assert isinstance(second["confirmation_id"], Secret) and second["confirmation_id"].reveal() == "222222 222222"
    assert isinstance(other["confirmation_id"], Secret) and other["confirmation_id"].reveal() == "000000"
    assert isinstance(first["admin_password"], Secret) and first["admin_password"].reveal() == "pw"
    assert "111111" not in repr(run) and "222222" not in repr(run)


def test_a_host_given_without_its_port_is_found_by_its_name(tmp_path: Path) -> None:
    run = RunValues.from_options([], [], _secrets_file(tmp_path, "confirmation_id@127.0.0.1=333333\n"), environ={})
    value = resolve(CID_PARAMS, WEB02, run)["confirmation_id"]
    assert isinstance(value, Secret) and value.reveal() == "333333"


def test_a_per_host_line_naming_no_host_of_the_run_is_flagged(tmp_path: Path) -> None:
    from remediate.values import unused_host_secrets

    path = _secrets_file(tmp_path, "confirmation_id@web01.corp.example=1\nconfirmation_id@web1.corp.example=2\n")
    run = RunValues.from_options([], [], path, environ={})
    assert unused_host_secrets(run, [WEB01, WEB02]) == [
        f"{path}:2: confirmation_id@web1.corp.example: no host web1.corp.example in this run, so this "
        "confirmation_id is not used"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("confirmation_id@=hunter2\n", "secrets.txt:1: confirmation_id@: expected a host name after @ (as the "
         "hosts file names it)"),
        ("confirmation_id@web 01=hunter2\n", "secrets.txt:1: confirmation_id@: expected a host name after @ (as "
         "the hosts file names it)"),
        ("confirmation_id@web01=\n", "secrets.txt:1: confirmation_id@web01: confirmation_id@web01 has an empty "
         "value"),
        ("confirmation_id@web01=a\nconfirmation_id@WEB01=hunter2\n", "secrets.txt:2: confirmation_id@WEB01: "
         "confirmation_id@WEB01 is given twice (first on line 1)"),
        ("Confirmation@web01=hunter2\n", "secrets.txt:1: a name is lower-case letters, digits and _ (not a digit "
         "first)"),
    ],
)  # fmt: skip
def test_per_host_lines_with_errors_name_file_and_line_never_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = _usage(RunValues.from_options, [], [], _secrets_file(tmp_path, text), environ={})
    assert message == f"{tmp_path}/{expected}"
    assert "hunter2" not in message


def test_a_per_host_secret_is_checked_like_any_other(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path, "confirmation_idd@web01.corp.example=1\n")
    run = RunValues.from_options([], [], path, environ={})
    message = _usage(resolve, CID_PARAMS, WEB01, run)
    assert message.startswith(f"{path}:1: confirmation_idd@web01.corp.example: the playbook has no parameter "
                              "confirmation_idd")
    path = _secrets_file(tmp_path, "confirmation_id@web01.corp.example=1\n")
    both = _usage(RunValues.from_options, ["confirmation_id=2"], [], path, environ={})
    assert "given by --set and by a secret source" in both
    run = RunValues.from_options([], [], path, environ={})
    assert run.only({"admin_password"}).host_secrets == {}
    assert run.only({"confirmation_id"}).host_secrets == run.host_secrets
