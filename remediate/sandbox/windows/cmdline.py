"""Windows command lines: how a program splits the line it is given, and how PowerShell builds one.

Windows hands a program one string; the program's C runtime splits it (CommandLineToArgvW's rules, "Parsing C
Command-Line Arguments" in Microsoft's C runtime documentation). Windows PowerShell 5.1 builds that string from
a native command's arguments by quoting each argument that contains whitespace, without escaping quotes inside
it, and dropping empty arguments."""

from __future__ import annotations


def split_arguments(line: str) -> list[str]:
    """A command line's arguments as the Microsoft C runtime splits them.

    Whitespace outside double quotes separates arguments; double quotes group and are removed; 2n backslashes
    before a quote become n backslashes and the quote toggles quoting, 2n+1 become n and a literal quote; other
    backslashes are literal; "" inside quotes is a literal quote."""
    arguments: list[str] = []
    current: list[str] = []
    in_argument = False
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            run = index
            while run < len(line) and line[run] == "\\":
                run += 1
            count = run - index
            if run < len(line) and line[run] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    index = run + 1
                else:
                    index = run
            else:
                current.append("\\" * count)
                index = run
            in_argument = True
            continue
        if char == '"':
            if quoted and index + 1 < len(line) and line[index + 1] == '"':
                current.append('"')
                index += 2
                continue
            quoted = not quoted
            in_argument = True
        elif char in " \t" and not quoted:
            if in_argument:
                arguments.append("".join(current))
                current = []
                in_argument = False
        else:
            current.append(char)
            in_argument = True
        index += 1
    if in_argument:
        arguments.append("".join(current))
    return arguments


def join_for_native(arguments: list[str]) -> str:
    """The command line Windows PowerShell 5.1 passes a native program for these arguments."""
    parts: list[str] = []
    for argument in arguments:
        if argument == "":
            continue  # 5.1 drops an empty argument
        needs_quotes = any(char in argument for char in " \t") and not (
            len(argument) >= 2 and argument.startswith('"') and argument.endswith('"')
        )
        parts.append(f'"{argument}"' if needs_quotes else argument)
    return " ".join(parts)
