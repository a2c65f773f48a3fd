"""WQL WHERE clauses, as `Get-CimInstance -ClassName X -Filter "<WQL>"` takes them (the text after WHERE).

What WMI documents and this module follows (learn.microsoft.com/windows/win32/wmisdk/):
- "WQL Operators": =, <, >, <=, >=, != and <>; IS and IS NOT only with the constant NULL (`DriveType IS 5` and
  `FileSystem IS NOT "NTFS"` are invalid queries); LIKE.
- "LIKE Operator": % any string of zero or more characters, _ any one character, [ ] any one character within the
  range or set ([a-f], [abcdef]), [^ ] any one character not in it.
- "WHERE Clause (WMI)": conditions joined with AND, OR and NOT, grouped with parentheses; string constants in
  single or double quotes, with a backslash escaping a quote or a backslash; the constants TRUE, FALSE and NULL;
  string comparisons do not consider case.
- "WQL (SQL for WMI)": keywords are not case sensitive.
A property compared with anything but IS NULL / IS NOT NULL matches no instance while it is NULL [inf: SQL's
rule]. A query WMI cannot parse, or one naming a property the class does not have, is WBEM_E_INVALID_QUERY
(0x80041017) [inf: the property case].
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

Lookup = Callable[[str], tuple[bool, Any]]  # property name -> (the class has it, its value)
Predicate = Callable[[Lookup], bool]


class WqlError(Exception):
    """An invalid query (WBEM_E_INVALID_QUERY)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<operator><>|!=|<=|>=|=|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "is", "null", "like", "true", "false"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, operator, paren, word, keyword
    text: str
    value: Any = None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        if not text[at:].strip():
            break
        match = _TOKEN.match(text, at)
        if match is None:
            raise WqlError(f"unexpected {text[at:].strip()[:20]!r}")
        at = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "string":
            tokens.append(_Token(kind, raw, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "number":
            tokens.append(_Token(kind, raw, float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw.lower() in _KEYWORDS:
            tokens.append(_Token("keyword", raw.lower()))
        else:
            tokens.append(_Token(kind, raw))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.names: list[str] = []  # the properties the condition names

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise WqlError("the condition ends too early")
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "keyword" and token.text == word:
            self.at += 1
            return True
        return False

    def parse(self) -> Predicate:
        if not self.tokens:
            raise WqlError("an empty condition")
        predicate = self.disjunction()
        if self.peek() is not None:
            raise WqlError(f"unexpected {self.take().text!r}")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda get: any(part(get) for part in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.keyword("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda get: all(part(get) for part in parts))

    def negation(self) -> Predicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda get: not inner(get)
        token = self.peek()
        if token is not None and token.kind == "paren" and token.text == "(":
            self.take()
            inner = self.disjunction()
            closing = self.take()
            if closing.text != ")":
                raise WqlError("a parenthesis is not closed")
            return inner
        return self.comparison()

    def operand(self) -> _Token:
        token = self.take()
        if token.kind in ("string", "number", "word") or token.text in ("true", "false", "null"):
            return token
        raise WqlError(f"unexpected {token.text!r}")

    def comparison(self) -> Predicate:
        left = self.operand()
        if self.keyword("is"):
            negated = self.keyword("not")
            if not self.keyword("null"):
                raise WqlError("IS and IS NOT take only NULL")
            name = self.named(_property(left))
            return lambda get: (_value(get, name) is None) != negated
        if self.keyword("like"):
            pattern = self.take()
            if pattern.kind != "string":
                raise WqlError("LIKE takes a string pattern")
            name, regex = self.named(_property(left)), _like(str(pattern.value))
            return lambda get: _matches_like(_value(get, name), regex)
        operator = self.take()
        if operator.kind != "operator":
            raise WqlError(f"expected an operator, got {operator.text!r}")
        right = self.operand()
        if left.kind == "word" and right.kind != "word":
            name, constant, op = left.text, _constant(right), operator.text
        elif right.kind == "word" and left.kind != "word":
            name, constant, op = right.text, _constant(left), _MIRRORED[operator.text]
        else:
            raise WqlError("a comparison takes one property and one constant")
        self.named(name)
        return lambda get: _compare(_value(get, name), op, constant)

    def named(self, name: str) -> str:
        self.names.append(name)
        return name


_MIRRORED = {"=": "=", "<>": "<>", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _property(token: _Token) -> str:
    if token.kind != "word":
        raise WqlError(f"expected a property name, got {token.text!r}")
    return token.text


def _constant(token: _Token) -> Any:
    if token.kind == "keyword":
        return {"true": True, "false": False, "null": None}[token.text]
    return token.value


def _value(get: Lookup, name: str) -> Any:
    found, value = get(name)
    if not found:
        raise WqlError(f"the class has no property {name!r}")
    return value


def _like(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", at + 1)
            if end < 0:
                raise WqlError("a [ in a LIKE pattern is not closed")
            body = pattern[at + 1 : end]
            negated = body.startswith("^")
            body = body[1:] if negated else body
            escaped = "".join("-" if c == "-" and 0 < i < len(body) - 1 else re.escape(c) for i, c in enumerate(body))
            out.append(f"[{'^' if negated else ''}{escaped}]")
            at = end
        else:
            out.append(re.escape(char))
        at += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _matches_like(value: Any, regex: re.Pattern[str]) -> bool:
    return isinstance(value, str) and regex.fullmatch(value) is not None


def _compare(value: Any, op: str, constant: Any) -> bool:
    if value is None or constant is None:
        return False
    left, right = _comparable(value, constant)
    if left is None:
        return op in ("<>", "!=")  # values of different kinds are never equal [inf]
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])


def _comparable(value: Any, constant: Any) -> tuple[Any, Any]:
    """Both sides in one kind: strings without case, numbers as numbers, booleans as booleans."""
    if isinstance(value, bool):
        if isinstance(constant, bool):
            return value, constant
        if isinstance(constant, int):
            return int(value), constant
        return None, None
    if isinstance(value, (int, float)):
        if isinstance(constant, bool):
            return None, None
        if isinstance(constant, str):
            try:
                return value, float(constant) if "." in constant else int(constant)
            except ValueError:
                return None, None
        return value, constant
    if isinstance(value, datetime):
        return None, None
    if isinstance(constant, bool):
        return None, None
    return str(value).casefold(), str(constant).casefold()


@dataclass(frozen=True)
class Filter:
    test: Predicate
    names: tuple[str, ...]  # the properties it names, for checking them against the class before any instance


@lru_cache(maxsize=256)
def compile_filter(text: str) -> Filter:
    """A WQL condition; raises WqlError for an invalid query. Cached by text: a Filter holds nothing that changes,
    and every host of a fleet is sent the same queries."""
    parser = _Parser(text)
    test = parser.parse()
    return Filter(test, tuple(parser.names))
