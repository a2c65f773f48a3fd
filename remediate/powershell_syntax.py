"""PowerShell syntax through tree-sitter-powershell: one parser for the renderer, the tests and the sandbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_powershell


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 1-based
    column: int  # 1-based
    text: str  # the source text of the bad node, shortened

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: cannot parse {self.text!r}"


@lru_cache(maxsize=1)
def language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_powershell.language())


_local = threading.local()


def _parser() -> tree_sitter.Parser:
    # A tree-sitter Parser is not safe to share between threads; keep one per thread.
    parser: tree_sitter.Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = tree_sitter.Parser(language())
        _local.parser = parser
    return parser


def parse(script: str) -> tree_sitter.Tree:
    return _parser().parse(script.encode("utf-8"))


def syntax_problems(script: str) -> list[SyntaxProblem]:
    """Every ERROR or MISSING node in the parse of `script`; empty when it parses cleanly."""
    tree = parse(script)
    problems: list[SyntaxProblem] = []
    if not tree.root_node.has_error:
        return problems
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            raw = (node.text or b"").decode("utf-8", "replace")
            text = raw if len(raw) <= 60 else raw[:57] + "..."
            row, col = node.start_point
            problems.append(SyntaxProblem(row + 1, col + 1, text or "<missing>"))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(problems, key=lambda p: (p.line, p.column))
