"""remediate.toml: defaults for every run, command line > environment > config file > built-in, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-config-tests-9a"
MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(project folder, the user's configuration folder), both empty; the project folder is the current one."""
    project, home = tmp_path / "project", tmp_path / "xdg"
    project.mkdir()
    (home / "remediate").mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for variable in ("REMEDIATE_CONFIG", "REMEDIATE_FORKS", "REMEDIATE_AUTH", "REMEDIATE_SCHEME", "REMEDIATE_LANG",
                     "REMEDIATE_CA_FILE", "REMEDIATE_SPN_SERVICE", "REMEDIATE_AUDIT_DIR", "REMEDIATE_LEDGER_URL"):
        monkeypatch.delenv(variable, raising=False)
    return project, home / "remediate"


def invoke(arguments: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, arguments, env=env or {})


def shown(
    options: tuple[str, ...] = (), env: dict[str, str] | None = None, config: Path | None = None
) -> dict[str, Any]:
    """`[--config FILE] config show --output json [options]` as {setting: (value, source, detail)}, and the
    file it read as "file"."""
    before = ["--config", str(config)] if config else []
    result = invoke([*before, "config", "show", "--output", "json", *options], env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    settings = {line["name"]: (line["value"], line["source"], line["detail"]) for line in data["settings"]}
    return {"file": data["config_file"], **settings}


def test_each_setting_shows_its_value_and_source_in_the_order_of_precedence(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    config = project / "remediate.toml"
    config.write_text('forks = 20\nauth = "kerberos"\nscheme = "http"\n', encoding="utf-8")
    with_file = shown()
    assert with_file["file"] == str(config)
    assert with_file["forks"] == (20, "config file", str(config))
    assert with_file["auth"] == ("kerberos", "config file", str(config))
    assert with_file["spn_service"] == ("HTTP", "built-in", "")
    environment = shown(env={"REMEDIATE_FORKS": "30", "REMEDIATE_AUTH": "ntlm"})
    assert environment["forks"] == (30, "environment", "REMEDIATE_FORKS")
    assert environment["auth"] == ("ntlm", "environment", "REMEDIATE_AUTH")
    assert environment["scheme"] == ("http", "config file", str(config))
    command_line = shown(("--forks", "40", "--scheme", "https"), env={"REMEDIATE_FORKS": "30"})
    assert command_line["forks"] == (40, "command line", "--forks")
    assert command_line["scheme"] == ("https", "command line", "--scheme")
    config.unlink()
    built_in = shown()
    assert built_in["file"] is None
    assert built_in["forks"] == (50, "built-in", "")
    assert built_in["auth"] == ("negotiate", "built-in", "")
    assert built_in["audit_dir"] == ("remediate-audit", "built-in", "")
    assert built_in["ledger_url"] == (None, "built-in", "")


def test_the_text_view_names_the_file_and_each_source(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    (project / "remediate.toml").write_text("forks = 20\n", encoding="utf-8")
    result = invoke(["config", "show"], {"REMEDIATE_AUTH": "ntlm"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"config file: {project / 'remediate.toml'}"
    assert [line.split()[:2] for line in lines[1:4]] == [["forks", "20"], ["auth", "ntlm"], ["scheme", "https"]]
    assert lines[1].endswith(f"config file ({project / 'remediate.toml'})")
    assert lines[2].endswith("environment (REMEDIATE_AUTH)") and lines[3].endswith("built-in")


def test_the_project_file_wins_over_the_users_and_config_names_another(folders: tuple[Path, Path]) -> None:
    project, user = folders
    (user / "remediate.toml").write_text("forks = 5\n", encoding="utf-8")
    assert shown()["forks"] == (5, "config file", str(user / "remediate.toml"))
    (project / "remediate.toml").write_text("forks = 7\n", encoding="utf-8")
    assert shown()["forks"][0] == 7
    other = project / "site-b.toml"
    other.write_text("forks = 9\n", encoding="utf-8")
    assert shown(config=other)["forks"] == (9, "config file", str(other))
    assert shown(env={"REMEDIATE_CONFIG": str(other)})["forks"][0] == 9


def test_ledger_url_comes_from_the_environment_before_the_file(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    (project / "remediate.toml").write_text('ledger_url = "postgresql://db.corp.example/keys"\n', encoding="utf-8")
    assert shown()["ledger_url"][:2] == ("postgresql://db.corp.example/keys", "config file")
    from_env = shown(env={"REMEDIATE_LEDGER_URL": "sqlite:///keys.db"})["ledger_url"]
    assert from_env == ("sqlite:///keys.db", "environment", "REMEDIATE_LEDGER_URL")


def test_a_relative_ca_file_is_relative_to_the_config_files_folder(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    (project / "certs").mkdir()
    (project / "certs" / "corp-ca.pem").write_text("not read here\n", encoding="utf-8")
    (project / "remediate.toml").write_text('ca_file = "certs/corp-ca.pem"\n', encoding="utf-8")
    assert shown()["ca_file"][0] == str(project / "certs" / "corp-ca.pem")


def test_the_config_gives_commands_their_defaults(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    (project / "remediate.toml").write_text('lang = "ja"\nforks = 25\nauth = "kerberos"\n', encoding="utf-8")
    listed = invoke(["list", "--output", "json"])
    assert listed.exit_code == 0, listed.output
    english = invoke(["list", "--output", "json", "--lang", "en"])
    assert json.loads(listed.stdout)[0]["title"] != json.loads(english.stdout)[0]["title"]
    # The config's lang = "ja" speaks in help too (Japanese help wraps between any two characters: compare without
    # the wrapping's white space).
    assert "既定値:25" in "".join(invoke(["run", "--help"]).output.split())
    # Only the shared options take config defaults: the sandbox's own --auth keeps its own.
    assert "--auth [basic|ntlm|negotiate|kerberos|credssp]" in invoke(["sandbox", "up", "--help"]).output
    assert invoke(["sandbox", "up", "--help"]).output.count("既定値: ntlm") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('forks = 20\npassword = "S3cret-pw!"\n', "remediate.toml:2: password: a secret does not belong"),
        (f'forks = 20\nkms_key = "{MAK}"\n', "remediate.toml:2: kms_key: a secret does not belong"),
        ('ledger_url = "postgresql://ops:S3cret-pw!@db.corp.example/keys"\n',
         "remediate.toml:1: ledger_url: the ledger URL carries a password"),
    ],
)
def test_a_secret_in_the_config_file_is_an_error(folders: tuple[Path, Path], text: str, expected: str) -> None:
    project, _ = folders
    (project / "remediate.toml").write_text(text, encoding="utf-8")
    result = invoke(["config", "show"])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "S3cret-pw!" not in result.output and MAK not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fork = 20\n", "remediate.toml:1: fork: unknown setting 'fork'\n  hint: did you mean forks?"),
        ('forks = "many"\n', "remediate.toml:1: forks: forks must be a whole number, not 'many'"),
        ('auth = "digest"\n', "remediate.toml:1: auth: auth must be one of negotiate, ntlm, kerberos"),
        ("forks = \n", "remediate.toml:1: not valid TOML"),
    ],
)
def test_a_bad_config_file_is_a_usage_error_naming_file_line_and_key(
    folders: tuple[Path, Path], text: str, expected: str
) -> None:
    project, _ = folders
    (project / "remediate.toml").write_text(text, encoding="utf-8")
    result = invoke(["list"])
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_a_config_file_given_but_missing_is_a_usage_error(folders: tuple[Path, Path]) -> None:
    result = invoke(["--config", "nowhere.toml", "list"])
    assert result.exit_code == 2 and "config file nowhere.toml: no such file" in result.output


@pytest.mark.slow
def test_a_live_run_takes_its_audit_folder_and_auth_from_the_config(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    with Fleet.start(build_hosts("healthy", 2, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = project / "hosts.txt"
        hosts.write_text("".join(f"127.0.0.1:{endpoint.port}\n" for endpoint in fleet.endpoints), encoding="utf-8")
        (project / "remediate.toml").write_text('scheme = "http"\nauth = "ntlm"\naudit_dir = "logs/audit"\n',
                                                 encoding="utf-8")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD}
        result = invoke(["run", "0xC004F074", "--hosts", str(hosts)], env)
    assert result.exit_code == 0, result.output
    assert len(list((project / "logs" / "audit").glob("*-0xC004F074.jsonl"))) == 1


def test_a_bad_value_from_the_environment_or_the_config_says_where_it_came_from(folders: tuple[Path, Path]) -> None:
    project, _ = folders
    from_env = invoke(["config", "show"], {"REMEDIATE_FORKS": "0"})
    assert from_env.exit_code == 2 and "'--forks' (from $REMEDIATE_FORKS): 0 is not in the range" in from_env.output
    (project / "remediate.toml").write_text('ca_file = "certs/gone.pem"\n', encoding="utf-8")
    from_file = invoke(["config", "show"])
    assert from_file.exit_code == 2
    assert f"'--ca-file' (from the config file): File '{project / 'certs' / 'gone.pem'}' does not exist" in \
        from_file.output
