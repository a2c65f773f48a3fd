"""PowerShell script facts through tree-sitter-powershell: one parser for the renderer, the tests and the sandbox.

What a script is: whether it parses (`syntax_problems`), which parameters its `param()` block declares
(`declared_parameters`), and which of its commands change the host (`changing_commands`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
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


# --- what a rendered script declares -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptParameter:
    name: str
    type: str | None  # "string", "int", ... as written in the param block, lower case
    has_default: bool


def declared_parameters(script: str) -> list[ScriptParameter] | None:
    """The parameters of the script's top-level `param(...)` block; None when there is no block."""
    root = parse(script).root_node
    block = next((child for child in root.children if child.type == "param_block"), None)
    if block is None:
        return None
    declared = []
    for node in _walk(block):
        if node.type != "script_parameter":
            continue
        variable = next((c for c in node.children if c.type == "variable"), None)
        if variable is None:
            continue
        type_node = next((n for n in _walk(node) if n.type == "type_name"), None)
        declared.append(
            ScriptParameter(
                name=_text(variable).lstrip("$"),
                type=_text(type_node).lower() if type_node is not None else None,
                has_default=any(c.type == "script_parameter_default" for c in node.children),
            )
        )
    return declared


def _walk(node: tree_sitter.Node) -> Iterable[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


# Commands that change a host: never allowed in a read-only phase (detect, verify, escalate).
_SLMGR_CHANGES = {
    "/ipk",
    "/ato",
    "/skms",
    "/ckms",
    "/skms-domain",
    "/ckms-domain",
    "/atp",
    "/upk",
    "/cpky",
    "/rearm",
    "/act-type",
    "/skhc",
    "/ckhc",
    "/sai",
    "/sri",
}
_CHANGING_CMDLETS = {"invoke-cimmethod", "clear-dnsclientcache", "set-ciminstance"}


def changing_commands(script: str) -> list[tuple[int, str]]:
    """(line, command text) of every command in `script` that changes the host."""
    found = []
    for node in _walk(parse(script).root_node):
        if node.type != "command":
            continue
        name_node = next((c for c in node.children if c.type in ("command_name", "command_name_expr")), None)
        name = _text(name_node).lower() if name_node is not None else ""
        arguments = [
            _text(n).lower() for n in _walk(node) if n.type in ("generic_token", "command_parameter")
        ]
        text = _text(node)
        changes = (
            name in _CHANGING_CMDLETS
            or (
                name == "cscript.exe"
                and "slmgr.vbs" in text.lower()
                and any(a in _SLMGR_CHANGES for a in arguments)
            )
            or (name == "ipconfig.exe" and "/flushdns" in arguments)
            or (name == "w32tm.exe" and "/resync" in arguments)
            or (name == "dism.exe" and any(a.startswith("/set-edition") for a in arguments))
        )
        if changes:
            found.append((node.start_point[0] + 1, text.splitlines()[0]))
    return found
