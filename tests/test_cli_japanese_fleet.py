"""The fleet commands in Japanese: with --lang ja against sandbox hosts, everything the user sees (tables, the
summary's reasons, transport errors, progress lines without a terminal, notes and errors) holds no English
sentence, as tests/test_cli_japanese.py defines one (the PowerShell scripts a dry run shows are code, left out);
the audit log keeps the English a tool reads.

One fleet serves the module: hosts a run fixes, hosts only a person can help (an escalation), a licensed host, a
KMS host, and a hosts-file line where nothing listens (refused). The commands run in the order a user would:
status (and its HTML page), the dry run, a live run of one code, run auto, --rerun-failed, the audit logs, a run
and a status whose credentials every host refuses, keys iids, kms status; and the demo, which starts its own hosts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from reason_text import has_japanese
from test_cli_japanese import english_sentences

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build

pytestmark = pytest.mark.slow

SCENARIO = """
name: japanese-fleet
description: Hosts a run fixes, hosts a person must help, a licensed host and a KMS host.
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 40, serve: true}
  activation:
    reachable: true
groups:
  - {name: f074, prefix: KMSSTALE, count: 1, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache}
  - {name: f074ja, prefix: KMSFW, count: 1, edition: ServerStandard, fault: 0xC004F074, cause: kms-firewalled,
     language: ja-JP}
  - {name: c008, prefix: KMSHOSTKEY, count: 1, edition: ServerStandard, fault: 0xC004C008}
  - {name: f069, prefix: EVAL, count: 1, edition: ServerStandardEval, fault: 0xC004F069}
  - {name: healthy, prefix: OK, count: 1, edition: ServerStandard}
"""
REFUSED = "127.0.0.1:9 scheme=http auth=ntlm"  # the discard port: nothing listens, the connection is refused
TOLD_REFUSED = "接続拒否: 接続が拒否されました (WinRM が待ち受けていないか、ホストが停止しています)"
LOGGED_REFUSED = "refused: the connection was refused (WinRM not listening, or the host is down)"


@dataclass
class Lab:
    fleet: Fleet
    directory: Path
    hosts: Path  # the fleet's clients, and the line where nothing listens
    kms_hosts: Path

    def remediate(self, *arguments: str, password: str | None = None) -> Result:
        """`remediate ARGUMENTS --lang ja` as a user runs it without a terminal (progress comes as plain lines)."""
        env = {"REMEDIATE_USERNAME": self.fleet.username, "LANGUAGE": None, "LC_ALL": None, "LANG": "C.UTF-8",
               "REMEDIATE_PASSWORD": self.fleet.password if password is None else password,
               "REMEDIATE_LANG": None, "REMEDIATE_CONFIG": None, "REMEDIATE_LEDGER": str(self.directory / "ledger"),
               "COLUMNS": "160"}
        result = CliRunner().invoke(main, [*arguments, "--lang", "ja"], env=env, catch_exceptions=False,
                                    prog_name="remediate")
        return result

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.jsonl"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("japanese-fleet")
    scenario = directory / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    with Fleet.start(built.hosts, auth="ntlm", username="ja-reader") as fleet:  # the demo serves admin
        def line(name: str) -> str:
            endpoint = fleet.endpoint(name)
            return f"{endpoint.address}:{endpoint.port} scheme=http auth=ntlm\n"

        clients = [spec.computer_name for spec in built.hosts if not spec.computer_name.startswith("KMS0")]
        hosts = directory / "hosts.txt"
        hosts.write_text("".join(map(line, clients)) + REFUSED + "\n", encoding="utf-8")
        kms_hosts = directory / "kms-hosts.txt"
        kms_hosts.write_text(line("KMS01") + REFUSED + "\n", encoding="utf-8")
        yield Lab(fleet, directory, hosts, kms_hosts)


def without_scripts(text: str) -> str:
    """`text` without the PowerShell scripts a dry run shows (code sent to Windows, never translated): from each
    script's rule to the next rule."""
    kept, in_script = [], False
    for line in text.splitlines():
        if line.startswith("スクリプト · sha256"):
            in_script = True
        elif "───" in line:
            in_script = False
        if not in_script:
            kept.append(line)
    return "\n".join(kept)


def assert_japanese(result: Result) -> None:
    """What the user saw (stdout and stderr, as a terminal shows them) is Japanese, with no English sentence."""
    text = without_scripts(result.output)
    assert has_japanese(text), f"no Japanese at all:\n{text}"
    leaked = english_sentences(text)
    assert not leaked, "English reaches the user:\n" + "\n".join(f"  {sentence}" for sentence in leaked) + \
        f"\n--- output ---\n{text}"


def run_options(lab: Lab, name: str) -> list[str]:
    return ["--hosts", str(lab.hosts), "--retries", "0", "--audit", str(lab.log(name))]


# The tests run in the order of this module (each later one finds the fleet as the earlier ones left it).


def test_status(lab: Lab) -> None:
    page = lab.directory / "status.html"
    result = lab.remediate("status", "--hosts", str(lab.hosts), "--retries", "0", "--html", str(page))
    assert result.exit_code == 1, result.output
    assert "接続拒否: 接続が拒否されました" in result.output.replace("\n", "")  # the table may wrap it
    assert_japanese(result)
    html = page.read_text(encoding="utf-8")
    assert TOLD_REFUSED in html and "the connection was refused" not in html


def test_run_auto_dry_run(lab: Lab) -> None:
    result = lab.remediate("run", "auto", "--hosts", str(lab.hosts), "--retries", "0", "--dry-run")
    assert result.exit_code in (0, 3), result.output
    assert_japanese(result)


def test_run_of_one_code_fixes_and_says_why_for_every_other_host(lab: Lab) -> None:
    result = lab.remediate("run", "0xC004F074", *run_options(lab, "run-code"))
    assert result.exit_code == 1, result.output  # the refused host failed
    assert_japanese(result)
    assert TOLD_REFUSED in result.output
    events = [json.loads(line) for line in lab.log("run-code").read_text(encoding="utf-8").splitlines()]
    outcomes = [event for event in events if event["type"] == "outcome"]
    assert {event["outcome"] for event in outcomes} >= {"fixed", "unreachable", "healthy"}
    # The audit log keeps the English a tool reads, whatever language the run spoke.
    reasons = {event["reason"] for event in outcomes}
    assert LOGGED_REFUSED in reasons and not any(map(has_japanese, reasons))


def test_run_auto_hands_over_what_only_a_person_can_do(lab: Lab) -> None:
    result = lab.remediate("run", "auto", *run_options(lab, "auto"))
    assert result.exit_code == 1, result.output
    assert "要対応" in result.output  # the escalated hosts' outcome
    assert_japanese(result)


def test_rerun_failed(lab: Lab) -> None:
    result = lab.remediate("run", "auto", *run_options(lab, "rerun"), "--rerun-failed", str(lab.log("auto")))
    assert result.exit_code == 1, result.output
    assert_japanese(result)


def test_audit_show_and_verify(lab: Lab) -> None:
    for name in ("run-code", "auto", "rerun"):
        shown = lab.remediate("audit", "show", str(lab.log(name)))
        assert shown.exit_code == 0, shown.output
        assert "終了コード 失敗" in shown.output  # each run had a host that failed (the refused one)
        assert_japanese(shown)
        verified = lab.remediate("audit", "verify", str(lab.log(name)))
        assert verified.exit_code == 0, verified.output
        assert_japanese(verified)


def test_credentials_every_host_refuses(lab: Lab) -> None:
    result = lab.remediate("run", "0xC004F074", *run_options(lab, "refused"), password="not-the-password")
    assert result.exit_code == 3, result.output  # no host could be reached with these credentials
    assert "ja-reader を ntlm で認証できませんでした" in result.output
    assert_japanese(result)
    status = lab.remediate("status", "--hosts", str(lab.hosts), "--retries", "0",
                           password="not-the-password")
    assert status.exit_code == 3, status.output
    assert_japanese(status)


def test_keys_iids(lab: Lab) -> None:
    result = lab.remediate("keys", "iids", "--hosts", str(lab.hosts), "--retries", "0")
    assert result.exit_code == 1, result.output
    assert_japanese(result)


def test_kms_status(lab: Lab) -> None:
    result = lab.remediate("kms", "status", "--hosts", str(lab.kms_hosts), "--retries", "0")
    assert result.exit_code == 1, result.output
    assert_japanese(result)


def test_demo(lab: Lab) -> None:
    result = lab.remediate("demo", "--dir", str(lab.directory / "demo"), "--hosts", "16")
    assert result.exit_code == 0, result.output
    assert_japanese(result)
