"""Playbooks: the model, loading from YAML with line numbers, and validation (playbooks/README.md).

A playbook file is read twice over the same YAML node tree: once into plain data, once into a map from
each field's path to its line. The data is checked against `playbook.schema.json`, then against the rules
the schema cannot express; every problem of a file is collected into one PlaybookError, each as
`file:line: field: message`. A file is read within the limits of `limits.py` (its size, YAML nesting, values
once aliases are expanded), as a --playbooks folder may be hostile.
Template checks (a template renders, its `param()` block matches the step) live in `render.py`; conditions
are parsed by `expressions.py`; `remediate validate` over files and folders is `validate.py`.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from remediate import limits, resources
from remediate.codes import ErrorCode, code_info, nearest_codes
from remediate.duration import duration_seconds
from remediate.errors import Location, PlaybookError, UnknownCodeError, UsageError
from remediate.expressions import GLOBAL_NAMES, Condition, ConditionSyntaxError, parse_condition
from remediate.i18n import N_, _

PHASES = ("detect", "fix", "verify", "escalate")
READ_ONLY_PHASES = ("detect", "verify", "escalate")
LANGUAGES = ("en", "ja")
DEFAULT_TIMEOUT_S = 120.0
SCHEMA_FILE = "playbook.schema.json"

# Values a step may pass by name although no playbook parameter declares them; render.py supplies them.
BUILTIN_TABLES = ("gvlk_by_edition",)

Path_ = tuple[str | int, ...]  # a field's path inside the YAML document


# --- the model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """The same text in English and Japanese."""

    en: str
    ja: str

    def get(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: Text
    required: bool = False
    secret: bool = False
    default: str | int | bool | None = None
    choices: tuple[str, ...] = ()

    @property
    def is_secret(self) -> bool:
        """Taken only from --secret-env or --secrets-file; every product key is secret."""
        return self.secret or self.type == "product_key"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    delay_s: float = 0.0
    on_hresult: tuple[ErrorCode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "delay_s": self.delay_s,
            "on_hresult": [str(code) for code in self.on_hresult],
        }


@dataclass(frozen=True)
class Step:
    id: str
    phase: str
    template: str
    description: Text
    line: int
    when: str | None = None
    only_if: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # PowerShell parameter -> playbook parameter
    idempotent: bool = False
    retry: RetryPolicy | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    requires_opt_in: str | None = None
    options: Mapping[str, bool | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    when: str  # always | on_failure
    guidance: Text
    on_hresult: tuple[ErrorCode, ...] = ()


@dataclass(frozen=True)
class Playbook:
    code: ErrorCode
    title: Text
    summary: Text
    parameters: Mapping[str, Parameter]
    steps: tuple[Step, ...]
    escalate: Escalation
    source: Path
    sha256: str  # of the file's bytes
    also: tuple[ErrorCode, ...] = ()
    references: tuple[str, ...] = ()
    applies_to: tuple[ErrorCode, ...] = ()  # other states it may act on (NOT_YET_ACTIVATED expanded)

    @property
    def codes(self) -> tuple[ErrorCode, ...]:
        return (self.code, *self.also)

    def handles(self, found: ErrorCode) -> bool:
        """Whether a host whose detection reports `found` is one this playbook may act on."""
        return found in self.codes or found in self.applies_to

    @property
    def escalates(self) -> bool:
        """No script can fix this code: every host that is not healthy is handed to a human."""
        return self.escalate.when == "always"

    @property
    def category(self) -> str:
        info = code_info(self.code)
        return info.category if info else "other"

    def steps_in(self, phase: str) -> list[Step]:
        return [step for step in self.steps if step.phase == phase]

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def opt_ins(self) -> set[str]:
        return {step.requires_opt_in for step in self.steps if step.requires_opt_in}


# --- problems ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a playbook file."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{Location(self.file, self.line, self.field or None)}: {self.message}"


def problems_error(problems: Sequence[Problem]) -> PlaybookError:
    """One PlaybookError carrying every problem, one per line."""
    first = problems[0]
    if len(problems) == 1:
        return PlaybookError(first.message, Location(first.file, first.line, first.field or None))
    listed = "\n".join(f"  {problem}" for problem in problems)
    return PlaybookError(_("{count} problems in {file}:\n{listed}").format(
        count=len(problems), file=first.file, listed=listed))


# --- YAML with line numbers --------------------------------------------------------------------------------


@dataclass
class _Document:
    path: Path
    data: Any
    lines: dict[Path_, int]

    def line_of(self, where: Iterable[str | int]) -> int | None:
        """The line of `where`, or of its nearest enclosing field that has one."""
        key = tuple(where)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def field_name(self, where: Iterable[str | int]) -> str:
        """`steps[set-kms].params.KmsHost`: steps named by id where they have one."""
        parts: list[str] = []
        node = self.data
        for part in where:
            if isinstance(part, int):
                label: str | int = part
                item = node[part] if isinstance(node, list) and part < len(node) else None
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    label = item["id"]
                parts.append(f"[{label}]")
                node = item
            else:
                parts.append(f".{part}" if parts else str(part))
                node = node.get(part) if isinstance(node, dict) else None
        return "".join(parts)

    def problem(self, where: Path_, message: str) -> Problem:
        """A problem at `where` in this document, with its line and field name."""
        return Problem(self.path, self.line_of(where), self.field_name(where), message)


class _YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document over one of the limits (nesting, alias expansion)."""


class _LimitedYamlLoader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than YAML_DEPTH and documents larger than YAML_VALUES values
    once their aliases are expanded (a "billion laughs" is a few lines of aliases of aliases)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.values = 0  # the document's size so far, every alias counted as the size of what it names
        self.sizes: dict[int, int] = {}  # node -> its size, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:
                raise _YamlLimitError(problem=_("this alias is inside the value it names (a value holding "
                                                "itself)"),
                                      problem_mark=mark)
            self._count(size, mark)
            return node
        if self.depth >= limits.YAML_DEPTH:
            raise _YamlLimitError(problem=_("nested deeper than {YAML_DEPTH} levels (the limit)").format(
                YAML_DEPTH=limits.YAML_DEPTH),
                                  problem_mark=mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self._count(1, mark)
        children: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        self.sizes[id(node)] = 1 + sum(self.sizes.get(id(child), 1) for child in children)
        return node

    def _count(self, size: int, mark: yaml.Mark) -> None:
        self.values += size
        if self.values > limits.YAML_VALUES:
            raise _YamlLimitError(
                problem=_("the playbook grows past {YAML_VALUES:,} values here (the limit; aliases count as "
                          "many values as they name)").format(YAML_VALUES=limits.YAML_VALUES),
                problem_mark=mark,
            )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:  # a number with too many digits, a date that does not exist
            message = str(error)
            if node.tag == "tag:yaml.org,2002:int":
                message = limits.too_many_digits()
            raise yaml.constructor.ConstructorError(None, None, message, node.start_mark) from None


def _read_document(path: Path, raw: bytes) -> tuple[_Document | None, list[Problem]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [Problem(path, None, "", f"not UTF-8 text ({error.reason} at byte {error.start})")]
    try:
        loader = _LimitedYamlLoader(text)
    except yaml.reader.ReaderError as error:  # a control character the YAML reader refuses
        return None, [_reader_problem(path, text, error)]
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(path, 1, "", _("the file is empty"))]
        data = loader.construct_document(node)
    except _YamlLimitError as error:
        mark = error.problem_mark
        return None, [Problem(path, mark.line + 1 if mark else None, "", str(error.problem))]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        message = _("not valid YAML: {value}").format(value=error.problem or error)
        if "'\\t'" in message:
            message += _(" (YAML indents with spaces, never tabs: replace the tab with spaces)")
        return None, [Problem(path, line, "", message)]
    except yaml.reader.ReaderError as error:
        return None, [_reader_problem(path, text, error)]
    except yaml.YAMLError as error:
        return None, [Problem(path, None, "", _("not valid YAML: {error}").format(error=error))]
    finally:
        loader.dispose()
    problems: list[Problem] = []
    lines: dict[Path_, int] = {(): node.start_mark.line + 1}
    _record_lines(path, node, (), lines, problems)
    return _Document(path, data, lines), problems


def _reader_problem(path: Path, text: str, error: yaml.reader.ReaderError) -> Problem:
    line = text.count("\n", 0, error.position) + 1
    return Problem(path, line, "", _("not valid YAML: character {character!r} is not allowed").format(
        character=error.character))


def _record_lines(
    path: Path, node: yaml.Node, where: Path_, lines: dict[Path_, int], problems: list[Problem]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(Problem(path, line, _dotted((*where, key)), _("this field is given twice")))
            seen.add(key)
            lines.setdefault((*where, key), line)
            _record_lines(path, value_node, (*where, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*where, index)
            lines[item_path] = item.start_mark.line + 1
            _record_lines(path, item, item_path, lines, problems)


def _dotted(where: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(where))


# --- schema ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of the playbook format, shipped beside the playbooks."""
    loaded: dict[str, Any] = json.loads((resources.playbooks_dir() / SCHEMA_FILE).read_text("utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _schema_problems(doc: _Document) -> list[Problem]:
    problems: list[Problem] = []
    for error in _validator().iter_errors(doc.data):
        where: Path_ = tuple(error.absolute_path)
        if error.validator == "pattern" and error.validator_value == _CODE_PATTERN:
            continue  # the rules below say how to write the code canonically
        message = _schema_message(error)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                # The validator reports each missing field once, each time with the whole list: say it once.
                missing_field = doc.problem((*where, name), _("is required"))
                if missing_field not in problems:
                    problems.append(missing_field)
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for name in error.instance:
                if name not in allowed:
                    hint = _did_you_mean(str(name), allowed)
                    problems.append(doc.problem((*where, name), _("unknown field{hint} (known: {known})").format(
                        hint=hint, known=", ".join(allowed))))
            continue
        problems.append(doc.problem(where, message))
    return problems


_CODE_PATTERN = "^0x[0-9A-F]{8}$"


# The schema's patterns in words, for people who do not read regular expressions.
_PATTERN_WORDS = {
    "^[a-z0-9]+(-[a-z0-9]+)*$": N_("use lower-case letters and digits, words joined by - (for example set-kms)"),
    "^[a-z][a-z0-9_]*$": N_("use lower-case letters, digits and _, starting with a letter (for example kms_host)"),
    "^[A-Za-z][A-Za-z0-9]*$": N_("a PowerShell parameter name: letters and digits, starting with a letter "
                                 "(KmsHost)"),
    "^[a-z][a-z0-9]*(-[a-z0-9]+)*$": N_("use lower-case words joined by - (for example edition-conversion)"),
    "^[A-Za-z0-9][A-Za-z0-9_.-]*\\.ps1\\.j2$": N_("a template file name ending in .ps1.j2 (for example "
                                                    "kms-set.ps1.j2)"),
}


def _schema_message(error: jsonschema.ValidationError) -> str:
    value = error.instance
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "type" and isinstance(value, int) and "0x" in str(description or ""):
        return (
            _('write the error code in quotes, for example "0x{value:08X}": YAML reads an unquoted 0x... as a '
              "number").format(value=value & 0xFFFFFFFF)
        )
    if error.validator == "enum":
        choices = ", ".join(str(choice) for choice in list(error.validator_value))  # type: ignore[arg-type]
        return _("{value!r} is not one of: {choices}").format(value=value, choices=choices)
    if error.validator == "pattern":
        words = _PATTERN_WORDS.get(str(error.validator_value))
        said = description or (_(words) if words else None)
        if said:
            return _("{value!r} is not valid: {rule}").format(value=value, rule=said)
        return _("{value!r} is not valid: it must match {pattern}").format(value=value, pattern=error.validator_value)
    if error.validator in ("oneOf", "anyOf") and description:
        return _("{value!r} is not valid: {description}").format(value=value, description=description)
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " / ".join(_(_TYPE_NAMES.get(str(kind), str(kind))) for kind in kinds)
        return _("{value!r} is not {kinds}").format(value=value, kinds=names)
    return str(error.message)  # jsonschema's own words for the rarer rules


# JSON Schema's types, as `_schema_message` names them.
_TYPE_NAMES = {"object": N_("a mapping (name: value)"), "array": N_("a list"), "string": N_("text"),
               "integer": N_("a whole number"), "number": N_("a number"), "boolean": N_("true or false"),
               "null": N_("empty")}


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return _(" (did you mean {value!r}?)").format(value=close[0]) if close else ""


# --- rules the schema cannot express -----------------------------------------------------------------------

_STEP_REFERENCE = re.compile(r"""steps\s*\[\s*['"]([^'"]+)['"]\s*\]""")


def _canonical_code_problem(text: Any) -> str | None:
    if not isinstance(text, str):
        return None  # the schema reports it
    try:
        parsed = ErrorCode.parse(text)
    except UsageError as error:
        return error.message
    return None if str(parsed) == text else _('write the code in canonical form: "{parsed}"').format(parsed=parsed)


def _rule_problems(doc: _Document, template_dirs: Sequence[Path] | None) -> list[Problem]:
    data = doc.data
    if not isinstance(data, dict):
        return []
    found: list[Problem] = []

    def problem(where: Path_, message: str) -> None:
        found.append(doc.problem(where, message))

    code = data.get("code")
    code_problem = _canonical_code_problem(code)
    if code_problem:
        problem(("code",), code_problem)
    elif isinstance(code, str) and doc.path.stem != code:
        problem(("code",), _("{code} does not match the file name {name} (name it {code}.yaml)").format(
            code=code, name=doc.path.name))

    for index, entry in enumerate(data.get("applies_to") or []):
        if entry != NOT_YET_ACTIVATED:
            entry_problem = _canonical_code_problem(entry)
            if entry_problem:
                problem(("applies_to", index), f"{entry_problem} (or {NOT_YET_ACTIVATED})")

    also = data.get("also")
    if isinstance(also, list):
        for index, other in enumerate(also):
            other_problem = _canonical_code_problem(other)
            if other_problem:
                problem(("also", index), other_problem)
            elif other == code:
                problem(("also", index), _("{other} is this playbook's own code").format(other=other))

    # The schema may have found these malformed: check only what is well-formed.
    parameters = _mapping(data.get("parameters"))
    for name, spec in parameters.items():
        if isinstance(spec, dict):
            found.extend(_parameter_problems(doc, name, spec))

    escalate = _mapping(data.get("escalate"))
    for index, hresult in enumerate(_sequence(escalate.get("on_hresult"))):
        message = _canonical_code_problem(hresult)
        if message:
            problem(("escalate", "on_hresult", index), message)

    steps: list[Any] = data["steps"] if isinstance(data.get("steps"), list) else []
    seen_ids: dict[str, int] = {}
    phases_present: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        where: Path_ = ("steps", index)
        step_id = step.get("id")
        phase = step.get("phase")
        if isinstance(phase, str):
            phases_present.add(phase)
        if isinstance(step_id, str):
            if step_id in seen_ids:
                problem(
                    (*where, "id"), _("step id {step_id!r} is used twice (first at step {value})").format(
                        step_id=step_id, value=seen_ids[step_id])
                )
            seen_ids.setdefault(step_id, index)
        template = step.get("template")
        if isinstance(template, str):
            if template.startswith("_"):
                problem(
                    (*where, "template"),
                    _("{template} is a shared piece (its name starts with _), not a template").format(
                        template=template),
                )
            elif template_dirs is not None and not any((d / template).is_file() for d in template_dirs):
                searched = ", ".join(str(d) for d in template_dirs)
                problem((*where, "template"), f"template {template} not found (searched: {searched})")
        for ps_name, value in _mapping(step.get("params")).items():
            if isinstance(value, str) and value not in parameters and value not in BUILTIN_TABLES:
                known = sorted([*parameters, *BUILTIN_TABLES])
                hint = _did_you_mean(value, known)
                problem(
                    (*where, "params", ps_name),
                    _("{value!r} is not a declared parameter or a built-in table{hint} (known: {value2})").format(
                        value=value, hint=hint, value2=', '.join(known)),
                )
        retry = step.get("retry")
        if isinstance(retry, dict):
            if phase == "fix" and step.get("idempotent") is not True:
                problem((*where, "retry"), _("a fix step with retry must be declared idempotent: true"))
            for r_index, hresult in enumerate(_sequence(retry.get("on_hresult"))):
                message = _canonical_code_problem(hresult)
                if message:
                    problem((*where, "retry", "on_hresult", r_index), message)
        when = step.get("when")
        if isinstance(when, str):
            condition = _condition(when, (*where, "when"), problem)
            if condition is not None:
                for name in sorted(condition.names - set(parameters) - GLOBAL_NAMES):
                    problem((*where, "when"), _("{name!r} is not a declared parameter").format(name=name))
        only_if = step.get("only_if")
        if isinstance(only_if, str):
            condition = _condition(only_if, (*where, "only_if"), problem)
            if condition is not None:
                for name in sorted(condition.names - {"steps"} - GLOBAL_NAMES):
                    problem(
                        (*where, "only_if"),
                        _("{name!r} is not defined here: an only_if sees steps, the results of the earlier "
                          "steps").format(name=name),
                    )
            earlier = {s.get("id") for s in steps[:index] if isinstance(s, dict)}
            for referenced in _STEP_REFERENCE.findall(only_if):
                if referenced not in earlier:
                    problem(
                        (*where, "only_if"), _("refers to step {referenced!r}, which is not an earlier step").format(
                            referenced=referenced)
                    )

    for where, char in _control_characters(data, ()):
        # A YAML escape ("\e[2K") can put one there; printed, it could rewrite what a reader sees.
        problem(where, _("holds the control character U+{value:04X}: write plain text").format(value=ord(char)))

    if isinstance(data.get("steps"), list):
        if "detect" not in phases_present:
            problem(
                ("steps",), _("a playbook needs at least one detect step (it decides whether a host is healthy)")
            )
        if "fix" in phases_present and "verify" not in phases_present:
            problem(("steps",), _("a playbook with fix steps needs at least one verify step to prove the fix"))
        if escalate.get("when") == "always" and "fix" in phases_present:
            problem(("escalate", "when"), _("escalate.when is always, so the fix steps would never run"))
    return found


def _condition(expression: str, where: Path_, problem: Callable[[Path_, str], None]) -> Condition | None:
    """The parsed condition, or None after reporting why it cannot be one (the sandbox's refusals too)."""
    try:
        condition = parse_condition(expression)
    except ConditionSyntaxError as error:
        problem(where, _("not a valid condition: {message}").format(message=error.message))
        return None
    for name in condition.refused_attributes:
        problem(
            where,
            _("the attribute {name!r} is refused: a condition may not reach Python internals or change a value").format(
                name=name),
        )
    return condition


def _control_characters(node: Any, where: Path_) -> Iterator[tuple[Path_, str]]:
    """(field, character) of each text field holding a control character other than tab and line feed."""
    if isinstance(node, str):
        found = next((c for c in node if c not in "\t\n" and unicodedata.category(c) == "Cc"), None)
        if found is not None:
            yield where, found
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _control_characters(value, (*where, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _control_characters(item, (*where, index))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parameter_problems(doc: _Document, name: str, spec: dict[str, Any]) -> list[Problem]:
    from remediate.parameter_types import PARAMETER_TYPES, coerce

    problems: list[Problem] = []
    where: Path_ = ("parameters", name)
    if spec.get("required") is True and "default" in spec:
        problems.append(doc.problem((*where, "required"), _("a required parameter cannot have a default")))
    if "default" in spec and spec.get("type") == "product_key":
        problems.append(doc.problem((*where, "default"), _("a product key cannot have a default in a playbook")))
    elif "default" in spec and spec.get("type") in PARAMETER_TYPES:  # the schema reports an unknown type
        location = Location(doc.path, doc.line_of((*where, "default")), doc.field_name((*where, "default")))
        try:
            coerce(
                spec["type"],
                spec["default"],
                choices=tuple(_sequence(spec.get("choices"))),
                field=location.field or "",
                location=location,
            )
        except UsageError as error:
            problems.append(Problem(doc.path, location.line, location.field or "", error.message))
    return problems


# --- building the model ------------------------------------------------------------------------------------


def _text(raw: Mapping[str, str]) -> Text:
    return Text(en=raw["en"], ja=raw["ja"])


def _codes(raw: Iterable[str] | None) -> tuple[ErrorCode, ...]:
    return tuple(ErrorCode.parse(code) for code in raw or ())


# `applies_to: [not-yet-activated]`: what a volume or retail client reports while it is simply not activated
# yet, whatever error the last attempt gave (that error is in slmgr's output, not in LicenseStatusReason):
# SL_E_VL_MACHINE_NOT_BOUND (an unactivated KMS client's notification reason), SL_I_OOB_GRACE_PERIOD and
# SL_I_OOT_GRACE_PERIOD (the grace periods of a freshly imaged or changed host). Reference §1b, §2a.
NOT_YET_ACTIVATED = "not-yet-activated"
NOT_YET_ACTIVATED_CODES = ("0xC004F056", "0x4004F00C", "0x4004F00D")


def _applies_to(raw: Iterable[str] | None) -> tuple[ErrorCode, ...]:
    codes: list[str] = []
    for entry in raw or ():
        codes.extend(NOT_YET_ACTIVATED_CODES if entry == NOT_YET_ACTIVATED else (entry,))
    return tuple(dict.fromkeys(ErrorCode.parse(code) for code in codes))


def _build(doc: _Document, digest: str) -> Playbook:
    data = doc.data
    parameters = {
        name: Parameter(
            name=name,
            type=spec["type"],
            description=_text(spec["description"]),
            required=bool(spec.get("required", False)),
            secret=bool(spec.get("secret", False)),
            default=spec.get("default"),
            choices=tuple(spec.get("choices") or ()),
        )
        for name, spec in (data.get("parameters") or {}).items()
    }
    steps = []
    for index, raw in enumerate(data["steps"]):
        retry = raw.get("retry")
        steps.append(
            Step(
                id=raw["id"],
                phase=raw["phase"],
                template=raw["template"],
                description=_text(raw["description"]),
                line=doc.line_of(("steps", index)) or 0,
                when=raw.get("when"),
                only_if=raw.get("only_if"),
                params=dict(raw.get("params") or {}),
                idempotent=bool(raw.get("idempotent", False)),
                retry=RetryPolicy(
                    attempts=retry["attempts"],
                    delay_s=duration_seconds(retry.get("delay", 0)),
                    on_hresult=_codes(retry.get("on_hresult")),
                )
                if retry
                else None,
                timeout_s=duration_seconds(raw.get("timeout", DEFAULT_TIMEOUT_S)),
                requires_opt_in=raw.get("requires_opt_in"),
                options=dict(raw.get("options") or {}),
            )
        )
    escalate = data["escalate"]
    return Playbook(
        code=ErrorCode.parse(data["code"]),
        also=_codes(data.get("also")),
        applies_to=_applies_to(data.get("applies_to")),
        title=_text(data["title"]),
        summary=_text(data["summary"]),
        references=tuple(data.get("references") or ()),
        parameters=parameters,
        steps=tuple(steps),
        escalate=Escalation(
            when=escalate["when"],
            guidance=_text(escalate["guidance"]),
            on_hresult=_codes(escalate.get("on_hresult")),
        ),
        source=doc.path,
        sha256=digest,
    )


# The playbooks this process has checked and found sound, by file, content, template folders and YAML limits: a
# library built again (each command of a long-lived process; the tests, which run the CLI in-process hundreds of
# times) parses and checks again only a file it has not seen as it is now.
_CHECKED: dict[tuple[object, ...], Playbook] = {}
_CHECKED_AT_MOST = 512


def check_playbook_file(
    path: Path, template_dirs: Sequence[Path] | None = None
) -> tuple[Playbook | None, list[Problem]]:
    """Load one playbook file; return it (None when it has problems) and every problem found."""
    path = Path(path)
    try:
        raw = _read_limited(path)
    except OSError as error:
        return None, [Problem(path, None, "", _("cannot read the playbook: {value}").format(
            value=error.strerror or error))]
    if len(raw) > limits.PLAYBOOK_BYTES:
        line = raw.count(b"\n", 0, limits.PLAYBOOK_BYTES) + 1
        message = _("the file goes past {PLAYBOOK_BYTES:,} bytes here (the limit for a playbook)").format(
            PLAYBOOK_BYTES=limits.PLAYBOOK_BYTES)
        return None, [Problem(path, line, "", message)]
    digest = hashlib.sha256(raw).hexdigest()
    dirs = None if template_dirs is None else tuple(str(folder) for folder in template_dirs)
    key = (str(path), digest, dirs, limits.YAML_DEPTH, limits.YAML_VALUES)
    known = _CHECKED.get(key)
    if known is not None and (template_dirs is None or all(
            any((folder / step.template).is_file() for folder in template_dirs) for step in known.steps)):
        return known, []  # the same bytes, and every template still there
    doc, problems = _read_document(path, raw)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [
            *problems,
            Problem(path, doc.line_of(()), "", _("a playbook is a mapping of fields (code, title, ...)")),
        ]
    non_text_keys = list(_non_text_keys(doc.data, ()))
    if non_text_keys:
        for where in non_text_keys:
            problems.append(
                Problem(path, doc.line_of(where[:-1]), _dotted(where), _("field names must be text (quote it)"))
            )
        return None, problems
    problems.extend(_schema_problems(doc))
    problems.extend(_rule_problems(doc, template_dirs))
    if problems:
        return None, sorted(problems, key=lambda p: (p.line or 0, p.field))
    playbook = _build(doc, digest)
    if len(_CHECKED) >= _CHECKED_AT_MOST:
        _CHECKED.pop(next(iter(_CHECKED)), None)
    _CHECKED[key] = playbook
    return playbook, []


def _read_limited(path: Path) -> bytes:
    """The file's bytes, at most one past the limit; a FIFO or device is refused rather than read."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise OSError(errno.EINVAL, _("not a regular file"))
    with path.open("rb") as file:
        return file.read(limits.PLAYBOOK_BYTES + 1)


def _non_text_keys(node: Any, where: Path_) -> Iterator[Path_]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                yield (*where, str(key))
            else:
                yield from _non_text_keys(value, (*where, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _non_text_keys(item, (*where, index))


def load_playbook(path: Path, template_dirs: Sequence[Path] | None = None) -> Playbook:
    """Load and validate one playbook file; raise PlaybookError listing every problem."""
    playbook, problems = check_playbook_file(path, template_dirs)
    if playbook is None:
        raise problems_error(problems)
    return playbook


def playbook_files(path: Path) -> list[Path]:
    """The playbook files of a folder (every *.yaml / *.yml), or the file itself."""
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [path]


def template_dirs_for(playbook_dirs: Sequence[Path]) -> list[Path]:
    """Template search path, first match wins: user folders (later --playbooks first), then the shipped one.

    A user playbook folder brings its templates in a `templates/` folder inside it or beside it.
    """
    found: list[Path] = []
    for folder in reversed(playbook_dirs):
        for candidate in (folder / "templates", folder.parent / "templates"):
            if candidate.is_dir() and candidate.resolve() not in [f.resolve() for f in found]:
                found.append(candidate)
    shipped = resources.templates_dir()
    if shipped.resolve() not in [f.resolve() for f in found]:
        found.append(shipped)
    return found


# --- the library -------------------------------------------------------------------------------------------


class PlaybookLibrary:
    """The shipped playbooks plus user folders; a later folder wins for the same code."""

    def __init__(self, dirs: Sequence[Path] = (), *, include_shipped: bool = True) -> None:
        self.user_dirs = [Path(d) for d in dirs]
        for folder in self.user_dirs:
            if not folder.is_dir():
                raise PlaybookError(
                    _("playbook folder not found: {folder}").format(
                        folder=folder), Location(folder, field="--playbooks")
                )
        self.template_dirs = template_dirs_for(self.user_dirs)
        folders = ([resources.playbooks_dir()] if include_shipped else []) + self.user_dirs
        by_code: dict[ErrorCode, Playbook] = {}
        problems: list[Problem] = []
        for folder in folders:
            for path in playbook_files(folder):
                playbook, found = check_playbook_file(path, self.template_dirs)
                problems.extend(found)
                if playbook is not None:
                    by_code[playbook.code] = playbook
        self._by_code = by_code
        self._by_also: dict[ErrorCode, Playbook] = {}
        for playbook in sorted(by_code.values(), key=lambda p: p.code):
            for other in playbook.also:
                claimed = self._by_also.get(other) or by_code.get(other)
                if claimed is not None:
                    problems.append(
                        Problem(
                            playbook.source,
                            None,
                            "also",
                            _("{other} is already handled by {source}").format(other=other, source=claimed.source),
                        )
                    )
                else:
                    self._by_also[other] = playbook
        if problems:
            raise problems_error(problems)

    def all(self) -> list[Playbook]:
        return [self._by_code[code] for code in sorted(self._by_code)]

    def codes(self) -> list[ErrorCode]:
        return sorted([*self._by_code, *self._by_also])

    def find(self, code: ErrorCode) -> Playbook | None:
        return self._by_code.get(code) or self._by_also.get(code)

    def get(self, code: ErrorCode) -> Playbook:
        playbook = self.find(code)
        if playbook is not None:
            return playbook
        known = self.codes()
        near = nearest_codes(code, known)
        hint = _("did you mean {value}?").format(value=' or '.join(str(c) for c in near)) if near else None
        listed = ", ".join(str(c) for c in known) or "none"
        raise UnknownCodeError(_("no playbook for {code}; playbooks exist for: {listed}").format(
            code=code, listed=listed), hint=hint)


def check_opt_ins(library: PlaybookLibrary, allow: Iterable[str]) -> None:
    """Refuse an --allow that no step of the library needs: a mistyped opt-in would otherwise plan nothing."""
    known = sorted(set().union(*(playbook.opt_ins for playbook in library.all())))
    for opt_in in allow:
        if opt_in not in known:
            raise UsageError(
                _("--allow {opt_in}: no playbook has a step that needs it (known opt-ins: {value})").format(
                    opt_in=opt_in, value=', '.join(known) or 'none')
            )
