"""slmgr.vbs as cscript.exe runs it: options, WMI calls underneath, text and exit codes (ref §2, §2a, §2b,
§2c).

The script talks to the licensing service only through the CIM views and methods of cim.py, as the real one
does through WMI, so what it prints is always what CIM would read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remediate.sandbox.windows import cim, licensing
from remediate.sandbox.windows.editions import WINDOWS_APPLICATION_ID
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.slmgr_text import error_text, text
from remediate.sandbox.windows.state import (
    EXTENDED_GRACE,
    KMS_PORT,
    LICENSED,
    MAK,
    NON_GENUINE_GRACE,
    NOTIFICATION,
    OOB_GRACE,
    OOT_GRACE,
    UNLICENSED,
    HostState,
    World,
)

E_NOT_GENUINE = 0xC004F200  # ref §2 /ato: notification with this reason -> the non-genuine line
E_GRACE_EXPIRED = 0xC004F009

_URLS = (  # ref §2a: shown by /dlv for products other than KMS clients
    ("processor_cert_url", "http://go.microsoft.com/fwlink/?LinkID=88338"),
    ("machine_cert_url", "http://go.microsoft.com/fwlink/?LinkID=88339"),
    ("use_license_url", "http://go.microsoft.com/fwlink/?LinkID=88341"),
    ("pkey_cert_url", "http://go.microsoft.com/fwlink/?LinkID=88340"),
    ("validation_url", "http://go.microsoft.com/fwlink/?LinkID=88342"),
)


class _Quit(Exception):
    """WScript.Quit: stop the script with an exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class SlmgrRun:
    """One run of the script: the host it acts on and the text it buffers (ref §2b: echoed at exit)."""

    state: HostState
    world: World
    lines: list[str] = field(default_factory=list)

    @property
    def ja(self) -> bool:
        return self.state.japanese

    def out(self, line: str = "") -> None:
        self.lines.append(line)

    def t(self, name: str, **values: str) -> str:
        return text(self.ja, name, **values)

    # --- errors (ref §2b) -----------------------------------------------------------------------------------

    def fail(self, code: int) -> None:
        """Print `Error: 0x<HEX> <text>` and quit with the HRESULT as the exit code."""
        code &= 0xFFFFFFFF
        hex_code = f"{code:08X}"
        message = error_text(self.ja, code)
        if message is None:  # ref §2b: no table entry and no WMI description -> the slui sentence
            message = self.t("slui_hint", ERRCODE=hex_code)
        self.out(f"{self.t('error_prefix')}0x{hex_code} {message}")
        raise _Quit(licensing.to_signed(code))

    def call(self, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except LicensingError as failure:
            self.fail(failure.hresult)

    # --- products -------------------------------------------------------------------------------------------

    def products(self) -> list[dict[str, Any]]:
        return [cim.product_properties(self.state, self.world, c) for c in cim.product_channels(self.state)]

    def windows_products(self) -> list[dict[str, Any]]:
        """ref §2: the current Windows licence: a key, the Windows AppId, not an add-on."""
        return [
            p
            for p in self.products()
            if p["PartialProductKey"]
            and p["ApplicationID"] == WINDOWS_APPLICATION_ID
            and not p["LicenseIsAddon"]
        ]

    def select(self, act_id: str | None) -> list[dict[str, Any]] | None:
        """Products for an optional Activation ID argument; None after printing the not-found line."""
        if not act_id:
            found = self.windows_products()
            if not found:
                self.out(self.t("product_not_found"))
                return None
            return found
        if act_id.lower() == "all":
            return self.products()
        matches = [p for p in self.products() if p["ID"].lower() == act_id.lower()]
        if not matches:
            self.out(self.t("act_id_not_found", ActID=act_id))
            return None
        return matches

    def channel_of(self, product: dict[str, Any]) -> str:
        for channel in cim.product_channels(self.state):
            if cim.product_properties(self.state, self.world, channel)["ID"] == product["ID"]:
                return channel
        raise LookupError(product["ID"])

    def date(self, when: datetime) -> str:
        """A date as VBScript prints it in the host's locale: en-US `M/D/YYYY h:mm:ss AM`, ja-JP `YYYY/MM/DD
        H:mm:ss`."""
        if self.ja:
            day = f"{when.year:04d}/{when.month:02d}/{when.day:02d}"
            return f"{day} {when.hour}:{when.minute:02d}:{when.second:02d}"
        hour = when.hour % 12 or 12
        suffix = "AM" if when.hour < 12 else "PM"
        return f"{when.month}/{when.day}/{when.year} {hour}:{when.minute:02d}:{when.second:02d} {suffix}"


# --- options ------------------------------------------------------------------------------------------------


def _ipk(run: SlmgrRun, args: list[str]) -> None:
    key = args[0]
    run.call(lambda: licensing.install_product_key(run.state, run.world, key))
    run.call(lambda: licensing.refresh(run.state))
    run.out(run.t("installed_pkey", PKEY=key))  # ref §2 /ipk: echoes the key as typed


def _ato(run: SlmgrRun, args: list[str]) -> None:
    selected = run.select(args[0] if args else None)
    if selected is None:
        return
    for product in selected:
        channel = run.channel_of(product)
        kms_client = "VOLUME_KMSCLIENT" in product["Description"]
        if kms_client and run.state.activation_type == 3:
            run.out(run.t("token_only"))  # ref §2 /ato: token-only systems stop here
            return
        run.out(run.t("activating", PRODUCTNAME=product["Name"], PRODUCTID=product["ID"]))
        already = channel == MAK and product["LicenseStatus"] == LICENSED
        if not already:  # ref §2 /ato: skips Activate() for a MAK that is already Licensed
            handle = ("SoftwareLicensingProduct", channel)
            run.call(cim.invoke_method, run.state, run.world, handle, "Activate", {})
            run.call(lambda: licensing.refresh(run.state))
        after = cim.product_properties(run.state, run.world, channel)
        status, reason = after["LicenseStatus"], after["LicenseStatusReason"]
        if status == LICENSED:
            run.out(run.t("activated"))
        elif status == EXTENDED_GRACE:
            run.out(run.t("activated"))
            run.out(run.t("status_extended_grace"))
        elif status == NON_GENUINE_GRACE:
            run.out(run.t("error_prefix") + run.t("non_genuine_grace"))
        elif status == NOTIFICATION and reason == E_NOT_GENUINE:
            run.out(run.t("error_prefix") + run.t("non_genuine_notification"))
        else:
            run.out(run.t("activation_failed"))  # ref §2b: exit code 0 despite the failure


def _status_block(run: SlmgrRun, product: dict[str, Any]) -> None:
    """ref §2a: the License Status lines."""
    status, minutes = product["LicenseStatus"], int(product["GracePeriodRemaining"])
    values = {"MINUTE": str(minutes), "DAY": str(math.ceil(minutes / 1440))}  # %DAY% = ceiling(minutes/1440)
    description = product["Description"]
    if status == UNLICENSED:
        run.out(run.t("status_unlicensed"))
    elif status == LICENSED:
        run.out(run.t("status_licensed"))
        if minutes != 0:
            run.out(run.t("tbl_expiration" if "TIMEBASED_" in description else "vl_expiration", **values))
    elif status in (OOB_GRACE, OOT_GRACE, NON_GENUINE_GRACE, EXTENDED_GRACE):
        name = {
            OOB_GRACE: "status_initial_grace",
            OOT_GRACE: "status_additional_grace",
            NON_GENUINE_GRACE: "status_non_genuine_grace",
            EXTENDED_GRACE: "status_extended_grace",
        }[status]
        run.out(run.t(name))
        run.out(run.t("time_remaining", **values))
    elif status == NOTIFICATION:
        run.out(run.t("status_notification"))
        reason = int(product["LicenseStatusReason"]) & 0xFFFFFFFF
        which = {E_NOT_GENUINE: "reason_non_genuine", E_GRACE_EXPIRED: "reason_expired"}.get(
            reason, "reason_other"
        )
        run.out(run.t(which, ERRCODE=f"{reason:08X}"))
    else:
        run.out(run.t("status_unknown"))


def _kms_client_block(run: SlmgrRun, product: dict[str, Any]) -> None:
    """ref §2a: what a KMS client adds (Configured Activation Type, Most recent activation information...)."""
    run.out(run.t(f"act_type_{int(product['VLActivationTypeEnabled'])}"))
    if product["LicenseStatus"] != LICENSED:
        run.out()
        run.out(run.t("please_activate"))
        return
    indent = "    "
    run.out()
    run.out(run.t("most_recent"))
    run.out(run.t("kms_info"))
    run.out(indent + run.t("cmid") + run.state.cmid)
    if product["KeyManagementServiceLookupDomain"]:
        run.out(indent + run.t("kms_lookup_domain") + product["KeyManagementServiceLookupDomain"])
    if product["KeyManagementServiceMachine"]:
        port = product["KeyManagementServicePort"] or KMS_PORT  # ref §2a: port 0 is printed as 1688
        run.out(indent + run.t("registered_kms") + f"{product['KeyManagementServiceMachine']}:{port}")
    elif product["DiscoveredKeyManagementServiceMachineName"]:
        port = product["DiscoveredKeyManagementServiceMachinePort"] or KMS_PORT
        run.out(
            indent + run.t("kms_from_dns") + f"{product['DiscoveredKeyManagementServiceMachineName']}:{port}"
        )
    else:
        run.out(indent + run.t("kms_from_dns_unavailable"))
    address = product["DiscoveredKeyManagementServiceMachineIpAddress"]
    run.out(indent + (run.t("kms_ip") + address if address else run.t("kms_ip_unavailable")))
    run.out(indent + run.t("kms_pid4") + product["KeyManagementServiceProductKeyID"])
    run.out(indent + run.t("activation_interval", INTERVAL=str(product["VLActivationInterval"])))
    run.out(indent + run.t("renewal_interval", INTERVAL=str(product["VLRenewalInterval"])))
    run.out(indent + run.t("host_caching_enabled" if run.state.host_caching else "host_caching_disabled"))


def _kms_host_block(run: SlmgrRun) -> None:
    """ref §2a: what a KMS host adds (enabled, count, port, DNS publishing, priority, counters)."""
    indent = "    "
    run.out()
    run.out(run.t("kms_enabled"))
    run.out(indent + run.t("kms_current_count") + "0")
    run.out(indent + run.t("kms_listening_port") + str(KMS_PORT))
    run.out(indent + run.t("kms_dns_publishing_enabled"))
    run.out(indent + run.t("kms_priority_normal"))
    run.out()
    run.out(run.t("kms_cumulative"))
    for name in (
        "kms_requests_total",
        "kms_requests_failed",
        "kms_requests_unlicensed",
        "kms_requests_licensed",
        "kms_requests_initial_grace",
        "kms_requests_oot",
        "kms_requests_non_genuine",
        "kms_requests_notification",
    ):
        run.out(indent + run.t(name) + "0")


def _display(run: SlmgrRun, args: list[str], verbose: bool) -> None:
    selected = run.select(args[0] if args else None)
    if selected is None:
        return
    if verbose:
        run.out(run.t("service_version") + cim.service_properties(run.state, run.world)["Version"])
    for product in selected:
        run.out()
        run.out(run.t("name") + product["Name"])
        run.out(run.t("description") + product["Description"])
        kms_client = "VOLUME_KMSCLIENT" in product["Description"]
        if not product["PartialProductKey"]:
            run.out(run.t("license_not_in_use"))
            continue
        if verbose:
            run.out(run.t("act_id") + product["ID"])
            run.out(run.t("app_id") + product["ApplicationID"])
            run.out(run.t("pid4") + (product["ProductKeyID"] or ""))
            run.out(run.t("channel") + (product["ProductKeyChannel"] or ""))
            run.out(run.t("installation_id") + cim.installation_id(run.state))
            if not kms_client:
                for name, url in _URLS:
                    run.out(run.t(name) + url)
        run.out(run.t("partial_pkey") + product["PartialProductKey"])
        _status_block(run, product)
        if verbose:
            end = product["EvaluationEndDate"]
            if product["LicenseStatus"] != UNLICENSED and end != cim.WMI_NULL_DATE:
                run.out(run.t("eval_end_date") + run.date(end))
            run.out(run.t("rearm_count_windows", COUNT=str(run.state.rearm_count)))
            run.out(run.t("rearm_count_sku", COUNT=str(product["RemainingSkuReArmCount"])))
            run.out(run.t("trusted_time") + run.date(run.state.utc_now(run.world)))
        if kms_client:
            _kms_client_block(run, product)
        elif product["IsKeyManagementServiceMachine"] and product["LicenseStatus"] == LICENSED:
            _kms_host_block(run)


def _xpr(run: SlmgrRun, args: list[str]) -> None:
    selected = run.select(args[0] if args else None)
    if selected is None:
        return
    for product in selected:
        status, minutes = product["LicenseStatus"], int(product["GracePeriodRemaining"])
        end = run.date(run.state.utc_now(run.world) + timedelta(minutes=minutes))  # DateAdd("n", grace, Now)
        description = product["Description"]
        if status == UNLICENSED:
            line = run.t("xpr_unlicensed")
        elif status == LICENSED:
            if minutes == 0:
                line = run.t("xpr_licensed")
            elif "TIMEBASED_" in description:
                line = run.t("xpr_tbl", ENDDATE=end)
            else:
                line = run.t("xpr_vl", ENDDATE=end)
        elif status == NOTIFICATION:
            line = run.t("xpr_notification")
        else:
            name = {
                OOB_GRACE: "xpr_initial_grace",
                OOT_GRACE: "xpr_additional_grace",
                NON_GENUINE_GRACE: "xpr_non_genuine_grace",
                EXTENDED_GRACE: "xpr_extended_grace",
            }.get(status)
            line = run.t(name, ENDDATE=end) if name else run.t("status_unknown")
        run.out(product["Name"] + ":")
        run.out("    " + line)


def _split_kms(value: str) -> tuple[str, str | None]:
    """ref §2 /skms: IPv6 must be `[addr]:port`; otherwise the first `:` splits host and port."""
    if value.startswith("["):
        close = value.find("]")
        if close > 0:
            rest = value[close + 1 :]
            return value[: close + 1], (rest[1:] if rest.startswith(":") else None)
    if ":" in value:
        host, port = value.split(":", 1)
        return host, port
    return value, None


def _parse_port(text_value: str) -> int:
    if not text_value.isdigit() or not 1 <= int(text_value) <= 65535:
        raise LicensingError(licensing.E_INVALIDARG)
    return int(text_value)


def _skms(run: SlmgrRun, args: list[str]) -> None:
    typed = args[0]
    if len(args) > 1 and run.select(args[1]) is None:
        return
    host, port = _split_kms(typed)
    previous = run.state.kms_machine

    def apply() -> None:
        try:
            if host:
                licensing.set_kms_machine(run.state, host)
            if port is not None:
                licensing.set_kms_port(run.state, _parse_port(port))
            elif host:
                licensing.clear_kms_port(run.state)
        except LicensingError:
            run.state.kms_machine = previous  # ref §2 /skms: on failure restores the previous name
            raise

    run.call(apply)
    run.out(run.t("kms_name_set", KMS=typed))
    if run.state.lookup_domain:
        run.out(run.t("kms_overrides_domain", KMS=typed))


def _kms_display_name(state: HostState) -> str:
    return f"{state.kms_machine}:{state.kms_port or KMS_PORT}"


def _ckms(run: SlmgrRun, args: list[str]) -> None:
    if args and run.select(args[0]) is None:
        return
    run.call(lambda: licensing.clear_kms_machine(run.state))
    run.call(lambda: licensing.clear_kms_port(run.state))
    run.out(run.t("kms_name_cleared"))
    if run.state.lookup_domain:
        run.out(run.t("domain_in_effect", FQDN=run.state.lookup_domain))


def _skms_domain(run: SlmgrRun, args: list[str]) -> None:
    if len(args) > 1 and run.select(args[1]) is None:
        return
    run.call(lambda: licensing.set_lookup_domain(run.state, args[0]))
    run.out(run.t("kms_domain_set", FQDN=args[0]))
    if run.state.kms_machine:  # ref §2: /skms-domain is ignored while /skms is set
        run.out(run.t("kms_in_effect", KMS=_kms_display_name(run.state)))


def _ckms_domain(run: SlmgrRun, args: list[str]) -> None:
    if args and run.select(args[0]) is None:
        return
    run.call(lambda: licensing.clear_lookup_domain(run.state))
    run.out(run.t("kms_domain_cleared"))
    if run.state.kms_machine:
        run.out(run.t("kms_in_effect", KMS=_kms_display_name(run.state)))


def _skhc(run: SlmgrRun, args: list[str]) -> None:
    run.state.host_caching = True
    run.out(run.t("host_caching_enabled"))


def _ckhc(run: SlmgrRun, args: list[str]) -> None:
    run.state.host_caching = False
    run.out(run.t("host_caching_disabled"))


def _dti(run: SlmgrRun, args: list[str]) -> None:
    selected = run.select(args[0] if args else None)
    if selected is None:
        return
    run.out(run.t("installation_id") + cim.installation_id(run.state))
    run.out()
    run.out(run.t("phone_numbers"))


def _atp(run: SlmgrRun, args: list[str]) -> None:
    selected = run.select(args[1] if len(args) > 1 else None)
    if selected is None:
        return
    product = selected[0]
    run.call(lambda: licensing.deposit_confirmation_id(run.state, run.world, args[0]))
    run.out(run.t("conf_id", ACTID=product["ID"]))


def _upk(run: SlmgrRun, args: list[str]) -> None:
    selected = run.select(args[0] if args else None) if args else run.windows_products()
    if not selected:
        run.out(run.t("pkey_not_found"))  # ref §2 /upk; ref §2b exit code 0
        return
    run.call(lambda: licensing.uninstall_product_key(run.state))
    run.call(lambda: licensing.refresh(run.state))
    run.out(run.t("uninstalled_pkey"))


def _cpky(run: SlmgrRun, args: list[str]) -> None:
    run.call(lambda: licensing.clear_product_key_from_registry(run.state))
    run.out(run.t("cleared_pkey"))


def _rearm(run: SlmgrRun, args: list[str]) -> None:
    run.call(lambda: licensing.rearm(run.state))
    run.out(run.t("rearm_1"))
    run.out(run.t("rearm_2"))


def _rearm_other(run: SlmgrRun, args: list[str]) -> None:
    run.out(run.t("rearm_1"))


def _act_type(run: SlmgrRun, args: list[str]) -> None:
    if len(args) > 1 and run.select(args[1]) is None:
        return
    value = args[0] if args else "0"
    if not value.isdigit():
        run.fail(licensing.E_INVALIDARG)
    run.call(lambda: licensing.set_activation_type(run.state, int(value)))
    run.out(run.t("act_type_set"))


def _kms_host_setting(setting: str) -> Callable[[SlmgrRun, list[str]], None]:
    """ref §2: KMS host settings apply only on an activated KMS host; elsewhere slmgr warns."""

    def handler(run: SlmgrRun, args: list[str]) -> None:
        run.out(run.t("kms_only_warning", SETTING=setting))

    return handler


@dataclass(frozen=True)
class Option:
    name: str
    run: Callable[[SlmgrRun, list[str]], None] | None
    required: str | None = None  # the parameter the option needs, as the usage names it (ref §2b)


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("ipk", _ipk, "<Product Key>"),
        Option("ato", _ato),
        Option("dli", lambda run, args: _display(run, args, verbose=False)),
        Option("dlv", lambda run, args: _display(run, args, verbose=True)),
        Option("xpr", _xpr),
        Option("cpky", _cpky),
        Option("ilc", None, "<License file>"),
        Option("rilc", None),
        Option("rearm", _rearm),
        Option("rearm-app", _rearm_other, "<Application ID>"),
        Option("rearm-sku", _rearm_other, "<Activation ID>"),
        Option("upk", _upk),
        Option("dti", _dti),
        Option("atp", _atp, "<Confirmation ID>"),
        Option("skms", _skms, "<Name[:Port] | : port>"),
        Option("ckms", _ckms),
        Option("skms-domain", _skms_domain, "<FQDN>"),
        Option("ckms-domain", _ckms_domain),
        Option("skhc", _skhc),
        Option("ckhc", _ckhc),
        Option("sai", _kms_host_setting("Volume activation interval"), "<Activation Interval>"),
        Option("sri", _kms_host_setting("Volume renewal interval"), "<Renewal Interval>"),
        Option("sprt", _kms_host_setting("KMS port"), "<Port>"),
        Option("sdns", _kms_host_setting("DNS Publishing")),
        Option("cdns", _kms_host_setting("DNS Publishing")),
        Option("spri", _kms_host_setting("Priority")),
        Option("cpri", _kms_host_setting("Priority")),
        Option("act-type", _act_type),
        Option("lil", None),
        Option("ril", None, "<ILID> <ILvID>"),
        Option("ltc", None),
        Option("fta", None, "<Certificate Thumbprint> [<PIN>]"),
        Option("ad-activation-online", None, "<Product Key>"),
        Option("ad-activation-get-iid", None, "<Product Key>"),
        Option("ad-activation-apply-cid", None, "<Product Key>"),
        Option("ao-list", None),
        Option("del-ao", None, "<Activation Object DN | Activation Object RDN>"),
    )
}

# The usage text (ref §2: printed after "Unrecognized option" or "Invalid combination of command
# parameters.").
_USAGE: tuple[tuple[str | None, tuple[tuple[str, str, str, str], ...]], ...] = (
    (
        "global_options",
        (
            (
                "ipk",
                "<Product Key>",
                "Install product key (replaces existing key)",
                "プロダクト キーをインストールします (既存のキーを置き換えます)",
            ),
            ("ato", "[Activation ID]", "Activate Windows", "Windows のライセンス認証を行います"),
            (
                "dli",
                "[Activation ID | All]",
                "Display license information (default: current license)",
                "ライセンス情報を表示します (既定: 現在のライセンス)",
            ),
            (
                "dlv",
                "[Activation ID | All]",
                "Display detailed license information (default: current license)",
                "詳細なライセンス情報を表示します (既定: 現在のライセンス)",
            ),
            (
                "xpr",
                "[Activation ID]",
                "Expiration date for current license state",
                "現在のライセンス状態の有効期限を表示します",
            ),
        ),
    ),
    (
        "advanced_options",
        (
            (
                "cpky",
                "",
                "Clear product key from the registry (prevents disclosure attacks)",
                "レジストリからプロダクト キーを削除します (漏えい攻撃を防ぎます)",
            ),
            ("ilc", "<License file>", "Install license", "ライセンスをインストールします"),
            (
                "rilc",
                "",
                "Re-install system license files",
                "システム ライセンス ファイルを再インストールします",
            ),
            (
                "rearm",
                "",
                "Reset the licensing status of the machine",
                "コンピューターのライセンス状態をリセットします",
            ),
            (
                "rearm-app",
                "<Application ID>",
                "Reset the licensing status of the given app",
                "指定したアプリのライセンス状態をリセットします",
            ),
            (
                "rearm-sku",
                "<Activation ID>",
                "Reset the licensing status of the given sku",
                "指定した SKU のライセンス状態をリセットします",
            ),
            ("upk", "[Activation ID]", "Uninstall product key", "プロダクト キーをアンインストールします"),
            ("", "", "", ""),
            (
                "dti",
                "[Activation ID]",
                "Display Installation ID for offline activation",
                "オフライン ライセンス認証用のインストール ID を表示します",
            ),
            (
                "atp",
                "<Confirmation ID> [Activation ID]",
                "Activate product with user-provided Confirmation ID",
                "ユーザーが指定した確認 ID で製品のライセンス認証を行います",
            ),
        ),
    ),
    (
        "kms_client_options",
        (
            (
                "skms",
                "<Name[:Port] | : port> [Activation ID]",
                "Set the name and/or the port for the KMS computer this machine will use. IPv6 address must "
                "be specified "
                "in the format [hostname]:port",
                "このコンピューターが使用する KMS "
                "コンピューターの名前とポートの両方またはいずれかを設定します。IPv6 アドレスは "
                "[hostname]:port の形式で指定する必要があります",
            ),
            (
                "ckms",
                "[Activation ID]",
                "Clear name of KMS computer used (sets the port to the default)",
                "使用する KMS コンピューターの名前をクリアします (ポートは既定値に設定されます)",
            ),
            (
                "skms-domain",
                "<FQDN> [Activation ID]",
                "Set the specific DNS domain in which all KMS SRV records can be found. This setting has no "
                "effect if the "
                "specific single KMS host is set via /skms option.",
                "すべての KMS SRV レコードを検索する DNS ドメインを設定します。/skms オプションで特定の KMS "
                "ホストが設定されている"
                "場合、この設定は無効です。",
            ),
            (
                "ckms-domain",
                "[Activation ID]",
                "Clear the specific DNS domain in which all KMS SRV records can be found. The specific KMS "
                "host will be "
                "used if set via /skms. Otherwise default KMS auto-discovery will be used.",
                "KMS SRV レコードを検索する DNS ドメインの設定をクリアします。/skms "
                "で設定されている場合はその KMS ホストが、"
                "それ以外の場合は既定の KMS 自動検出が使用されます。",
            ),
            ("skhc", "", "Enable KMS host caching", "KMS ホストのキャッシュを有効にします"),
            ("ckhc", "", "Disable KMS host caching", "KMS ホストのキャッシュを無効にします"),
        ),
    ),
    (
        "kms_options",
        (
            (
                "sprt",
                "<Port>",
                "Set TCP port KMS will use to communicate with clients",
                "KMS がクライアントとの通信に使用する TCP ポートを設定します",
            ),
            (
                "sai",
                "<Activation Interval>",
                "Set interval (minutes) for unactivated clients to attempt KMS connection. The activation "
                "interval must "
                "be between 15 minutes (min) and 30 days (max) although the default (2 hours) is "
                "recommended.",
                "ライセンス認証されていないクライアントが KMS への接続を試行する間隔 (分) を設定します。15 "
                "分 (最小) から 30 日 "
                "(最大) の範囲で指定できますが、既定値 (2 時間) をお勧めします。",
            ),
            (
                "sri",
                "<Renewal Interval>",
                "Set renewal interval (minutes) for activated clients to attempt KMS connection. The renewal "
                "interval must "
                "be between 15 minutes (min) and 30 days (max) although the default (7 days) is recommended.",
                "ライセンス認証済みのクライアントが KMS への接続を試行する更新間隔 (分) を設定します。15 分 "
                "(最小) から 30 日 "
                "(最大) の範囲で指定できますが、既定値 (7 日) をお勧めします。",
            ),
            (
                "sdns",
                "",
                "Enable DNS publishing by KMS (default)",
                "KMS による DNS 発行を有効にします (既定)",
            ),
            ("cdns", "", "Disable DNS publishing by KMS", "KMS による DNS 発行を無効にします"),
            ("spri", "", "Set KMS priority to normal (default)", "KMS の優先度を標準に設定します (既定)"),
            ("cpri", "", "Set KMS priority to low", "KMS の優先度を低に設定します"),
            (
                "act-type",
                "[Activation-Type] [Activation ID]",
                "Set activation type to 1 (for AD) or 2 (for KMS) or 3 (for Token) or 0 (for all).",
                "ライセンス認証の種類を 1 (AD)、2 (KMS)、3 (トークン)、0 (すべて) のいずれかに設定します。",
            ),
        ),
    ),
)


def _usage(run: SlmgrRun) -> None:
    for name in ("help_1", "help_2"):
        run.out(run.t(name))
    for name in ("help_3", "help_4", "help_5"):
        run.out("           " + run.t(name))
    run.out()
    for header, options in _USAGE:
        if header:
            run.out(run.t(header))
        for option, params, usage_en, usage_ja in options:
            if not option:
                run.out()
                continue
            run.out(f"/{option} {params}")
            run.out("    " + (usage_ja if run.ja else usage_en))
        run.out()
    raise _Quit(1)  # the usage text ends the script with exit code 1


_LOCAL_NAMES = (".", "localhost", "127.0.0.1")


def run_slmgr(state: HostState, world: World, arguments: list[str]) -> tuple[str, str, int]:
    """Run slmgr.vbs with its arguments (after the script path). Returns (stdout, stderr, exit code)."""
    run = SlmgrRun(state, world)
    stderr = ""
    try:
        stderr = _execute(run, arguments)
        code = 0
    except _Quit as quit_:
        code = quit_.code
    # ref §2b: all text is buffered and echoed at exit, each line ended by CRLF
    stdout = "".join(line + "\r\n" for line in run.lines)
    return stdout, stderr, code


def _execute(run: SlmgrRun, arguments: list[str]) -> str:
    # ref §2: the first arguments before one starting with / or - are the remote connection info
    index = 0
    while index < len(arguments) and index < 3 and arguments[index][:1] not in ("/", "-"):
        index += 1
    if index >= len(arguments) or index == 2:
        run.out(run.t("invalid_options"))
        run.out()
        _usage(run)
    if index:
        target = arguments[0].lower()
        names = {*_LOCAL_NAMES, run.state.computer_name.lower(), run.state.fqdn}
        if target not in names:
            # [inf] the sandbox host reaches no other machine's WMI
            run.out(f"Error 0x800706BA occurred in connecting to server {arguments[0]}.")
            raise _Quit(licensing.to_signed(0x800706BA))
    raw = arguments[index]
    option = OPTIONS.get(raw[1:].lower())
    if option is None:
        run.out(run.t("unrecognized_option") + raw)
        run.out()
        _usage(run)
        return ""
    params = arguments[index + 1 :]
    if option.required and not params:
        # ref §2b: "Error: option %OPTION% needs %PARAM%" exits 0
        run.out(run.t("needs_param", OPTION=option.name, PARAM=option.required))
        return ""
    if option.run is None:
        return f"The sandbox does not emulate slmgr.vbs /{option.name}.\r\n"
    option.run(run, params)
    return ""
