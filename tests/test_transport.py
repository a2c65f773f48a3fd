"""The transport against the sandbox's real WinRM server with unmodified pypsrp: results, every fault kind."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests.adapters

from remediate.connector import ScriptCall
from remediate.errors import TransportError, UsageError
from remediate.inventory import Host, parse_hosts
from remediate.productkey import ProductKey
from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.seam import ErrorRecord, NativeOutcome, PipelineOutcome, PipelineRequest
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session, build_wsman, poll_timeout, translate

KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
# One password for every fleet of this process: the NTLM acceptor's credential file is process-wide, and two
# passwords for the same user would shadow each other.
SANDBOX_PASSWORD = "Sbx-transport-tests-9a"


def result(**fields: Any) -> str:
    base: dict[str, Any] = {"ok": True, "hresult": None, "license_status": 1, "changed": False, "output": ""}
    base.update(fields)
    return json.dumps(base)


class ScriptedEngine:
    """A host whose scripts are names of behaviours; it remembers the parameters it was given."""

    def __init__(self, computer_name: str = "WS01") -> None:
        self.computer_name = computer_name
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends the "wait" behaviour

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        command = request.commands[0]
        if not command.is_script and command.text == "Write-Output":  # as PowerShell's Write-Output -InputObject
            return PipelineOutcome(output=[value for _, value in command.parameters])
        parameters = {name: value for name, value in command.parameters if name}
        with self.lock:
            self.received.append(parameters)
        behaviour = command.text.strip()
        if behaviour == "ok":
            return PipelineOutcome(output=["native text kept in a variable", result(data={"n": 1})])
        if behaviour == "fail-code":
            return PipelineOutcome(output=[result(ok=False, hresult=-1073418124, license_status=5)])
        if behaviour == "echo":
            return PipelineOutcome(output=[result(output=f"installed {parameters.get('ProductKey')}")])
        if behaviour == "throw":
            return PipelineOutcome(state="Failed", failure=ErrorRecord("Access is denied."))
        if behaviour == "write-error":
            return PipelineOutcome(errors=[ErrorRecord("Get-CimInstance: Invalid class")])
        if behaviour == "no-json":
            return PipelineOutcome(output=["Product activated successfully."])
        if behaviour == "pause":  # a script that takes a while, within its step's limit
            time.sleep(0.6)
            return PipelineOutcome(output=[result(data={"paused": True})])
        if behaviour == "wait":  # a script that runs far longer than any step may
            self.released.wait(30)
            return PipelineOutcome(output=[result()])
        return PipelineOutcome(state="Failed", failure=ErrorRecord(f"unknown behaviour {behaviour}"))

    def run_native(self, command: str, arguments: list[str]) -> NativeOutcome:
        return NativeOutcome()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with Fleet.start([HostSpec("WS01", ScriptedEngine())], auth="ntlm", password=SANDBOX_PASSWORD) as running:
        yield running


def host_of(fleet: Fleet, name: str = "WS01") -> Host:
    endpoint = fleet.endpoint(name)
    return Host(endpoint.address, endpoint.port, {"scheme": endpoint.scheme, "auth": str(fleet.auth)})


def credentials_of(fleet: Fleet, password: str | None = None) -> Credentials:
    return Credentials(fleet.username, Secret(password if password is not None else fleet.password))


FAST = ConnectionOptions(connection_timeout=3, operation_timeout=1)


def test_a_step_result_comes_back_parsed(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        run = session.run("ok", {}, timeout_s=10)
        assert run.script_error is None and run.result.ok and run.result.data == {"n": 1}
        failed = session.run("fail-code", {}, timeout_s=10)
        assert not failed.result.ok and str(failed.result.hresult) == "0xC004F074"
        assert failed.result.license_status == 5


def test_one_pool_serves_every_step_of_a_host(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        for _ in range(5):
            session.run("ok", {}, timeout_s=10)
        assert fleet.shell_count("WS01") == 1
    assert fleet.shell_count("WS01") == 0


def test_secrets_reach_the_host_as_parameters_and_never_come_back(fleet: Fleet) -> None:
    engine = ScriptedEngine()
    own = Fleet.start([HostSpec("WS02", engine)], auth="ntlm", password=SANDBOX_PASSWORD)
    with own, Session(host_of(own, "WS02"), FAST, credentials_of(own)) as session:
        run = session.run("echo", {"ProductKey": ProductKey.parse(KEY), "KmsPort": 1688}, timeout_s=10)
    assert engine.received[-1] == {"ProductKey": KEY, "KmsPort": 1688}
    assert KEY not in run.result.output and "2YT43" in run.result.output


def test_a_throw_is_a_failed_step_of_kind_script(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        run = session.run("throw", {}, timeout_s=10)
    assert (
        not run.result.ok
        and run.script_error == "Access is denied."
        and "Access is denied." in run.result.output
    )


def test_an_error_stream_without_a_result_is_a_failed_step(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        run = session.run("write-error", {}, timeout_s=10)
        assert not run.result.ok and run.script_error and "Invalid class" in run.script_error
        text = session.run("no-json", {}, timeout_s=10)
        assert not text.result.ok and text.script_error and "not JSON" in text.script_error


def calls(*scripts: str, timeout_s: float = 10) -> list[ScriptCall]:
    return [ScriptCall(script, {}, timeout_s) for script in scripts]


def test_several_steps_in_one_invocation_cost_two_requests_and_keep_their_own_results(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request.url)
        return real_send(adapter, request, **options)

    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        session.run("ok", {}, timeout_s=10)
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
        batch = session.run_batch(calls("ok", "write-error", "fail-code", "no-json"))
        assert len(sent) == 2 and batch.error is None
    ok, erred, failed, text = batch.runs
    assert ok.result.ok and ok.result.data == {"n": 1} and ok.errors == []
    assert not erred.result.ok and erred.errors == ["Get-CimInstance: Invalid class"]
    assert str(failed.result.hresult) == "0xC004F074" and failed.errors == []
    assert text.script_error and "not JSON" in text.script_error


def test_a_throw_ends_the_invocation_and_keeps_the_results_before_it(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        batch = session.run_batch(calls("ok", "throw", "ok"))
    assert batch.error is None and len(batch.runs) == 2  # the third never ran: the engine sends it alone
    assert batch.runs[0].result.ok
    assert batch.runs[1].script_error == "Access is denied." and not batch.runs[1].result.ok


def test_each_step_of_an_invocation_has_its_own_time_limit(fleet: Fleet) -> None:
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        batch = session.run_batch(calls("pause", "pause", timeout_s=1))  # 1.2 s in all, each within its 1 s
    assert batch.error is None and [run.result.data for run in batch.runs] == [{"paused": True}] * 2


@pytest.mark.slow
def test_an_invocation_past_its_time_is_stopped_and_the_session_goes_on() -> None:
    engine = ScriptedEngine("WS07")
    with Fleet.start([HostSpec("WS07", engine)], auth="ntlm", password=SANDBOX_PASSWORD) as fleet:
        options = ConnectionOptions(connection_timeout=3, operation_timeout=20)
        with Session(host_of(fleet, "WS07"), options, credentials_of(fleet)) as session:
            began = time.monotonic()
            batch = session.run_batch([ScriptCall("ok", {}, 1.0), ScriptCall("wait", {}, 1.0)])
            took = time.monotonic() - began
            engine.released.set()
            assert session.run("ok", {}, timeout_s=10).result.ok
    assert batch.error is not None and batch.error.kind == "timeout" and 2 <= took < 3.5
    assert batch.runs == []  # the sandbox sends a pipeline's output when it ends: nothing came


def fault_fleet(faults: TransportFaults, **start: Any) -> Fleet:
    auth = start.pop("auth", "ntlm")
    spec = HostSpec("WS09", ScriptedEngine("WS09"), faults)
    return Fleet.start([spec], auth=auth, password=SANDBOX_PASSWORD, **start)


def open_and_run(fleet: Fleet, options: ConnectionOptions = FAST, password: str | None = None) -> None:
    with Session(host_of(fleet, "WS09"), options, credentials_of(fleet, password)) as session:
        session.run("ok", {}, timeout_s=10)


def kind_of(call: Any) -> TransportError:
    with pytest.raises(TransportError) as caught:
        call()
    return caught.value


@pytest.mark.slow
def test_a_host_that_refuses_is_refused_and_transient() -> None:
    with fault_fleet(TransportFaults(refuse_connections=True)) as fleet:
        error = kind_of(lambda: open_and_run(fleet))
    assert error.kind == "refused" and error.transient and error.host and error.host.startswith("127.0.0.1:")


@pytest.mark.slow
def test_a_wrong_password_is_auth_and_never_printed() -> None:
    with fault_fleet(TransportFaults()) as fleet:
        error = kind_of(lambda: open_and_run(fleet, password="Wrong-Password-123"))
    assert error.kind == "auth" and not error.transient
    assert "Wrong-Password-123" not in str(error) and "Wrong-Password-123" not in repr(error)


@pytest.mark.slow
def test_a_401_is_auth() -> None:
    with fault_fleet(TransportFaults(unauthorized=True)) as fleet:
        assert kind_of(lambda: open_and_run(fleet)).kind == "auth"


@pytest.mark.slow
def test_a_5xx_is_protocol_and_transient() -> None:
    with fault_fleet(TransportFaults(http_5xx_first=100)) as fleet:
        error = kind_of(lambda: open_and_run(fleet))
    assert (error.kind, error.transient) == ("protocol", True)


@pytest.mark.slow
def test_a_dropped_connection_is_transient() -> None:
    with fault_fleet(TransportFaults(drop_first=1)) as fleet:
        error = kind_of(lambda: open_and_run(fleet))
    assert (error.kind, error.transient) == ("protocol", True) and "dropped" in error.message


@pytest.mark.slow
def test_one_hung_receive_is_sent_again_and_the_step_completes() -> None:
    with fault_fleet(TransportFaults(hang_receive_first=1)) as fleet:
        options = ConnectionOptions(operation_timeout=1, receive_backoff=0.01)
        with Session(host_of(fleet, "WS09"), options, credentials_of(fleet)) as session:
            run = session.run("ok", {}, timeout_s=30)
    assert run.result.ok and run.duration_s >= 2.5  # one Receive waited out its timeout


def timed_step(session: Session, script: str, timeout_s: float) -> tuple[TransportError, float]:
    began = time.monotonic()
    error = kind_of(lambda: session.run(script, {}, timeout_s=timeout_s))
    return error, time.monotonic() - began


@pytest.mark.slow
def test_a_host_that_never_answers_ends_in_a_timeout_when_the_step_timeout_says() -> None:
    # Every Receive hangs; pypsrp alone would send each one 6 times, waiting operation_timeout + 2 s each time.
    with fault_fleet(TransportFaults(hang_receive_first=100)) as fleet:
        options = ConnectionOptions(connection_timeout=3, operation_timeout=20)
        with Session(host_of(fleet, "WS09"), options, credentials_of(fleet)) as session:
            error, took = timed_step(session, "ok", timeout_s=3)
    assert (error.kind, error.transient) == ("timeout", True) and "within 3s" in error.message
    assert 3 <= took < 4.5  # the step's timeout, plus at most the Signal that stops it


@pytest.mark.slow
def test_a_script_that_runs_too_long_is_stopped_and_the_session_goes_on() -> None:
    engine = ScriptedEngine("WS08")
    with Fleet.start([HostSpec("WS08", engine)], auth="ntlm", password=SANDBOX_PASSWORD) as fleet:
        options = ConnectionOptions(connection_timeout=3, operation_timeout=20)
        with Session(host_of(fleet, "WS08"), options, credentials_of(fleet)) as session:
            error, took = timed_step(session, "wait", timeout_s=1.5)
            engine.released.set()
            after = session.run("ok", {}, timeout_s=10)
            assert fleet.shell_count("WS08") == 1
    assert error.kind == "timeout" and 1.5 <= took < 3
    assert after.result.ok


@pytest.mark.parametrize(
    ("remaining", "operation_timeout", "expected"),
    [(60, 20, 20), (23, 20, 21), (10, 20, 8), (3, 1, 1), (2.2, 20, 0.5), (0.1, 20, 0.5)],
)
def test_each_receive_fits_before_the_deadline(remaining: float, operation_timeout: int, expected: float) -> None:
    assert poll_timeout(remaining, operation_timeout) == expected


def test_a_normal_step_costs_two_requests(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """One Command and one Receive: the timeout machinery adds no round trip."""
    sent: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request.url)
        return real_send(adapter, request, **options)

    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        session.run("ok", {}, timeout_s=10)
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
        for _ in range(3):
            assert session.run("ok", {}, timeout_s=10).result.ok
        assert len(sent) == 3 * 2


@pytest.mark.slow
@pytest.mark.parametrize("https", [False, True], ids=["http-ntlm-sealed", "https-basic"])
def test_every_message_goes_out_with_the_headers_pypsrp_gives_it(
    https: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request after the logon is built from the session's once-prepared request: it still carries the
    session's headers, the message's own type and length, and the body that was sealed for it."""
    sent: list[Any] = []
    real_send = requests.adapters.HTTPAdapter.send

    def capturing_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request)
        return real_send(adapter, request, **options)

    auth = "basic" if https else "ntlm"
    with fault_fleet(TransportFaults(), auth=auth, https=https) as own:
        endpoint = own.endpoint("WS09")
        host = Host(endpoint.address, endpoint.port,
                    {"scheme": endpoint.scheme, "auth": auth, "ca_file": str(own.ca_file) if https else None})
        with Session(host, FAST, credentials_of(own)) as session:
            session.run("ok", {}, timeout_s=10)
            monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", capturing_send)
            for script in ("ok", "fail-code"):
                assert session.run(script, {}, timeout_s=10).result is not None
    assert len(sent) == 2 * 2 + 1  # two steps, then the pool closed
    assert len({request.body for request in sent}) == len(sent)  # each message its own body (sealed anew)
    for request in sent:
        headers = request.headers
        assert (request.method, request.url) == ("POST", f"{endpoint.scheme}://{endpoint.address}:{endpoint.port}/wsman")
        assert (headers["User-Agent"], headers["Accept-Encoding"]) == ("Python PSRP Client", "identity")
        assert headers["Content-Length"] == str(len(request.body))
        if https:
            assert headers["Content-Type"] == "application/soap+xml;charset=UTF-8"
            assert headers["Authorization"].startswith("Basic ")
            assert b"<s:Envelope" in request.body
        else:
            assert headers["Content-Type"] == ('multipart/encrypted;protocol="application/HTTP-SPNEGO-session-'
                                               'encrypted";boundary="Encrypted Boundary"')
            assert headers["Connection"] == "Keep-Alive" and "Authorization" not in headers
            assert b"<s:Envelope" not in request.body  # sealed


def test_logging_on_with_ntlm_costs_one_round_trip_before_the_first_message(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first token goes out at once (no anonymous request) and the last one rides on the pool's Create."""
    sent: list[str | None] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request.headers.get("Authorization"))
        return real_send(adapter, request, **options)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        assert len(sent) == 3  # token, Create (with the last token), Receive: the pool is open
        assert all(header and header.startswith("Negotiate ") for header in sent[:2]) and sent[2] is None
        assert session.run("ok", {}, timeout_s=10).result.ok


@pytest.mark.slow
def test_negotiate_logs_on_without_an_anonymous_request(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str | None] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request.headers.get("Authorization"))
        return real_send(adapter, request, **options)

    engine = ScriptedEngine("WS06")
    with Fleet.start([HostSpec("WS06", engine)], auth="negotiate", password=SANDBOX_PASSWORD) as own:
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
        with Session(host_of(own, "WS06"), FAST, credentials_of(own)) as session:
            assert session.run("ok", {}, timeout_s=10).result.ok
    assert sent[0] and sent[0].startswith("Negotiate ")  # the first request already carries a token
    assert len(sent) == 2 + 2 + 2 + 1  # two tokens, the pool opened, one step, the pool closed


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_host_that_accepts_tcp_but_never_answers_times_out_on_the_connection_timeout(
    silent_port: int, scheme: str
) -> None:
    host = Host("127.0.0.1", silent_port, {"scheme": scheme, "auth": "ntlm"})
    options = ConnectionOptions(connection_timeout=1, operation_timeout=20)
    began = time.monotonic()
    error = kind_of(lambda: Session(host, options, Credentials("u", Secret("p"))).open())
    assert (error.kind, error.transient) == ("timeout", True)
    assert time.monotonic() - began < 2.5


@pytest.mark.slow
def test_the_shell_quota_is_quota_and_transient() -> None:
    with fault_fleet(TransportFaults(max_shells_per_user=1)) as fleet:
        host = host_of(fleet, "WS09")
        with Session(host, FAST, credentials_of(fleet)):
            error = kind_of(lambda: Session(host, FAST, credentials_of(fleet)).open())
    assert (error.kind, error.transient) == ("quota", True)


def test_a_name_that_does_not_resolve_is_dns() -> None:
    host = Host("no-such-host.invalid", 5985, {"scheme": "http", "auth": "ntlm"})
    error = kind_of(lambda: Session(host, FAST, Credentials("u", Secret("p"))).open())
    assert error.kind == "dns" and not error.transient


@pytest.mark.slow
def test_https_verifies_the_certificate(tmp_path: Path) -> None:
    with fault_fleet(TransportFaults(), https=True) as fleet:
        host = host_of(fleet, "WS09")
        error = kind_of(lambda: Session(host, FAST, credentials_of(fleet)).open())
        assert error.kind == "tls"
        # The hosts file the sandbox writes carries the CA: it works as is.
        (from_file,) = parse_hosts(fleet.hosts_file_text(), source=tmp_path / "hosts.txt")
        with Session(from_file, FAST, credentials_of(fleet)) as session:
            assert session.run("ok", {}, timeout_s=10).result.ok
        # --insecure is explicit.
        with Session(
            host, ConnectionOptions(operation_timeout=1, insecure=True), credentials_of(fleet)
        ) as session:
            assert session.run("ok", {}, timeout_s=10).result.ok


@pytest.mark.slow
def test_basic_over_https_works_and_over_http_is_refused_before_connecting() -> None:
    with fault_fleet(TransportFaults(), auth="basic", https=True) as fleet:
        endpoint = fleet.endpoint("WS09")
        host = Host(endpoint.address, endpoint.port, {"auth": "basic", "ca_file": str(fleet.ca_file)})
        with Session(host, FAST, credentials_of(fleet)) as session:
            assert session.run("ok", {}, timeout_s=10).result.ok
    with pytest.raises(UsageError, match="clear text"):
        Session(
            Host("pc1", 5985, {"scheme": "http", "auth": "basic"}), FAST, Credentials("u", Secret("p"))
        ).open()


def test_host_variables_override_the_run_options() -> None:
    options = ConnectionOptions(auth="kerberos", scheme="https", ca_file="/etc/ca.pem")
    host = Host("pc1", 15985, {"scheme": "http", "auth": "ntlm"})
    chosen = options.for_host(host)
    assert (chosen.scheme, chosen.auth, chosen.effective_port, chosen.ca_file) == (
        "http",
        "ntlm",
        15985,
        "/etc/ca.pem",
    )
    assert ConnectionOptions().for_host(Host("pc2")).effective_port == 5986


def test_credentials_come_from_the_environment_and_hide_the_password() -> None:
    credentials = Credentials.from_environment(
        {"REMEDIATE_USERNAME": "corp\\ops", "REMEDIATE_PASSWORD": "S3cret!x"}
    )
    assert credentials is not None and credentials.username == "corp\\ops"
    assert "S3cret!x" not in repr(credentials) and "S3cret!x" not in str(credentials)
    assert Credentials.from_environment({}) is None


def test_translate_masks_secrets_in_messages() -> None:
    error = translate(OSError(f"cannot use {KEY}"), "pc1", [ProductKey.parse(KEY)])
    assert KEY not in str(error) and error.host == "pc1"


class _SlowDeletes(dict):  # type: ignore[type-arg]
    """ElementTree's namespace table, with a pause after each delete: the window in which another thread
    building a WSMan would find the name missing."""

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        time.sleep(0.0005)


def test_sessions_built_from_many_threads_at_once_all_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """pypsrp's WSMan() re-registers its XML namespaces (delete, then add) in a process-wide table; without the
    lock, one builder meets a name another has just deleted and the host fails untouched."""
    monkeypatch.setattr(ElementTree, "_namespace_map", _SlowDeletes(ElementTree._namespace_map))
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    failures: list[BaseException] = []
    options = ConnectionOptions(auth="ntlm", scheme="http")
    credentials = Credentials("sandbox\\admin", Secret("never-sent"))

    def build(count: int) -> None:
        for _ in range(count):
            try:
                build_wsman("127.0.0.1", options, credentials)
            except Exception as error:
                failures.append(error)

    try:
        threads = [threading.Thread(target=build, args=(25,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert failures == []


def test_requests_do_not_look_up_proxies_in_the_environment(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests would scan every environment variable for a proxy on each request; remediate uses no proxy, and
    the environment is read once, as the session is built (for its CA bundle settings)."""
    looked_up: list[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> Any:
        looked_up.append(url)
        return real(url, no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting, raising=False)
    with Session(host_of(fleet), FAST, credentials_of(fleet)) as session:
        for _ in range(3):
            assert session.run("ok", {}, timeout_s=10).result.ok
    assert len(looked_up) <= 1
