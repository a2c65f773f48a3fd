"""StepResult parsing and the exit decision of a run."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.codes import ErrorCode
from remediate.reasons import Reason
from remediate.results import (
    ExitCategory,
    HostReport,
    Outcome,
    ResultFormatError,
    RunReport,
    StepResult,
    host_label,
    parse_hresult,
)

F074 = ErrorCode.parse("0xC004F074")


@pytest.mark.parametrize(
    "spelling", [-1073418124, 3221549172, "0xC004F074", "C004F074", "-1073418124", "0xc004f074"]
)
def test_hresult_spellings_become_one_code(spelling: int | str) -> None:
    result = StepResult.from_json(json.dumps({"ok": False, "hresult": spelling, "changed": False}))
    assert result.hresult == F074 and str(result.hresult) == "0xC004F074"


@pytest.mark.parametrize("nothing", [None, 0, "0", ""])
def test_no_hresult_is_none(nothing: object) -> None:
    assert parse_hresult(nothing) is None


def test_a_full_result_parses() -> None:
    text = (
        '{"ok":true,"hresult":null,"license_status":1,"changed":true,'
        '"output":"製品のライセンス認証に成功しました。","data":{"kms_machine":"kms1.corp.example"}}'
    )
    result = StepResult.from_json(text)
    assert result.ok and result.changed and result.license_status == 1
    assert result.output.startswith("製品") and result.data == {"kms_machine": "kms1.corp.example"}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"hresult": null}',
        '{"ok": "yes"}',
        '{"ok": true, "license_status": 9}',
        '{"ok": true, "data": [1]}',
        '{"ok": false, "hresult": "KMS not found"}',
    ],
)
def test_what_is_not_a_result_is_refused(text: str) -> None:
    with pytest.raises(ResultFormatError):
        StepResult.from_json(text)


@given(st.integers(min_value=-(2**31), max_value=2**32 - 1).filter(lambda value: value != 0))
def test_signed_and_unsigned_agree(value: int) -> None:
    code = parse_hresult(value)
    assert code is not None
    assert parse_hresult(code.signed) == code == parse_hresult(code.unsigned) == parse_hresult(str(code))


def run_of(*outcomes: Outcome, interrupted: bool = False) -> RunReport:
    hosts = [
        HostReport(host=f"h{i}", code="0xC004F074", outcome=outcome) for i, outcome in enumerate(outcomes)
    ]
    return RunReport(code="0xC004F074", hosts=hosts, interrupted=interrupted)


@pytest.mark.parametrize(
    ("outcomes", "category"),
    [
        ((Outcome.HEALTHY, Outcome.FIXED), ExitCategory.OK),
        ((Outcome.HEALTHY, Outcome.FAILED, Outcome.ESCALATE), ExitCategory.FAILED),
        ((Outcome.UNREACHABLE, Outcome.UNREACHABLE), ExitCategory.UNREACHABLE),
        ((Outcome.UNREACHABLE, Outcome.FIXED), ExitCategory.FAILED),
        ((Outcome.FIXED, Outcome.ESCALATE), ExitCategory.ESCALATE),
        ((Outcome.SKIPPED, Outcome.HEALTHY), ExitCategory.OK),
    ],
)
def test_the_exit_category_follows_the_design(outcomes: tuple[Outcome, ...], category: ExitCategory) -> None:
    assert run_of(*outcomes).exit_category is category


def test_a_host_left_unrun_by_a_lost_worker_is_not_fixed_but_one_for_another_playbook_is_fine() -> None:
    lost = HostReport(host="h1", code="0xC004F074", outcome=Outcome.SKIPPED,
                      why=Reason("worker_lost_unchanged", site="processes"))
    refused = HostReport(host="h2", code="0xC004F074", outcome=Outcome.SKIPPED,
                         why=Reason("worker_refused", site="east", message="no such playbook"))
    elsewhere = HostReport(host="h3", code="0xC004F074", outcome=Outcome.SKIPPED,
                           why=Reason("other_playbook", found="0xC004C008", command="remediate run 0xC004C008"))
    fixed = HostReport(host="h0", code="0xC004F074", outcome=Outcome.FIXED)
    assert RunReport(code="0xC004F074", hosts=[fixed, lost]).exit_category is ExitCategory.FAILED
    assert RunReport(code="0xC004F074", hosts=[fixed, refused]).exit_category is ExitCategory.FAILED
    assert RunReport(code="0xC004F074", hosts=[fixed, elsewhere]).exit_category is ExitCategory.OK


def test_an_interrupted_run_says_so_whatever_its_hosts() -> None:
    assert run_of(Outcome.FIXED, interrupted=True).exit_category is ExitCategory.INTERRUPTED


def test_each_category_exits_with_the_documented_code() -> None:
    # README and DESIGN §6: 0 healthy or fixed, 1 failed, 3 nothing reached, 4 escalate, 130 interrupted.
    assert {category.value: int(category.exit_code) for category in ExitCategory} == {
        "ok": 0, "failed": 1, "unreachable": 3, "escalate": 4, "interrupted": 130,
    }


def test_counts_cover_every_outcome() -> None:
    counts = run_of(Outcome.FIXED, Outcome.FIXED, Outcome.FAILED).counts()
    assert counts["fixed"] == 2 and counts["failed"] == 1 and counts["healthy"] == 0
    assert set(counts) == {outcome.value for outcome in Outcome}


@pytest.mark.parametrize(
    ("host", "computer_name", "shown"),
    [
        ("127.0.0.1:58715", "WIN-KMS01", "127.0.0.1:58715 (WIN-KMS01)"),
        ("[fe80::1]:5986", "WIN-KMS01", "[fe80::1]:5986 (WIN-KMS01)"),
        ("win-kms01.corp.example", "WIN-KMS01", "win-kms01.corp.example"),
        ("WIN-KMS01:5986", "WIN-KMS01", "WIN-KMS01:5986"),
        ("app.corp.example", "WIN-KMS01", "app.corp.example (WIN-KMS01)"),
        ("127.0.0.1:58715", None, "127.0.0.1:58715"),
    ],
)
def test_a_host_is_labelled_with_its_computer_name_when_that_says_more(
    host: str, computer_name: str | None, shown: str
) -> None:
    assert host_label(host, computer_name) == shown


def test_escalations_group_hosts_by_playbook_and_guidance_in_report_order() -> None:
    def escalating(host: str, code: str, guidance: str | None) -> HostReport:
        return HostReport(host=host, code=code, outcome=Outcome.ESCALATE, guidance=guidance)

    run = RunReport(code="auto", hosts=[
        escalating("b", "0xC004C008", "call the desk"),
        escalating("a", "0xC004F050", "install a key"),
        escalating("c", "0xC004C008", "call the desk"),
        escalating("d", "auto", None),  # no playbook, so no guidance to group under
        HostReport(host="e", code="0xC004C008", outcome=Outcome.FAILED, guidance="call the desk"),
    ])
    groups = [(group.code, group.guidance, group.hosts) for group in run.escalations()]
    assert groups == [("0xC004C008", "call the desk", ["b", "c"]), ("0xC004F050", "install a key", ["a"])]
