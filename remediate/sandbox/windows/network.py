"""The host's view of the network: its DNS client (with a cache), TCP reachability, and the cmdlets over
them."""

from __future__ import annotations

import ipaddress
from typing import Any

from remediate.sandbox.commands import CmdletError, CommandContext, Invocation
from remediate.sandbox.seam import ErrorRecord, PSObject
from remediate.sandbox.windows import durations
from remediate.sandbox.windows.state import HostState, SrvRecord, World

# Win32 DNS error codes (ref §1a: 9002 server failure, 9003 name error, 9501 no records; 1460 =
# ERROR_TIMEOUT).
DNS_SERVER_FAILURE = 9002
DNS_NAME_ERROR = 9003
DNS_TIMEOUT = 1460

DNS_MESSAGES_EN = {
    DNS_NAME_ERROR: "DNS name does not exist",
    DNS_SERVER_FAILURE: "DNS server failure",
    DNS_TIMEOUT: "This operation returned because the timeout period expired",
}
DNS_MESSAGES_JA = {
    DNS_NAME_ERROR: "DNS 名が存在しません",
    DNS_SERVER_FAILURE: "DNS サーバーのエラーです",
    DNS_TIMEOUT: "タイムアウト期間が経過したため、この操作は終了しました",
}
DNS_ERROR_IDS = {
    DNS_NAME_ERROR: "DNS_ERROR_RCODE_NAME_ERROR",
    DNS_SERVER_FAILURE: "DNS_ERROR_RCODE_SERVER_FAILURE",
    DNS_TIMEOUT: "ERROR_TIMEOUT",
}

# The online activation service, as a name and an address the hosts can test (ref §1b 0x80072EE2).
ACTIVATION_HOSTNAME = "activation-v2.sls.microsoft.com"
ACTIVATION_ADDRESS = "40.91.76.224"


class DnsFailure(Exception):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name}: {DNS_MESSAGES_EN.get(code, code)}")
        self.name = name
        self.code = code

    @property
    def hresult(self) -> int:
        """The Win32 code wrapped as an HRESULT, as the licensing service reports it (9003 -> 0x8007232B)."""
        return 0x80070000 | self.code


def qualify(state: HostState, name: str) -> str:
    """Absolute lower-case name: a single label gets the host's primary DNS suffix appended."""
    name = name.strip().rstrip(".").lower()
    if "." not in name and not is_ip(name):
        name = f"{name}.{state.domain}"
    return name


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def resolve(state: HostState, world: World, name: str, rtype: str) -> list[Any]:
    """Answer a query the way the host's DNS client does: from its cache first, else from the zone.

    Positive answers are cached and survive until the cache is flushed (ipconfig /flushdns or
    Clear-DnsClientCache), so a host keeps using a stale KMS SRV record after DNS changed (ref §4, 232B:
    `ipconfig /flushdns` after DNS changes). Negative answers are not cached. Resolve-DnsName reads the
    same cache, with or without -DnsOnly (which only rules out LLMNR and NetBIOS, not modelled here).
    """
    fqdn = qualify(state, name)
    rtype = rtype.upper()
    if rtype == "A" and is_ip(fqdn):
        return [fqdn.strip("[]")]
    cached = state.dns_cache.get((fqdn, rtype))
    if cached is not None:
        return list(cached)
    if fqdn == ACTIVATION_HOSTNAME and rtype == "A":
        if not state.internet:
            raise DnsFailure(fqdn, DNS_TIMEOUT)
        answer: list[Any] = [ACTIVATION_ADDRESS]
    else:
        if not state.dns_server_reachable:
            raise DnsFailure(fqdn, DNS_TIMEOUT)
        with world.lock:
            found: list[Any] | None
            found = list(world.dns.srv.get(fqdn, [])) if rtype == "SRV" else list(world.dns.a.get(fqdn, []))
        if not found:
            raise DnsFailure(fqdn, DNS_NAME_ERROR)
        answer = found
    state.dns_cache[(fqdn, rtype)] = list(answer)
    return answer


def flush_cache(state: HostState) -> None:
    state.dns_cache.clear()


def tcp_reachable(state: HostState, world: World, address: str, port: int) -> bool:
    """Whether a TCP connection from this host to address:port succeeds."""
    if address == ACTIVATION_ADDRESS:
        return state.internet and world.activation.reachable and port in (80, 443)
    if address == state.ip_address:
        return False
    with world.lock:
        kms = world.kms_host_at(address)
        return kms is not None and kms.reachable and kms.port == port


def failed_tcp_connect(state: HostState, world: World, address: str, port: int) -> None:
    """Spend the time a TCP connection to address:port that does not succeed takes: the connection timeout when
    nothing answers (a firewall that drops, a host that is down: KmsHost.reachable false, no host at the
    address), none when a host that is up refuses the port (it answers RST at once)."""
    if address == state.ip_address:
        return
    with world.lock:
        kms = world.kms_host_at(address)
        answers = kms is not None and kms.reachable
    if not answers:
        durations.spend(world, state.durations.tcp_connect_timeout_s)


def ping_reachable(state: HostState, world: World, address: str) -> bool:
    """Whether an ICMP echo from this host to the address is answered (Test-NetConnection's ping)."""
    if address == state.ip_address:
        return True
    if address == ACTIVATION_ADDRESS:
        return state.internet and world.activation.reachable  # [inf]
    with world.lock:
        kms = world.kms_host_at(address)
        return kms is not None and kms.pingable


# --- cmdlets ------------------------------------------------------------------------------------------------


def _dns_error(state: HostState, failure: DnsFailure) -> CmdletError:
    messages = DNS_MESSAGES_JA if state.japanese else DNS_MESSAGES_EN
    record = ErrorRecord(
        message=f"{failure.name} : {messages.get(failure.code, str(failure.code))}",
        fully_qualified_error_id=f"{DNS_ERROR_IDS.get(failure.code, 'DNS_ERROR')},"
        "Microsoft.DnsClient.Commands.ResolveDnsName",
        category="ResourceUnavailable" if failure.code == DNS_NAME_ERROR else "OperationTimeout",
        exception_type="System.ComponentModel.Win32Exception",
        target_object=failure.name,
        hresult=failure.code,  # the DNS error code (Win32Exception.NativeErrorCode), e.g. 9003
        activity="Resolve-DnsName",
    )
    return CmdletError(record)


def _srv_object(name: str, record: SrvRecord) -> PSObject:
    return PSObject(
        [
            "Microsoft.DnsClient.Commands.DnsRecord_SRV",
            "Microsoft.DnsClient.Commands.DnsRecord",
            "System.Object",
        ],
        {
            "Name": name,
            "Type": "SRV",
            "TTL": record.ttl,
            "Section": "Answer",
            "NameTarget": record.target,
            "Priority": record.priority,
            "Weight": record.weight,
            "Port": record.port,
        },
        to_string=name,
    )


def _a_object(name: str, address: str, section: str = "Answer") -> PSObject:
    return PSObject(
        [
            "Microsoft.DnsClient.Commands.DnsRecord_A",
            "Microsoft.DnsClient.Commands.DnsRecord",
            "System.Object",
        ],
        {
            "Name": name,
            "Type": "A",
            "TTL": 1200,
            "Section": section,
            "IPAddress": address,
            "IP4Address": address,
        },
        to_string=name,
    )


def resolve_dns_name(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    name = str(call.named.get("Name") or (call.positional[0] if call.positional else ""))
    rtype = str(call.named.get("Type") or "A").upper()
    if rtype not in ("A", "SRV"):
        raise CmdletError(
            ErrorRecord(
                message="Cannot bind parameter 'Type'. "
                f"The sandbox answers only A and SRV queries, not {rtype!r}.",
                fully_qualified_error_id="CannotConvertArgumentNoMessage,Microsoft.DnsClient.Commands.ResolveDnsName",
                category="InvalidArgument",
                activity="Resolve-DnsName",
            ),
            terminating=True,
        )
    fqdn = qualify(state, name)
    try:
        answer = resolve(state, world, name, rtype)
    except DnsFailure as failure:
        raise _dns_error(state, failure) from None
    if rtype == "SRV":
        out: list[Any] = [_srv_object(fqdn, record) for record in answer]
        # Windows adds the targets' A records it received as the Additional section.
        for record in answer:
            try:
                for address in resolve(state, world, record.target, "A"):
                    out.append(_a_object(record.target, address, "Additional"))
            except DnsFailure:
                pass
        return out
    return [_a_object(fqdn, address) for address in answer]


def clear_dns_client_cache(
    state: HostState, world: World, call: Invocation, ctx: CommandContext
) -> list[Any]:
    flush_cache(state)  # ref §4 (232B): flush after DNS changes
    return []


def _ping_reply(address: str, succeeded: bool) -> PSObject:
    # The PingReply Test-NetConnection keeps; its view prints it as "PingReplyDetails (RTT) : 0 ms" (RoundtripTime).
    # [inf] the sandbox's network answers in under a millisecond, as F074's LAN example does ("0 ms").
    return PSObject(
        ["System.Net.NetworkInformation.PingReply", "System.Object"],
        {"Status": "Success" if succeeded else "TimedOut", "Address": address, "RoundtripTime": 0},
        to_string="System.Net.NetworkInformation.PingReply",
    )


def test_net_connection(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    """Test-NetConnection as Windows PowerShell 5.1 shows it. With -Port: the TCP test; only when it fails does
    the cmdlet ping too, and then shows PingSucceeded and PingReplyDetails (RTT) before TcpTestSucceeded
    [doc F074: "ComputerName, RemoteAddress, RemotePort 1688, InterfaceAlias, SourceAddress, PingSucceeded True,
    PingReplyDetails (RTT) 0 ms, TcpTestSucceeded False"]. Without -Port: the ping alone. Properties are in the
    order Windows prints them."""
    target = str(
        call.named.get("ComputerName")
        or (call.positional[0] if call.positional else "internetbeacon.msedge.net")
    )
    port_value = call.named.get("Port")
    port = int(port_value) if port_value is not None else None
    try:
        address = resolve(state, world, target, "A")[0]
    except DnsFailure:
        ctx.write_warning(f"Name resolution of {target} failed")
        props: dict[str, Any] = {"ComputerName": target, "RemoteAddress": None}
        if port is not None:
            props["RemotePort"] = port
        props.update({"InterfaceAlias": None, "SourceAddress": None, "PingSucceeded": False})
        if port is not None:
            props["TcpTestSucceeded"] = False
        return [PSObject(_TNC_TYPES, props)]
    props = {"ComputerName": target, "RemoteAddress": address}
    if port is not None:
        props["RemotePort"] = port
    props.update({"InterfaceAlias": "Ethernet", "SourceAddress": state.ip_address})
    tcp_ok = tcp_reachable(state, world, address, port) if port is not None else False
    if port is not None and not tcp_ok:
        failed_tcp_connect(state, world, address, port)
        ctx.write_warning(f"TCP connect to ({address} : {port}) failed")  # first, then the ping's own warning
    if port is None or not tcp_ok:
        ping_ok = ping_reachable(state, world, address)
        if not ping_ok:
            ctx.write_warning(f"Ping to {address} failed with status: TimedOut")
        props["PingSucceeded"] = ping_ok
        props["PingReplyDetails"] = _ping_reply(address, ping_ok)
    if port is not None:
        props["TcpTestSucceeded"] = tcp_ok
    return [PSObject(_TNC_TYPES, props)]


_TNC_TYPES = ["TestNetConnectionResult", "System.Object"]
