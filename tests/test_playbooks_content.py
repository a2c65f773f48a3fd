"""The shipped playbooks: every documented code has one, each validates and renders, each says in English
and in Japanese what it does and what a person must do, and the fixes follow the activation reference."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from remediate import resources
from remediate.codes import ErrorCode
from remediate.playbook import Playbook, PlaybookLibrary, Step
from remediate.render import Renderer

# Reference §1a: the 30 codes of Microsoft's troubleshooting table.
TABLE_CODES = [
    "0x8004FE21", "0x80070005", "0x8007007B", "0x80070490", "0x800706BA", "0x8007232A", "0x8007232B",
    "0x8007251D", "0x80092328", "0xC004B100", "0xC004C001", "0xC004C003", "0xC004C008", "0xC004C020",
    "0xC004C021", "0xC004F009", "0xC004F00F", "0xC004F014", "0xC004F02C", "0xC004F035", "0xC004F038",
    "0xC004F039", "0xC004F041", "0xC004F042", "0xC004F050", "0xC004F051", "0xC004F064", "0xC004F065",
    "0xC004F06C", "0xC004F074",
]  # fmt: skip
# The codes the project's issue names, with or without a table entry.
ISSUE_CODES = [
    "0xC004F074", "0xC004C008", "0xC004F050", "0xC004F213", "0xC004F034", "0x80072EE2", "0xC004F069",
    "0x8007232B", "0x8007007B", "0x8007251D", "0x80092328", "0xC004F06C", "0xC004F038", "0xC004F039",
    "0xC004F041", "0xC004F042", "0xC004E016",
]  # fmt: skip
# Codes some script on the client can fix: their playbooks must carry fix steps.
FIXABLE_CODES = [
    "0xC004F074", "0xC004F050", "0xC004E016", "0xC004F06C", "0x8007232B", "0x8007007B", "0x8007251D",
    "0x80092328", "0x80072EE2", "0xC004F069", "0xC004F034", "0xC004F039", "0xC004F042", "0xC004F014",
    "0x800706BA", "0xC004F00F",
]  # fmt: skip
# Codes no client-side script can fix: the playbook hands every unhealthy host to a person.
ESCALATE_ONLY_CODES = [
    "0xC004C008", "0xC004F213", "0xC004C003", "0xC004F051", "0xC004C020", "0xC004C021", "0xC004F009",
    "0x8004FE21", "0xC004F038", "0xC004F041", "0xC004B100", "0xC004C001", "0xC004F02C", "0xC004F064",
    "0xC004F065", "0x8007232A",
]  # fmt: skip
# Source short names of the activation reference (§0).
REFERENCE_SOURCES = {
    "TSHOOT", "RESOLVE", "RESOLVE-JA", "F074", "C008", "232B", "SLMGR-DOC", "KMSDNS", "KMSPLAN", "GVLK",
    "CONVERT", "VAMT-KMS", "PLAN", "KMSGEN", "EVT", "WMI-SLP", "WMI-SLS", "WMI-VA", "SLMGR", "SLMGR7",
    "SLERR-XML", "SLERR-H", "OSLICENSE",
}  # fmt: skip

LIBRARY = PlaybookLibrary()
RENDERER = Renderer.for_library(LIBRARY)
PLAYBOOKS = {str(p.code): p for p in LIBRARY.all()}


def playbook(code: str) -> Playbook:
    return LIBRARY.get(ErrorCode.parse(code))


def _by_code() -> Iterator[Any]:
    for code, book in sorted(PLAYBOOKS.items()):
        yield pytest.param(book, id=code)


BY_CODE = list(_by_code())


def texts(book: Playbook) -> Iterator[tuple[str, str, str]]:
    """(where, en, ja) of every bilingual text of a playbook."""
    yield "title", book.title.en, book.title.ja
    yield "summary", book.summary.en, book.summary.ja
    yield "guidance", book.escalate.guidance.en, book.escalate.guidance.ja
    for name, parameter in book.parameters.items():
        yield f"parameters.{name}", parameter.description.en, parameter.description.ja
    for step in book.steps:
        yield f"steps.{step.id}", step.description.en, step.description.ja


def steps_using(book: Playbook, template: str, phase: str | None = None) -> list[Step]:
    return [s for s in book.steps if s.template == template and (phase is None or s.phase == phase)]


# --- coverage and validity ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(set(TABLE_CODES + ISSUE_CODES + ESCALATE_ONLY_CODES + FIXABLE_CODES)))
def test_code_has_its_own_playbook_file(code: str) -> None:
    assert (resources.playbooks_dir() / f"{code}.yaml").is_file()
    assert str(playbook(code).code) == code


def test_every_shipped_file_loads_and_validates() -> None:
    files = sorted(resources.playbooks_dir().glob("*.yaml"))
    assert len(files) == len(PLAYBOOKS) >= 35
    # The library loads every file (raising PlaybookError on any problem); also codes are reachable too.
    assert playbook("0xC004F211").code == ErrorCode.parse("0xC004F213")
    assert playbook("0x4004F065").code == ErrorCode.parse("0xC004F065")


def test_also_codes_do_not_collide() -> None:
    claimed = Counter(str(c) for book in PLAYBOOKS.values() for c in book.codes)
    assert [code for code, count in claimed.items() if count > 1] == []


@pytest.mark.parametrize("book", BY_CODE)
def test_templates_render_and_match_the_steps(book: Playbook) -> None:
    for step in book.steps:
        assert (resources.templates_dir() / step.template).is_file(), step.template
    assert RENDERER.problems(book) == []


_PHASES_LINE = re.compile(r"^Phases: (?P<phases>[a-z, ]+?) \(", re.M)


@pytest.mark.parametrize("book", BY_CODE)
def test_each_template_is_used_in_a_phase_it_is_made_for(book: Playbook) -> None:
    for step in book.steps:
        header = (resources.templates_dir() / step.template).read_text("utf-8")
        match = _PHASES_LINE.search(header)
        assert match, step.template
        assert step.phase in {p.strip() for p in match.group("phases").split(",")}, (step.id, step.template)


@pytest.mark.parametrize("book", BY_CODE)
def test_references_name_sources_of_the_activation_reference(book: Playbook) -> None:
    assert book.references, "every playbook cites its sources"
    for reference in book.references:
        assert reference in REFERENCE_SOURCES or reference.startswith("https://"), reference


# --- English and Japanese ----------------------------------------------------------------------------

_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_HEX_CODE = re.compile(r"0x[0-9A-F]{8}")
_SLMGR_OPTION = re.compile(r"slmgr /[a-z-]+")


@pytest.mark.parametrize("book", BY_CODE)
def test_every_text_is_there_in_both_languages(book: Playbook) -> None:
    for where, en, ja in texts(book):
        assert en.strip() and ja.strip(), where
        assert not _JAPANESE.search(en), f"{where}: Japanese in the English text"
        assert _JAPANESE.search(ja), f"{where}: the Japanese text is not Japanese"


@pytest.mark.parametrize("book", BY_CODE)
def test_japanese_reads_the_way_windows_administrators_write(book: Playbook) -> None:
    for where, _, ja in texts(book):
        # Microsoft's Japanese terms: ライセンス認証 (not アクティベーション), プロダクト キー with a space.
        assert "アクティベーション" not in ja, where
        assert "プロダクトキー" not in ja, where
        assert "KMSホスト" not in ja, where
        # No stray spaces after Japanese punctuation (a sign of lines joined by YAML folding).
        assert not re.search(r"[、。] ", ja), where


@pytest.mark.parametrize("book", BY_CODE)
def test_japanese_carries_the_same_codes_and_commands(book: Playbook) -> None:
    for where, en, ja in texts(book):
        assert set(_HEX_CODE.findall(en)) == set(_HEX_CODE.findall(ja)), where
        assert set(_SLMGR_OPTION.findall(en)) == set(_SLMGR_OPTION.findall(ja)), where


def test_no_two_playbooks_share_a_summary_or_guidance() -> None:
    for attribute in ("summary", "guidance"):
        for language in ("en", "ja"):
            seen = Counter(
                getattr(getattr(b, attribute) if attribute == "summary" else b.escalate.guidance, language)
                for b in PLAYBOOKS.values()
            )
            assert [text[:60] for text, count in seen.items() if count > 1] == [], (attribute, language)


# --- escalation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("book", BY_CODE)
def test_every_playbook_collects_what_a_person_needs(book: Playbook) -> None:
    facts = steps_using(book, "escalation-facts.ps1.j2", "escalate")
    assert facts, "no escalate step collects the installation ID, partial key and channel"
    script = RENDERER.script(book, facts[0])
    for collected in ("OfflineInstallationId", "PartialProductKey", "ProductKeyChannel"):
        assert collected in script
    assert "LicenseStatusReason" in script


@pytest.mark.parametrize("code", ESCALATE_ONLY_CODES)
def test_escalate_only_playbooks_change_nothing(code: str) -> None:
    book = playbook(code)
    assert book.escalates
    assert book.steps_in("fix") == []
    assert book.steps_in("detect"), "the licence is read first: a healthy host is left alone"
    assert len(book.escalate.guidance.en) > 150 and len(book.escalate.guidance.ja) > 80


@pytest.mark.parametrize("code", FIXABLE_CODES)
def test_fixable_codes_fix_then_verify(code: str) -> None:
    book = playbook(code)
    assert book.escalate.when == "on_failure"
    assert book.steps_in("fix"), "no fix step"
    verify = book.steps_in("verify")
    assert verify and all(s.template in ("license-state.ps1.j2", "edition-state.ps1.j2") for s in verify)
    for step in book.steps_in("fix"):
        if step.template != "edition-convert.ps1.j2":
            assert step.idempotent, f"{step.id}: a licensing fix here is safe to repeat and says so"


def test_kms_codes_escalate_with_the_kms_host_that_was_used() -> None:
    for code in ("0xC004F038", "0xC004F041", "0xC004F042", "0xC004F074", "0xC004F039"):
        facts = steps_using(playbook(code), "escalation-facts.ps1.j2", "escalate")
        assert facts[0].options.get("kms") is True, code
        script = RENDERER.script(playbook(code), facts[0])
        assert "DiscoveredKeyManagementServiceMachineName" in script
        assert "Get-WinEvent" in script  # event 12288: the KMS host of the last request


# --- the fixes follow the reference -----------------------------------------------------------------------


def _values(book: Playbook, **given: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: p.default for name, p in book.parameters.items()}
    values.update(given)
    return values


def _planned(book: Playbook, **given: Any) -> list[str]:
    values = _values(book, **given)
    return [s.id for s in book.steps if RENDERER.when_holds(book, s, values)]


def test_f074_walks_the_documented_recipe() -> None:
    book = playbook("0xC004F074")
    templates = [s.template for s in book.steps]
    for expected in (
        "license-state.ps1.j2",
        "kms-discovery.ps1.j2",
        "kms-event.ps1.j2",
        "clock-check.ps1.j2",
        "clock-resync.ps1.j2",
        "dns-flush.ps1.j2",
        "kms-set.ps1.j2",
        "kms-clear.ps1.j2",
        "activate.ps1.j2",
    ):
        assert expected in templates
    # The clock is resynchronised only when the KMS host refused the time (0xC004F06C inside event 12288) or
    # the skew against the operator's reference time exceeds the 4 hours KMS allows.
    resync_condition = book.step("resync-clock").only_if or ""
    assert "kms_rejected_timestamp" in resync_condition and "skew_exceeds_limit" in resync_condition
    assert book.step("clock").params == {"ReferenceTimeUtc": "reference_time_utc"}
    # /skms when a KMS host is given, else /ckms back to auto-discovery - never both.
    with_host = _planned(book, kms_host="kms01.corp.example")
    without = _planned(book)
    assert "set-kms" in with_host and "clear-kms" not in with_host and "kms-port" in with_host
    assert "clear-kms" in without and "set-kms" not in without
    assert set(book.step("activate").retry.on_hresult) >= {ErrorCode.parse("0xC004E028")}  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["0xC004F050", "0xC004E016", "0xC004F014", "0xC004F034"])
def test_key_playbooks_install_the_given_key_or_the_gvlk(code: str) -> None:
    book = playbook(code)
    assert book.parameters["product_key"].is_secret
    with_key = _planned(book, product_key="XXXXX-XXXXX-XXXXX-XXXXX-T83GX", use_gvlk=True)
    assert "install-key" in with_key and "install-gvlk" not in with_key
    gvlk = _planned(book, use_gvlk=True)
    assert "install-gvlk" in gvlk and "install-key" not in gvlk
    assert book.step("install-gvlk").params == {"GvlkTable": "gvlk_by_edition"}
    assert book.step("install-gvlk").options == {"key_source": "gvlk"}
    assert _planned(book).count("activate") == 1


def test_edition_conversion_needs_the_opt_in() -> None:
    book = playbook("0xC004F069")
    convert = steps_using(book, "edition-convert.ps1.j2")
    assert [s.requires_opt_in for s in convert] == ["edition-conversion"]
    assert "domain controller" in book.summary.en and "ドメイン コントローラー" in book.summary.ja


def test_online_activation_retries_on_timeout_then_hands_over_for_phone_activation() -> None:
    book = playbook("0x80072EE2")
    retry = book.step("activate").retry
    assert retry is not None
    assert set(retry.on_hresult) == {ErrorCode.parse("0x80072EE2"), ErrorCode.parse("0xC004E028")}
    assert ErrorCode.parse("0x80072EE2") in book.escalate.on_hresult
    assert steps_using(book, "proxy-facts.ps1.j2")
    for command in ("slmgr /dti", "slmgr /atp"):
        assert command in book.escalate.guidance.en and command in book.escalate.guidance.ja


def test_offline_and_used_up_mak_hosts_are_activated_by_phone_with_their_own_confirmation_id() -> None:
    book = playbook("0x80072EE2")
    assert {ErrorCode.parse("0xC004C020"), ErrorCode.parse("0xC004C021")} <= set(book.applies_to)
    parameter = book.parameters["confirmation_id"]
    assert parameter.secret and not parameter.required
    assert "confirmation_id@HOST" in parameter.description.en and "confirmation_id@HOST" in parameter.description.ja
    phone = book.step("phone-activate")
    assert (phone.phase, phone.template, phone.when, phone.params) == (
        "fix", "confirmation-id.ps1.j2", "confirmation_id", {"ConfirmationId": "confirmation_id"})
    assert book.step("activate").when == "not confirmation_id"  # a host given a confirmation ID is offline
    assert steps_using(book, "installation-id.ps1.j2", "detect")  # the audit log shows what it must match
    refused = {ErrorCode.parse(code) for code in ("0xC004F02C", "0xC004F031", "0xC004F04D")}
    assert refused <= set(book.escalate.on_hresult)
    assert "remediate keys iids" in book.escalate.guidance.en and "remediate keys iids" in book.escalate.guidance.ja


def test_clock_playbook_resyncs_and_can_measure_against_a_reference_time() -> None:
    book = playbook("0xC004F06C")
    assert steps_using(book, "clock-resync.ps1.j2", "fix")
    clock = steps_using(book, "clock-check.ps1.j2", "detect")[0]
    assert clock.params == {"ReferenceTimeUtc": "reference_time_utc"}
    assert "UTC" in book.summary.en and "UTC" in book.summary.ja


@pytest.mark.parametrize("code", ["0x8007232B", "0x8007007B", "0x8007251D", "0x80092328"])
def test_dns_family_looks_up_the_srv_record_and_flushes_the_cache(code: str) -> None:
    book = playbook(code)
    templates = {s.template for s in book.steps}
    assert {"kms-discovery.ps1.j2", "dns-flush.ps1.j2", "kms-set.ps1.j2", "activate.ps1.j2"} <= templates
    assert "_VLMCS._TCP" in book.escalate.guidance.en and "_VLMCS._TCP" in book.escalate.guidance.ja


def test_wrong_kms_host_is_fixed_only_with_the_host_the_operator_names() -> None:
    book = playbook("0xC004F042")
    assert "set-kms" in _planned(book, kms_host="kms-os.corp.example")
    assert "set-kms" not in _planned(book)
    assert "kms-clear.ps1.j2" not in {s.template for s in book.steps}


# --- proved on the sandbox: the real engine and plans, hosts of the shipped mixed-fleet scenario ---------
#
# The sandbox's Windows model follows Microsoft's documented behaviour, not these playbooks, so a playbook
# that claims too much fails here. Scripts run in process through the sandbox's PowerShell interpreter (the
# same one that serves WinRM); the end-to-end tests over WinRM live with the CLI tests.


class InProcessSession:
    """A HostSession that hands each script to a sandbox host's interpreter instead of WinRM."""

    def __init__(self, host: Any) -> None:
        from remediate.sandbox.powershell import Interpreter

        self.interpreter = Interpreter(host.commands, host.environment())
        self.host = host

    def open(self) -> InProcessSession:
        return self

    def close(self) -> None:
        return None

    def run(self, script: str, parameters: Any, timeout_s: float) -> Any:
        from remediate.results import ScriptRun, StepResult
        from remediate.transport import reveal

        with self.host.state.lock:
            outcome = self.interpreter.run_script(script, reveal(parameters))
        if outcome.state != "Completed" or not outcome.output:
            message = outcome.failure.message if outcome.failure else "the script printed no result"
            return ScriptRun(StepResult.failure(message), script_error=message)
        return ScriptRun(StepResult.from_json(outcome.output[-1]))

    def run_batch(self, calls: Any) -> Any:
        from remediate.connector import BatchRun

        return BatchRun([self.run(call.script, call.parameters, call.timeout_s) for call in calls])


def run_on_sandbox(
    code: str,
    fault: str,
    tmp_path: Any,
    settings: dict[str, str] | None = None,
    key: str | None = None,
    allow: tuple[str, ...] = (),
) -> Any:
    from remediate.audit import AuditLog
    from remediate.engine import Engine, EngineOptions
    from remediate.inventory import Host
    from remediate.render import build_plan
    from remediate.sandbox.scenario import build
    from remediate.secret import Secret
    from remediate.values import RunValues

    fleet = build("mixed-fleet", None, 0)
    sandbox_host = fleet.with_fault(fault)[0].engine
    secrets = {"product_key": Secret(key, source="test")} if key else {}
    run_values = RunValues(settings=dict(settings or {}), secrets=secrets)
    plan = build_plan(playbook(code), [Host(sandbox_host.computer_name)], run_values, RENDERER, allow=allow)
    engine = Engine(
        lambda host: InProcessSession(sandbox_host),
        AuditLog(tmp_path / "audit.jsonl"),
        EngineOptions(forks=1),
        sleep=lambda seconds: None,
    )
    report = engine.run(plan)
    return report.hosts[0], sandbox_host


SANDBOX_MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up: valid in the mixed-fleet world only
SANDBOX_SERVER_MAK = "4HNCB-T8RJX-2QWPV-K7MDY-G9F3C"


@pytest.mark.parametrize(
    ("code", "settings", "key"),
    [
        ("0xC004F074", {}, None),
        ("0xC004F039", {}, None),
        ("0xC004F06C", {}, None),
        ("0x8007232B", {"kms_host": "kms01.corp.example"}, None),
        ("0xC004F042", {"kms_host": "kms01.corp.example"}, None),
        ("0xC004F034", {"use_gvlk": "true"}, None),
        ("0xC004F050", {}, SANDBOX_MAK),
        ("0xC004E016", {}, SANDBOX_SERVER_MAK),
    ],
)
def test_playbook_fixes_its_fault_on_the_sandbox(
    code: str, settings: dict[str, str], key: str | None, tmp_path: Any
) -> None:
    report, host = run_on_sandbox(code, code, tmp_path, settings, key)
    assert str(report.outcome) == "fixed", (report.reason, [(s.id, s.status) for s in report.steps])
    assert host.state.license_status == 1


@pytest.mark.parametrize(
    ("code", "settings"),
    [
        ("0x8007232B", {}),  # no SRV record and no KMS host given: a person must publish one
        ("0xC004F042", {}),  # the wrong KMS host, and no right one given
        ("0x80072EE2", {}),  # no way out to Microsoft: phone activation
        ("0xC004C008", {}),
        ("0xC004F038", {}),
        ("0xC004F041", {}),
        ("0xC004F213", {}),
    ],
)
def test_playbook_hands_over_what_no_script_can_fix(
    code: str, settings: dict[str, str], tmp_path: Any
) -> None:
    report, host = run_on_sandbox(code, code, tmp_path, settings)
    assert str(report.outcome) == "escalate", report.reason
    assert report.guidance
    facts = next(s for s in report.steps if s.id == "facts")
    assert facts.result is not None and "installation_id" in facts.result.data
    assert host.state.license_status != 1


def test_edition_conversion_converts_an_evaluation_server_only_with_the_opt_in(tmp_path: Any) -> None:
    settings = {"target_edition": "ServerStandard"}
    report, host = run_on_sandbox("0xC004F069", "0xC004F069", tmp_path, settings, SANDBOX_SERVER_MAK)
    assert "Eval" in host.state.edition.edition_id  # not allowed: nothing converted
    report, host = run_on_sandbox(
        "0xC004F069", "0xC004F069", tmp_path, settings, SANDBOX_SERVER_MAK, allow=("edition-conversion",)
    )
    # DISM stages the conversion (exit 3010): the edition changes when the host restarts, as on Windows.
    assert "Eval" in host.state.edition.edition_id and host.state.restart_pending
    host.restart()
    assert host.state.edition.edition_id == "ServerStandard"
    convert = next(s for s in report.steps if s.id == "convert-edition")
    assert convert.result is not None and convert.result.changed
    assert SANDBOX_SERVER_MAK not in convert.result.output


def test_f074_resyncs_the_clock_only_when_it_is_more_than_four_hours_off(tmp_path: Any) -> None:
    from datetime import datetime, timedelta, timezone

    def resync_ran(reference: datetime) -> bool:
        stamp = reference.strftime("%Y-%m-%dT%H:%M:%SZ")
        report, _ = run_on_sandbox("0xC004F074", "0xC004F074", tmp_path, {"reference_time_utc": stamp})
        assert str(report.outcome) == "fixed"
        return any(s.id == "resync-clock" and str(s.status) == "ran" for s in report.steps)

    now = datetime.now(timezone.utc)
    assert resync_ran(now - timedelta(hours=6))
    assert not resync_ran(now + timedelta(minutes=3))
