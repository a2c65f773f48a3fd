"""tree-sitter-powershell's concrete tree -> the syntax tree (nodes.py); all else is SandboxNotEmulated."""

from __future__ import annotations

import re
from functools import lru_cache

import tree_sitter

from remediate.powershell_syntax import parse, syntax_problems
from remediate.sandbox.powershell import nodes as n
from remediate.sandbox.powershell.dotnet import emulated
from remediate.sandbox.powershell.errors import NotEmulated, ScriptSyntaxError
from remediate.sandbox.powershell.host import NEW_OBJECT_TYPES, enum_value
from remediate.sandbox.powershell.inbox import resolve_alias
from remediate.sandbox.powershell.values import CASTS, Int64, hex_literal_value

# Types allowed in casts and in param(); lower case.
CAST_TYPES = frozenset(CASTS)
PARAMETER_TYPES = frozenset({"string", "int", "bool", "string[]", "hashtable"})

# Operators emulated, by the spelling tree-sitter gives them (lower case).
BINARY_OPERATORS = frozenset(
    {
        "-eq",
        "-ne",
        "-gt",
        "-ge",
        "-lt",
        "-le",
        "-like",
        "-notlike",
        "-match",
        "-notmatch",
        "-contains",
        "-notcontains",
        "-in",
        "-notin",
        "-and",
        "-or",
        "+",
        "-",
        "*",
        "/",
        "%",
        "-f",
        "-join",
        "-split",
        "-band",
    }
)

# Commands whose effect the sandbox does not emulate, whatever a host offers (they run code or load it).
FORBIDDEN_COMMANDS = frozenset(
    {"invoke-expression", "start-process", "add-type", "import-module", "invoke-command"}
)

_PASS_THROUGH = frozenset(
    {
        "logical_expression",
        "bitwise_expression",
        "comparison_expression",
        "additive_expression",
        "multiplicative_expression",
        "format_expression",
        "range_expression",
        "array_literal_expression",
        "unary_expression",
        "argument_expression",
        "logical_argument_expression",
        "bitwise_argument_expression",
        "comparison_argument_expression",
        "additive_argument_expression",
        "multiplicative_argument_expression",
        "format_argument_expression",
        "range_argument_expression",
        "expression_with_unary_operator",
        "left_assignment_expression",
    }
)

_UNSUPPORTED_STATEMENTS = {
    "function_statement": "a function definition",
    "switch_statement": "a switch statement",
    "trap_statement": "a trap statement",
    "class_statement": "a class definition",
    "enum_statement": "an enum definition",
    "data_statement": "a data section",
    "parallel_statement": "a parallel block",
    "sequence_statement": "a sequence block",
    "inlinescript_statement": "an inlinescript block",
    "named_block": "a begin/process/end block",
    "named_block_list": "a begin/process/end block",
}

_BACKTICK_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_BARE_VARIABLE = re.compile(r"\$(?:\{([^}]+)\}|((?:env:)?[A-Za-z_][A-Za-z0-9_]*)|(\())", re.IGNORECASE)


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8")


def _line(node: tree_sitter.Node) -> int:
    return node.start_point[0] + 1


def _named(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    return [child for child in node.children if child.is_named and child.type != "comment"]


@lru_cache(maxsize=256)
def parse_script(text: str) -> n.Script:
    """The syntax tree of a script; cached by text, since the same templates run again and again."""
    tree = parse(text)
    if tree.root_node.has_error:
        raise ScriptSyntaxError(_syntax_message(text))
    if _starts_with_named_block(tree.root_node):
        # tree-sitter-powershell parses begin/process/end blocks only inside a script block, and reads them at
        # the top of a script as commands named `begin`...: parse the script as the body of a script block
        # (`{` on line 1 keeps every line number) and take its blocks.
        wrapped = parse("{" + text + "\n}")
        if wrapped.root_node.has_error:
            raise ScriptSyntaxError(_syntax_message(text))
        return _Translator(text).named_blocks_program(_find(wrapped.root_node, "script_block"))
    return _Translator(text).program(tree.root_node)


_BLOCK_NAMES = frozenset({"begin", "process", "end", "dynamicparam"})


def _find(node: tree_sitter.Node, kind: str) -> tree_sitter.Node:
    found = _find_or_none(node, kind)
    if found is None:
        raise ScriptSyntaxError("The script could not be parsed.")
    return found


def _find_or_none(node: tree_sitter.Node, kind: str) -> tree_sitter.Node | None:
    """The first node of a kind, depth first."""
    if node.type == kind:
        return node
    for child in node.children:
        found = _find_or_none(child, kind)
        if found is not None:
            return found
    return None


def _starts_with_named_block(root: tree_sitter.Node) -> bool:
    """Whether a script's first statement is `begin {`, `process {`, `end {` (misread as a command)."""
    statements = [child for child in _named(root) if child.type == "statement_list"]
    if not statements or not _named(statements[0]):
        return False
    command = _find_or_none(_named(statements[0])[0], "command")
    if command is None:
        return False
    name = command.child_by_field_name("command_name") or next(
        (child for child in _named(command) if child.type == "command_name"), None
    )
    elements = next((child for child in _named(command) if child.type == "command_elements"), None)
    return (
        name is not None
        and _text(name).lower() in _BLOCK_NAMES
        and elements is not None
        and _find_or_none(elements, "script_block_expression") is not None
    )


def _syntax_message(text: str) -> str:
    problems = syntax_problems(text)
    if not problems:
        return "The script could not be parsed."
    first = problems[0]
    lines = text.splitlines()
    source = lines[first.line - 1] if 0 < first.line <= len(lines) else ""
    what = f"Missing '{first.text}'" if first.text == "<missing>" else f"Unexpected token '{first.text}'"
    return f"At line:{first.line} char:{first.column}\n+ {source}\n{what} in expression or statement."


class _Translator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.loop_depth = 0  # loops around the statement being translated, within its script block

    # --- structure ------------------------------------------------------------------------------------------

    def program(self, root: tree_sitter.Node) -> n.Script:
        parameters: tuple[n.ParameterDeclaration, ...] = ()
        body: n.Block = ()
        for child in _named(root):
            if child.type == "param_block":
                parameters = self.param_block(child)
            elif child.type == "statement_list":
                body = self.statement_list(child)
            elif child.type in _UNSUPPORTED_STATEMENTS:
                raise NotEmulated(_UNSUPPORTED_STATEMENTS[child.type], _line(child))
            elif child.type == "attribute_list" or child.type == "attribute":
                raise NotEmulated(f"the attribute {_text(child)!r} before param()", _line(child))
            else:
                raise NotEmulated(f"the construct {child.type!r}", _line(child))
        return n.Script(parameters, body)

    def named_blocks_program(self, block: tree_sitter.Node) -> n.Script:
        """A script of begin/process/end blocks (the script_block of the wrapped text)."""
        parameters: tuple[n.ParameterDeclaration, ...] = ()
        blocks: dict[str, n.Block] = {}
        children = [
            inner
            for child in _named(block)
            for inner in (_named(child) if child.type == "script_block_body" else [child])
        ]
        for child in children:
            if child.type == "param_block":
                parameters = self.param_block(child)
            elif child.type == "named_block_list":
                for named in _named(child):
                    name = _text(_named(named)[0]).lower()
                    if name == "dynamicparam":
                        raise NotEmulated("a dynamicparam block", _line(named))
                    body = next((part for part in _named(named) if part.type == "statement_block"), None)
                    blocks[name] = self.block(body) if body is not None else ()
            else:
                raise NotEmulated(f"the construct {child.type!r}", _line(child))
        return n.Script(parameters, blocks.get("end", ()), blocks.get("begin", ()), blocks.get("process"))

    def param_block(self, node: tree_sitter.Node) -> tuple[n.ParameterDeclaration, ...]:
        declarations: list[n.ParameterDeclaration] = []
        for child in _named(node):
            if child.type == "attribute_list":
                raise NotEmulated(f"the attribute {_text(child)!r} on param()", _line(child))
            if child.type != "parameter_list":
                continue
            for parameter in _named(child):
                declarations.append(self.script_parameter(parameter))
        return tuple(declarations)

    def script_parameter(self, node: tree_sitter.Node) -> n.ParameterDeclaration:
        type_name: str | None = None
        name = ""
        default: n.Expr | None = None
        for child in _named(node):
            if child.type == "attribute_list":
                attributes = _named(child)
                for attribute in attributes:
                    literal = _named(attribute)
                    if len(literal) != 1 or literal[0].type != "type_literal" or type_name is not None:
                        raise NotEmulated(
                            f"the parameter attribute {_text(attribute)!r}", _line(attribute)
                        )
                    type_name = self.type_name(literal[0])
                    if type_name not in PARAMETER_TYPES:
                        raise NotEmulated(f"the parameter type [{type_name}]", _line(attribute))
            elif child.type == "variable":
                name = _text(child)[1:]
            elif child.type == "script_parameter_default":
                value = _named(child)[0]
                default = self.expression(value)
                if not _is_literal(default):
                    raise NotEmulated(
                        f"the parameter default {_text(value)!r}", _line(child)
                    )
        return n.ParameterDeclaration(name, type_name, default, _line(node))

    def type_name(self, type_literal: tree_sitter.Node) -> str:
        spec = _text(type_literal).strip()[1:-1].strip()
        return re.sub(r"\s+", "", spec).lower()

    def statement_list(self, node: tree_sitter.Node) -> n.Block:
        statements: list[n.Statement] = []
        for child in _named(node):
            if child.type == "empty_statement":
                continue
            statements.append(self.statement(child))
        return tuple(statements)

    def block(self, node: tree_sitter.Node) -> n.Block:
        """A statement_block `{ ... }`."""
        for child in _named(node):
            if child.type == "statement_list":
                return self.statement_list(child)
        return ()

    def statement(self, node: tree_sitter.Node) -> n.Statement:
        kind = node.type
        if kind == "pipeline":
            return self.pipeline(node)
        if kind == "if_statement":
            return self.if_statement(node)
        if kind == "foreach_statement":
            return self.foreach_statement(node)
        if kind in ("while_statement", "do_statement", "for_statement"):
            return self.loop_statement(node)
        if kind == "try_statement":
            return self.try_statement(node)
        if kind == "flow_control_statement":
            return self.flow_control(node)
        if kind in _UNSUPPORTED_STATEMENTS:
            raise NotEmulated(_UNSUPPORTED_STATEMENTS[kind], _line(node))
        raise NotEmulated(f"the statement {_text(node).splitlines()[0]!r}", _line(node))

    def if_statement(self, node: tree_sitter.Node) -> n.If:
        branches: list[tuple[n.Statement, n.Block]] = []
        otherwise: n.Block | None = None
        condition: n.Statement | None = None
        for child in _named(node):
            if child.type == "pipeline" and condition is None:
                condition = self.pipeline(child)
            elif child.type == "statement_block":
                assert condition is not None
                branches.append((condition, self.block(child)))
            elif child.type == "elseif_clauses":
                for clause in _named(child):
                    parts = _named(clause)
                    branches.append((self.pipeline(parts[0]), self.block(parts[1])))
            elif child.type == "else_clause":
                otherwise = self.block(_named(child)[0])
        return n.If(tuple(branches), otherwise, _line(node))

    def foreach_statement(self, node: tree_sitter.Node) -> n.Foreach:
        variable = ""
        source: n.Statement | None = None
        body: n.Block = ()
        for child in _named(node):
            if child.type == "foreach_parameter":
                raise NotEmulated(f"foreach {_text(child)}", _line(child))
            if child.type == "variable":
                variable = _variable_name(_text(child), _line(child))
            elif child.type == "pipeline":
                source = self.pipeline(child)
            elif child.type == "statement_block":
                body = self.loop_body(child)
        assert source is not None
        return n.Foreach(variable, source, body, _line(node))

    def loop_body(self, node: tree_sitter.Node) -> n.Block:
        self.loop_depth += 1
        try:
            return self.block(node)
        finally:
            self.loop_depth -= 1

    def loop_statement(self, node: tree_sitter.Node) -> n.Loop:
        """while (c) {...}, do {...} while|until (c), for (init; c; iterator) {...}."""
        parts: dict[str, n.Statement | None] = {}
        body: n.Block = ()
        for child in _named(node):
            if child.type == "statement_block":
                body = self.loop_body(child)
                continue
            inner = _named(child)
            statement = self.pipeline(inner[0]) if inner else None
            parts[child.type] = statement
        line = _line(node)
        if node.type == "while_statement":
            return n.Loop(parts.get("while_condition"), body, line)
        if node.type == "do_statement":
            until = any(not child.is_named and _text(child).lower() == "until" for child in node.children)
            return n.Loop(parts.get("while_condition"), body, line, test_first=False, until=until)
        return n.Loop(
            parts.get("for_condition"),
            body,
            line,
            initializer=parts.get("for_initializer"),
            iterator=parts.get("for_iterator"),
        )

    def try_statement(self, node: tree_sitter.Node) -> n.Try:
        body: n.Block = ()
        catch: n.Block | None = None
        final: n.Block | None = None
        for child in _named(node):
            if child.type == "statement_block":
                body = self.block(child)
            elif child.type == "catch_clauses":
                clauses = _named(child)
                if len(clauses) > 1:
                    raise NotEmulated("more than one catch", _line(clauses[1]))
                for part in _named(clauses[0]):
                    if part.type == "catch_type_list":
                        raise NotEmulated(
                            f"a typed catch {_text(part)}", _line(part)
                        )
                    if part.type == "statement_block":
                        catch = self.block(part)
            elif child.type == "finally_clause":
                final = self.block(_named(child)[0])
        return n.Try(body, catch, final, _line(node))

    def flow_control(self, node: tree_sitter.Node) -> n.Throw | n.Exit | n.LoopJump:
        keyword = _text(node.children[0]).lower()
        if keyword == "exit":
            operands = _named(node)
            if not operands:
                return n.Exit(None, _line(node))
            operand = operands[0]
            value = self.statement(operand) if operand.type == "pipeline" else self.pipeline(operand)
            return n.Exit(value, _line(node))
        if keyword in ("break", "continue"):
            if _named(node):
                raise NotEmulated(f"'{keyword}' with a label or value", _line(node))
            if not self.loop_depth:
                raise NotEmulated(f"'{keyword}' outside a loop", _line(node))
            return n.LoopJump(keyword, _line(node))
        if keyword != "throw":
            raise NotEmulated(f"the '{keyword}' statement", _line(node))
        operands = _named(node)
        if not operands:
            return n.Throw(None, _line(node))
        operand = operands[0]
        if operand.start_point[0] != node.start_point[0]:
            raise NotEmulated("a bare 'throw' followed by another statement", _line(node))
        return n.Throw(
            self.statement(operand) if operand.type == "pipeline" else self.pipeline(operand), _line(node)
        )

    # --- pipelines and commands -----------------------------------------------------------------------------

    def pipeline(self, node: tree_sitter.Node) -> n.Statement:
        kind = node.type
        if kind == "pipeline":
            parts = _named(node)
            if len(parts) == 1:
                return self.pipeline(parts[0])
            return self.pipeline_elements(parts, node)
        if kind == "assignment_expression":
            return self.assignment(node)
        if kind == "pipeline_chain":
            return self.pipeline_elements(_named(node), node)
        if kind in (
            "if_statement",
            "foreach_statement",
            "while_statement",
            "do_statement",
            "for_statement",
            "try_statement",
            "flow_control_statement",
        ):
            return self.statement(node)
        return self.pipeline_elements([node], node)

    def pipeline_elements(self, parts: list[tree_sitter.Node], node: tree_sitter.Node) -> n.Pipeline:
        elements: list[n.Expr | n.CommandCall] = []
        for part in parts:
            if part.type == "pipeline_chain_tail":
                raise NotEmulated("a pipeline chain (&& / ||)", _line(part))
            if part.type == "command":
                elements.append(self.command(part))
            elif part.type in ("redirection", "redirections"):
                raise NotEmulated(f"the redirection {_text(part)!r}", _line(part))
            else:
                elements.append(self.expression(part))
        head, *rest = elements
        commands: list[n.CommandCall] = []
        for element in rest:
            if not isinstance(element, n.CommandCall):
                raise NotEmulated("an expression after '|'", _line(node))
            commands.append(element)
        return n.Pipeline(head, tuple(commands), _line(node))

    def assignment(self, node: tree_sitter.Node) -> n.Assignment:
        parts = _named(node)
        target = self.expression(parts[0])
        operator = _text(parts[1]).strip()
        if operator not in ("=", "+="):
            raise NotEmulated(f"the assignment operator '{operator}'", _line(node))
        if not isinstance(target, (n.Variable, n.Member, n.Index)):
            raise NotEmulated(f"assigning to {_text(parts[0])!r}", _line(node))
        value_node = node.child_by_field_name("value") or parts[2]
        return n.Assignment(target, operator, self.pipeline(value_node), _line(node))

    def command(self, node: tree_sitter.Node) -> n.CommandCall:
        call_operator = False
        name: str | n.Expr = ""
        elements: list[n.ParameterToken | n.Expr] = []
        for child in _named(node):
            if child.type == "command_invokation_operator":
                operator = _text(child)
                if operator == ".":
                    raise NotEmulated("dot-sourcing", _line(child))
                call_operator = True
            elif child.type == "command_name_expr":
                inner = _named(child)[0]
                name = _text(inner) if inner.type == "command_name" else self.expression(inner)
            elif child.type == "command_name":
                name = _text(child)
            elif child.type == "command_elements":
                elements = self.command_elements(child)
            elif child.type in ("redirection", "redirections"):
                raise NotEmulated(f"the redirection {_text(child)!r}", _line(child))
            else:
                raise NotEmulated(f"the command form {_text(node)!r}", _line(node))
        if isinstance(name, str):
            written, name = name, resolve_alias(name)
            self.check_command_name(name, written, _line(node))
            if name.lower() == "new-object":
                self.check_new_object(elements, _line(node))
        return n.CommandCall(name, call_operator, tuple(elements), _line(node))

    @staticmethod
    def check_new_object(elements: list[n.ParameterToken | n.Expr], line: int) -> None:
        """New-Object builds only the host API's types emulated (host.py), named by a literal -TypeName: any
        other type would run or load code the sandbox does not have."""
        type_name: n.Expr | None = None
        pending: str | None = None  # the parameter a following argument is the value of
        for element in elements:
            if isinstance(element, n.ParameterToken):
                lowered = element.name.lower()
                if not ("typename".startswith(lowered) or "argumentlist".startswith(lowered)):
                    raise NotEmulated(f"New-Object -{element.name}", line)
                if element.value is None:
                    pending = lowered
                elif "typename".startswith(lowered):
                    type_name = element.value
                continue
            if pending is not None:
                if "typename".startswith(pending):
                    type_name = element
                pending = None
            elif type_name is None:
                type_name = element
        written = type_name.value if isinstance(type_name, n.Const) else None
        if not isinstance(written, str):
            raise NotEmulated("New-Object with a -TypeName that is not a literal", line)
        if written.lower() not in NEW_OBJECT_TYPES:
            raise NotEmulated(f"New-Object -TypeName {written}", line)

    def check_command_name(self, name: str, written: str, line: int) -> None:
        lowered = name.lower()
        if lowered in FORBIDDEN_COMMANDS:
            alias = f" (the alias '{written}')" if written != name else ""
            raise NotEmulated(f"the command '{name}'{alias}", line)
        if "\\" in name or "/" in name:
            raise NotEmulated(f"running the script or path '{name}'", line)
        if re.fullmatch(r"[+-]?\d.*", name):
            raise NotEmulated(f"the expression '{name}'", line)

    def command_elements(self, node: tree_sitter.Node) -> list[n.ParameterToken | n.Expr]:
        elements: list[n.ParameterToken | n.Expr] = []
        pending: tuple[str, int] | None = None  # a `-Name:` waiting for its value
        for child in _named(node):
            kind = child.type
            if kind == "command_argument_sep":
                if ":" in _text(child) and elements and isinstance(elements[-1], n.ParameterToken):
                    last = elements.pop()
                    assert isinstance(last, n.ParameterToken)
                    pending = (last.name, last.line)
                continue
            if kind in ("redirection", "redirections"):
                raise NotEmulated(f"the redirection {_text(child)!r}", _line(child))
            if kind in ("stop_parsing", "verbatim_command_argument"):
                raise NotEmulated("the stop-parsing token --%", _line(child))
            if kind == "command_parameter":
                text = _text(child)
                if text.endswith(":"):
                    pending = (text[1:-1], _line(child))
                    continue
                elements.append(n.ParameterToken(text[1:], None, _line(child)))
                continue
            value = self.command_argument(child)
            if pending is not None:
                elements.append(n.ParameterToken(pending[0], value, pending[1]))
                pending = None
            else:
                elements.append(value)
        return elements

    def command_argument(self, node: tree_sitter.Node) -> n.Expr:
        if node.type == "generic_token":
            return self.bare_word(node)
        inner = node
        while inner.type in _PASS_THROUGH and len(inner.children) == 1:
            inner = inner.children[0]
        if inner.type == "script_block_expression":
            return self.script_block(inner)
        return self.expression(node)

    def script_block(self, node: tree_sitter.Node) -> n.ScriptBlock:
        # break/continue inside a script block do not reach a loop around it (they would end the pipeline)
        outer_loops, self.loop_depth = self.loop_depth, 0
        try:
            return self._script_block(node)
        finally:
            self.loop_depth = outer_loops

    def _script_block(self, node: tree_sitter.Node) -> n.ScriptBlock:
        statements: n.Block = ()
        for part in _named(node):
            if part.type == "script_block":
                for piece in _named(part):
                    if piece.type == "param_block":
                        raise NotEmulated("param() inside a script block", _line(piece))
                    if piece.type == "script_block_body":
                        statements = self.statement_list(_named(piece)[0]) if _named(piece) else ()
        return n.ScriptBlock(statements, _line(node))

    def bare_word(self, node: tree_sitter.Node) -> n.Expr:
        """A command argument without quotes: a string, with $var and $env:X expanded as PowerShell does."""
        text = _text(node)
        line = _line(node)
        if "`" in text:
            raise NotEmulated(f"a backtick escape in the bare word {text!r}", line)
        parts: list[str | n.Expr] = []
        position = 0
        for match in _BARE_VARIABLE.finditer(text):
            if match.group(3):
                raise NotEmulated(f"a subexpression inside the bare word {text!r}", line)
            if match.start() > position:
                parts.append(text[position : match.start()])
            parts.append(n.Variable(_variable_name("$" + (match.group(1) or match.group(2)), line), line))
            position = match.end()
        if not parts:
            return n.Const(text, line)
        if position < len(text):
            parts.append(text[position:])
        return n.Expandable(tuple(parts), line)

    # --- expressions ----------------------------------------------------------------------------------------

    def expression(self, node: tree_sitter.Node) -> n.Expr:
        kind = node.type
        line = _line(node)
        children = _named(node)
        if kind in _PASS_THROUGH or kind.endswith("_argument_expression"):
            return self.compound(node, children)
        if kind == "variable":
            return n.Variable(_variable_name(_text(node), line), line)
        if kind == "string_literal":
            return self.string_literal(children[0])
        if kind == "integer_literal":
            return n.Const(self.integer(children[0]), line)
        if kind == "real_literal":
            text = _text(node)
            try:
                return n.Const(float(text), line)
            except ValueError:
                raise NotEmulated(f"the number literal {text!r}", line) from None
        if kind == "array_expression":
            return n.ArraySubexpression(self.statements_of(node), line)
        if kind == "sub_expression":
            return n.Subexpression(self.statements_of(node), line)
        if kind == "parenthesized_expression":
            return n.Parenthesized(self.pipeline(children[0]), line)
        if kind == "hash_literal_expression":
            return self.hash_literal(node)
        if kind == "cast_expression":
            type_name = self.type_name(children[0])
            if type_name not in CAST_TYPES:
                raise NotEmulated(f"the cast [{type_name}]", line)
            operand = self.expression(children[1])
            return n.Cast(type_name, operand, line)
        if kind == "member_access":
            return self.member_access(node)
        if kind == "element_access":
            return n.Index(self.expression(children[0]), self.expression(children[1]), line)
        if kind == "invokation_expression":
            return self.invocation(node)
        if kind == "script_block_expression":
            raise NotEmulated("a script block outside Where-Object / ForEach-Object", line)
        if kind == "type_literal":
            raise NotEmulated(f"the type literal {_text(node)}", line)
        if kind in (
            "pre_increment_expression",
            "pre_decrement_expression",
            "post_increment_expression",
            "post_decrement_expression",
        ):
            return self.increment(node)
        if kind == "pipeline":
            statement = self.pipeline(node)
            return n.Parenthesized(statement, line)
        raise NotEmulated(f"the expression {_text(node)!r}", line)

    def increment(self, node: tree_sitter.Node) -> n.Increment:
        line = _line(node)
        operand = self.expression(_named(node)[0])
        if not isinstance(operand, n.Variable) or operand.name.startswith("env:"):
            raise NotEmulated(f"the operator in {_text(node)!r}", line)
        delta = 1 if "increment" in node.type else -1
        return n.Increment(operand.name, delta, node.type.startswith("pre_"), line)

    def statements_of(self, node: tree_sitter.Node) -> n.Block:
        for child in _named(node):
            if child.type == "statement_list":
                return self.statement_list(child)
        return ()

    def compound(self, node: tree_sitter.Node, children: list[tree_sitter.Node]) -> n.Expr:
        kind = node.type
        line = _line(node)
        if kind in ("array_literal_expression",) and len(children) > 1:
            return n.ArrayLiteral(tuple(self.expression(child) for child in children), line)
        if kind == "expression_with_unary_operator" and node.children and not node.children[0].is_named:
            operator = _text(node.children[0]).lower()
            operand = self.expression(children[0])
            if operator in ("-not", "!"):
                return n.Unary("-not", operand, line)
            if operator in ("-", "+"):
                if (
                    isinstance(operand, n.Const)
                    and isinstance(operand.value, (int, float))
                    and operator == "-"
                ):
                    value = operand.value
                    return n.Const(-value if not isinstance(value, Int64) else Int64(-value), line)
                return n.Unary(operator, operand, line)
            raise NotEmulated(f"the unary operator '{operator}'", line)
        if len(node.children) == 1 or (len(children) == 1 and len(node.children) == 1):
            return self.expression(children[0])
        if len(node.children) == 3:
            left, operator_node, right = node.children
            operator = _text(operator_node).strip().lower()
            if operator not in BINARY_OPERATORS:
                raise NotEmulated(f"the operator '{operator}'", line)
            return n.Binary(operator, self.expression(left), self.expression(right), line)
        if len(children) == 1:
            return self.expression(children[0])
        raise NotEmulated(f"the expression {_text(node)!r}", line)

    def integer(self, node: tree_sitter.Node) -> int:
        text = _text(node)
        line = _line(node)
        try:
            if node.type == "hexadecimal_integer_literal":
                return hex_literal_value(text[2:])
            value = int(text)
        except ValueError:
            raise NotEmulated(f"the number literal {text!r}", line) from None
        return value if -(2**31) <= value < 2**31 else Int64(value)

    def string_literal(self, node: tree_sitter.Node) -> n.Expr:
        line = _line(node)
        if node.type == "verbatim_string_characters":
            return n.Const(_text(node)[1:-1].replace("''", "'"), line)
        if node.type == "expandable_string_literal":
            return self.expandable(node)
        raise NotEmulated("a here-string", line)

    def expandable(self, node: tree_sitter.Node) -> n.Expr:
        raw = node.text or b""
        base = node.start_byte
        parts: list[str | n.Expr] = []
        position = 1  # after the opening quote
        for child in node.children:
            if child.type not in ("variable", "sub_expression"):
                continue
            start = child.start_byte - base
            if start > position:
                parts.append(_unescape(raw[position:start].decode("utf-8")))
            if child.type == "variable":
                parts.append(n.Variable(_variable_name(_text(child), _line(child)), _line(child)))
            else:
                parts.append(n.Subexpression(self.statements_of(child), _line(child)))
            position = child.end_byte - base
        tail = raw[position:-1].decode("utf-8")
        if tail:
            parts.append(_unescape(tail))
        if all(isinstance(part, str) for part in parts):
            return n.Const("".join(part for part in parts if isinstance(part, str)), _line(node))
        return n.Expandable(tuple(parts), _line(node))

    def hash_literal(self, node: tree_sitter.Node) -> n.HashLiteral:
        entries: list[tuple[n.Expr, n.Statement]] = []
        for body in _named(node):
            for entry in _named(body):
                parts = _named(entry)
                key_node = _named(parts[0])[0]
                key: n.Expr
                if key_node.type == "simple_name":
                    key = n.Const(_text(key_node), _line(key_node))
                else:
                    key = self.expression(key_node)
                entries.append((key, self.pipeline(parts[1])))
        return n.HashLiteral(tuple(entries), _line(node))

    def member_access(self, node: tree_sitter.Node) -> n.Expr:
        line = _line(node)
        operator = next(_text(child) for child in node.children if not child.is_named)
        children = _named(node)
        if operator == "::":
            value = None
            if children[0].type == "type_literal":
                value = enum_value(self.type_name(children[0]), self.member_name(children[1]))
            if value is None:
                raise NotEmulated(f"the .NET static member {_text(node)!r}", line)
            return n.Const(value, line)
        target = self.expression(children[0])
        return n.Member(target, self.member_name(children[1]), line)

    def member_name(self, node: tree_sitter.Node) -> str:
        inner = _named(node)
        if len(inner) != 1 or inner[0].type != "simple_name":
            raise NotEmulated(f"the dynamic member name {_text(node)!r}", _line(node))
        return _text(inner[0])

    def invocation(self, node: tree_sitter.Node) -> n.Expr:
        line = _line(node)
        children = _named(node)
        if any(not child.is_named and _text(child) == "::" for child in node.children):
            values = [
                self.expression(argument)
                for part in _named(children[2])
                if part.type == "argument_expression_list"
                for argument in _named(part)
            ]
            type_name = self.type_name(children[0]) if children[0].type == "type_literal" else ""
            method = self.member_name(children[1])
            if not type_name or not emulated(type_name, method, len(values)):
                raise NotEmulated(f"the .NET static call {_text(node)!r}", line)
            return n.StaticCall(type_name, method, tuple(values), line)
        target = self.expression(children[0])
        name = self.member_name(children[1])
        arguments: list[n.Expr] = []
        for part in _named(children[2]):
            if part.type == "argument_expression_list":
                arguments.extend(self.expression(argument) for argument in _named(part))
        return n.MethodCall(target, name, tuple(arguments), line)


def _is_literal(expr: n.Expr) -> bool:
    if isinstance(expr, n.Const):
        return True
    if isinstance(expr, n.Variable):
        return expr.name in ("true", "false", "null")
    if isinstance(expr, n.ArrayLiteral):
        return all(_is_literal(item) for item in expr.items)
    if isinstance(expr, n.ArraySubexpression):
        return all(_is_literal_statement(statement) for statement in expr.body)
    if isinstance(expr, n.HashLiteral):
        return all(_is_literal_statement(value) for _key, value in expr.entries)
    return False


def _is_literal_statement(statement: n.Statement) -> bool:
    return (
        isinstance(statement, n.Pipeline)
        and not statement.commands
        and not isinstance(statement.head, n.CommandCall)
        and _is_literal(statement.head)
    )


def _variable_name(text: str, line: int) -> str:
    """`$Name` -> "name"; `$env:Path` -> "env:path"; scopes other than env: are not emulated."""
    name = text[1:] if text.startswith("$") else text
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    if ":" in name:
        scope, _, rest = name.partition(":")
        if scope.lower() != "env":
            raise NotEmulated(f"the scoped variable ${name}", line)
        return "env:" + rest.lower()
    if name.startswith("@"):
        raise NotEmulated(f"splatting {text}", line)
    return name.lower()


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "`" and index + 1 < length:
            following = text[index + 1]
            out.append(_BACKTICK_ESCAPES.get(following, following))
            index += 2
            continue
        if char == '"' and index + 1 < length and text[index + 1] == '"':
            out.append('"')
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)
