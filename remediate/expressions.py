"""The one sandboxed Jinja configuration: step templates, render-time `when`, run-time `only_if`.

Every environment is an ImmutableSandboxedEnvironment with StrictUndefined and the same settings, so a
template or a condition cannot reach outside the values it is given, and a misspelt name is an error rather
than an empty value. Conditions are compiled once per expression text and shared by every host.

Templates and conditions may come from a hostile --playbooks folder, so the environment also keeps them within
the limits of `limits.py`: syntax nested too deeply is refused when compiled; while one renders or evaluates,
the sandbox's hooks (calls, attribute lookups, the operators *, **, % and +, every filter) and guards compiled
into loops, output, `~` and assignments check the time spent and the size of what each step would make,
before making it. Whatever goes wrong evaluating one is a jinja2.TemplateError.
"""

from __future__ import annotations

import functools
import os
import posixpath
import types
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import jinja2
from jinja2 import nodes
from jinja2.loaders import split_template_path
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from remediate import limits
from remediate.limits import LimitExceeded

if TYPE_CHECKING:
    from jinja2.environment import TemplateExpression
    from jinja2.runtime import Context

    from remediate.results import StepResult

# Strict, no escaping (the output is PowerShell, not HTML), block tags take their own line away.
SETTINGS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "keep_trailing_newline": True,
    "autoescape": False,
    "trim_blocks": True,
    "lstrip_blocks": True,
}

# What evaluating a condition can raise: every failure is turned into one of Jinja's errors.
EVALUATION_ERRORS: tuple[type[Exception], ...] = (jinja2.TemplateError,)

# Text methods that could make text far larger than their input, or bytes with methods of their own.
_REFUSED_TEXT_METHODS = frozenset({"encode", "expandtabs", "maketrans", "translate"})

# Methods that look a value up in a container rather than make one.
_LOOKUPS = frozenset({"get", "keys", "values", "items", "index", "count", "copy"})


def _range(*args: int) -> range:
    numbers = range(*args)
    limits.check_range(numbers)
    return numbers


# --- guards compiled into every template and condition -----------------------------------------------------

_ITERATION = "remediate:iteration"
_OUTPUT = "remediate:output"
_VALUE = "remediate:value"


@pass_context  # passing the context keeps Jinja from running a guard at compile time
def _guard_iteration(context: Context, iterable: Any) -> Iterator[Any]:
    limits.tick()
    for item in iterable:
        limits.tick()
        yield item


@pass_context
def _guard_output(context: Context, value: Any) -> str:
    limits.check_size(limits.size_of(value))
    text = str(value)
    limits.made(text)
    return text


@pass_context
def _guard_value(context: Context, value: Any) -> Any:
    limits.made(value)
    return value


class _Guards(NodeTransformer):
    """Put the guards into a template's syntax tree: every loop, output, `~` and assignment."""

    def __init__(self, environment: jinja2.Environment) -> None:
        self.environment = environment

    def guard(self, node: Any, name: str, line: int | None = None) -> nodes.Filter:
        guarded = nodes.Filter(node, name, [], [], None, None, lineno=line or node.lineno)
        guarded.set_environment(self.environment)
        return guarded

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self.guard(node.iter, _ITERATION)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self.guard(child, _OUTPUT) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self.guard(child, _VALUE) for child in node.nodes]
        return self.guard(node, _VALUE)

    def visit_Assign(self, node: nodes.Assign) -> nodes.Node:
        self.generic_visit(node)
        node.node = self.guard(node.node, _VALUE)
        return node

    def visit_With(self, node: nodes.With) -> nodes.Node:
        self.generic_visit(node)
        node.values = [self.guard(value, _VALUE) for value in node.values]
        return node

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        # A filter over no node applies to the block's text.
        node.filter = self.guard(node.filter, _VALUE, node.lineno)
        return node


def _too_deep(tree: nodes.Node) -> int | None:
    """The line of a node nested deeper than SYNTAX_DEPTH, if any (walked without recursion)."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.SYNTAX_DEPTH:
            return int(getattr(node, "lineno", 0) or 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def _nested_too_deeply() -> str:
    return f"nested deeper than {limits.SYNTAX_DEPTH} levels (the limit)"


# --- filters with their costs checked --------------------------------------------------------------------------


def _list(value: Any) -> Any:
    """`value` as a list when it is only an iterator, so its size can be known before it is used."""
    if isinstance(value, (str, list, tuple, dict, set, frozenset, jinja2.Undefined)):
        return value
    try:
        return list(value)
    except TypeError:
        return value


_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80: limits.width_size(value, width),
    "indent": lambda s, width=4, *_, **__: limits.indent_size(s, width),
    "wordwrap": lambda s, width=79, _long=True, wrapstring=None, *__, **___: limits.wrap_size(s, width, wrapstring),
    "replace": lambda s, old, new, count=None: (
        limits.replace_size(s, old, new, -1 if count is None else count) if isinstance(s, str) else 0
    ),
    "format": lambda value, *args, **kwargs: (
        limits.percent_format_size(value, kwargs or args) if isinstance(value, str) else 0
    ),
    "join": lambda value, d="", attribute=None: limits.join_size(d, value) if isinstance(value, list) else 0,
    "sum": lambda iterable, attribute=None, start=0: limits.size_of(iterable) + limits.size_of(start),
    "batch": lambda value, linecount, fill_with=None: limits.size_of(value) + max(linecount, 0),
    "slice": lambda value, slices, fill_with=None: limits.size_of(value) + max(slices, 0),
    "tojson": lambda value, indent=None: limits.json_size(value, indent),
}
_MATERIALIZED = frozenset({"join", "sum"})


def _limited_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` checking the time, the value it is given, what it would make, and what it made."""
    size = _FILTER_SIZES.get(name)
    passed = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # context, eval context, environment

    @functools.wraps(function)  # keeps jinja_pass_arg
    def limited(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        if len(args) > passed:
            if name in _MATERIALIZED:
                args = (*args[:passed], _list(args[passed]), *args[passed + 1 :])
            limits.check_size(limits.size_of(args[passed]))
        if size is not None:
            try:
                estimate = size(*args[passed:], **kwargs)
            except TypeError:  # arguments the filter itself will refuse, in its own words
                estimate = 0
            limits.check_size(estimate)
        result = function(*args, **kwargs)
        if not any(result is given for given in args[passed:]):
            limits.made(result)
        return result

    return limited


# --- the environment -------------------------------------------------------------------------------------------


class _LimitedTemplateLoader(jinja2.FileSystemLoader):
    """Refuses a template file larger than TEMPLATE_BYTES before reading it."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)
        for folder in self.searchpath:
            filename = posixpath.join(folder, *pieces)
            if os.path.isfile(filename):
                size = os.path.getsize(filename)
                if size > limits.TEMPLATE_BYTES:
                    with open(filename, "rb") as file:
                        line = file.read(limits.TEMPLATE_BYTES).count(b"\n") + 1
                    raise jinja2.TemplateSyntaxError(
                        f"the template is {size:,} bytes; a template may be at most {limits.TEMPLATE_BYTES:,}",
                        line,
                        template,
                        os.path.normpath(filename),
                    )
                break
        return super().get_source(environment, template)


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with the limits of `limits.py` checked from inside its hooks."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, loader: jinja2.BaseLoader | None = None) -> None:
        # Not optimized: Jinja's optimizer would evaluate constant parts while compiling, outside every limit.
        super().__init__(loader=loader, optimized=False, **SETTINGS)
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # text generated in a loop no hook can stop
        self.filters = {name: _limited_filter(name, function) for name, function in self.filters.items()}
        self.filters.update({_ITERATION: _guard_iteration, _OUTPUT: _guard_output, _VALUE: _guard_value})

    # compiling

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        parser = Parser(self, source, name, filename)
        try:
            return parser.parse()
        except RecursionError:
            message = _nested_too_deeply()
        except ValueError:  # a number literal Python will not read
            message = limits.too_many_digits()
        raise jinja2.TemplateSyntaxError(message, parser.stream.current.lineno, name, filename)

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> TemplateExpression:
        try:
            return super().compile_expression(source, undefined_to_none)
        except RecursionError:
            raise jinja2.TemplateSyntaxError(_nested_too_deeply(), 1) from None
        except ValueError:
            raise jinja2.TemplateSyntaxError(limits.too_many_digits(), 1) from None

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        line = _too_deep(source)
        if line is not None:
            raise jinja2.TemplateSyntaxError(_nested_too_deeply(), line, name, filename)
        _Guards(self).visit(source)
        return super()._generate(source, name, filename, defer_init)

    # evaluating

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _REFUSED_TEXT_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        limits.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        limits.tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        if operator == "*":
            limits.check_size(limits.repeated_size(left, right))
            if limits.product_bits(left, right) > limits.INTEGER_BITS:
                raise LimitExceeded(f"a number of more than {limits.INTEGER_BITS:,} bits (the limit)")
        elif operator == "**" and limits.power_bits(left, right) > limits.INTEGER_BITS:
            raise LimitExceeded(f"a number of more than {limits.INTEGER_BITS:,} bits (the limit)")
        elif operator == "%" and isinstance(left, str):
            limits.check_size(limits.percent_format_size(left, right))
        elif operator == "+" and not isinstance(left, (int, float)):
            limits.check_size(limits.size_of(left) + limits.size_of(right))
        result = super().call_binop(context, operator, left, right)
        limits.check_integer(result)
        limits.made(result)
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        limits.tick()
        if not self.is_safe_callable(obj):
            raise jinja2.exceptions.SecurityError(f"{obj!r} is not safely callable")
        receiver = getattr(obj, "__self__", None) if isinstance(obj, types.BuiltinMethodType) else None
        if isinstance(receiver, str) and obj.__name__ == "join" and args:
            args = (_list(args[0]), *args[1:])
        limits.check_size(_call_size(obj, receiver, args, kwargs))
        with limits.call_level():
            result = context.call(obj, *args, **kwargs)
        looked_up = isinstance(receiver, (dict, list, tuple)) and obj.__name__ in _LOOKUPS
        if not looked_up and result is not receiver and not any(result is given for given in args):
            limits.made(result)
        return result


def _call_size(obj: Any, receiver: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """The size of what calling a text method would make (0 for other calls: their results are checked)."""
    if isinstance(obj, types.FunctionType):  # str.format, wrapped by the sandbox when it was looked up
        wrapped = getattr(obj, "__wrapped__", None)
        text = getattr(wrapped, "__self__", None)
        if isinstance(text, str) and obj.__name__ == "format":
            return limits.brace_format_size(text, args, kwargs)
        if isinstance(text, str) and obj.__name__ == "format_map" and args and isinstance(args[0], Mapping):
            return limits.brace_format_size(text, (), args[0])
        return 0
    if not isinstance(receiver, str) or not args:
        return 0
    name = obj.__name__
    if name in ("center", "ljust", "rjust", "zfill"):
        return limits.width_size(receiver, args[0])
    if name == "replace":
        return limits.replace_size(receiver, *args[:3])
    if name == "join" and isinstance(args[0], list):
        return limits.join_size(receiver, args[0])
    return 0


def _failure(error: BaseException) -> jinja2.TemplateError:
    """A failure evaluating user text as one of Jinja's errors, keeping where in the template it happened."""
    if isinstance(error, jinja2.TemplateError):
        return error
    if isinstance(error, RecursionError):
        message = "nested too deeply (a template including or calling itself?)"
    elif isinstance(error, MemoryError):
        message = "ran out of memory"
    else:
        message = str(error) or type(error).__name__
    return LimitExceeded(message) if isinstance(error, (RecursionError, MemoryError)) else EvaluationError(message)


class EvaluationError(jinja2.TemplateRuntimeError):
    """A Python error (a division by zero, a wrong type) raised evaluating a template or condition."""


# --- templates -------------------------------------------------------------------------------------------------


def template_environment(template_dirs: Sequence[Path]) -> jinja2.Environment:
    """The environment step templates render in, reading them from `template_dirs` (first match wins)."""
    return LimitedEnvironment(loader=_LimitedTemplateLoader([str(d) for d in template_dirs]))


def render(template: jinja2.Template, **values: Any) -> str:
    """`template` rendered within the limits; raises a jinja2.TemplateError for any failure."""
    pieces: list[str] = []
    length = 0
    with limits.budget():
        stream = cast("Generator[str, None, None]", template.generate(**values))
        try:
            for piece in stream:
                length += len(piece)
                if length > limits.SCRIPT_CHARS:
                    # Raised inside the template, so the error names the line that wrote past the limit.
                    stream.throw(
                        LimitExceeded(f"the script is longer than {limits.SCRIPT_CHARS:,} characters (the limit)")
                    )
                pieces.append(piece)
        except (UnicodeDecodeError, OSError):
            raise  # an included template that cannot be read: the caller names the file
        except Exception as error:
            raise _failure(error).with_traceback(error.__traceback__) from None
    return "".join(pieces)


# --- conditions ------------------------------------------------------------------------------------------------

_CONDITIONS = LimitedEnvironment()

# Names a condition may use that it is not given: range, dict, namespace, ...
GLOBAL_NAMES = frozenset(_CONDITIONS.globals)


class ConditionSyntaxError(Exception):
    """A `when` or `only_if` that does not parse; `message` speaks of the condition."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Condition:
    """What can be known of a condition without evaluating it."""

    names: frozenset[str]  # the free names it uses (globals such as range among them)
    refused_attributes: tuple[str, ...]  # attributes the sandbox refuses on the values conditions see


@lru_cache(maxsize=1024)
def parse_condition(expression: str) -> Condition:
    """The names and refused attributes of a condition; raises ConditionSyntaxError when it does not compile."""
    try:
        # Checked on its own first: its messages speak of the condition, not of the wrapping below.
        _compiled(expression)
        tree = _CONDITIONS.parse("{{ (" + expression + ") }}")
    except jinja2.TemplateSyntaxError as error:
        raise ConditionSyntaxError((error.message or "").replace("end of template", "end of the condition")) from None
    # An expression assigns nothing, so every name it loads is free (jinja2.meta would run the optimizer).
    names = frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")
    refused = [node.attr for node in tree.find_all(nodes.Getattr) if _refused_attribute(node.attr)]
    return Condition(names, tuple(dict.fromkeys(refused)))


def condition_names(expression: str) -> frozenset[str]:
    """The names a condition uses (empty when it does not parse)."""
    try:
        return parse_condition(expression).names
    except ConditionSyntaxError:
        return frozenset()


# The kinds of value a condition sees: parameter values, and earlier steps' results (JSON).
_SAMPLES: tuple[Any, ...] = ({}, [], (), "", 0, 0.5, True, None)


@lru_cache(maxsize=256)
def _refused_attribute(name: str) -> bool:
    """Whether the sandbox refuses `.name` on a value a condition sees (a key of that name would not help)."""
    for sample in _SAMPLES:
        try:
            value = getattr(sample, name)
        except AttributeError:
            continue
        if not _CONDITIONS.is_safe_attribute(sample, name, value):
            return True
    return False


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> TemplateExpression:
    return _CONDITIONS.compile_expression(expression, undefined_to_none=False)


def _evaluate(expression: str, values: Mapping[str, Any]) -> Any:
    try:
        with limits.budget():
            return _compiled(expression)(**values)
    except Exception as error:
        raise _failure(error).with_traceback(error.__traceback__) from None


def when_holds(expression: str, values: Mapping[str, Any]) -> bool:
    """A render-time `when` over a host's parameter values; raises one of EVALUATION_ERRORS."""
    value = _evaluate(expression, values)
    try:
        return bool(value)
    except Exception as error:
        raise _failure(error) from None


def evaluate_condition(expression: str, results: Mapping[str, StepResult]) -> bool:
    """A run-time `only_if` over the earlier steps' results. Raises one of EVALUATION_ERRORS."""
    steps = {step_id: result.to_dict() for step_id, result in results.items()}
    value = _evaluate(expression, {"steps": steps})
    try:
        holds = bool(value)  # an undefined value raises its own error here: undefined, or refused by the sandbox
    except Exception as error:
        raise _failure(error) from None
    if isinstance(value, jinja2.Undefined):
        raise jinja2.UndefinedError(f"{expression!r} is undefined")
    return holds
