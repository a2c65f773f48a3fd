"""slmgr.vbs as cscript.exe runs it: options, WMI calls underneath, text and exit codes (ref §2, §2a, §2b,
§2c).

The script talks to the licensing service only through the CIM views and methods of cim.py, as the real one
does through WMI, so what it prints is always what CIM would read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remediate.sandbox.windows import cim, licensing
from remediate.sandbox.windows.editions import WINDOWS_APPLICATION_ID
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.slmgr_text import USAGE, error_text, text
from remediate.sandbox.windows.state import (
    EXTENDED_GRACE,
    KMS_PORT,
    LICENSED,
    NON_GENUINE_GRACE,
    NOTIFICATION,
    OOB_GRACE,
    OOT_GRACE,
    UNLICENSED,
    HostState,
    World,
)

# [src SLMGR DisplayAllInformation] the URL lines of /dlv and the product properties they print
URL_LINES = (
    ("processor_cert_url", "ProcessorURL"),
    ("machine_cert_url", "MachineURL"),
    ("use_license_url", "UseLicenseURL"),
    ("pkey_cert_url", "ProductKeyURL"),
    ("validation_url", "ValidationURL"),
)

E_NOT_GENUINE = 0xC004F200  # ref §2 /ato: notification with this reason -> the non-genuine line
E_GRACE_EXPIRED = 0xC004F009


class ScriptQuit(Exception):
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
        # ref §2b: "0x" + 8 upper-case hex digits; non-negative error numbers print in decimal
        number = f"0x{code:08X}" if code & 0x80000000 else str(code)
        message = error_text(self.ja, code)
        if message is None:  # ref §2b: no table entry and no WMI description -> the slui sentence
            # [src SLMGR] the sentence's "0x%ERRCODE%" is replaced as a whole by the number as printed
            message = self.t("slui_hint").replace("0x%ERRCODE%", number)
        self.out(f"{self.t('error_prefix')}{number} {message}")
        raise ScriptQuit(licensing.to_signed(code))

    def call(self, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except LicensingError as failure:
            self.fail(failure.hresult)

    # --- products -------------------------------------------------------------------------------------------

    def products(self) -> list[dict[str, Any]]:
        return [cim.product_properties(self.state, self.world, c) for c in cim.product_channels(self.state)]

    def keyed(self, act_id: str) -> list[dict[str, Any]]:
        """slmgr's CheckProductForCommand over the products with a key: with no Activation ID the Windows
        licences that are not add-ons, else the product whose ID matches, compared in lower case ([src SLMGR]
        ref §2). "All" is no Activation ID here: only /dli and /dlv know it."""
        wanted = act_id.lower()
        return [
            p
            for p in self.products()
            if p["PartialProductKey"]
            and (
                (not wanted and p["ApplicationID"] == WINDOWS_APPLICATION_ID and not p["LicenseIsAddon"])
                or p["ID"].lower() == wanted
            )
        ]

    def kms_client_target(self, act_id: str) -> bool:
        """GetKmsClientObjectByActivationID: the service without an Activation ID, else any product with that
        ID (with a key or not); an unknown ID prints the not-found line with the ID in lower case."""
        wanted = act_id.lower()
        if not wanted or any(p["ID"].lower() == wanted for p in self.products()):
            return True
        self.out(self.t("act_id_not_found", ActID=wanted))
        return False

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


def _activation_result(run: SlmgrRun, channel: str, success: str) -> None:
    """DisplayActivatedStatus (ref §2 /ato, /atp): the product re-read after RefreshLicenseStatus decides."""
    after = cim.product_properties(run.state, run.world, channel)
    status, reason = after["LicenseStatus"], after["LicenseStatusReason"]
    if status == LICENSED:
        run.out(success)
    elif status == NON_GENUINE_GRACE:
        run.out(run.t("error_prefix") + run.t("non_genuine_grace"))
    elif status == NOTIFICATION and reason == E_NOT_GENUINE:
        run.out(run.t("error_prefix") + run.t("non_genuine_notification"))
    elif status == EXTENDED_GRACE:
        run.out(run.t("activated"))
        run.out(run.t("status_extended_grace"))
    else:
        run.out(run.t("activation_failed"))  # ref §2b: exit code 0 despite the failure


def _ato(run: SlmgrRun, args: list[str]) -> None:
    selected = run.keyed(args[0] if args else "")
    if not selected:
        run.out(run.t("product_not_found"))  # ref §2 /ato: no product; ref §2b exit code 0
        return
    product = selected[0]  # the primary Windows licence or the one Activation ID: slmgr stops after it
    channel = run.channel_of(product)
    if int(product["VLActivationTypeEnabled"]) == 3:
        run.out(run.t("token_only"))  # ref §2 /ato: VLActivationTypeEnabled = 3 -> the token-only line, stop
        return
    run.out(run.t("activating", PRODUCTNAME=product["Name"], PRODUCTID=product["ID"]))
    already = "MAK" in product["Description"] and product["LicenseStatus"] == LICENSED
    if not already:  # ref §2 /ato: skips Activate() for a MAK that is already Licensed
        handle = ("SoftwareLicensingProduct", channel)
        run.call(cim.invoke_method, run.state, run.world, handle, "Activate", {})
        run.call(lambda: licensing.refresh(run.state))
    _activation_result(run, channel, run.t("activated"))


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
        which = {E_NOT_GENUINE: "reason_non_genuine", E_GRACE_EXPIRED: "reason_expired"}.get(reason, "reason_other")
        run.out(run.t(which, ERRCODE=f"{reason:08X}"))
    else:
        run.out(run.t("status_unknown"))


def _kms_client_block(run: SlmgrRun, product: dict[str, Any]) -> None:
    """ref §2a: what a KMS client adds (Configured Activation Type, Most recent activation information...)."""
    run.out(run.t(f"act_type_{int(product['VLActivationTypeEnabled'])}"))
    if product["LicenseStatus"] != LICENSED:
        run.out(run.t("please_activate"))  # ref §2a: straight after the activation type, no blank line
        return
    indent = "    "
    run.out()
    run.out(run.t("most_recent"))
    run.out(run.t("kms_info"))
    run.out(indent + run.t("cmid") + run.state.cmid)
    domain = product["KeyManagementServiceLookupDomain"]
    if domain:
        run.out(indent + run.t("kms_lookup_domain") + domain)
    fixed = product["KeyManagementServiceMachine"]
    if fixed:
        port = product["KeyManagementServicePort"] or KMS_PORT  # ref §2a: port 0 is printed as 1688
        fixed = f"{fixed}:{port}"
        run.out(indent + run.t("registered_kms") + fixed)
    else:
        name = product["DiscoveredKeyManagementServiceMachineName"]
        port = product["DiscoveredKeyManagementServiceMachinePort"]
        if name and port:
            run.out(indent + run.t("kms_from_dns") + f"{name}:{port}")
        else:  # [src SLMGR] a discovered name without a port is "not available" too
            run.out(indent + run.t("kms_from_dns_unavailable"))
    address = product["DiscoveredKeyManagementServiceMachineIpAddress"]
    run.out(indent + (run.t("kms_ip") + address if address else run.t("kms_ip_unavailable")))
    run.out(indent + run.t("kms_pid4") + product["KeyManagementServiceProductKeyID"])
    run.out(indent + run.t("activation_interval", INTERVAL=str(product["VLActivationInterval"])))
    run.out(indent + run.t("renewal_interval", INTERVAL=str(product["VLRenewalInterval"])))
    service = cim.service_properties(run.state, run.world)
    caching = "host_caching_enabled" if service["KeyManagementServiceHostCaching"] else "host_caching_disabled"
    run.out(indent + run.t(caching))
    if domain and fixed:  # ref §2 /skms warning, repeated by /dli when both are set [src SLMGR]
        run.out()
        run.out(run.t("kms_overrides_domain", KMS=fixed))


def _kms_host_block(run: SlmgrRun, product: dict[str, Any]) -> None:
    """ref §2a: what a KMS host adds (enabled, count, port, DNS publishing, priority, counters)."""
    indent = "    "
    service = cim.service_properties(run.state, run.world)
    run.out()
    run.out(run.t("kms_enabled"))
    run.out(indent + run.t("kms_current_count") + str(product["KeyManagementServiceCurrentCount"]))
    port = service["KeyManagementServiceListeningPort"] or KMS_PORT  # listening port 0 is printed as 1688
    run.out(indent + run.t("kms_listening_port") + str(port))
    publishing = service["KeyManagementServiceDnsPublishing"]
    run.out(indent + run.t("kms_dns_publishing_enabled" if publishing else "kms_dns_publishing_disabled"))
    low = service["KeyManagementServiceLowPriority"]
    run.out(indent + run.t("kms_priority_low" if low else "kms_priority_normal"))
    counters = (
        ("kms_requests_total", "KeyManagementServiceTotalRequests"),
        ("kms_requests_failed", "KeyManagementServiceFailedRequests"),
        ("kms_requests_unlicensed", "KeyManagementServiceUnlicensedRequests"),
        ("kms_requests_licensed", "KeyManagementServiceLicensedRequests"),
        ("kms_requests_initial_grace", "KeyManagementServiceOOBGraceRequests"),
        ("kms_requests_oot", "KeyManagementServiceOOTGraceRequests"),
        ("kms_requests_non_genuine", "KeyManagementServiceNonGenuineGraceRequests"),
        ("kms_requests_notification", "KeyManagementServiceNotificationRequests"),
    )
    if product.get("KeyManagementServiceTotalRequests") is None:
        return  # [src SLMGR] the counters are printed only when the property has a value
    run.out()
    run.out(run.t("kms_cumulative"))
    for name, prop in counters:
        run.out(indent + run.t(name) + str(product[prop]))


def _shown_by_display(product: dict[str, Any], parm: str) -> bool:
    """ref §2: /dli and /dlv show the current Windows licence, add-ons with a key, "All", or one Activation ID."""
    primary = (
        bool(product["PartialProductKey"])
        and product["ApplicationID"] == WINDOWS_APPLICATION_ID
        and not product["LicenseIsAddon"]
    )
    addon = bool(product["LicenseIsAddon"]) and bool(product["PartialProductKey"])
    return (not parm and (primary or addon)) or parm == "all" or parm == product["ID"].lower()


def _display(run: SlmgrRun, args: list[str], verbose: bool) -> None:
    parm = (args[0] if args else "").lower()
    if verbose:
        run.out(run.t("service_version") + cim.service_properties(run.state, run.world)["Version"])
    found = False
    for product in run.products():
        if not _shown_by_display(product, parm):
            continue
        found = True
        _display_product(run, product, verbose)
        if parm and parm == product["ID"].lower():
            break  # [src SLMGR] one Activation ID: stop without the closing blank line
        run.out()
    if not found:
        run.out(run.t("pkey_not_found"))  # [src SLMGR] /dli with nothing to show; ref §2b exit code 0


def _display_product(run: SlmgrRun, product: dict[str, Any], verbose: bool) -> None:
    run.out()
    run.out(run.t("name") + product["Name"])
    run.out(run.t("description") + product["Description"])
    description = product["Description"]
    kms_client = "VOLUME_KMSCLIENT" in description
    kms_server = "VOLUME_KMS" in description and not kms_client
    if verbose:
        run.out(run.t("act_id") + product["ID"])
        run.out(run.t("app_id") + product["ApplicationID"])
        run.out(run.t("pid4") + (product["ProductKeyID"] or ""))
        run.out(run.t("channel") + (product["ProductKeyChannel"] or ""))
        run.out(run.t("installation_id") + (product["OfflineInstallationId"] or ""))
        if not kms_client and "VIRTUAL_MACHINE_ACTIVATION" not in description:
            # [src SLMGR] each URL property is printed only when it is not empty, in this order
            for name, prop in URL_LINES:
                if product[prop]:
                    run.out(run.t(name) + product[prop])
    if product["PartialProductKey"]:
        run.out(run.t("partial_pkey") + product["PartialProductKey"])
    else:
        run.out(run.t("license_not_in_use"))  # and the status block still follows [src SLMGR]
    _status_block(run, product)
    if verbose:
        end = product["EvaluationEndDate"]
        if product["LicenseStatus"] != UNLICENSED and end != cim.WMI_NULL_DATE:
            run.out(run.t("eval_end_date") + run.date(end))
        # [src SLMGR] the Windows count is the service's RemainingWindowsReArmCount (an application's own licence
        # would print RemainingAppReArmCount instead); the SKU count is the product's
        service = cim.service_properties(run.state, run.world)
        run.out(run.t("rearm_count_windows", COUNT=str(service["RemainingWindowsReArmCount"])))
        run.out(run.t("rearm_count_sku", COUNT=str(product["RemainingSkuReArmCount"])))
        run.out(run.t("trusted_time") + run.date(product["TrustedTime"]))
    if kms_client:
        _kms_client_block(run, product)
    primary = bool(product["PartialProductKey"]) and not product["LicenseIsAddon"]
    if (kms_server or primary) and product["IsKeyManagementServiceMachine"]:
        _kms_host_block(run, product)


def _xpr(run: SlmgrRun, args: list[str]) -> None:
    wanted = (args[0] if args else "").lower()
    selected = [  # [src SLMGR] the Windows products with a key (add-ons too), or the one Activation ID
        p
        for p in run.products()
        if p["PartialProductKey"]
        and (p["ID"].lower() == wanted if wanted else p["ApplicationID"] == WINDOWS_APPLICATION_ID)
    ]
    if not selected:
        run.out(run.t("pkey_not_found"))  # ref §2b: "Error: product key not found." exits 0
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
            if name is None:
                continue  # [src SLMGR] an unknown status prints nothing
            line = run.t(name, ENDDATE=end)
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
    if not run.kms_client_target(args[1] if len(args) > 1 else ""):
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


def _fixed_kms(run: SlmgrRun) -> str:
    """KeyManagementServiceMachine:KeyManagementServicePort as read back; here port 0 is printed as it is
    ([src SLMGR] SetKmsLookupDomain / ClearKmsLookupDomain, unlike /dli)."""
    service = cim.service_properties(run.state, run.world)
    return f"{service['KeyManagementServiceMachine']}:{service['KeyManagementServicePort']}"


def _ckms(run: SlmgrRun, args: list[str]) -> None:
    if not run.kms_client_target(args[0] if args else ""):
        return
    run.call(lambda: licensing.clear_kms_machine(run.state))
    run.call(lambda: licensing.clear_kms_port(run.state))
    run.out(run.t("kms_name_cleared"))
    if run.state.lookup_domain:
        run.out(run.t("domain_in_effect", FQDN=run.state.lookup_domain))


def _skms_domain(run: SlmgrRun, args: list[str]) -> None:
    if not run.kms_client_target(args[1] if len(args) > 1 else ""):
        return
    run.call(lambda: licensing.set_lookup_domain(run.state, args[0]))
    run.out(run.t("kms_domain_set", FQDN=args[0]))
    if run.state.kms_machine:  # ref §2: /skms-domain is ignored while /skms is set; slmgr says so
        run.out(run.t("kms_overrides_domain", KMS=_fixed_kms(run)))


def _ckms_domain(run: SlmgrRun, args: list[str]) -> None:
    if not run.kms_client_target(args[0] if args else ""):
        return
    run.call(lambda: licensing.clear_lookup_domain(run.state))
    run.out(run.t("kms_domain_cleared"))
    if run.state.kms_machine:
        run.out(run.t("kms_in_effect", KMS=_fixed_kms(run)))


def _skhc(run: SlmgrRun, args: list[str]) -> None:
    run.state.host_caching = True
    run.out(run.t("host_caching_enabled"))


def _ckhc(run: SlmgrRun, args: list[str]) -> None:
    run.state.host_caching = False
    run.out(run.t("host_caching_disabled"))


def _dti(run: SlmgrRun, args: list[str]) -> None:
    selected = run.keyed(args[0] if args else "")
    if not selected:
        run.out(run.t("product_not_found"))
        return
    run.out(run.t("installation_id") + (selected[0]["OfflineInstallationId"] or ""))
    run.out()
    run.out(run.t("phone_numbers"))


def _atp(run: SlmgrRun, args: list[str]) -> None:
    selected = run.keyed(args[1] if len(args) > 1 else "")
    if not selected:
        run.out(run.t("product_not_found"))
        return
    product = selected[0]
    channel = run.channel_of(product)
    # ref §2 /atp: DepositOfflineConfirmationId(the licence's OfflineInstallationId, the confirmation ID as typed)
    installation_id = product["OfflineInstallationId"] or ""
    run.call(lambda: licensing.deposit_confirmation_id(run.state, run.world, installation_id, args[0]))
    run.call(lambda: licensing.refresh(run.state))
    # ref §2 /atp: the deposit line when the product is now Licensed, else the same lines as /ato
    _activation_result(run, channel, run.t("conf_id", ACTID=product["ID"]))


def _upk(run: SlmgrRun, args: list[str]) -> None:
    if not run.keyed(args[0] if args else ""):
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


def _rearm_app(run: SlmgrRun, args: list[str]) -> None:
    run.out(run.t("rearm_1"))


def _rearm_sku(run: SlmgrRun, args: list[str]) -> None:
    wanted = args[0].lower()
    product = next((p for p in run.products() if p["ID"].lower() == wanted), None)
    if product is None:
        run.out(run.t("product_not_found"))  # [src SLMGR] ReArmSku with an unknown Activation ID
        return
    channel = run.channel_of(product)
    run.call(cim.invoke_method, run.state, run.world, ("SoftwareLicensingProduct", channel), "ReArmsku", {})
    run.out(run.t("rearm_1"))


def _act_type(run: SlmgrRun, args: list[str]) -> None:
    value = args[0] if args else "0"
    if not value.isdigit() or not 0 <= int(value) <= 3:
        run.out(run.t("invalid_data"))  # [src SLMGR] SetVLActivationType: outside 0..3, exit code 0
        return
    if not run.kms_client_target(args[1] if len(args) > 1 else ""):
        return
    run.call(lambda: licensing.set_activation_type(run.state, int(value)))
    run.out(run.t("act_type_set"))


def _is_kms_machine(run: SlmgrRun) -> bool:
    """[src SLMGR] the KMS host options look for a product with a key whose IsKeyManagementServiceMachine is
    set; ref §2: elsewhere they only warn."""
    return any(p["IsKeyManagementServiceMachine"] for p in run.products() if p["PartialProductKey"])


def _kms_host_setting(
    setting: str, method: str, argument: str, done: Callable[[SlmgrRun, str], str]
) -> Callable[[SlmgrRun, list[str]], None]:
    """ref §2 /sai /sri /sprt: on an activated KMS host the service method runs and slmgr adds the reboot
    warning; elsewhere "Warning: <setting> can only be set on a KMS machine that is also activated."."""

    def handler(run: SlmgrRun, args: list[str]) -> None:
        value = args[0]
        if method.startswith("SetVL") and value.startswith("-"):
            run.out(run.t("invalid_data"))  # [src SLMGR] a negative interval
            return
        if not _is_kms_machine(run):
            run.out(run.t("kms_only_warning", SETTING=setting))
            return
        if not value.isdigit():
            run.fail(licensing.E_INVALIDARG)  # [inf] WMI refuses a value that is not a number
        handle = ("SoftwareLicensingService", None)
        run.call(cim.invoke_method, run.state, run.world, handle, method, {argument: int(value)})
        run.out(done(run, value))
        run.out(run.t("kms_reboot"))

    return handler


def _flag_setting(setting: str, method: str, argument: str, flag: bool, message: str) -> Option:
    """ref §2 /sdns /cdns /spri /cpri: the same rule as _kms_host_setting, with a fixed flag."""

    def handler(run: SlmgrRun, args: list[str]) -> None:
        if not _is_kms_machine(run):
            run.out(run.t("kms_only_warning", SETTING=setting))
            return
        handle = ("SoftwareLicensingService", None)
        run.call(cim.invoke_method, run.state, run.world, handle, method, {argument: flag})
        run.out(run.t(message))
        run.out(run.t("kms_reboot"))

    return Option("", handler)


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
        Option("rearm-app", _rearm_app, "<Application ID>"),
        Option("rearm-sku", _rearm_sku, "<Activation ID>"),
        Option("upk", _upk),
        Option("dti", _dti),
        Option("atp", _atp, "<Confirmation ID>"),
        Option("skms", _skms, "<Name[:Port] | : port>"),
        Option("ckms", _ckms),
        Option("skms-domain", _skms_domain, "<FQDN>"),
        Option("ckms-domain", _ckms_domain),
        Option("skhc", _skhc),
        Option("ckhc", _ckhc),
        Option(
            "sai",
            _kms_host_setting(
                "Volume activation interval",
                "SetVLActivationInterval",
                "ActivationInterval",
                lambda run, value: run.t("activation_set", ACTIVATION=value),
            ),
            "<Activation Interval>",
        ),
        Option(
            "sri",
            _kms_host_setting(
                "Volume renewal interval",
                "SetVLRenewalInterval",
                "RenewalInterval",
                lambda run, value: run.t("renewal_set", RENEWAL=value),
            ),
            "<Renewal Interval>",
        ),
        Option(
            "sprt",
            _kms_host_setting(
                "KMS port",
                "SetKeyManagementServiceListeningPort",
                "PortNumber",
                lambda run, value: run.t("kms_port_set", PORT=value),
            ),
            "<Port>",
        ),
        dataclasses.replace(
            _flag_setting(
                "DNS Publishing",
                "DisableKeyManagementServiceDnsPublishing",
                "DisablePublishing",
                False,
                "kms_dns_publishing_enabled",
            ),
            name="sdns",
        ),
        dataclasses.replace(
            _flag_setting(
                "DNS Publishing",
                "DisableKeyManagementServiceDnsPublishing",
                "DisablePublishing",
                True,
                "kms_dns_publishing_disabled",
            ),
            name="cdns",
        ),
        dataclasses.replace(
            _flag_setting(
                "Priority",
                "EnableKeyManagementServiceLowPriority",
                "EnableLowPriority",
                False,
                "kms_priority_set_normal",
            ),
            name="spri",
        ),
        dataclasses.replace(
            _flag_setting(
                "Priority",
                "EnableKeyManagementServiceLowPriority",
                "EnableLowPriority",
                True,
                "kms_priority_set_low",
            ),
            name="cpri",
        ),
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


def _usage(run: SlmgrRun) -> None:
    for name in ("help_1", "help_2"):
        run.out(run.t(name))
    for name in ("help_3", "help_4", "help_5"):
        run.out("           " + run.t(name))
    for header, options in USAGE:
        run.out()  # [src SLMGR] DisplayUsage: one blank line between sections, none after the last
        if header:
            run.out(run.t(header))
        for option, params, usage_en, usage_ja in options:
            if not option:
                run.out()
                continue
            run.out(f"/{option} {params}")
            run.out("    " + (usage_ja if run.ja else usage_en))
    raise ScriptQuit(1)  # the usage text ends the script with exit code 1


_LOCAL_NAMES = (".", "localhost", "127.0.0.1")


def run_slmgr(state: HostState, world: World, arguments: list[str]) -> tuple[str, str, int]:
    """Run slmgr.vbs with its arguments (after the script path). Returns (stdout, stderr, exit code)."""
    run = SlmgrRun(state, world)
    stderr = ""
    try:
        stderr = _execute(run, arguments)
        code = 0
    except ScriptQuit as quit_:
        code = quit_.code
    # ref §2b: all text is buffered (each line ended by CRLF) and echoed at exit with WScript.Echo, which adds
    # its own CRLF: output ends with an empty line ([src SLMGR] ExitScript echoes only a non-empty buffer)
    stdout = "".join(line + "\r\n" for line in run.lines)
    if stdout:
        stdout += "\r\n"
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
            # [src SLMGR] ShowError: the connection template, then " " and the L_MsgError text
            message = run.t("connection_error", ERRCODE="800706BA", COMPUTERNAME=arguments[0])
            run.out(f"{message} {error_text(run.ja, 0x800706BA)}")
            raise ScriptQuit(licensing.to_signed(0x800706BA))
    raw = arguments[index]
    option = OPTIONS.get(raw[1:].lower())
    if option is None:
        run.out(run.t("unrecognized_option") + raw)
        run.out()
        _usage(run)
        return ""
    params = arguments[index + 1 :]
    if option.required and not params:
        # [src SLMGR] HandleOptionParam: a blank line, "Error: option %OPTION% needs %PARAM%", then the usage
        # text, which ends the script with exit code 1
        run.out()
        run.out(run.t("needs_param", OPTION=option.name, PARAM=option.required))
        _usage(run)
    if option.run is None:
        return f"The sandbox does not emulate slmgr.vbs /{option.name}.\r\n"
    option.run(run, params)
    return ""
