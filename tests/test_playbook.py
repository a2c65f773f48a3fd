"""Playbook loading and validation: every problem named by file, line and field."""

from __future__ import annotations

import copy
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate import resources
from remediate.codes import ErrorCode
from remediate.errors import PlaybookError, UnknownCodeError
from remediate.playbook import PlaybookLibrary, load_playbook
from remediate.render import Renderer
from remediate.validate import validate_files

DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "templates"
TEST_PLAYBOOK = DATA / "playbooks" / "0xC004F074.yaml"


@pytest.fixture
def no_shipped_playbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only the playbooks a test gives: an empty shipped folder (with the schema)."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(resources.playbooks_dir() / "playbook.schema.json", shipped)
    monkeypatch.setattr(resources, "playbooks_dir", lambda: shipped)
    return shipped


MINIMAL = """\
code: "0xC004F074"
title: {en: Title, ja: タイトル}
summary: {en: Summary, ja: 概要}
parameters:
  kms_host: {type: fqdn, description: {en: KMS host, ja: KMS ホスト}}
steps:
  - id: license-state
    phase: detect
    template: test-license-state.ps1.j2
    description: {en: Read, ja: 読む}
  - id: set-kms
    phase: fix
    template: test-kms-set.ps1.j2
    params: {KmsHost: kms_host}
    description: {en: Set, ja: 設定}
  - id: verify-state
    phase: verify
    template: test-license-state.ps1.j2
    description: {en: Verify, ja: 確認}
escalate:
  when: on_failure
  guidance: {en: Ask a human, ja: 担当者に連絡}
"""


def write(folder: Path, text: str, name: str = "0xC004F074.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path, [TEMPLATES])
    return str(caught.value)


def test_the_test_playbook_loads_with_every_field() -> None:
    playbook = load_playbook(TEST_PLAYBOOK, [TEMPLATES])
    assert playbook.code == ErrorCode.parse("0xC004F074")
    assert playbook.also == (ErrorCode.parse("0xC004F0FE"),)
    assert playbook.title.get("ja") == "KMS ホストに接続できません (テスト)"
    assert [s.phase for s in playbook.steps] == ["detect", "fix", "fix", "fix", "fix", "verify"]
    activate = playbook.step("activate")
    assert activate.retry is not None
    assert (activate.retry.attempts, activate.retry.delay_s) == (3, 20.0)
    assert activate.retry.on_hresult == (ErrorCode.parse("0xC004F074"),)
    assert activate.timeout_s == 180.0 and activate.idempotent
    assert playbook.step("license-state").timeout_s == 120.0
    assert playbook.step("set-kms").line == 24  # the "- id:" line of that step
    assert playbook.parameters["kms_port"].default == 1688
    assert playbook.parameters["product_key"].is_secret
    assert playbook.step("convert-edition").requires_opt_in == "edition-conversion"
    assert len(playbook.sha256) == 64


def test_the_schema_is_valid_2020_12_and_accepts_the_test_playbook() -> None:
    schema = json.loads((resources.playbooks_dir() / "playbook.schema.json").read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(TEST_PLAYBOOK.read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_a_minimal_playbook_is_valid(tmp_path: Path) -> None:
    assert load_playbook(write(tmp_path, MINIMAL), [TEMPLATES]).steps[1].params == {"KmsHost": "kms_host"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # YAML reads an unquoted 0x... as a number: say so, on the right line.
        (
            'code: "0xC004F074"',
            "code: 0xC004F074",
            ':1: code: write the error code in quotes, for example "0xC004F074"',
        ),
        ('code: "0xC004F074"', 'code: "0xC004F050"', ":1: code: 0xC004F050 does not match the file name"),
        (
            'code: "0xC004F074"',
            'code: "0xc004f074"',
            ':1: code: write the code in canonical form: "0xC004F074"',
        ),
        (
            "    template: test-kms-set.ps1.j2",
            "    tempalte: test-kms-set.ps1.j2",
            ":13: steps[set-kms].tempalte: unknown field (did you mean 'template'?)",
        ),
        (
            "    template: test-kms-set.ps1.j2",
            "    template: nowhere.ps1.j2",
            ":13: steps[set-kms].template: template nowhere.ps1.j2 not found",
        ),
        (
            "    params: {KmsHost: kms_host}",
            "    params: {KmsHost: kms_hots}",
            ":14: steps[set-kms].params.KmsHost: 'kms_hots' is not a declared parameter or a built-in table "
            "(did you mean 'kms_host'?)",
        ),
        (
            "  - id: verify-state",
            "  - id: license-state",
            ":16: steps[license-state].id: step id 'license-state' is used twice",
        ),
        (
            "    phase: fix",
            "    phase: repair",
            ":12: steps[set-kms].phase: 'repair' is not one of: detect, fix",
        ),
        ("title: {en: Title, ja: タイトル}", "title: {en: Title}", ":2: title.ja: is required"),
        (
            "    params: {KmsHost: kms_host}",
            "    params: {KmsHost: kms_host}\n    retry: {attempts: 2}",
            ":15: steps[set-kms].retry: a fix step with retry must be declared idempotent: true",
        ),
        (
            "    params: {KmsHost: kms_host}",
            "    params: {KmsHost: kms_host}\n    when: kms_hots != ''",
            ":15: steps[set-kms].when: 'kms_hots' is not a declared parameter",
        ),
        (
            "    params: {KmsHost: kms_host}",
            "    params: {KmsHost: kms_host}\n    when: 'kms_host =='",
            ":15: steps[set-kms].when: not a valid condition",
        ),
        (
            "    params: {KmsHost: kms_host}",
            "    params: {KmsHost: kms_host}\n    only_if: \"steps['verify-state'].ok\"",
            ":15: steps[set-kms].only_if: refers to step 'verify-state', which is not an earlier step",
        ),
        (
            "  when: on_failure",
            "  when: always",
            ":21: escalate.when: escalate.when is always, so the fix steps",
        ),
        ("    phase: detect", "    phase: verify", ":6: steps: a playbook needs at least one detect step"),
        (
            "  kms_host: {type: fqdn,",
            "  kms_host: {type: port, default: 70000,",
            ":5: parameters.kms_host.default: expected a port number from 1 to 65535",
        ),
        (
            "summary: {en: Summary, ja: 概要}",
            'summary: {en: Summary, ja: 概要}\nalso: ["0xC004F074"]',
            ":4: also[0]: 0xC004F074 is this playbook's own code",
        ),
        (
            "escalate:",
            'escalate:\n  on_hresult: ["C004C008"]',
            ':21: escalate.on_hresult[0]: write the code in canonical form: "0xC004C008"',
        ),
        (
            'code: "0xC004F074"',
            'code: "0xC004F074"\ncode: "0xC004F074"',
            ":2: code: this field is given twice",
        ),
        ("    template: test-kms-set.ps1.j2", "    template: [oops", ":14: not valid YAML"),
    ],
)
def test_each_problem_names_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    message = problems_of(path)
    assert f"{path}{expected}" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("    phase: fix", "    phase: repair")
        .replace("    template: test-kms-set.ps1.j2", "    template: nowhere.ps1.j2")
        .replace("ja: 確認", "jp: 確認")
    )
    message = problems_of(write(tmp_path, text))
    assert message.splitlines()[0].startswith("4 problems in ")
    assert "steps[set-kms].phase" in message
    assert "steps[set-kms].template: template nowhere.ps1.j2 not found" in message
    assert "steps[verify-state].description.ja: is required" in message
    assert "steps[verify-state].description.jp: unknown field" in message


def test_an_empty_or_non_mapping_file_is_a_clear_problem(tmp_path: Path) -> None:
    assert "the file is empty" in problems_of(write(tmp_path, ""))
    assert "a playbook is a mapping of fields" in problems_of(write(tmp_path, "- just\n- a list\n"))


def test_the_library_finds_playbooks_by_code_and_also(no_shipped_playbooks: Path) -> None:
    library = PlaybookLibrary([DATA / "playbooks"])
    assert library.get(ErrorCode.parse("C004F074")).code == ErrorCode.parse("0xC004F074")
    assert library.get(ErrorCode.parse("0xC004F0FE")).code == ErrorCode.parse("0xC004F074")
    assert [str(p.code) for p in library.all()] == ["0xC004F074"]
    assert library.find(ErrorCode.parse("0xC004C008")) is None


def test_an_unknown_code_lists_the_known_ones_and_suggests_the_nearest(no_shipped_playbooks: Path) -> None:
    library = PlaybookLibrary([DATA / "playbooks"])
    with pytest.raises(UnknownCodeError) as caught:
        library.get(ErrorCode.parse("0xC004F047"))  # two digits swapped
    message = str(caught.value)
    assert "no playbook for 0xC004F047" in message
    assert "0xC004F074, 0xC004F0FE" in message
    assert "did you mean 0xC004F074" in message


def test_a_later_folder_wins_for_the_same_code(no_shipped_playbooks: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine" / "playbooks"
    mine.mkdir(parents=True)
    (tmp_path / "mine" / "templates").symlink_to(TEMPLATES)
    write(mine, MINIMAL.replace("en: Title", "en: My own title"))
    library = PlaybookLibrary([DATA / "playbooks", mine])
    assert library.get(ErrorCode.parse("0xC004F074")).title.en == "My own title"
    # the "also" code of the playbook it replaced is gone with it
    assert library.find(ErrorCode.parse("0xC004F0FE")) is None


def test_two_playbooks_claiming_one_code_are_refused(no_shipped_playbooks: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "templates").mkdir(parents=True)
    for template in TEMPLATES.iterdir():
        shutil.copy(template, mine / "templates")
    other = MINIMAL.replace('code: "0xC004F074"', 'code: "0xC004F050"\nalso: ["0xC004F0FE"]')
    write(mine, other, "0xC004F050.yaml")
    with pytest.raises(PlaybookError, match=r"0xC004F0FE is already handled by .*0xC004F0(50|74)\.yaml"):
        PlaybookLibrary([DATA / "playbooks", mine])


def test_a_missing_playbook_folder_is_named() -> None:
    with pytest.raises(PlaybookError, match="playbook folder not found: /nonexistent"):
        PlaybookLibrary([Path("/nonexistent")])


def test_validate_files_reports_ok_and_problems_per_file(tmp_path: Path) -> None:
    good = DATA / "playbooks" / "0xC004F074.yaml"
    bad = write(tmp_path, MINIMAL.replace("    phase: fix", "    phase: repair"))
    results = dict(validate_files([good, bad]))
    assert results[good] == []
    assert [p.field for p in results[bad]] == ["steps[set-kms].phase"]
    assert results[bad][0].line == 12


def test_every_shipped_playbook_validates_with_its_templates() -> None:
    results = validate_files([])
    shipped = sorted(p.name for p in resources.playbooks_dir().glob("*.yaml"))
    assert [path.name for path, _ in results] == shipped
    assert {str(path): [str(p) for p in problems] for path, problems in results if problems} == {}


def _paths(node: object, where: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [where]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*where, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*where, index)))
    return found


MINIMAL_DATA = yaml.safe_load(MINIMAL)
JUNK = [None, 0, 3221549172, -1, 1.5, True, "", "x", "0xC004F074", [], [1], ["a"], {}, {"a": 1}, {"en": 1}]


@settings(max_examples=150, deadline=None)
@given(
    where=st.sampled_from(_paths(MINIMAL_DATA)[1:]),
    junk=st.sampled_from(JUNK),
    extra_key=st.booleans(),
)
def test_any_malformed_field_is_a_playbook_error_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, where: tuple[object, ...], junk: object, extra_key: bool
) -> None:
    data = copy.deepcopy(MINIMAL_DATA)
    parent: Any = data
    for part in where[:-1]:
        parent = parent[part]
    if extra_key and isinstance(parent, dict):
        parent["unexpected_field"] = junk
    else:
        parent[where[-1]] = junk
    path = tmp_path_factory.mktemp("fuzz") / "0xC004F074.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    try:
        playbook = load_playbook(path, [TEMPLATES])
    except PlaybookError as error:
        assert str(path) in str(error)
    else:  # still valid (e.g. an optional field): its templates are checked without a crash too
        Renderer([TEMPLATES]).problems(playbook)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(MINIMAL)), noise=st.text(max_size=20))
def test_any_damaged_file_is_a_playbook_error_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, cut: int, noise: str
) -> None:
    path = tmp_path_factory.mktemp("damaged") / "0xC004F074.yaml"
    path.write_text(MINIMAL[:cut] + noise + MINIMAL[cut:], "utf-8")
    try:
        load_playbook(path, [TEMPLATES])
    except PlaybookError as error:
        assert str(path) in str(error)


def test_each_missing_field_is_reported_once(tmp_path: Path) -> None:
    path = write(tmp_path, 'code: "0xC004F074"\n')
    assert problems_of(path).splitlines()[1:] == [
        f"  {path}:1: escalate: is required",
        f"  {path}:1: steps: is required",
        f"  {path}:1: summary: is required",
        f"  {path}:1: title: is required",
    ]


def test_a_tab_in_the_indentation_says_to_use_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, 'code: "0xC004F074"\ntitle:\n\ten: T\n')
    assert problems_of(path) == (
        f"{path}:3: not valid YAML: found character '\\t' that cannot start any token "
        "(YAML indents with spaces, never tabs: replace the tab with spaces)"
    )


def test_an_unclosed_parenthesis_in_a_condition_is_named_as_such(tmp_path: Path) -> None:
    step = "    params: {KmsHost: kms_host}"
    text = MINIMAL.replace(step, step + "\n    when: not (kms_host")
    path = write(tmp_path, text)
    assert problems_of(path) == (
        f"{path}:15: steps[set-kms].when: not a valid condition: unexpected end of the condition, expected ')'."
    )


def test_a_control_character_in_playbook_text_is_refused(tmp_path: Path) -> None:
    title = 'title: {en: "Title\\e[2K", ja: タイトル}'
    path = write(tmp_path, MINIMAL.replace("title: {en: Title, ja: タイトル}", title))
    assert problems_of(path) == f"{path}:2: title.en: holds the control character U+001B: write plain text"


def test_an_unknown_parameter_type_is_reported_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("kms_host: {type: fqdn,", "kms_host: {type: boolean, default: false,")
    path = write(tmp_path, text)
    assert problems_of(path) == (
        f"{path}:5: parameters.kms_host.type: 'boolean' is not one of: hostname, fqdn, port, product_key, enum, "
        "bool, int, string"
    )


def test_a_bad_step_id_is_explained_in_words(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("id: set-kms", "id: Set_KMS"))
    assert problems_of(path) == (
        f"{path}:11: steps[Set_KMS].id: 'Set_KMS' is not valid: use lower-case letters and digits, words joined "
        "by - (for example set-kms)"
    )


def test_a_library_built_again_sees_a_changed_playbook_and_a_removed_template(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    (folder / "templates").mkdir(parents=True)
    code = ErrorCode.parse("0xC004F074")
    shipped = resources.playbooks_dir() / "0xC004F074.yaml"
    template = load_playbook(shipped).steps[0].template
    shutil.copy(resources.templates_dir() / template, folder / "templates" / "own-copy.ps1.j2")
    playbook = folder / "0xC004F074.yaml"
    playbook.write_text(shipped.read_text("utf-8").replace(f"template: {template}", "template: own-copy.ps1.j2", 1),
                        "utf-8")
    first = PlaybookLibrary([folder]).get(code)
    assert first.steps[0].template == "own-copy.ps1.j2" and PlaybookLibrary([folder]).get(code) == first
    playbook.write_text(playbook.read_text("utf-8").replace("could be contacted", "could not be reached", 1), "utf-8")
    changed = PlaybookLibrary([folder]).get(code)
    assert changed.sha256 != first.sha256 and changed.source == first.source
    (folder / "templates" / "own-copy.ps1.j2").unlink()
    with pytest.raises(PlaybookError, match=r"template own-copy\.ps1\.j2 not found"):
        PlaybookLibrary([folder])
