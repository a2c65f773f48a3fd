"""What a playbook, its templates and its conditions may cost to read and evaluate.

A playbook folder given with --playbooks may come from anyone, so everything in it is data with a budget:
file sizes, YAML nesting and alias expansion, the nesting of template syntax, and, while a template renders or
a condition is evaluated, wall-clock time, the size of each value made and of everything made in all, and the
length of the script. Going over a limit raises LimitExceeded, which the callers report as a playbook or
template error naming the file and line; it never runs the machine out of memory or time.

The size of a value is counted in characters of text and items of containers (shared parts each time they
appear), which bounds the memory a value can take, and the time it takes to turn into text.
"""

from __future__ import annotations

import re
import string
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError

from remediate.i18n import _

# Reading a playbook folder.
PLAYBOOK_BYTES = 256 * 1024  # one playbook file
TEMPLATE_BYTES = 256 * 1024  # one template file
YAML_DEPTH = 64  # lists and mappings inside each other
YAML_VALUES = 100_000  # values in a playbook once its aliases (*name) are expanded

# Templates and conditions.
SYNTAX_DEPTH = 64  # expressions and blocks inside each other
SECONDS = 2.0  # rendering one template, evaluating one condition, evaluating all conditions of a playbook
PLAYBOOK_SECONDS = 10.0  # checking one playbook: all its templates and conditions
VALUE_SIZE = 1_000_000  # characters or items in one value made while evaluating
MADE_SIZE = 10_000_000  # characters or items made in all by one rendering or evaluation
SCRIPT_CHARS = 1_000_000  # one rendered script
RANGE_ITEMS = 10_000  # range()
INTEGER_BITS = 10_000  # about 3,000 decimal digits
CALL_DEPTH = 64  # calls (macros) inside calls


class LimitExceeded(SecurityError):
    """A template or condition went over one of the limits above."""


@dataclass
class Budget:
    """What one rendering or evaluation has spent so far."""

    deadline: float
    seconds: float
    made: int = 0
    calls: int = 0

    @property
    def spent(self) -> bool:
        return time.monotonic() > self.deadline

    def tick(self) -> None:
        if self.spent:
            raise LimitExceeded(_("took longer than {seconds:g} s (the limit)").format(seconds=self.seconds))


_CURRENT: ContextVar[Budget | None] = ContextVar("remediate_budget", default=None)


@contextmanager
def budget(seconds: float | None = None) -> Iterator[Budget]:
    """Spend at most `seconds` (default SECONDS) in the block; inside an outer budget, its deadline still binds."""
    seconds = SECONDS if seconds is None else seconds
    outer = _CURRENT.get()
    deadline = time.monotonic() + seconds
    if outer is not None and outer.deadline < deadline:
        deadline, seconds = outer.deadline, outer.seconds
    current = Budget(deadline, seconds)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def tick() -> None:
    """Raise LimitExceeded when the current budget's time is spent."""
    current = _CURRENT.get()
    if current is not None:
        current.tick()


@contextmanager
def call_level() -> Iterator[None]:
    """One level of calls deeper (a macro calling itself ends here, not in a RecursionError)."""
    current = _CURRENT.get()
    if current is None:
        yield
        return
    current.calls += 1
    try:
        if current.calls > CALL_DEPTH:
            raise LimitExceeded(_("calls nested deeper than {CALL_DEPTH} levels (the limit)").format(
                CALL_DEPTH=CALL_DEPTH))
        yield
    finally:
        current.calls -= 1


def made(value: Any) -> None:
    """Count a value a template or condition made: refuse it when it, or all made so far, is too big."""
    size = size_of(value)
    check_size(size)
    current = _CURRENT.get()
    if current is not None:
        current.made += size
        if current.made > MADE_SIZE:
            raise LimitExceeded(_("made more than {MADE_SIZE:,} characters or items in all (the limit)").format(
                MADE_SIZE=MADE_SIZE))


def check_size(size: int) -> None:
    if size > VALUE_SIZE:
        raise LimitExceeded(
            _("would make a value of {size:,} characters or items (the limit is {VALUE_SIZE:,})").format(
                size=size, VALUE_SIZE=VALUE_SIZE)
        )


# --- sizes ---------------------------------------------------------------------------------------------------


def size_of(value: Any, stop: int = VALUE_SIZE) -> int:
    """Characters of text plus items of containers in `value`, counted up to a little past `stop`.

    Raises LimitExceeded for containers nested deeper than SYNTAX_DEPTH.
    """
    return _measure(value, stop)[0]


def _measure(value: Any, stop: int) -> tuple[int, int]:
    """(size, depth) of `value`, walked without recursion; the walk ends once the size passes `stop`."""
    total = _atom_size(value)
    deepest = 0
    stack: list[Iterator[Any]] = []
    children = _children(value)
    if children is not None:
        stack.append(children)
    while stack and total <= stop:
        deepest = max(deepest, len(stack))
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            continue
        total += _atom_size(item)
        nested = _children(item)
        if nested is not None:
            if len(stack) >= SYNTAX_DEPTH:
                raise LimitExceeded(_("a value nested deeper than {SYNTAX_DEPTH} levels (the limit)").format(
                    SYNTAX_DEPTH=SYNTAX_DEPTH))
            stack.append(nested)
    return total, deepest


_END = object()


def _atom_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3
    return 1


def _children(value: Any) -> Iterator[Any] | None:
    if isinstance(value, dict):
        return (part for pair in value.items() for part in pair)
    if isinstance(value, (list, tuple, set, frozenset)):
        return iter(value)
    return None


def check_integer(value: Any) -> None:
    if isinstance(value, int) and value.bit_length() > INTEGER_BITS:
        raise LimitExceeded(_("a number of more than {INTEGER_BITS:,} bits (the limit)").format(
            INTEGER_BITS=INTEGER_BITS))


def too_many_digits() -> str:
    """What to say of a number literal Python refuses to read (since 3.10.7 it limits the digits it converts)."""
    most = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return _("a number with more than {most:,} digits (the most Python reads)").format(
        most=most) if most else _("a number too long to read")


def check_range(numbers: range) -> None:
    if len(numbers) > RANGE_ITEMS:
        raise LimitExceeded(_("a range of {count:,} numbers (the limit is {RANGE_ITEMS:,})").format(
            count=len(numbers), RANGE_ITEMS=RANGE_ITEMS))


# --- what an operation would make, before it makes it --------------------------------------------------------


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def repeated_size(left: Any, right: Any) -> int:
    """The size `left * right` would have, for text or a list repeated; 0 for numbers (checked by bits)."""
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
            return size_of(sequence) * max(times, 0)
    return 0


def product_bits(left: Any, right: Any) -> int:
    if isinstance(left, int) and isinstance(right, int):
        return left.bit_length() + right.bit_length()
    return 0


def power_bits(base: Any, exponent: Any) -> int:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        return base.bit_length() * exponent
    return 0


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.DOTALL)


def percent_format_size(text: str, values: Any) -> int:
    """The size `text % values` can have: its text, each field's width and precision, and its values."""
    largest = _largest_value(values)
    total = len(text)
    for width, precision, kind in _PERCENT_FIELD.findall(text):
        if kind == "%":
            continue
        if "*" in (width, precision):
            raise LimitExceeded(_("a format taking its width from a value (*) is not allowed"))
        total += int(width or 0) + int(precision or 0) + largest
    return total


def brace_format_size(text: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """The size `text.format(*args, **kwargs)` can have (str.format's own errors are left to it)."""
    largest = max(_largest_value(list(args)), _largest_value(kwargs))
    total = len(text)
    try:
        for _literal, field, spec, _conversion in string.Formatter().parse(text):
            if field is None:
                continue
            if spec and "{" in spec:
                raise LimitExceeded(_("a format taking its width from a value ({...} inside a field) is not "
                                      "allowed"))
            total += sum(int(digits) for digits in re.findall(r"\d+", spec or "")) + largest
    except ValueError:
        pass
    return total


def _largest_value(values: Any) -> int:
    if isinstance(values, Mapping):
        values = list(values.values())
    if not isinstance(values, (list, tuple)):
        values = [values]
    return max((size_of(value) for value in values), default=0)


def replace_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and 0 <= count < found:
        found = count
    return len(text) + found * max(len(new) - len(old), 0)


def join_size(separator: Any, items: Sequence[Any]) -> int:
    return sum(size_of(item) for item in items) + size_of(separator) * max(len(items) - 1, 0)


def width_size(text: Any, width: Any) -> int:
    """center, ljust, rjust, zfill: the text padded to `width`."""
    return max(size_of(text), _number(width))


def indent_size(text: Any, width: Any) -> int:
    lines = text.count("\n") + 1 if isinstance(text, str) else 1
    each = len(width) if isinstance(width, str) else _number(width)
    return size_of(text) + lines * each


def wrap_size(text: Any, width: Any, wrapstring: Any) -> int:
    length = size_of(text)
    each = len(wrapstring) if isinstance(wrapstring, str) else 1
    return length + (length // max(_number(width), 1) + 1) * each


def json_size(value: Any, indent: Any) -> int:
    """tojson: up to six characters for each one (\\uXXXX), and the indent at every level on every line."""
    each = len(indent) if isinstance(indent, str) else _number(indent)
    size, depth = _measure(value, VALUE_SIZE)
    return size * (6 + each * depth)
