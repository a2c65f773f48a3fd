"""Throughput of the sandbox's WinRM server with unmodified pypsrp clients (run by hand; not a test).

    python benchmarks/sandbox_throughput.py [--invokes 200] [--clients 50] [--per-client 10]

The server runs in its own process (multiprocessing), one host per auth method, with a trivial engine: the
numbers measure the protocol stack (HTTP, auth, encryption, WS-Man, PSRP), not an interpreter. Reported:
  (a) sequential invokes on one RunspacePool;
  (b) N concurrent clients, each with its own RunspacePool and connection, each invoking M pipelines;
  (c) the same clients with Client.execute_ps (a new pool per call, as a naive caller does);
each with Basic and with NTLM + message encryption. All 50 clients log on as one user: real Windows allows 30
shells per user (MaxShellsPerUser), so the host's quota is raised to the client count for this benchmark.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pypsrp.client import Client
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.seam import NativeOutcome, PipelineOutcome, PipelineRequest

PASSWORD = "Bench-Sandbox-Pass-1"
USERNAME = "sandbox\\bench"


class ConstantEngine:
    """Answers every pipeline with one short string: the cheapest possible host."""

    def __init__(self, computer_name: str) -> None:
        self.computer_name = computer_name

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        return PipelineOutcome(output=[f"{self.computer_name}: ok"])

    def run_native(self, command: str, arguments: list[str]) -> NativeOutcome:
        return NativeOutcome(stdout=b"ok\r\n")


def serve(auth: str, quota: int, conn: multiprocessing.connection.Connection) -> None:
    faults = TransportFaults(max_shells_per_user=quota, allow_unencrypted=auth == "basic")  # Basic over HTTP
    with Fleet.start(
        [HostSpec("BENCH01", ConstantEngine("BENCH01"), faults)],
        auth=auth,  # type: ignore[arg-type]
        username=USERNAME,
        password=PASSWORD,
    ) as fleet:
        conn.send(fleet.client_options("BENCH01"))
        conn.recv()  # wait until told to stop


def sequential(options: dict[str, Any], invokes: int) -> float:
    with RunspacePool(WSMan("127.0.0.1", **options)) as pool:
        PowerShell(pool).add_script("warm-up").invoke()
        began = time.perf_counter()
        for _ in range(invokes):
            ps = PowerShell(pool).add_script("Get-Date")
            ps.invoke()
        return time.perf_counter() - began


def one_client_with_pool(options: dict[str, Any], invokes: int) -> None:
    with RunspacePool(WSMan("127.0.0.1", **options)) as pool:
        for _ in range(invokes):
            PowerShell(pool).add_script("Get-Date").invoke()


def one_client_with_execute_ps(options: dict[str, Any], invokes: int) -> None:
    client = Client("127.0.0.1", **options)
    for _ in range(invokes):
        client.execute_ps("Get-Date")


def concurrent(options: dict[str, Any], clients: int, per_client: int, worker: Any) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(worker, options, per_client) for _ in range(clients)]:
            future.result()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invokes", type=int, default=200, help="sequential invokes on one pool")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=10, help="invokes per concurrent client")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    for auth in ("basic", "ntlm"):
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(auth, args.clients + 1, child), daemon=True)
        server.start()
        options = {**parent.recv(), "operation_timeout": 20, "read_timeout": 30}
        total = args.clients * args.per_client
        seq = statistics.median(sequential(options, args.invokes) for _ in range(3))
        pooled = concurrent(options, args.clients, args.per_client, one_client_with_pool)
        fresh = concurrent(options, args.clients, args.per_client, one_client_with_execute_ps)
        parent.send("stop")
        server.join(10)
        results[auth] = {
            "sequential": args.invokes / seq,
            "concurrent_pool": total / pooled,
            "concurrent_execute_ps": total / fresh,
        }
        print(
            f"{auth:>5}: (a) {args.invokes} sequential invokes on one pool: {seq:.2f} s"
            f" = {args.invokes / seq:.0f}/s | (b) {args.clients} clients x {args.per_client} invokes,"
            f" pool each: {pooled:.2f} s ="
            f" {total / pooled:.0f}/s | (c) same with execute_ps: {fresh:.2f} s = {total / fresh:.0f}/s"
        )
        sys.stdout.flush()

    basic, ntlm = results["basic"], results["ntlm"]
    print(
        "ratios (NTLM+encryption / Basic):", ", ".join(f"{key} {ntlm[key] / basic[key]:.2f}" for key in basic)
    )
    reuse = ntlm["concurrent_pool"] / ntlm["concurrent_execute_ps"]
    print(f"ratio pool reuse / execute_ps (NTLM, concurrent): {reuse:.2f}")
    target = 100.0
    verdict = "meets" if ntlm["concurrent_pool"] >= target else "MISSES"
    rate = ntlm["concurrent_pool"]
    print(f"NTLM+encryption concurrent invokes: {rate:.0f}/s {verdict} the target of {target:.0f}/s")
    return 0 if ntlm["concurrent_pool"] >= target else 1


if __name__ == "__main__":
    sys.exit(main())
