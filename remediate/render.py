"""Playbook + Hosts + values -> Plan, each step's script rendered through the one Jinja configuration.

Pure: reads templates, never connects. Templates see only `options` (the step's structural choices) and `step`
(id and phase); values reach PowerShell as parameters bound by name, so no value can change a script's text.
Every rendered script is parsed with tree-sitter-powershell; a template that does not render or parse raises
TemplateError while the Plan is built, before any connection.
"""

from __future__ import annotations

import hashlib
import itertools
import traceback
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

from remediate import expressions, limits
from remediate.codes import ErrorCode
from remediate.errors import Location, PlaybookError, TemplateError, UsageError
from remediate.parameter_types import display_value
from remediate.plan import HostPlan, Plan, PlannedStep, SkippedStep
from remediate.playbook import (
    READ_ONLY_PHASES,
    Parameter,
    Playbook,
    PlaybookLibrary,
    Problem,
    Step,
    problems_error,
)
from remediate.powershell_syntax import changing_commands, declared_parameters, syntax_problems
from remediate.productkey import ProductKey
from remediate.results import StepResult

if TYPE_CHECKING:
    from remediate.inventory import Host
    from remediate.values import RunValues

GVLK_FILE = Path(__file__).resolve().parent / "data" / "gvlk.yaml"


# --- built-in tables ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinTable:
    """A value any step can pass by name (`params: {GvlkTable: gvlk_by_edition}`), shown summarized."""

    value: Mapping[str, Any]
    display: str


@lru_cache(maxsize=1)
def gvlk_by_edition() -> BuiltinTable:
    """The public KMS client setup keys (GVLKs), edition -> key, as one PowerShell hashtable parameter."""
    try:
        loaded = yaml.safe_load(GVLK_FILE.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read the GVLK table {GVLK_FILE}: {error}") from error
    if not isinstance(loaded, dict) or not loaded:
        raise UsageError(f"the GVLK table {GVLK_FILE} is not a mapping of edition to key")
    table = {str(edition): key for edition, key in loaded.items()}
    return BuiltinTable(value=table, display=f"<GVLK table: {len(table)} editions>")


BUILTIN_TABLES = {"gvlk_by_edition": gvlk_by_edition}


# Which PowerShell parameter types take which playbook parameter types.
_ACCEPTS = {
    "string": {"hostname", "fqdn", "product_key", "enum", "string"},
    "int": {"port", "int"},
    "bool": {"bool"},
    "hashtable": {"table"},
}


# At most this many bad parameter values are listed in one error.
MAX_LISTED_PROBLEMS = 20

# Render-time conditions are checked for every combination of at most this many parameters given or not.
MAX_CONDITION_PARAMETERS = 8
SAMPLE_RESULT = StepResult(ok=True, license_status=1)  # what an earlier step gives an only_if, when checked
_SAMPLE_KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"  # Microsoft's published KMS client key (GVLK), Windows Pro


def sample_value(parameter: Parameter) -> Any:
    """A typical value of a parameter's type, to try its conditions with."""
    samples: dict[str, Any] = {
        "hostname": "kms01",
        "fqdn": "kms01.example.com",
        "port": 1688,
        "int": 1,
        "bool": True,
        "string": "text",
        "enum": parameter.choices[0] if parameter.choices else "choice",
    }
    if parameter.type == "product_key":
        return ProductKey.parse(_SAMPLE_KEY)
    return samples.get(parameter.type, "text")


# --- the renderer ------------------------------------------------------------------------------------------


class Renderer:
    """Renders step scripts through the one environment, each (template, options, step) once."""

    def __init__(self, template_dirs: Sequence[Path]) -> None:
        self.template_dirs = list(template_dirs)
        self.environment = expressions.template_environment(self.template_dirs)
        self._scripts: dict[tuple[Any, ...], str] = {}

    @classmethod
    def for_library(cls, library: PlaybookLibrary) -> Renderer:
        return cls(library.template_dirs)

    def script(self, playbook: Playbook, step: Step) -> str:
        """The exact PowerShell text of `step`; raises TemplateError (template, line, playbook step)."""
        key = (step.template, tuple(sorted(step.options.items())), step.id, step.phase)
        cached = self._scripts.get(key)
        if cached is not None:
            return cached
        where = f"playbook {playbook.source.name} step {step.id}"
        try:
            template = self.environment.get_template(step.template)
            script = expressions.render(template, options=dict(step.options), step={"id": step.id, "phase": step.phase})
        except jinja2.TemplateNotFound as error:
            searched = ", ".join(map(str, self.template_dirs))
            if error.name != step.template:  # an {% include %} or {% import %} inside the template
                file, line = _template_frame(error, step.template)
                raise TemplateError(
                    f"template {error.name} not found (searched: {searched}) ({where})", Location(file, line)
                ) from None
            raise TemplateError(
                f"template {error.name} not found (searched: {searched})",
                Location(playbook.source, step.line, f"steps[{step.id}].template"),
            ) from None
        except UnicodeDecodeError as error:
            read = _file_being_read(error) or self._template_path(step.template)
            line = error.object[: error.start].count(b"\n") + 1
            raise TemplateError(
                f"not UTF-8 text (byte 0x{error.object[error.start]:02X}): save the template as UTF-8 ({where})",
                Location(read, line),
            ) from None
        except OSError as error:
            read = _file_being_read(error) or self._template_path(step.template)
            raise TemplateError(f"cannot read the template: {error.strerror or error} ({where})",
                                Location(read)) from None
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(
                f"{error.message} ({where})", Location(error.filename or step.template, error.lineno)
            ) from None
        except jinja2.TemplateError as error:
            file, line = _template_frame(error, step.template)
            raise TemplateError(f"{error.message or error} ({where})", Location(file, line)) from None
        hidden = _control_character(script)
        if hidden is not None:
            line, column, char = hidden
            raise TemplateError(
                f"the rendered script holds the control character U+{ord(char):04X} at line {line}, column "
                f"{column}: it could hide text from whoever reads the dry run ({where})",
                Location(self._template_path(step.template)),
            )
        problems = syntax_problems(script)
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise TemplateError(
                f"the rendered script does not parse as PowerShell: {listed} ({where})",
                Location(self._template_path(step.template)),
            )
        self._scripts[key] = script
        return script

    def _template_path(self, name: str) -> Path | str:
        for folder in self.template_dirs:
            if (folder / name).is_file():
                return folder / name
        return name

    def problems(self, playbook: Playbook) -> list[Problem]:
        """Every template problem: render, parse, `param()` against the step's `params`, read-only phases.

        All of one playbook is checked within PLAYBOOK_SECONDS, so many slow templates cannot add up.
        """
        with limits.budget(limits.PLAYBOOK_SECONDS) as budget:
            return self._problems(playbook, budget)

    def _problems(self, playbook: Playbook, budget: limits.Budget) -> list[Problem]:
        found: list[Problem] = []
        for step in playbook.steps:

            def problem(field: str, message: str, step: Step = step) -> None:
                found.append(Problem(playbook.source, step.line, f"steps[{step.id}].{field}", message))

            try:
                script = self.script(playbook, step)
            except TemplateError as error:
                # A location in the playbook itself is this problem's own: say it once.
                in_playbook = error.location is not None and error.location.file == playbook.source
                problem("template", error.message if in_playbook else str(error))
                if budget.spent:
                    return found  # every later step would be out of time too
                continue
            declared = declared_parameters(script)
            if declared is None:
                problem("template", f"{step.template} renders no param(...) block at the top of the script")
                continue
            by_name = {p.name.lower(): p for p in declared}
            for ps_name, source in step.params.items():
                script_parameter = by_name.get(ps_name.lower())
                if script_parameter is None:
                    names = ", ".join(p.name for p in declared) or "none"
                    problem(
                        f"params.{ps_name}",
                        f"{step.template} declares no parameter ${ps_name} (it declares: {names})",
                    )
                    continue
                kind = "table" if source in BUILTIN_TABLES else playbook.parameters[source].type
                accepted = _ACCEPTS.get(script_parameter.type or "")
                if accepted is not None and kind not in accepted:
                    problem(
                        f"params.{ps_name}",
                        f"${script_parameter.name} is [{script_parameter.type}] in {step.template} "
                        f"but {source} is a {kind}",
                    )
            passed = {name.lower() for name in step.params}
            for script_parameter in declared:
                if not script_parameter.has_default and script_parameter.name.lower() not in passed:
                    problem(
                        "params",
                        f"{step.template} declares ${script_parameter.name} without a default, "
                        f"but the step does not pass it",
                    )
            if step.phase in READ_ONLY_PHASES:
                for line, command in changing_commands(script):
                    problem(
                        "phase",
                        f"a {step.phase} step must only read, but {step.template} changes the host "
                        f"(script line {line}: {command})",
                    )
        found.extend(self.condition_problems(playbook))
        return found

    def condition_problems(self, playbook: Playbook) -> list[Problem]:
        """Evaluate every condition within one time budget, as a run would.

        Each `when` for each combination of its parameters given or not (sample values); each `only_if` over
        sample results of the earlier steps, where only what the sandbox and the limits refuse is a problem (the
        real results are known only at run time).
        """
        conditional = [step for step in playbook.steps if step.when]
        names = sorted({name for step in conditional for name in expressions.condition_names(step.when or "")})
        names = [name for name in names if name in playbook.parameters][:MAX_CONDITION_PARAMETERS]
        found: dict[tuple[str, str], Problem] = {}

        def problem(step: Step, field: str, expression: str, error: Exception) -> None:
            where = f"steps[{step.id}].{field}"
            found.setdefault((step.id, field), Problem(playbook.source, step.line, where, _cannot(expression, error)))

        with limits.budget() as budget:
            for given in itertools.product((False, True), repeat=len(names)):
                # Not given: the playbook's default applies (or nothing); given: a typical value of its type.
                values: dict[str, Any] = {name: p.default for name, p in playbook.parameters.items()}
                for name, is_given in zip(names, given, strict=True):
                    if is_given:
                        values[name] = sample_value(playbook.parameters[name])
                for step in conditional:
                    try:
                        expressions.when_holds(step.when or "", values)
                    except expressions.EVALUATION_ERRORS as error:
                        problem(step, "when", step.when or "", error)
                        if budget.spent:
                            return list(found.values())
            results: dict[str, StepResult] = {}
            for step in playbook.steps:
                if step.only_if:
                    try:
                        expressions.evaluate_condition(step.only_if, results)
                    except jinja2.exceptions.SecurityError as error:  # the limits are among these
                        problem(step, "only_if", step.only_if, error)
                        if budget.spent:
                            break
                    except expressions.EVALUATION_ERRORS:
                        pass  # the sample results lack what the real ones hold
                results[step.id] = SAMPLE_RESULT
        return list(found.values())

    def when_holds(self, playbook: Playbook, step: Step, values: Mapping[str, Any]) -> bool:
        """Evaluate a step's render-time `when` over the host's parameter values."""
        if step.when is None:
            return True
        try:
            return expressions.when_holds(step.when, values)
        except expressions.EVALUATION_ERRORS as error:
            raise PlaybookError(
                _cannot(step.when, error), Location(playbook.source, step.line, f"steps[{step.id}].when")
            ) from None


def _cannot(expression: str, error: Exception) -> str:
    return f"cannot evaluate the condition {expression!r}: {error}"


def _control_character(script: str) -> tuple[int, int, str] | None:
    """(line, column, character) of the first control character other than tab and line feed, if any.

    An escape sequence in a script (in a comment, say) can move the cursor and erase lines of the preview a
    change board approves; the script sent would not be the script they read.
    """
    for number, line in enumerate(script.split("\n"), 1):
        for column, char in enumerate(line, 1):
            if char != "\t" and unicodedata.category(char) == "Cc":
                return number, column, char
    return None


def _file_being_read(error: BaseException) -> str | None:
    """The template file Jinja's loader was reading when `error` happened (it may be an included one)."""
    trace = error.__traceback__
    found = None
    while trace is not None:
        if trace.tb_frame.f_code.co_name == "get_source":
            filename = trace.tb_frame.f_locals.get("filename")
            found = filename if isinstance(filename, str) else found
        trace = trace.tb_next
    return found


def _template_frame(error: BaseException, fallback: str) -> tuple[str, int | None]:
    """The template file and line a Jinja runtime error happened at (Jinja rewrites its traceback)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".j2"):
            return frame.filename, frame.lineno
    return fallback, None


# --- the plan ----------------------------------------------------------------------------------------------


def check_templates(playbook: Playbook, renderer: Renderer) -> None:
    """Raise TemplateError for a template that does not render or parse, PlaybookError for the rest."""
    with limits.budget(limits.PLAYBOOK_SECONDS):
        for step in playbook.steps:
            renderer.script(playbook, step)
        problems = renderer.problems(playbook)
    if problems:
        raise problems_error(problems)


def plan_host(
    playbook: Playbook,
    host: Host,
    label: str,
    values: Mapping[str, Any],
    renderer: Renderer,
    allow: frozenset[str] = frozenset(),
) -> HostPlan:
    """One host's plan from its resolved parameter values (playbook parameter name -> typed value)."""
    scope = {name: values.get(name) for name in playbook.parameters}
    planned: list[PlannedStep] = []
    skipped: list[SkippedStep] = []
    for step in playbook.steps:
        if step.requires_opt_in and step.requires_opt_in not in allow:
            skipped.append(
                SkippedStep(step.id, step.phase, "opt-in", f"needs --allow {step.requires_opt_in}")
            )
            continue
        if not renderer.when_holds(playbook, step, scope):
            skipped.append(
                SkippedStep(step.id, step.phase, "when", f"its condition is false: when {step.when}")
            )
            continue
        script = renderer.script(playbook, step)
        raw: dict[str, Any] = {}
        shown: dict[str, str] = {}
        for ps_name, source in step.params.items():
            if source in BUILTIN_TABLES:
                table = BUILTIN_TABLES[source]()
                raw[ps_name], shown[ps_name] = dict(table.value), table.display
                continue
            value = scope.get(source)
            if value is None:
                continue  # not given: the script's own default (or $null) applies
            parameter = playbook.parameters[source]
            raw[ps_name] = value
            # A product key shows its last five characters; any other secret shows nothing.
            secret = parameter.is_secret and not isinstance(value, ProductKey)
            shown[ps_name] = display_value(parameter.type, value, secret)
        planned.append(
            PlannedStep(
                id=step.id,
                phase=step.phase,
                template=step.template,
                description=step.description,
                script=script,
                script_sha256=hashlib.sha256(script.encode("utf-8")).hexdigest(),
                parameters=raw,
                display_parameters=shown,
                only_if=step.only_if,
                retry=step.retry,
                idempotent=step.idempotent,
                timeout_s=step.timeout_s,
            )
        )
    return HostPlan(host=host, label=label, playbook=playbook, steps=tuple(planned), skipped=tuple(skipped))


def build_plan(
    playbook: Playbook,
    hosts: Sequence[Host],
    run: RunValues,
    renderer: Renderer,
    *,
    code: ErrorCode | None = None,
    allow: Iterable[str] = (),
) -> Plan:
    """Render every step for every host. Template problems surface here, before any connection."""
    from remediate.values import resolve

    check_templates(playbook, renderer)
    allowed = frozenset(allow)
    host_plans = []
    problems: list[UsageError] = []
    for host in hosts:
        try:
            values = resolve(playbook.parameters, host, run)
        except UsageError as error:  # every host's bad values at once, not one per attempt
            if str(error) not in map(str, problems):
                problems.append(error)
            continue
        host_plans.append(plan_host(playbook, host, host.label, values, renderer, allowed))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        listed += f"\n  ... and {more} more" if more > 0 else ""
        raise UsageError(f"{len(problems)} problems with parameter values:\n{listed}")
    return Plan(code=code or playbook.code, playbook=playbook, hosts=tuple(host_plans), allow=allowed)
