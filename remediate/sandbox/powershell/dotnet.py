"""The .NET static methods the interpreter emulates; any other `[Type]::Method()` is SandboxNotEmulated.

[System.Runtime.InteropServices.Marshal] turns a SecureString into its text the way scripts read a password
(SecureStringToBSTR, then PtrToStringAuto / PtrToStringBSTR / PtrToStringUni, then ZeroFreeBSTR), and
[System.Environment]::ExpandEnvironmentVariables expands %NAME% as Windows does (unknown names stay)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from remediate.sandbox.powershell.values import to_string
from remediate.sandbox.seam import PSObject

_MARSHAL = "runtime.interopservices.marshal"
_ENVIRONMENT = "environment"
_pointers = itertools.count(0x1F0000)


def normalize_type(name: str) -> str:
    """A type name as PowerShell resolves it: any case, `System.` optional."""
    lowered = name.lower()
    return lowered[len("system.") :] if lowered.startswith("system.") else lowered


def _bstr(value: Any) -> PSObject:
    """The IntPtr SecureStringToBSTR returns; it remembers the text the unmanaged string holds."""
    type_names = ["System.IntPtr", "System.ValueType", "System.Object"]
    return PSObject(type_names, {}, to_string=str(next(_pointers)), handle=str(value))


def _ptr_to_string(pointer: Any) -> Any:
    if isinstance(pointer, PSObject) and pointer.type_names[:1] == ["System.IntPtr"]:
        return pointer.handle
    return None


def _expand(text: Any, env: dict[str, str]) -> str:
    folded = {key.lower(): value for key, value in env.items()}
    return re.sub(r"%([^%]+)%", lambda m: folded.get(m.group(1).lower(), m.group(0)), to_string(text))


StaticMethod = Callable[[list[Any], dict[str, str]], Any]

STATIC_METHODS: dict[tuple[str, str], StaticMethod] = {
    (_MARSHAL, "securestringtobstr"): lambda args, env: _bstr(args[0]),
    (_MARSHAL, "ptrtostringauto"): lambda args, env: _ptr_to_string(args[0]),
    (_MARSHAL, "ptrtostringbstr"): lambda args, env: _ptr_to_string(args[0]),
    (_MARSHAL, "ptrtostringuni"): lambda args, env: _ptr_to_string(args[0]),
    (_MARSHAL, "zerofreebstr"): lambda args, env: [],
    (_ENVIRONMENT, "expandenvironmentvariables"): lambda args, env: _expand(args[0], env),
}
_ARITY = {key: 1 for key in STATIC_METHODS}


def emulated(type_name: str, method: str, arguments: int) -> bool:
    return _ARITY.get((normalize_type(type_name), method.lower())) == arguments


def call_static(type_name: str, method: str, arguments: list[Any], env: dict[str, str]) -> Any:
    return STATIC_METHODS[(normalize_type(type_name), method.lower())](arguments, env)

