"""The one sandboxed Jinja configuration: step templates, render-time `when`, run-time `only_if`.

Every environment is an ImmutableSandboxedEnvironment with StrictUndefined and the same settings, so a
template or a condition cannot reach outside the values it is given, and a misspelt name is an error rather
than an empty value. Conditions are compiled once per expression text and shared by every host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from jinja2.environment import TemplateExpression

    from remediate.results import StepResult

# Strict, no escaping (the output is PowerShell, not HTML), block tags take their own line away.
SETTINGS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "keep_trailing_newline": True,
    "autoescape": False,
    "trim_blocks": True,
    "lstrip_blocks": True,
}

# What evaluating a condition over user values can raise besides Jinja's own errors.
EVALUATION_ERRORS: tuple[type[Exception], ...] = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    LookupError,
)


def template_environment(template_dirs: Sequence[Path]) -> jinja2.Environment:
    """The environment step templates render in, reading them from `template_dirs` (first match wins)."""
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]), **SETTINGS
    )


_CONDITIONS = ImmutableSandboxedEnvironment(**SETTINGS)


class ConditionSyntaxError(Exception):
    """A `when` or `only_if` that does not parse; `message` speaks of the condition."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=1024)
def parse_condition(expression: str) -> frozenset[str]:
    """The free names of a condition; raises ConditionSyntaxError when it does not parse."""
    try:
        # Checked on its own first: its messages speak of the condition, not of the wrapping below.
        _CONDITIONS.compile_expression(expression)
    except jinja2.TemplateSyntaxError as error:
        raise ConditionSyntaxError((error.message or "").replace("end of template", "end of the condition")) from None
    try:
        tree = _CONDITIONS.parse("{{ (" + expression + ") }}")
    except jinja2.TemplateSyntaxError as error:
        raise ConditionSyntaxError(str(error.message)) from None
    return frozenset(jinja2.meta.find_undeclared_variables(tree))


def condition_names(expression: str) -> frozenset[str]:
    """The names a condition uses (empty when it does not parse)."""
    try:
        return parse_condition(expression)
    except ConditionSyntaxError:
        return frozenset()


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> TemplateExpression:
    return _CONDITIONS.compile_expression(expression, undefined_to_none=False)


def when_holds(expression: str, values: Mapping[str, Any]) -> bool:
    """A render-time `when` over a host's parameter values; raises one of EVALUATION_ERRORS."""
    return bool(_compiled(expression)(**values))


def evaluate_condition(expression: str, results: Mapping[str, StepResult]) -> bool:
    """A run-time `only_if` over the earlier steps' results. Raises when it cannot be evaluated."""
    steps = {step_id: result.to_dict() for step_id, result in results.items()}
    value = _compiled(expression)(steps=steps)
    if isinstance(value, jinja2.Undefined):  # StrictUndefined raises on use; be explicit about the result
        raise jinja2.UndefinedError(f"{expression!r} is undefined")
    return bool(value)
