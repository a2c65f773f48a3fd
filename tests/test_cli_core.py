"""The playbook commands through click's CliRunner: list, show, validate, explain, run --dry-run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediate import __version__, resources
from remediate.cli import main
from remediate.productkey import KEY_ALPHABET

DATA = Path(__file__).parent / "data"
PLAYBOOKS = str(DATA / "playbooks")
KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"


@pytest.fixture(autouse=True)
def only_test_playbooks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped folder holds only the schema, so these tests see only the test playbooks."""
    shipped = tmp_path_factory.mktemp("shipped")
    shutil.copy(resources.playbooks_dir() / "playbook.schema.json", shipped)
    monkeypatch.setattr(resources, "playbooks_dir", lambda: shipped)
    for name in ("LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    return shipped


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


@pytest.fixture
def hosts(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.txt"
    path.write_text(
        "client01.lab.example.com kms_host=kms01.lab.example.com\n"
        "client02.lab.example.com kms_host=kms01.lab.example.com\n"
        'web03 note="rack 3"\n',
        encoding="utf-8",
    )
    return path


# --- list / show -------------------------------------------------------------------------------------------


def test_list_as_json() -> None:
    result = invoke("list", "--playbooks", PLAYBOOKS, "--output", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows == [
        {
            "code": "0xC004F074",
            "also": ["0xC004F0FE"],
            "category": "kms",
            "title": "No KMS host could be contacted (test)",
            "summary": "Test playbook.",
            "escalates": False,
            "source": str(DATA / "playbooks" / "0xC004F074.yaml"),
        }
    ]


def test_list_as_a_table_in_japanese() -> None:
    result = invoke("list", "--playbooks", PLAYBOOKS, "--lang", "ja")
    assert result.exit_code == 0
    assert "0xC004F074" in result.stdout and "KMS ホストに接続できません" in result.stdout


def test_show_in_english_by_default_and_in_japanese_under_a_japanese_locale() -> None:
    english = invoke("show", "c004f074", "--playbooks", PLAYBOOKS)
    assert english.exit_code == 0
    for expected in (
        "0xC004F074 — No KMS host could be contacted (test)",
        "kms_port",
        "1688",
        "detect",
        "set-kms: Point at the KMS host",
        "needs --allow edition-conversion",
        "Call the KMS administrator.",
    ):
        assert expected in english.stdout
    japanese = invoke("show", "0xC004F074", "--playbooks", PLAYBOOKS, env={"LANG": "ja_JP.UTF-8"})
    assert "KMS 管理者に連絡してください。" in japanese.stdout
    assert "set-kms: KMS ホストを設定する" in japanese.stdout
    forced = invoke(
        "show", "0xC004F074", "--playbooks", PLAYBOOKS, "--lang", "en", env={"LC_ALL": "ja_JP.UTF-8"}
    )
    assert "Call the KMS administrator." in forced.stdout


def test_show_an_unknown_code_exits_2_and_suggests_the_nearest() -> None:
    result = invoke("show", "0xC004F047", "--playbooks", PLAYBOOKS)
    assert result.exit_code == 2
    assert "no playbook for 0xC004F047" in result.stderr
    assert "did you mean 0xC004F074" in result.stderr


def test_show_a_malformed_code_exits_2() -> None:
    result = invoke("show", "0xZZZ", "--playbooks", PLAYBOOKS)
    assert result.exit_code == 2
    assert "not an error code: '0xZZZ'" in result.stderr


# --- validate ----------------------------------------------------------------------------------------------


def test_validate_good_and_bad_files(tmp_path: Path) -> None:
    good = DATA / "playbooks" / "0xC004F074.yaml"
    bad_folder = tmp_path / "bad"
    bad_folder.mkdir()
    text = good.read_text("utf-8").replace(
        "    phase: fix\n    template: test-kms-set", "    phase: fixx\n    template: test-kms-set", 1
    )
    (bad_folder / "0xC004F074.yaml").write_text(text, "utf-8")
    (bad_folder / "templates").symlink_to(DATA / "templates")
    ok = invoke("validate", str(good))
    assert ok.exit_code == 0
    assert ok.stdout == f"OK {good}\n"
    result = invoke("validate", str(good), str(bad_folder))
    assert result.exit_code == 2
    assert f"OK {good}" in result.stdout
    assert f"{bad_folder / '0xC004F074.yaml'}:25: steps[set-kms].phase: 'fixx' is not one of" in result.stdout
    assert "1 of 2 playbook file(s) have problems" in result.stderr


def test_validate_renders_templates(tmp_path: Path) -> None:
    folder = tmp_path / "pb"
    (folder / "templates").mkdir(parents=True)
    for template in (DATA / "templates").iterdir():
        shutil.copy(template, folder / "templates")
    (folder / "templates" / "test-kms-set.ps1.j2").write_text("param()\n$a = {{ nothing }}\n", "utf-8")
    shutil.copy(DATA / "playbooks" / "0xC004F074.yaml", folder)
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    assert "steps[set-kms].template:" in result.stdout
    assert "test-kms-set.ps1.j2:2: 'nothing' is undefined" in result.stdout
    assert "steps[set-kms].params.KmsHost" not in result.stdout or "declares no parameter" in result.stdout


def test_validate_a_missing_path_exits_2(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "nowhere: no such file or folder" in result.stdout


# --- explain -----------------------------------------------------------------------------------------------


def test_explain_text_names_meaning_and_playbook() -> None:
    result = invoke("explain", "slmgr: Error: 0xC004F074 and later 0x8007232B", "--playbooks", PLAYBOOKS)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("0xC004F074: ") and "KMS" in lines[0]
    assert "playbook: 0xC004F074" in lines[1]
    assert lines[2].startswith("0x8007232B: ")
    assert lines[3] == "  no playbook: escalate to a human"


def test_explain_json_in_order_of_appearance_from_stdin_and_file(tmp_path: Path) -> None:
    text = "エラーコード: 0x8007232B\nError: 0xC004F0FE\nError: 0xC004F074\n"
    from_stdin = invoke("explain", "-", "--output", "json", "--playbooks", PLAYBOOKS, input=text)
    assert from_stdin.exit_code == 0
    codes = json.loads(from_stdin.stdout)["codes"]
    assert [(c["code"], c["playbook"]) for c in codes] == [
        ("0x8007232B", None),
        ("0xC004F0FE", "0xC004F074"),
        ("0xC004F074", "0xC004F074"),
    ]
    assert codes[1]["meaning"] is None  # a code Microsoft does not document
    file = tmp_path / "slmgr.txt"
    file.write_text(text, "utf-8")
    from_file = invoke(
        "explain", "--file", str(file), "--output", "json", "--playbooks", PLAYBOOKS, "--lang", "ja"
    )
    assert json.loads(from_file.stdout)["codes"][0]["meaning"].startswith("DNS")


def test_explain_without_a_code_says_so_and_exits_0() -> None:
    result = invoke("explain", "everything is fine")
    assert result.exit_code == 0
    assert result.stdout == "no activation error code found\n"
    assert json.loads(invoke("explain", "fine", "--output", "json").stdout) == {"codes": [], "typos": []}


def test_explain_without_text_exits_2() -> None:
    result = invoke("explain")
    assert result.exit_code == 2
    assert "nothing to explain" in result.stderr


WSL_AND_SLMGR = (
    "WslRegisterDistribution failed with error: 0x80070005\n"
    "Error: 0x80070005 Access is denied.\n\n"
    "slmgr /ato\nError: 0x8007232B DNS name does not exist.\n"
    "Error: 0xC004B009 The activation server determined that the license is invalid.\n"
    "LastConsumptionReason=0x4004F00C\nError Code 0x803F701\n"
)


def test_explain_json_carries_the_class_the_deciding_words_and_the_source() -> None:
    document = json.loads(invoke("explain", WSL_AND_SLMGR, "--output", "json", "--playbooks", PLAYBOOKS).stdout)
    rows = {row["code"]: row for row in document["codes"]}
    assert [row["code"] for row in document["codes"]] == ["0x80070005", "0x8007232B", "0xC004B009", "0x4004F00C"]
    wsl = rows["0x80070005"]
    assert (wsl["class"], wsl["component"], wsl["decided_by"], wsl["playbook"]) == (
        "other", "wsl", ["WslRegisterDistribution"], None
    )
    assert wsl["meaning"] == "Access is denied (ERROR_ACCESS_DENIED)."  # its Windows meaning, not activation's
    server = rows["0xC004B009"]
    assert (server["class"], server["reason"]) == ("activation", "family")
    assert server["source"] == {"title": "slerror.h (Windows SDK)", "url": None}
    assert server["playbook"] is None and "Licensing Activation Centers" in server["handover"]
    dns = rows["0x8007232B"]
    assert (dns["class"], dns["reason"], dns["decided_by"]) == ("activation", "context", ["slmgr"])
    assert dns["source"]["url"].startswith("https://learn.microsoft.com/")
    assert rows["0x4004F00C"]["class"] == "informational"
    assert document["typos"] == [
        {"typed": "0x803F701", "problems": ["digit-missing"], "candidates": ["0x803F7001"]}
    ]


def test_explain_names_other_components_and_the_closest_playbook() -> None:
    text = WSL_AND_SLMGR + "\nSecurity-SPP event 8198: 0xC0020017\n"
    lines = invoke("explain", text, "--playbooks", PLAYBOOKS).stdout.splitlines()
    assert lines[:3] == [
        '0x80070005: not an activation code: an error of WSL (Windows Subsystem for Linux) '
        '("WslRegisterDistribution" in the text)',
        "  meaning in Windows: Access is denied (ERROR_ACCESS_DENIED).",
        "  no activation playbook applies; see the documentation of that component",
    ]
    grace = lines.index("  what to do: Nothing is broken yet: activate before the grace period ends (slmgr /ato).")
    assert lines[grace - 1].startswith(
        "0x4004F00C: information, not an error: The application is running within the valid grace period."
    )
    assert '  read as an activation code because of "slmgr" in the text' in lines
    rpc = lines.index("0xC0020017: The KMS client could not contact the Key Management Service (event 8198): a "
                      "firewall, forced tunneling, DNS, or a wrong KMS host name.  (Microsoft: Event 8198, error "
                      "0xC0020017 or 0x8007139F when activating Windows)")
    assert lines[rpc + 1: rpc + 3] == [
        "  no playbook: escalate to a human",
        "  closest playbook: 0xC004F074 — No KMS host could be contacted (test)  (remediate show 0xC004F074)",
    ]
    assert lines[-1] == "0x803F701: not a code (one digit too few); did you mean 0x803F7001? Nothing was assumed."
    only_other = invoke("explain", "WslRegisterDistribution failed with error: 0x80070005").stdout.splitlines()
    assert only_other[-1] == "no activation error code found"


def test_explain_in_japanese_says_what_to_do_without_a_playbook() -> None:
    lines = invoke("explain", "slmgr: 0xC004F04D と C004F07", "--lang", "ja", "--playbooks", PLAYBOOKS).stdout
    assert "0xC004F04D: インストール ID (IID) または確認 ID (CID) が無効です。" in lines
    assert "(出典: Microsoft「slerror.h (Windows SDK)」)" in lines
    assert "  プレイブックなし: 担当者にエスカレーションしてください" in lines
    assert "C004F07: コードではありません (桁が 1 つ足りません)。0xC004F074、" in lines


# --- run --dry-run -----------------------------------------------------------------------------------------


def dry_run(hosts: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return invoke(
        "run", "0xC004F074", "--hosts", str(hosts), "--playbooks", PLAYBOOKS, "--dry-run", *extra, env=env
    )


def test_dry_run_prints_each_script_with_its_masked_parameters_below(hosts: Path) -> None:
    result = dry_run(hosts, "--secret-env", "product_key=TEST_KEY", env={"TEST_KEY": KEY})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Dry run: nothing was sent to any host." in out
    assert "Hosts: 3 · 2 group(s)" in out
    assert "Hosts: client01.lab.example.com, client02.lab.example.com" in out
    # the script, exactly, then its parameters
    script_at = out.index(
        '$text = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /skms $target'
    )
    assert out.index("-KmsHost = kms01.lab.example.com") > script_at
    assert out.count("  -ProductKey = XXXXX-XXXXX-XXXXX-XXXXX-2YT43\n") == 2  # once per group
    assert KEY not in out and KEY not in result.stderr
    assert "Left out: set-kms (its condition is false: when kms_host); convert-edition (needs --allow" in out


def test_dry_run_json(hosts: Path) -> None:
    result = dry_run(hosts, "--output", "json", "--secret-env", "product_key=TEST_KEY", env={"TEST_KEY": KEY})
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [h["host"] for h in data["hosts"]] == [
        "client01.lab.example.com",
        "client02.lab.example.com",
        "web03",
    ]
    step = data["hosts"][0]["steps"][2]
    assert (step["id"], step["phase"]) == ("install-key", "fix")
    assert "/ipk $ProductKey" in data["scripts"][step["script_sha256"]]  # each script once, by its sha256
    assert step["parameters"]["ProductKey"] == "XXXXX-XXXXX-XXXXX-XXXXX-2YT43"
    assert KEY not in result.stdout


def test_dry_run_groups_500_identical_hosts(tmp_path: Path) -> None:
    hosts = tmp_path / "fleet.txt"
    hosts.write_text("".join(f"client{i:03}.example.com\n" for i in range(500)), "utf-8")
    result = dry_run(hosts)
    assert result.exit_code == 0
    assert "Hosts: 500 · 1 group(s)" in result.stdout
    assert result.stdout.count("/ato") == 1
    assert "and 480 more" in result.stdout


def test_dry_run_in_japanese(hosts: Path) -> None:
    result = dry_run(hosts, "--lang", "ja")
    assert "ドライラン: どのホストにも何も送信していません。" in result.stdout
    assert "KMS ホストを設定する" in result.stdout


def test_allow_plans_an_opt_in_step(hosts: Path) -> None:
    result = dry_run(hosts, "--allow", "edition-conversion", "--output", "json")
    steps = [s["id"] for s in json.loads(result.stdout)["hosts"][0]["steps"]]
    assert "convert-edition" in steps


@pytest.mark.parametrize(
    ("args", "hosts_text", "expected"),
    [
        (
            ["--allow", "rearm"],
            None,
            "--allow rearm: no playbook has a step that needs it (known opt-ins: edition-conversion)",
        ),
        (["--set", "kms_port=99999"], None, "expected a port number from 1 to 65535"),
        (["--set", "product_key=" + KEY], None, "product_key is a secret: secrets come from --secret-env"),
        (["--set", "nonsense"], None, "--set expects name=value, got 'nonsense'"),
        (
            ["--secret-env", "product_key=NOT_SET_ANYWHERE"],
            None,
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        (["--secret-env", "product_key=TEST_KEY"], None, "not a valid product key"),
        ([], "client01 scheme=ftp\n", "hosts.txt:1: scheme: scheme must be http or https"),
        ([], "", "hosts.txt: no hosts"),
    ],
)
def test_bad_input_exits_2_naming_what_and_where(
    tmp_path: Path, hosts: Path, args: list[str], hosts_text: str | None, expected: str
) -> None:
    if hosts_text is not None:
        hosts.write_text(hosts_text, "utf-8")
    result = dry_run(hosts, *args, env={"TEST_KEY": "NPPR9-FWDCX-D2C8J-H872K-2YT4"})
    assert result.exit_code == 2, result.stdout
    assert expected in result.stderr
    assert KEY not in result.stderr and "NPPR9-FWDCX-D2C8J-H872K-2YT4" not in result.stderr
    assert result.stdout == ""


def test_a_missing_hosts_file_exits_2(tmp_path: Path) -> None:
    result = dry_run(tmp_path / "missing.txt")
    assert result.exit_code == 2
    assert f"hosts file not found: {tmp_path / 'missing.txt'}" in result.stderr


def test_an_unknown_code_exits_2(hosts: Path) -> None:
    result = invoke("run", "0xC004F075", "--hosts", str(hosts), "--playbooks", PLAYBOOKS, "--dry-run")
    assert result.exit_code == 2
    assert "no playbook for 0xC004F075" in result.stderr and "did you mean 0xC004F074" in result.stderr


def test_a_bad_playbook_exits_2_naming_file_line_and_field(tmp_path: Path, hosts: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "0xC004F050.yaml").write_text('code: "0xC004F050"\ntitle: {en: x}\n', "utf-8")
    result = invoke("run", "0xC004F050", "--hosts", str(hosts), "--playbooks", str(folder), "--dry-run")
    assert result.exit_code == 2
    assert f"{folder / '0xC004F050.yaml'}:2: title.ja: is required" in result.stderr


def test_a_preview_of_auto_cannot_be_saved_for_approval(hosts: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    result = invoke("run", "auto", "--hosts", str(hosts), "--dry-run", "--save-plan", str(plan))
    assert result.exit_code == 2
    assert "auto picks each host's playbook from a live detect" in result.stderr and not plan.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("500ms", 0.5), ("10m", 600.0), ("1h", 3600.0), ("1.5h", 5400.0), (20, 20.0),
     ("１０ｍ", 600.0), (" 20S ", 20.0)],
)
def test_one_duration_parser_reads_the_command_line_and_the_playbooks(text: str | int, seconds: float) -> None:
    from remediate.duration import duration_seconds
    from remediate.playbook import duration_seconds as playbook_durations

    assert duration_seconds(text) == seconds
    assert playbook_durations is duration_seconds


def test_a_bad_wait_for_winrm_exits_2_before_any_connection(hosts: Path) -> None:
    env = {"REMEDIATE_USERNAME": "u", "REMEDIATE_PASSWORD": "p"}
    result = invoke("run", "0xC004F074", "--hosts", str(hosts), "--playbooks", PLAYBOOKS, "--scheme", "http",
                    "--auth", "ntlm", "--wait-for-winrm", "ten minutes", env=env)
    assert result.exit_code == 2
    assert "--wait-for-winrm 'ten minutes': expected a duration such as 90s, 10m or 1h" in result.stderr


# --- product keys never show -------------------------------------------------------------------------------

key_groups = st.text(alphabet=KEY_ALPHABET, min_size=5, max_size=5)
product_keys = st.lists(key_groups, min_size=5, max_size=5).map("-".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=product_keys, output=st.sampled_from(["text", "json"]), lang=st.sampled_from(["en", "ja"]))
def test_a_full_product_key_never_appears_in_a_dry_run(hosts: Path, key: str, output: str, lang: str) -> None:
    result = dry_run(
        hosts, "--secret-env", "product_key=K", "--output", output, "--lang", lang, env={"K": key}
    )
    assert result.exit_code == 0, result.stderr
    assert key not in result.stdout and key not in result.stderr
    assert key.replace("-", "") not in result.stdout.replace("-", "")
    assert key[-5:] in result.stdout  # the last five are shown, so a reviewer can tell which key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=product_keys, position=st.integers(0, 28), bad=st.sampled_from(["A", "E", "0", "1", "ー", "--"]))
def test_a_malformed_key_is_refused_without_showing_it(
    hosts: Path, key: str, position: int, bad: str
) -> None:
    malformed = key[:position] + bad + key[position + 1 :]
    result = dry_run(hosts, "--secret-env", "product_key=K", env={"K": malformed})
    assert result.exit_code == 2
    assert "not a valid product key" in result.stderr
    assert malformed not in result.stderr and key not in result.stderr
    assert result.stdout == ""


# --- what a user meets at the edges ---------------------------------------------------------------------------


@pytest.mark.parametrize("words", [["show", "-1073418124"], ["show", "--lang", "en", "-1073418124"]])
def test_a_signed_decimal_exit_code_is_a_code_not_an_option(words: list[str]) -> None:
    result = invoke(*words, "--playbooks", PLAYBOOKS)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0xC004F074 — ")


def test_run_and_explain_take_a_signed_decimal_exit_code(hosts: Path) -> None:
    planned = invoke("run", "-1073418124", "--hosts", str(hosts), "--playbooks", PLAYBOOKS, "--dry-run",
                     "--output", "json")
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["code"] == "0xC004F074"
    explained = invoke("explain", "-1073418124", "--output", "json")
    assert [c["code"] for c in json.loads(explained.stdout)["codes"]] == ["0xC004F074"]
    # An option's own negative value is still that option's value.
    refused = invoke("run", "0xC004F074", "--hosts", str(hosts), "--dry-run", "--forks", "-1")
    assert refused.exit_code == 2 and "'--forks': -1 is not in the range" in refused.stderr


SLMGR_WIN7 = (
    "On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 0xC004F074' to display the "
    "error text.\r\nError: 0xC004F074 \r\n"
)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp932", "utf-8-sig"])
def test_explain_reads_slmgr_output_as_windows_saved_it(tmp_path: Path, encoding: str) -> None:
    # Windows PowerShell 5.1 writes `cscript slmgr.vbs /ato > out.txt` as UTF-16; cmd.exe writes the ANSI code page.
    file = tmp_path / "slmgr.txt"
    file.write_bytes(("エラー: ライセンス認証\r\n" + SLMGR_WIN7).encode(encoding))
    from_file = invoke("explain", "--file", str(file), "--output", "json")
    assert [c["code"] for c in json.loads(from_file.stdout)["codes"]] == ["0xC004F074"]
    from_stdin = CliRunner().invoke(main, ["explain", "-", "--output", "json"], input=file.read_bytes())
    assert [c["code"] for c in json.loads(from_stdin.stdout)["codes"]] == ["0xC004F074"]


def test_an_unexpected_error_is_one_line_and_a_crash_report_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from remediate import catalog
    from remediate.secret import Secret

    password = Secret("Tr0ub4dor&3")

    def broken(text: str) -> list[object]:
        raise RuntimeError(f"boom near {KEY} and {password.reveal()}")

    monkeypatch.setattr(catalog, "scan", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = invoke("explain", "Error: 0xC004F074")
    assert result.exit_code == 1
    first, second = result.stderr.splitlines()
    assert first == (
        f"error: internal error in remediate {__version__}: RuntimeError: boom near XXXXX-XXXXX-XXXXX-XXXXX-2YT43 "
        "and ********"
    )
    [report] = tmp_path.glob("remediate-crash-*.txt")
    assert second == f"  the traceback (secrets masked) is in {report}; please include it in a bug report"
    assert "Traceback" not in result.output
    text = report.read_text("utf-8")
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom near XXXXX-" in text
    assert KEY not in text and "Tr0ub4dor&3" not in text
    assert report.stat().st_mode & 0o077 == 0


def test_ctrl_c_outside_a_live_run_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    from remediate import catalog

    def pressed(text: str) -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "scan", pressed)
    result = invoke("explain", "Error: 0xC004F074")
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


def test_list_show_and_explain_speak_japanese_around_the_playbook_text() -> None:
    listed = invoke("list", "--playbooks", PLAYBOOKS, "--lang", "ja")
    for expected in ("コード", "分類", "タイトル", "対処", "修正"):
        assert expected in listed.stdout
    shown = invoke("show", "0xC004F074", "--playbooks", PLAYBOOKS, "--lang", "ja").stdout
    for expected in ("関連コード: 0xC004F0FE", "パラメーター", "既定値", "検出 (detect)", "修正 (fix)",
                     "確認 (verify)", "--allow edition-conversion が必要", "エスカレーション (on_failure)"):
        assert expected in shown
    for english in ("also:", "required", "needs --allow", "escalate (on_failure)"):
        assert english not in shown
    explained = invoke("explain", "0xC004F0FE 0xC004F074", "--playbooks", PLAYBOOKS, "--lang", "ja").stdout
    assert explained.splitlines()[:2] == [
        "0xC004F0FE: 不明なコード (Microsoft の文書にありません)",
        "  プレイブック: 0xC004F074 — KMS ホストに接続できません (テスト)  (remediate show 0xC004F074)",
    ]


def test_show_never_prints_the_default_of_a_secret_parameter(tmp_path: Path) -> None:
    text = (DATA / "playbooks" / "0xC004F074.yaml").read_text("utf-8").replace(
        "parameters:\n",
        "parameters:\n  lab_password:\n    type: string\n    secret: true\n    default: Pa55-w0rd\n"
        "    description: {en: Lab password, ja: ラボのパスワード}\n",
    )
    (tmp_path / "0xC004F074.yaml").write_text(text, "utf-8")
    shutil.copytree(DATA / "templates", tmp_path / "templates")
    shown = invoke("show", "0xC004F074", "--playbooks", str(tmp_path))
    assert shown.exit_code == 0, shown.output
    assert "lab_password" in shown.stdout and "********" in shown.stdout
    assert "Pa55-w0rd" not in shown.stdout


def test_a_japanese_windows_locale_without_lang_speaks_japanese(monkeypatch: pytest.MonkeyPatch) -> None:
    import locale

    monkeypatch.setattr(locale, "getlocale", lambda *args: ("Japanese_Japan", "932"))
    shown = invoke("show", "0xC004F074", "--playbooks", PLAYBOOKS)
    assert "KMS 管理者に連絡してください。" in shown.stdout
    monkeypatch.setattr(locale, "getlocale", lambda *args: ("English_United States", "1252"))
    assert "Call the KMS administrator." in invoke("show", "0xC004F074", "--playbooks", PLAYBOOKS).stdout


def test_a_missing_ca_file_in_the_hosts_file_is_a_usage_error_before_any_connection(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9    ca_file=certs/missing-ca.pem\n", encoding="utf-8")
    env = {"REMEDIATE_USERNAME": "corp\\admin", "REMEDIATE_PASSWORD": "Not-used-1"}
    result = CliRunner().invoke(main, ["run", "0xC004F074", "--playbooks", PLAYBOOKS, "--hosts", str(hosts),
                                       "--audit", str(tmp_path / "a.jsonl")], env=env)
    assert result.exit_code == 2, result.output
    assert f"127.0.0.1:9: ca_file {tmp_path / 'certs' / 'missing-ca.pem'}: no such file" in result.output
    assert not (tmp_path / "a.jsonl").exists()  # nothing was tried, nothing recorded



def test_list_all_names_every_documented_code_its_action_and_microsoft_source() -> None:
    from remediate.codes import known_codes

    result = invoke("list", "--all", "--output", "json", "--playbooks", PLAYBOOKS)
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {str(info.code) for info in known_codes()}
    assert all(row["source"]["title"] for row in rows.values())  # each with where Microsoft documents it
    assert rows["0xC004F074"]["action"] == "fix" and rows["0xC004F074"]["playbook"] == "0xC004F074"
    assert rows["0x4004F00C"]["action"] == "info"
    table = invoke("list", "--all")
    assert "not documented" not in table.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--wait-for-winrm", "10x"], "--wait-for-winrm '10x': expected a duration"),
        (["--host-timeout", "soon"], "--host-timeout 'soon': expected a duration"),
        (["--junit", "{folder}"], "is a directory"),
        (["--junit", "{file}/junit.xml"], "cannot write there"),
        (["--audit", "{file}/sub/audit.jsonl"], "cannot write there"),
    ],
)
def test_a_dry_run_checks_every_option_a_live_run_would_refuse(
    hosts: Path, tmp_path: Path, option: list[str], message: str
) -> None:
    given = [word.format(folder=tmp_path, file=hosts) for word in option]  # a file where a folder must be
    result = invoke("run", "0xC004F074", "--hosts", str(hosts), "--playbooks", PLAYBOOKS, "--dry-run", *given)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Plan:" not in result.stdout
