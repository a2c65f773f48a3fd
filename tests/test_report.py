"""What a user sees after a run: the summary table, JSON and JUnit, all masked."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from rich.console import Console

from remediate.codes import ErrorCode
from remediate.i18n import in_language
from remediate.progress import LiveProgress
from remediate.report import outcome_word, print_summary, to_json, write_junit
from remediate.results import HostReport, Outcome, RunReport, StepRecord, StepResult, StepStatus
from remediate.secret import Redactor, Secret

KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
PASSWORD = "hunter2-but-longer"
F074 = ErrorCode.parse("0xC004F074")
C008 = ErrorCode.parse("0xC004C008")


def sample_run() -> RunReport:
    leaky = StepResult(ok=False, hresult=F074, output=f"Installing {KEY} as {PASSWORD}", data={"key": KEY})
    return RunReport(
        code="0xC004F074",
        duration_s=3.2,
        audit_path="remediate-audit/x.jsonl",
        hosts=[
            HostReport(host="pc1.corp.example", code="0xC004F074", outcome=Outcome.FIXED, code_before=F074),
            HostReport(host="pc2.corp.example", code="0xC004F074", outcome=Outcome.HEALTHY),
            HostReport(
                host="pc3.corp.example",
                code="0xC004F074",
                outcome=Outcome.FAILED,
                code_before=F074,
                code_after=F074,
                reason=f"verify still sees 0xC004F074 after key {KEY}",
                steps=[
                    StepRecord(id="activate", phase="fix", status=StepStatus.RAN, result=leaky, attempts=3)
                ],
            ),
            HostReport(
                host="pc4.corp.example",
                code="0xC004F074",
                outcome=Outcome.ESCALATE,
                code_before=C008,
                code_after=C008,
                reason="activation count exceeded",
                guidance="ライセンス窓口に連絡してください",
            ),
            HostReport(
                host="pc5.corp.example",
                code="0xC004F074",
                outcome=Outcome.UNREACHABLE,
                reason="refused: port 5986",
            ),
        ],
    )


def redactor() -> Redactor:
    return Redactor([Secret(PASSWORD)])


def test_the_summary_shows_every_host_its_outcome_and_codes() -> None:
    buffer = io.StringIO()
    print_summary(sample_run(), Console(file=buffer, width=160, color_system=None), redactor())
    text = buffer.getvalue()
    for host, outcome in [("pc1", "fixed"), ("pc3", "failed"), ("pc4", "escalate"), ("pc5", "unreachable")]:
        row = next(line for line in text.splitlines() if host in line)
        assert outcome in row
    assert "0xC004F074 → -" in text and "0xC004C008 → 0xC004C008" in text
    assert "at least one host was not fixed" in text
    assert "ライセンス窓口" in text and "remediate-audit/x.jsonl" in text
    assert KEY not in text and "2YT43" in text


def test_json_has_outcomes_codes_and_steps_and_no_secret() -> None:
    text = to_json(sample_run(), redactor())
    assert KEY not in text and PASSWORD not in text
    data = json.loads(text)
    assert data["summary"]["counts"]["fixed"] == 1 and data["summary"]["exit"] == "failed"
    pc3 = next(host for host in data["hosts"] if host["host"] == "pc3.corp.example")
    assert (
        pc3["outcome"] == "failed"
        and pc3["code_before"] == "0xC004F074"
        and pc3["code_after"] == "0xC004F074"
    )
    assert pc3["steps"][0]["attempts"] == 3 and pc3["steps"][0]["result"]["hresult"] == "0xC004F074"


def test_junit_has_one_testcase_per_host_and_problems_as_failures(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(sample_run(), path, redactor())
    raw = path.read_text(encoding="utf-8")
    assert KEY not in raw and PASSWORD not in raw
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5" and suite.get("failures") == "3"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {f"pc{n}.corp.example" for n in range(1, 6)}
    assert cases["pc1.corp.example"].find("failure") is None
    for name, kind in [("pc3", "failed"), ("pc4", "escalate"), ("pc5", "unreachable")]:
        failure = cases[f"{name}.corp.example"].find("failure")
        assert failure is not None and failure.get("type") == kind
    failure = cases["pc3.corp.example"].find("failure")
    assert failure is not None and "activate" in (failure.text or "")


def test_progress_counts_hosts_by_outcome() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, force_terminal=False)
    with LiveProgress(2, console=console) as progress:
        progress.host_started("pc1")
        progress.host_finished(HostReport(host="pc1", code="0xC004F074", outcome=Outcome.FIXED))
        progress.host_finished(HostReport(host="pc2", code="0xC004F074", outcome=Outcome.FAILED))
    text = buffer.getvalue()
    assert "2/2" in text and "fixed 1" in text and "failed 1" in text


def test_the_summary_speaks_japanese_when_asked() -> None:
    buffer = io.StringIO()
    with in_language("ja"):
        print_summary(sample_run(), Console(file=buffer, width=160, color_system=None), redactor())
        outcome_words = {outcome: outcome_word(outcome) for outcome in Outcome}
    text = buffer.getvalue()
    assert "修正できなかったホストがあります" in text and "監査ログ" in text and "結果" in text
    outcomes = {host.outcome for host in sample_run().hosts}
    for outcome in outcomes:  # the outcome words are Japanese too, in the table and in the counts
        assert outcome_words[outcome] in text
    assert not any(f"{outcome.value} " in text for outcome in outcomes)


def named_run() -> RunReport:
    """Hosts as a sandbox hosts file names them (address:port), each license-state read naming the computer."""

    def read(name: str, ok: bool) -> list[StepRecord]:
        result = StepResult(ok=ok, hresult=None if ok else F074, data={"computer_name": name})
        return [StepRecord(id="license-state", phase="detect", status=StepStatus.RAN, result=result)]

    return RunReport(
        code="0xC004F074",
        hosts=[
            HostReport(host="127.0.0.1:58715", code="0xC004F074", outcome=Outcome.FAILED, code_before=F074,
                       steps=read("WIN-KMS01", ok=False)),
            HostReport(host="win-kms02.corp.example", code="0xC004F074", outcome=Outcome.HEALTHY,
                       steps=read("WIN-KMS02", ok=True)),
            HostReport(host="127.0.0.1:58716", code="0xC004F074", outcome=Outcome.UNREACHABLE, reason="refused"),
        ],
    )


def test_reports_name_the_computer_behind_an_address(tmp_path: Path) -> None:
    buffer = io.StringIO()
    print_summary(named_run(), Console(file=buffer, width=160, color_system=None))
    text = buffer.getvalue()
    assert "127.0.0.1:58715 (WIN-KMS01)" in text
    # a hosts-file name that already is the computer's name is not repeated; an unread host has no name
    assert "win-kms02.corp.example" in text and "(WIN-KMS02)" not in text
    assert "127.0.0.1:58716" in text and "127.0.0.1:58716 (" not in text
    hosts = {host["host"]: host for host in json.loads(to_json(named_run()))["hosts"]}
    assert hosts["127.0.0.1:58715"]["computer_name"] == "WIN-KMS01"
    assert hosts["win-kms02.corp.example"]["computer_name"] == "WIN-KMS02"
    assert hosts["127.0.0.1:58716"]["computer_name"] is None
    path = tmp_path / "junit.xml"
    write_junit(named_run(), path)
    names = {case.get("name") for case in ElementTree.parse(path).getroot().iter("testcase")}
    assert names == {"127.0.0.1:58715 (WIN-KMS01)", "win-kms02.corp.example", "127.0.0.1:58716"}


def escalating_fleet(count: int) -> RunReport:
    """`count` hosts escalating on 0xC004C008, two on 0xC004F050, one fixed."""
    c008 = [
        HostReport(host=f"pc{n:03}.corp.example", code="0xC004C008", outcome=Outcome.ESCALATE,
                   guidance="Call the licensing desk about the key's activation count.")
        for n in range(count)
    ]
    f050 = [
        HostReport(host=f"key{n}.corp.example", code="0xC004F050", outcome=Outcome.ESCALATE,
                   guidance="Install a valid product key.")
        for n in range(2)
    ]
    fixed = HostReport(host="ok.corp.example", code="0xC004F074", outcome=Outcome.FIXED)
    return RunReport(code="auto", hosts=[*c008, *f050, fixed])


def test_hosts_escalating_for_the_same_reason_share_one_block_with_the_guidance_once() -> None:
    buffer = io.StringIO()
    print_summary(escalating_fleet(300), Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    assert text.count("Call the licensing desk") == 1 and text.count("Install a valid product key") == 1
    # every host is named (above 50 hosts only here: the per-host table is left out), under its playbook
    assert "escalate · 0xC004C008 · 300 host(s)" in text and "escalate · 0xC004F050 · 2 host(s)" in text
    assert all(f"pc{n:03}.corp.example" in text for n in range(300))
    assert "key0.corp.example, key1.corp.example" in text and "ok.corp.example" not in text


def test_json_lists_every_host_of_each_escalation() -> None:
    data = json.loads(to_json(escalating_fleet(300)))
    by_code = {group["code"]: group for group in data["escalations"]}
    assert by_code["0xC004C008"]["count"] == 300 and len(by_code["0xC004C008"]["hosts"]) == 300
    assert by_code["0xC004F050"]["hosts"] == ["key0.corp.example", "key1.corp.example"]
    assert by_code["0xC004C008"]["guidance"].startswith("Call the licensing desk")


def test_the_verdict_of_an_interrupted_run_says_whether_steps_in_flight_were_finished_or_abandoned() -> None:
    def shown(abandoned: bool, language: str) -> str:
        run = RunReport(code="0xC004F074", interrupted=True, abandoned=abandoned,
                        hosts=[HostReport(host="pc1", code="0xC004F074", outcome=Outcome.SKIPPED)])
        buffer = io.StringIO()
        with in_language(language):
            print_summary(run, Console(file=buffer, width=200, color_system=None))
        return buffer.getvalue()

    assert "in-flight steps were finished and recorded" in shown(False, "en")
    abandoned = shown(True, "en")
    assert "in-flight steps were abandoned" in abandoned and "finished and recorded" not in abandoned
    assert "中止しました" in shown(True, "ja") and "完了させて記録しました" in shown(False, "ja")


def big_fleet() -> RunReport:
    """120 hosts: two unreachable in the middle, one failed, the rest fixed."""
    hosts = [HostReport(host=f"pc{n:03}.corp.example", code="0xC004F074", outcome=Outcome.FIXED) for n in range(120)]
    for number in (55, 56):
        hosts[number] = HostReport(host=f"pc{number:03}.corp.example", code="0xC004F074",
                                   outcome=Outcome.UNREACHABLE, reason="refused: the connection was refused")
    hosts[90] = HostReport(host="pc090.corp.example", code="0xC004F074", outcome=Outcome.FAILED,
                           code_before=F074, code_after=C008, reason="verify did not pass")
    return RunReport(code="0xC004F074", hosts=hosts, audit_path="logs/run.jsonl")


def summary_of(report: RunReport, **options: object) -> list[str]:
    buffer = io.StringIO()
    print_summary(report, Console(file=buffer, width=120, color_system=None), **options)  # type: ignore[arg-type]
    return buffer.getvalue().splitlines()


def test_a_large_fleet_s_summary_points_at_the_hosts_that_need_attention_right_above_the_verdict() -> None:
    lines = summary_of(big_fleet(), arguments=["run", "0xC004F074", "--hosts", "h.txt", "--rerun-failed", "old"])
    assert len(lines) < 15  # no table of 120 rows above 50 hosts
    assert "--summary full" in lines[0]
    assert lines[-1] == "at least one host was not fixed" and lines[-2].startswith("fixed 117")
    failed = lines.index(next(line for line in lines if line.startswith("failed · verify did not pass")))
    unreachable = lines.index(next(line for line in lines if line.startswith("unreachable · refused")))
    assert failed < unreachable  # failed hosts first
    assert lines[failed + 1].strip() == "pc090.corp.example" and "remediate explain 0xC004C008" in lines[failed + 2]
    assert lines[unreachable + 1].strip() == "pc055.corp.example, pc056.corp.example"
    assert "remediate run 0xC004F074 --hosts h.txt --rerun-failed logs/run.jsonl" in "\n".join(lines)
    assert not any("pc001" in line for line in lines)  # fixed hosts are counted, not listed


def test_the_table_of_every_host_on_request_and_for_small_fleets() -> None:
    full = summary_of(big_fleet(), mode="full")
    assert sum(1 for line in full if "corp.example" in line and "│" in line) == 120
    short = summary_of(sample_run(), mode="short")
    assert not any("│" in line for line in short) and any("pc3.corp.example" in line for line in short)
    assert not any("--rerun-failed" in line for line in short)  # no command line given: no command to rerun


def test_an_evaluation_edition_is_pointed_at_the_conversion_playbook() -> None:
    read = StepResult(ok=True, license_status=5, hresult=ErrorCode.parse("0xC004F009"),
                      data={"name": "Windows(R), ServerStandardEval edition"})
    evaluation = HostReport(
        host="eval01", code="0xC004F009", outcome=Outcome.ESCALATE, guidance="Activate by phone.",
        steps=[StepRecord(id="license-state", phase="detect", status=StepStatus.RAN, result=read)],
    )
    shown = " ".join(" ".join(summary_of(RunReport(code="auto", hosts=[evaluation]))).split())  # wrapped at spaces
    assert "1 host(s) run an evaluation edition, which no key activates" in shown
    assert "remediate run 0xC004F069 --allow edition-conversion --set target_edition=…" in shown
    plain = HostReport(host="pc1", code="0xC004F009", outcome=Outcome.ESCALATE, guidance="Activate by phone.")
    assert "evaluation" not in "\n".join(summary_of(RunReport(code="auto", hosts=[plain])))
