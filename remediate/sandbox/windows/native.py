"""Native programs of the host: cscript.exe (slmgr.vbs), ipconfig, w32tm, dism, netsh and chcp.

Each takes the argument list and returns a NativeResult with the text the program writes (CRLF line ends) and
its exit code. Japanese hosts print Japanese text (ref §2c).
"""

from __future__ import annotations

import ntpath
from collections.abc import Callable

from remediate.sandbox.commands import NativeResult
from remediate.sandbox.windows import durations, licensing
from remediate.sandbox.windows.codepage import console_codepage
from remediate.sandbox.windows.editions import EDITIONS
from remediate.sandbox.windows.network import flush_cache
from remediate.sandbox.windows.slmgr import run_slmgr
from remediate.sandbox.windows.state import HostState, World

SYSTEM_ROOT = "C:\\Windows"
SLMGR_PATH = f"{SYSTEM_ROOT}\\System32\\slmgr.vbs"
CRLF = "\r\n"

NativeProgram = Callable[[HostState, World, list[str]], NativeResult]


def _lines(*lines: str) -> str:
    return "".join(line + CRLF for line in lines)


# --- cscript.exe --------------------------------------------------------------------------------------------

_WSH_BANNER = _lines(
    "Microsoft (R) Windows Script Host Version 5.812",
    "Copyright (C) Microsoft Corporation. All rights reserved.",
    "",
)


def cscript(state: HostState, world: World, args: list[str]) -> NativeResult:
    """cscript.exe [//host options] <script> [script arguments]; `//NoLogo` drops the banner (ref §2b)."""
    host_options = [a for a in args if a.startswith("//")]
    rest = [a for a in args if not a.startswith("//")]
    banner = "" if any(o.lower() == "//nologo" for o in host_options) else _WSH_BANNER
    if not rest:
        return NativeResult(
            banner + _lines("Usage: CScript scriptname.extension [option...] [arguments...]"), "", 0
        )
    script, script_args = rest[0], rest[1:]
    if ntpath.normcase(ntpath.normpath(script)) != ntpath.normcase(SLMGR_PATH):
        message = (
            f'入力エラー: スクリプト ファイル "{script}" が見つかりません。'
            if state.japanese
            else f'Input Error: Can not find script file "{script}".'
        )
        return NativeResult(banner, _lines(message), 1)
    stdout, stderr, code = run_slmgr(state, world, script_args)
    return NativeResult(banner + stdout, stderr, code)


# --- ipconfig.exe -------------------------------------------------------------------------------------------


def ipconfig(state: HostState, world: World, args: list[str]) -> NativeResult:
    lowered = [a.lower() for a in args]
    if lowered in (["/flushdns"], ["-flushdns"]):
        flush_cache(state)  # ref §4 (232B): `ipconfig /flushdns` after DNS changes
        if state.japanese:
            return NativeResult(
                _lines("", "Windows IP 構成", "", "DNS リゾルバー キャッシュは正常にフラッシュされました。")
            )
        return NativeResult(
            _lines("", "Windows IP Configuration", "", "Successfully flushed the DNS Resolver Cache.")
        )
    return _not_emulated("ipconfig.exe", args)


# --- w32tm.exe ----------------------------------------------------------------------------------------------


def w32tm(state: HostState, world: World, args: list[str]) -> NativeResult:
    lowered = [a.lower() for a in args]
    if not lowered or lowered[0] != "/resync":
        return _not_emulated("w32tm.exe", args)
    sending = (
        "ローカル コンピューターに再同期コマンドを送信しています"
        if state.japanese
        else "Sending resync command to local computer"
    )
    if not state.time_source_reachable:
        failed = (
            "利用可能なタイム データがなかったため、コンピューターは再同期しませんでした。"
            if state.japanese
            else "The computer did not resync because no time data was available."
        )
        return NativeResult(
            _lines(sending, failed), "", licensing.to_signed(0x800705B4)
        )  # [inf] ERROR_TIMEOUT
    state.clock_offset_s = state.time_source_offset_s  # ref §4 / F074: `w32tm /resync` fixes clock skew
    done = "コマンドは正しく完了しました。" if state.japanese else "The command completed successfully."
    return NativeResult(_lines(sending, done))


# --- dism.exe (ref §1b 0xC004F069, §4 CONVERT) --------------------------------------------------------------

DISM_RESTART_REQUIRED = 3010


def _dism_header(state: HostState) -> str:
    version = f"10.0.{state.edition.build}"
    if state.japanese:
        return _lines(
            "",
            "展開イメージのサービスと管理ツール",
            f"バージョン: {version}.1",
            "",
            f"イメージのバージョン: {version}.1",
            "",
        )
    return _lines(
        "",
        "Deployment Image Servicing and Management tool",
        f"Version: {version}.1",
        "",
        f"Image Version: {version}.1",
        "",
    )


def _dism_ok(state: HostState) -> str:
    return "操作は正常に完了しました。" if state.japanese else "The operation completed successfully."


def _dism_error(state: HostState, code: int, message: str) -> NativeResult:
    shown = f"0x{code & 0xFFFFFFFF:08x}" if code < 0 or code > 0xFFFF else str(code)
    log = (
        "DISM ログ ファイルは C:\\Windows\\Logs\\DISM\\dism.log にあります"
        if state.japanese
        else "The DISM log file can be found at C:\\Windows\\Logs\\DISM\\dism.log"
    )
    return NativeResult(
        _dism_header(state)
        + _lines(f"{'エラー' if state.japanese else 'Error'}: {shown}", "", message, "", log),
        "",
        licensing.to_signed(code),
    )


def dism(state: HostState, world: World, args: list[str]) -> NativeResult:
    options: dict[str, str] = {}
    for arg in args:
        if not arg.startswith("/"):
            return _dism_error(state, 87, f"The option {arg} is unknown.")
        name, _, value = arg[1:].partition(":")
        options[name.lower()] = value
    if "online" not in options:
        return _dism_error(state, 87, "The sandbox's DISM serves only the running image: add /Online.")
    ja = state.japanese
    if "get-currentedition" in options:
        label = "現在のエディション" if ja else "Current Edition"
        head = "現在のエディション:" if ja else "Current edition is:"
        return NativeResult(
            _dism_header(state)
            + _lines(head, "", f"{label} : {state.edition.edition_id}", "", _dism_ok(state))
        )
    if "get-targeteditions" in options:
        head = "アップグレードできるエディション:" if ja else "Editions that can be upgraded to:"
        label = "ターゲット エディション" if ja else "Target Edition"
        targets = [f"{label} : {t}" for t in state.edition.conversion_targets]
        return NativeResult(_dism_header(state) + _lines(head, "", *targets, "", _dism_ok(state)))
    if "set-edition" in options:
        return _set_edition(state, world, options)
    return _not_emulated("dism.exe", args)


def _set_edition(state: HostState, world: World, options: dict[str, str]) -> NativeResult:
    target_id = options["set-edition"]
    key = options.get("productkey", "")
    if state.is_domain_controller:
        # ref §4 CONVERT: conversion is not possible on a domain controller [inf: the text and code]
        return _dism_error(
            state,
            50,
            "Changing the edition is not supported on a domain controller."
            if not state.japanese
            else "ドメイン コントローラーではエディションを変更できません。",
        )
    if "accepteula" not in options:
        return _dism_error(state, 87, "The /AcceptEula option is required to set the edition.")
    if target_id.lower() not in {t.lower() for t in state.edition.conversion_targets}:
        return _dism_error(state, 87, f"{target_id} is not a target edition of {state.edition.edition_id}.")
    target = EDITIONS[target_id.lower()]
    with world.lock:
        record = world.key_record(key)
    if record is None or target.edition_id.lower() not in {e.lower() for e in record.editions}:
        return _dism_error(
            state,
            licensing.E_INVALID_PRODUCT_KEY,
            "The Software Licensing Service reported that the product key is invalid.",
        )
    # Staging the edition takes its time; [inf] a conversion stopped meanwhile changes nothing.
    durations.spend(world, state.durations.dism_set_edition_s)
    # ref §4 CONVERT: DISM installs the key, stages the new edition and asks for a restart; the edition and its key
    # take effect when Windows restarts (licensing.restart). Until then Get-CurrentEdition still shows the old one.
    state.pending_edition = (target.edition_id, key)
    source = state.edition
    package = f"Microsoft-Windows-{source.edition_id}Edition~31bf3856ad364e35~amd64~~{source.version}.1"
    if state.japanese:
        body = _lines(
            "製品版へのアップグレードを開始しています...",
            "プロダクト キーのインストールを開始しています...",
            "プロダクト キーのインストールが完了しました。",
            "",
            f"パッケージ {package} を削除しています",
            "[==========================100.0%==========================]",
            "製品版へのアップグレードが完了しました。",
            "",
            _dism_ok(state),
            "この操作を完了するには Windows を再起動してください。",
        )
    else:
        body = _lines(
            "Starting to update components...",
            "Starting to install product key...",
            "Finished installing product key.",
            "",
            f"Removing package {package}",
            "[==========================100.0%==========================]",
            "Finished updating components.",
            "",
            _dism_ok(state),
            "Restart Windows to complete this operation.",
        )
    if "norestart" not in options:
        # DISM then asks "Do you want to restart the computer now? (Y/N)" and restarts on Y [obs:
        # MicrosoftDocs/windowsserverdocs#7679]; [inf] a remote session has no console input, so no answer comes and
        # nothing restarts. The Japanese wording is [inf].
        ja_prompt = "今すぐコンピューターを再起動しますか? (Y/N) "
        body += ja_prompt if state.japanese else "Do you want to restart the computer now? (Y/N) "
    # 3010 = ERROR_SUCCESS_REBOOT_REQUIRED: done, a restart completes it.
    return NativeResult(_dism_header(state) + body, "", DISM_RESTART_REQUIRED)


# --- netsh.exe ----------------------------------------------------------------------------------------------


def netsh(state: HostState, world: World, args: list[str]) -> NativeResult:
    if [a.lower() for a in args] != ["winhttp", "show", "proxy"]:
        return _not_emulated("netsh.exe", args)
    ja = state.japanese
    head = "現在の WinHTTP プロキシ設定:" if ja else "Current WinHTTP proxy settings:"
    body: tuple[str, ...]
    if state.proxy:
        body = (
            f"    {'プロキシ サーバー' if ja else 'Proxy Server(s)'} :  {state.proxy}",
            f"    {'バイパス一覧    ' if ja else 'Bypass List    '} :  {'(なし)' if ja else '(none)'}",
        )
    else:
        body = (
            "    直接アクセス (プロキシ サーバーなし)。" if ja else "    Direct access (no proxy server).",
        )
    return NativeResult(_lines("", head, "", *body, ""))


# --- chcp.com -----------------------------------------------------------------------------------------------


def chcp(state: HostState, world: World, args: list[str]) -> NativeResult:
    page = console_codepage(state)
    return NativeResult(
        _lines(f"現在のコード ページ: {page}" if state.japanese else f"Active code page: {page}")
    )


def _not_emulated(program: str, args: list[str]) -> NativeResult:
    return NativeResult("", _lines(f"The sandbox does not emulate: {program} {' '.join(args)}"), 1)


PROGRAMS: dict[str, NativeProgram] = {
    "cscript.exe": cscript,
    "ipconfig.exe": ipconfig,
    "w32tm.exe": w32tm,
    "dism.exe": dism,
    "netsh.exe": netsh,
    "chcp.com": chcp,
}


def program_for(name: str) -> NativeProgram | None:
    """Find a program by name as a command line gives it: `cscript`, `cscript.exe`, or a full path."""
    base = ntpath.basename(name.strip().strip('"')).lower()
    if base in PROGRAMS:
        return PROGRAMS[base]
    for suffix in (".exe", ".com"):
        if base + suffix in PROGRAMS:
            return PROGRAMS[base + suffix]
    return None


def not_recognized(state: HostState, name: str) -> NativeResult:
    """What cmd.exe prints for an unknown command (exit code 9009)."""
    if state.japanese:
        text = _lines(
            f"'{name}' は、内部コマンドまたは外部コマンド、",
            "操作可能なプログラムまたはバッチ ファイルとして認識されていません。",
        )
    else:
        text = _lines(
            f"'{name}' is not recognized as an internal or external command,",
            "operable program or batch file.",
        )
    return NativeResult("", text, 9009)
