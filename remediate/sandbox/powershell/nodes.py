"""The interpreter's syntax tree: the PowerShell the sandbox emulates and nothing else.

The parser turns tree-sitter-powershell's concrete tree into these nodes and fails every other construct with
SandboxNotEmulated and a line number, so the evaluator only ever sees what it implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    line: int


@dataclass(frozen=True, slots=True)
class Variable:
    name: str  # lower case; "env:path" for $env:Path
    line: int


@dataclass(frozen=True, slots=True)
class Expandable:
    """A double-quoted string (or a bare command word) with $var, $env:X and $(...) inside."""

    parts: tuple[str | Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    items: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ArraySubexpression:
    body: Block
    line: int


@dataclass(frozen=True, slots=True)
class Subexpression:
    body: Block
    line: int


@dataclass(frozen=True, slots=True)
class Parenthesized:
    statement: Statement
    line: int


@dataclass(frozen=True, slots=True)
class HashLiteral:
    entries: tuple[tuple[Expr, Statement], ...]
    line: int


@dataclass(frozen=True, slots=True)
class Cast:
    type_name: str  # lower case: "int", "uint32", "pscustomobject", ...
    operand: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Unary:
    operator: str  # "-not", "-", "+"  ("!" is read as "-not")
    operand: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Binary:
    operator: str  # lower case: "+", "-eq", "-and", "-f", ...
    left: Expr
    right: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Member:
    target: Expr
    name: str
    line: int


@dataclass(frozen=True, slots=True)
class Index:
    target: Expr
    index: Expr
    line: int


@dataclass(frozen=True, slots=True)
class MethodCall:
    target: Expr
    name: str
    arguments: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class StaticCall:
    """`[Type]::Method(...)` for a method dotnet.py emulates."""

    type_name: str
    name: str
    arguments: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ScriptBlock:
    body: Block
    line: int


@dataclass(frozen=True, slots=True)
class Increment:
    """`$x++`, `++$x`, `$x--`, `--$x`: its value is the variable's before (postfix) or after (prefix)."""

    variable: str
    delta: int  # +1 or -1
    prefix: bool
    line: int


Expr = (
    Const
    | Variable
    | Expandable
    | ArrayLiteral
    | ArraySubexpression
    | Subexpression
    | Parenthesized
    | HashLiteral
    | Cast
    | Unary
    | Binary
    | Member
    | Index
    | MethodCall
    | StaticCall
    | ScriptBlock
    | Increment
)


@dataclass(frozen=True, slots=True)
class ParameterToken:
    """`-Name` in a command; `value` is set for the `-Name:value` form."""

    name: str
    value: Expr | None
    line: int


@dataclass(frozen=True, slots=True)
class CommandCall:
    name: str | Expr  # a literal name, or an expression after the call operator (& 'cscript.exe')
    call_operator: bool
    elements: tuple[ParameterToken | Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Pipeline:
    head: Expr | CommandCall
    commands: tuple[CommandCall, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Assignment:
    target: Expr  # Variable, Member or Index
    operator: str  # "=" or "+="
    value: Statement
    line: int


@dataclass(frozen=True, slots=True)
class If:
    branches: tuple[tuple[Statement, Block], ...]
    otherwise: Block | None
    line: int


@dataclass(frozen=True, slots=True)
class Foreach:
    variable: str
    source: Statement
    body: Block
    line: int


@dataclass(frozen=True, slots=True)
class Loop:
    """while, do-while, do-until and for: `condition` None loops until break (`for (;;)`); `test_first` False
    runs the body before the first test (do); `until` ends the loop when the condition is true."""

    condition: Statement | None
    body: Block
    line: int
    test_first: bool = True
    until: bool = False
    initializer: Statement | None = None  # for (init; ...)
    iterator: Statement | None = None  # for (...; ...; iterator)


@dataclass(frozen=True, slots=True)
class LoopJump:
    """`break` or `continue` without a label, inside a loop of the same script block."""

    keyword: str  # "break" or "continue"
    line: int


@dataclass(frozen=True, slots=True)
class Try:
    body: Block
    catch: Block | None
    final: Block | None
    line: int


@dataclass(frozen=True, slots=True)
class Throw:
    value: Statement | None
    line: int


@dataclass(frozen=True, slots=True)
class Exit:
    """`exit [code]`: ends the script; the code becomes the exit code of powershell.exe."""

    value: Statement | None
    line: int


Statement = Pipeline | Assignment | If | Foreach | Loop | LoopJump | Try | Throw | Exit
Block = tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class ParameterDeclaration:
    name: str  # as written, without $
    type_name: str | None  # lower case: "string", "int", "bool", "string[]", "hashtable"
    default: Expr | None
    line: int


@dataclass(frozen=True, slots=True)
class Script:
    parameters: tuple[ParameterDeclaration, ...]
    body: Block  # the end block of a script with named blocks
    begin: Block = ()
    process: Block | None = None  # None: no process block (the body sees all input through $input)
