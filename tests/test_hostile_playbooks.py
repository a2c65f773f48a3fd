"""A --playbooks folder is data that may be hostile: whatever it holds ends as a playbook or template error.

Each limit of remediate/limits.py has a fast test in this process. The slow tests run `remediate validate` and
a dry run in a child process with its address space capped, and measure its time and peak memory.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate import expressions, limits
from remediate.codes import ErrorCode
from remediate.errors import PlaybookError, TemplateError, UsageError
from remediate.inventory import Host
from remediate.playbook import PlaybookLibrary, load_playbook
from remediate.render import Renderer, build_plan
from remediate.validate import validate_files
from remediate.values import RunValues

DATA = Path(__file__).parent / "data"
TEST_PLAYBOOK = DATA / "playbooks" / "0xC004F074.yaml"
CODE = "0xC004F074"
RUN = RunValues(settings={"kms_host": "kms.example.com"})
# Lines in the test playbook: a step's (where evaluating its conditions fails), and its conditions' own.
SET_KMS, SET_KMS_WHEN, ACTIVATE, ACTIVATE_ONLY_IF = 24, 27, 36, 39


def hostile_folder(root: Path, playbook: str | None = None, templates: dict[str, str] | None = None) -> Path:
    """A --playbooks folder: the test playbook (or `playbook`) and its templates, some replaced by `templates`."""
    folder = root / "hostile"
    shutil.copytree(DATA / "templates", folder / "templates")
    text = TEST_PLAYBOOK.read_text("utf-8") if playbook is None else playbook
    (folder / f"{CODE}.yaml").write_text(text, "utf-8")
    for name, template in (templates or {}).items():
        (folder / "templates" / name).write_text(template, "utf-8")
    return folder


def with_playbook_line(old: str, new: str) -> str:
    text = TEST_PLAYBOOK.read_text("utf-8")
    assert old in text
    return text.replace(old, new)


def validate_messages(folder: Path) -> list[str]:
    return [str(problem) for _, problems in validate_files([folder]) for problem in problems]


def run_refusal(folder: Path) -> str | None:
    """What a run over the folder refuses before connecting (the plan is built as for a dry run), or None."""
    try:
        library = PlaybookLibrary([folder], include_shipped=False)
        build_plan(library.get(ErrorCode.parse(CODE)), [Host("a")], RUN, Renderer.for_library(library))
    except UsageError as error:
        return str(error)
    return None


# --- templates ---------------------------------------------------------------------------------------------------

HOSTILE_TEMPLATE_LINES = {
    "range": (
        "{% for i in range(10**9) %}x{% endfor %}",
        "a range of 1,000,000,000 numbers (the limit is 10,000)",
    ),
    "text repeated": ("{{ 'a' * 10**11 }}", "would make a value of 100,000,000,000 characters or items"),
    "text doubled": (
        "{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "would make a value of 1,048,576 characters or items (the limit is 1,000,000)",
    ),
    "made in all": (
        "{{ range(10000)|map('string')|map('center', 1000000)|join }}",
        "made more than 10,000,000 characters or items in all (the limit)",
    ),
    "script": (
        "{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}",
        "the script is longer than 1,000,000 characters (the limit)",
    ),
    "nested lists": ("{{ " + "[" * 20_000 + "]" * 20_000 + " }}", "nested deeper than 64 levels (the limit)"),
    "nested value": (
        "{% set ns = namespace(v=1) %}{% for i in range(100) %}{% set ns.v = [ns.v] %}{% endfor %}",
        "a value nested deeper than 64 levels (the limit)",
    ),
    "macro calling itself": (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "calls nested deeper than 64 levels (the limit)",
    ),
    "including itself": ("{% include 'test-key-install.ps1.j2' %}", "nested too deeply"),
    "number": ("{{ 2 ** 100000 }}", "a number of more than 10,000 bits (the limit)"),
    "format width": ("{{ '%999999999d' % 1 }}", "would make a value of 1,000,000,010 characters or items"),
    "padding": ("{{ 'x'.ljust(10**9) }}", "would make a value of 1,000,000,000 characters or items"),
    "replace": ("{{ ('a' * 10000).replace('', 'b' * 10000) }}", "would make a value of 100,020,000 characters"),
    "python internals": ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
    "division by zero": ("{{ 1 // 0 }}", "integer division or modulo by zero"),
}


@pytest.mark.parametrize(("line", "message"), HOSTILE_TEMPLATE_LINES.values(), ids=HOSTILE_TEMPLATE_LINES.keys())
def test_a_hostile_template_is_a_template_error_naming_its_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    folder = hostile_folder(tmp_path, templates={"test-key-install.ps1.j2": f"param([string]$ProductKey)\n{line}\n"})
    playbook = load_playbook(folder / f"{CODE}.yaml", [folder / "templates"])
    template = folder / "templates" / "test-key-install.ps1.j2"
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        Renderer([folder / "templates"]).script(playbook, playbook.step("install-key"))
    assert time.monotonic() - start < limits.SECONDS
    assert str(caught.value).startswith(f"{template}:2: {message}")
    assert str(caught.value).endswith(f"(playbook {CODE}.yaml step install-key)")


def test_a_template_that_runs_too_long_is_stopped_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "SECONDS", 0.3)
    loops = "{% set r = range(10000) %}\n{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}\n"
    folder = hostile_folder(tmp_path, templates={"test-key-install.ps1.j2": "param([string]$ProductKey)\n" + loops})
    playbook = load_playbook(folder / f"{CODE}.yaml", [folder / "templates"])
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        Renderer([folder / "templates"]).script(playbook, playbook.step("install-key"))
    assert 0.3 <= time.monotonic() - start < 1.3
    template = folder / "templates" / "test-key-install.ps1.j2"
    assert str(caught.value).startswith(f"{template}:3: took longer than 0.3 s (the limit)")


def test_many_slow_templates_cannot_add_up_past_the_playbook_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "SECONDS", 0.3)
    monkeypatch.setattr(limits, "PLAYBOOK_SECONDS", 0.5)
    loops = "param()\n{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}\n"
    slow = {name.name: loops for name in (DATA / "templates").glob("test-*.ps1.j2")}
    folder = hostile_folder(tmp_path, templates=slow)
    start = time.monotonic()
    problems = validate_messages(folder)
    assert time.monotonic() - start < 1.5  # six slow steps, stopped after two
    assert len(problems) == 2
    assert problems[-1].endswith("took longer than 0.5 s (the limit) (playbook 0xC004F074.yaml step set-kms)")


def test_a_template_file_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    text = "param([string]$ProductKey)\n" + "# padding\n" * (limits.TEMPLATE_BYTES // 10)
    folder = hostile_folder(tmp_path, templates={"test-key-install.ps1.j2": text})
    playbook = load_playbook(folder / f"{CODE}.yaml", [folder / "templates"])
    with pytest.raises(TemplateError) as caught:
        Renderer([folder / "templates"]).script(playbook, playbook.step("install-key"))
    template = folder / "templates" / "test-key-install.ps1.j2"
    line = text.encode()[: limits.TEMPLATE_BYTES].count(b"\n") + 1  # the line the limit falls on
    assert str(caught.value).startswith(
        f"{template}:{line}: the template is {len(text):,} bytes; a template may be at most 262,144"
    )


HOSTILE_FRAGMENTS = [
    *(line for line, _ in HOSTILE_TEMPLATE_LINES.values()),
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{{ options }}",
    "Write-Output 'x'",
    "{% set s = 'x' * 1000000 %}{{ [s, s, s] ~ s }}",
    "{{ (range(10000)|list) * 1000 }}",
    "{{ '{:>99999999}'.format(1) }}",
    "{{ [1]|batch(10**9, 'x')|list }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ 'x'.expandtabs(10**9) }}",
    "{% macro m(s, n) %}{{ m(s ~ s, n - 1) if n else s }}{% endmacro %}{{ m('a', 60) }}",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(HOSTILE_FRAGMENTS), min_size=1, max_size=4))
def test_any_template_made_of_hostile_pieces_renders_or_is_a_template_error(
    tmp_path_factory: pytest.TempPathFactory, fragments: list[str]
) -> None:
    text = "param([string]$ProductKey)\n" + "\n".join(fragments) + "\n"
    folder = hostile_folder(tmp_path_factory.mktemp("fuzz"), templates={"test-key-install.ps1.j2": text})
    playbook = load_playbook(folder / f"{CODE}.yaml", [folder / "templates"])
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limits, "SECONDS", 0.3)
        try:
            Renderer([folder / "templates"]).script(playbook, playbook.step("install-key"))
        except TemplateError as error:
            assert str(error).startswith(str(folder / "templates" / "test-key-install.ps1.j2"))
    assert time.monotonic() - start < 1.5


# --- conditions --------------------------------------------------------------------------------------------------


def test_a_hostile_when_is_a_playbook_error_at_its_step_for_validate_and_run(tmp_path: Path) -> None:
    condition = "kms_host and 'a' * 10**11"
    folder = hostile_folder(tmp_path, with_playbook_line("when: kms_host\n", f'when: "{condition}"\n'))
    expected = (
        f"{folder / (CODE + '.yaml')}:{SET_KMS}: steps[set-kms].when: cannot evaluate the condition {condition!r}: "
        "would make a value of 100,000,000,000 characters or items (the limit is 1,000,000)"
    )
    assert validate_messages(folder) == [expected]
    assert run_refusal(folder) == expected


ONLY_IF_REFUSALS = {
    "python internals": (
        "steps['license-state'].__class__",
        ACTIVATE_ONLY_IF,
        "the attribute '__class__' is refused: a condition may not reach Python internals or change a value",
    ),
    "a method that changes a value": (
        "steps['license-state'].data.clear()",
        ACTIVATE_ONLY_IF,
        "the attribute 'clear' is refused: a condition may not reach Python internals or change a value",
    ),
    "a name it is not given": (
        "kms_host",
        ACTIVATE_ONLY_IF,
        "'kms_host' is not defined here: an only_if sees steps, the results of the earlier steps",
    ),
    "internals by subscript": (
        "steps['license-state']['__class__']",
        ACTIVATE,
        "cannot evaluate the condition \"steps['license-state']['__class__']\": access to attribute '__class__' "
        "of 'dict' object is unsafe.",
    ),
    "over a limit": (
        "steps['license-state'].ok and 'a' * 10**11",
        ACTIVATE,
        "cannot evaluate the condition \"steps['license-state'].ok and 'a' * 10**11\": would make a value of "
        "100,000,000,000 characters or items (the limit is 1,000,000)",
    ),
}


@pytest.mark.parametrize(
    ("condition", "line", "message"), ONLY_IF_REFUSALS.values(), ids=ONLY_IF_REFUSALS.keys()
)
def test_validate_refuses_an_only_if_the_run_would_refuse(
    tmp_path: Path, condition: str, line: int, message: str
) -> None:
    old = "only_if: \"steps['license-state'].data.license_status != 1\""
    folder = hostile_folder(tmp_path, with_playbook_line(old, f'only_if: "{condition}"'))
    expected = f"{folder / (CODE + '.yaml')}:{line}: steps[activate].only_if: {message}"
    assert validate_messages(folder) == [expected]
    assert run_refusal(folder) == expected


def test_an_only_if_refused_at_run_time_skips_its_step_with_the_reason() -> None:
    from remediate.results import StepResult

    with pytest.raises(jinja2.exceptions.SecurityError, match="would make a value of 100,000,000,000"):
        expressions.evaluate_condition("steps['a'].ok and 'a' * 10**11", {"a": StepResult(ok=True)})


def test_a_condition_that_runs_too_long_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "SECONDS", 0.01)
    slow = "(range(10000)|map('string')|map('center', 100)|map('upper')|join|length) > 0"
    start = time.monotonic()
    with pytest.raises(jinja2.TemplateError, match=r"took longer than 0\.01 s \(the limit\)"):
        expressions.when_holds(slow, {})
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("[" * 20_000 + "]" * 20_000, "nested deeper than 64 levels (the limit)"),
        ("not " * 5_000 + "kms_host", "nested deeper than 64 levels (the limit)"),
        (" or ".join(["kms_host"] * 1_000), "nested deeper than 64 levels (the limit)"),
        ("kms_host == " + "1" * 5_000, "a number with more than 4,300 digits (the most Python reads)"),
    ],
    ids=["brackets", "not", "or", "digits"],
)
def test_a_condition_nested_too_deeply_is_not_a_valid_condition(
    tmp_path: Path, condition: str, message: str
) -> None:
    folder = hostile_folder(tmp_path, with_playbook_line("when: kms_host\n", f'when: "{condition}"\n'))
    expected = f"{folder / (CODE + '.yaml')}:{SET_KMS_WHEN}: steps[set-kms].when: not a valid condition: {message}"
    assert validate_messages(folder) == [expected]
    assert run_refusal(folder) == expected


CONDITION_PIECES = [
    "kms_host",
    "not kms_host",
    "steps['license-state'].ok",
    "steps['license-state'].data.license_status",
    "'a' * 10**11",
    "10 ** 10 ** 10",
    "2 ** 100000",
    "range(10**9)",
    "''.__class__",
    "steps.__class__",
    "steps['license-state']['__class__']",
    "kms_host.pop",
    "steps.items()|list",
    "'%999999999d' % 1",
    "'x'.center(10**9)",
    "[1] * 10**9",
    "(range(10000)|map('string')|join|length)",
    "1 // 0",
    "undefined_name",
    "[" * 100 + "]" * 100,
]


@settings(max_examples=80, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(CONDITION_PIECES), min_size=1, max_size=3),
    joiner=st.sampled_from([" and ", " or ", " ~ ", " + ", " * ", " == "]),
    field=st.sampled_from(["when", "only_if"]),
)
def test_validate_refuses_whatever_the_run_refuses(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str], joiner: str, field: str
) -> None:
    condition = joiner.join(pieces).replace('"', '\\"')
    folder = hostile_folder(
        tmp_path_factory.mktemp("conditions"),
        with_playbook_line("    when: kms_host\n", f'    {field}: "{condition}"\n'),
    )
    start = time.monotonic()
    refused = run_refusal(folder)
    problems = validate_messages(folder)
    assert time.monotonic() - start < 2 * limits.SECONDS
    if refused is not None:
        assert problems, f"the run refuses {condition!r} ({refused}) but validate does not"
        assert all(str(folder) in problem for problem in problems)


# --- YAML --------------------------------------------------------------------------------------------------------


def playbook_problems(folder: Path) -> str:
    with pytest.raises(PlaybookError) as caught:
        load_playbook(folder / f"{CODE}.yaml", [folder / "templates"])
    return str(caught.value)


def test_an_alias_bomb_is_refused_at_the_alias_that_grows_it_past_the_limit(tmp_path: Path) -> None:
    laughs = ['x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"x{n}: &x{n} [" + ", ".join([f"*x{n - 1}"] * 9) + "]" for n in range(1, 10)]
    text = TEST_PLAYBOOK.read_text("utf-8")
    folder = hostile_folder(tmp_path, text + "\n".join(laughs) + "\n")
    start = time.monotonic()
    message = playbook_problems(folder)
    assert time.monotonic() - start < 1
    x5 = text.count("\n") + 6  # 9**6 values: the first line past 100,000
    assert message == (
        f"{folder / (CODE + '.yaml')}:{x5}: the playbook grows past 100,000 values here (the limit; aliases count "
        "as many values as they name)"
    )


def test_an_alias_inside_what_it_names_is_refused(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path, with_playbook_line("references: [F074]", "references: &r [F074, *r]"))
    assert playbook_problems(folder) == (
        f"{folder / (CODE + '.yaml')}:10: this alias is inside the value it names (a value holding itself)"
    )


@pytest.mark.parametrize(
    "nested",
    ["[" * 20_000 + "]" * 20_000, "{a: " * 20_000 + "1" + "}" * 20_000],
    ids=["lists", "mappings"],
)
def test_yaml_nested_too_deeply_is_refused_at_its_line(tmp_path: Path, nested: str) -> None:
    folder = hostile_folder(tmp_path, with_playbook_line("references: [F074]", f"references: {nested}"))
    assert playbook_problems(folder) == f"{folder / (CODE + '.yaml')}:10: nested deeper than 64 levels (the limit)"


def test_a_playbook_over_the_size_limit_is_refused_at_the_line_it_passes_it(tmp_path: Path) -> None:
    text = TEST_PLAYBOOK.read_text("utf-8") + "# padding\n" * (limits.PLAYBOOK_BYTES // 10)
    folder = hostile_folder(tmp_path, text)
    line = text.encode()[: limits.PLAYBOOK_BYTES].count(b"\n") + 1  # the line the limit falls on
    assert playbook_problems(folder) == (
        f"{folder / (CODE + '.yaml')}:{line}: the file goes past 262,144 bytes here (the limit for a playbook)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1" * 5_000, "a number with more than 4,300 digits (the most Python reads)"),
        ("2024-13-45", "month must be in 1..12"),
    ],
    ids=["digits", "date"],
)
def test_a_yaml_value_python_cannot_hold_is_refused_at_its_line(tmp_path: Path, value: str, message: str) -> None:
    folder = hostile_folder(tmp_path, with_playbook_line("references: [F074]", f"references: [{value}]"))
    assert playbook_problems(folder) == f"{folder / (CODE + '.yaml')}:10: not valid YAML: {message}"


def test_a_playbook_that_is_not_a_regular_file_is_refused_unread(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path)
    os.mkfifo(folder / "0xC004F0FF.yaml")  # reading it would wait forever for a writer
    results = dict(validate_files([folder]))
    assert [str(p) for p in results[folder / "0xC004F0FF.yaml"]] == [
        f"{folder / '0xC004F0FF.yaml'}: cannot read the playbook: not a regular file"
    ]


# --- measured in a child process -----------------------------------------------------------------------------

MEMORY_CAP = 1 << 30  # address space of the child: far below what any of these would take unchecked
PEAK_MB = 200  # remediate itself takes about 40 MB


@dataclass
class Measured:
    exit_code: int
    output: str
    seconds: float
    peak_mb: float


def measured_remediate(args: list[str], tmp_path: Path) -> Measured:
    """Run remediate with its address space capped; its exit code, output, wall-clock time and peak memory."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    environment = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    output_file = tmp_path / "output.txt"
    peak_file = tmp_path / "peak.txt"
    with output_file.open("wb") as output:
        start = time.monotonic()
        # GNU time measures the peak: a wait4 on a child forked from this (grown) pytest process would count its
        # pages too. The cap applies to time and, through it, to remediate.
        process = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), sys.executable, "-m", "remediate", *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            preexec_fn=cap_memory,
        )
        timer = threading.Timer(60, process.kill)
        timer.start()
        try:
            process.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - start
    peak_kib = int(peak_file.read_text("utf-8").split()[-1]) if peak_file.exists() else 0
    return Measured(process.returncode, output_file.read_text("utf-8"), seconds, peak_kib / 1024)


NESTED_LOOPS = "{% for a in range(10000) %}\n{% for b in range(10000) %}{% endfor %}{% endfor %}"
SLOW_CASES = {
    "range in a template": (
        {"test-key-install.ps1.j2": "param([string]$ProductKey)\n{% for i in range(10**9) %}x{% endfor %}\n"},
        None,
        "templates/test-key-install.ps1.j2:2: a range of 1,000,000,000 numbers (the limit is 10,000)",
    ),
    "loops in a template": (
        {"test-key-install.ps1.j2": f"param([string]$ProductKey)\n{NESTED_LOOPS}\n"},
        None,
        "templates/test-key-install.ps1.j2:3: took longer than 2 s (the limit)",
    ),
    "text repeated in a when": (
        {},
        ("when: kms_host\n", "when: \"kms_host and 'a' * 10**11\"\n"),
        f"{CODE}.yaml:{SET_KMS}: steps[set-kms].when: cannot evaluate the condition",
    ),
    "python internals in an only_if": (
        {},
        ("only_if: \"steps['license-state'].data", "only_if: \"steps['license-state'].__class__.data"),
        f"{CODE}.yaml:{ACTIVATE_ONLY_IF}: steps[activate].only_if: the attribute '__class__' is refused",
    ),
    "an alias bomb": (
        {},
        ("references: [F074]", "references: [F074]\n" + "\n".join(
            ['x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
            + [f"x{n}: &x{n} [" + ", ".join([f"*x{n - 1}"] * 9) + "]" for n in range(1, 10)]
        )),
        f"{CODE}.yaml:16: the playbook grows past 100,000 values here",
    ),
    "20,000 nested lists": (
        {},
        ("references: [F074]", "references: " + "[" * 20_000 + "]" * 20_000),
        f"{CODE}.yaml:10: nested deeper than 64 levels (the limit)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "run --dry-run"])
@pytest.mark.parametrize(("templates", "change", "expected"), SLOW_CASES.values(), ids=SLOW_CASES.keys())
def test_a_hostile_playbook_folder_ends_as_exit_2_in_bounded_time_and_memory(
    tmp_path: Path, command: str, templates: dict[str, str], change: tuple[str, str] | None, expected: str
) -> None:
    folder = hostile_folder(tmp_path, with_playbook_line(*change) if change else None, templates)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("pc01.example.com\n", "utf-8")
    if command == "validate":
        args = ["validate", str(folder)]
    else:
        args = ["run", CODE, "--playbooks", str(folder), "--hosts", str(hosts), "--dry-run"]
    result = measured_remediate(args, tmp_path)
    assert result.exit_code == 2, result.output
    assert f"{folder}/{expected}" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert list((tmp_path / "tmp").glob("remediate-crash-*")) == []
    assert result.seconds < limits.SECONDS + 4  # the one limit it may run into, and starting Python
    assert result.peak_mb < PEAK_MB


def test_the_readme_states_the_limits_that_apply() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    paragraph = " ".join(readme[readme.index("A folder given with `--playbooks`") :].split("\n\n")[0].split())
    stated = [
        f"{limits.PLAYBOOK_BYTES // 1024} KiB",
        f"{limits.TEMPLATE_BYTES // 1024} KiB",
        f"nested at most {limits.YAML_DEPTH} deep",
        f"{limits.YAML_VALUES:,} values",
        f"syntax nested at most {limits.SYNTAX_DEPTH} deep",
        f"{limits.SECONDS:g} seconds for each template or condition ({limits.PLAYBOOK_SECONDS:g} for all",
        f"{limits.VALUE_SIZE:,} characters or items in any value made ({limits.MADE_SIZE:,} in all)",
        f"{limits.SCRIPT_CHARS:,} characters of script",
        f"{limits.RANGE_ITEMS:,} numbers from `range()`",
        f"{limits.INTEGER_BITS:,} bits",
    ]
    assert [text for text in stated if text not in paragraph] == []
