"""Replay of pypsrp's recorded exchanges with real Windows against a sandbox host: the SHAPE of the answers.

pypsrp's sdist (pinned in tests/data/pypsrp_sdist.txt, fetched into .cache/pypsrp by .ci/run) ships
tests/tests_pypsrp/responses/*.yml: the requests its tests sent to Windows and what Windows answered. Each file's
requests are sent as they are (over HTTP with Basic, the host allowing clear text) to a fresh sandbox host, with
the ids Windows made up (shell and command ids) replaced by the sandbox's own and each MessageID new. The answers
are compared by shape, and by text only where a fault's texts are concerned:

- each request's answer: SOAP action, the header elements, the HTTP status, a fault's subcode, WS-Man code,
  provider (a shell plugin's fault), reason and message text
  (the header p:ActivityId, an ETW correlation id, is left out: half of the recordings carry it, half do not);
- each command's Receives taken together (and the pool's): the PSRP message types in order (PowerShell shells) or
  the stream names (cmd shells), and the final CommandState with its exit code.

The pypsrp that recorded them wrote a pipeline's PSRP id (MS-PSRP 2.2.1, PID) with the bytes of its CommandId in
big-endian order, where today's pypsrp writes them as .NET's Guid.ToByteArray does (as Windows answers them): the
replay writes them as today's pypsrp does, the one difference between its requests and the recorded ones.

Windows answers a Receive whenever it has something; the sandbox may group messages differently, so Receives are
compared per command, not one by one. A Receive's OperationTimeout is capped at one second (a Receive the sandbox
has nothing for then ends quickly with w:TimedOut); a w:TimedOut is compared only where Windows answered one. A
WinRS command line's Start-Sleep is shortened by the same factor, so it outlasts as many Receives as on Windows.
The recordings replay at the same time, each on a host of its own.

tests/data/recorded_exchange_differences.txt lists the differences still found, each with its reason; the list
may only shrink: a difference found and not listed fails, and so does one listed and no longer found.
"""

from __future__ import annotations

import base64
import functools
import math
import os
import re
import tarfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import yaml
from psrpcore.types import PSRPMessageType

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
ROOT = TESTS.parent
PIN = (TESTS / "data" / "pypsrp_sdist.txt").read_text(encoding="utf-8").strip()
PINNED_VERSION = PIN.split("==")[1]
SDIST_DIR = Path(os.environ.get("REMEDIATE_PYPSRP_SDIST_DIR", ROOT / ".cache" / "pypsrp"))
KNOWN = TESTS / "data" / "recorded_exchange_differences.txt"

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
TIMED_OUT = "2150858793"
RESEND_BUDGET_S = 40.0  # a command Windows kept running past a Receive gets this long to finish here
QUICK_BUDGET_S = 4.0  # any other command Windows finished within the recording


@functools.cache
def recordings() -> dict[str, list[dict[str, object]]]:
    """file name -> its messages, from the pinned sdist (skipped, or failed on CI, when it is not fetched)."""
    found = sorted(SDIST_DIR.glob(f"pypsrp-{PINNED_VERSION}.tar.gz"))
    if not found:
        message = f"pypsrp's sdist is not in {SDIST_DIR}: `pip download --no-deps --no-binary :all: -r " \
                  f"tests/data/pypsrp_sdist.txt -d {SDIST_DIR}` (.ci/run does)"  # fmt: skip
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    if version("pypsrp") != PINNED_VERSION:
        pytest.fail(f"the installed pypsrp is {version('pypsrp')}, its recordings are pinned at {PIN}", pytrace=False)
    result: dict[str, list[dict[str, object]]] = {}
    with tarfile.open(found[0]) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if "/responses/" in member.name and name.startswith("test_") and name.endswith(".yml"):
                extracted = archive.extractfile(member)
                assert extracted is not None
                result[name] = yaml.safe_load(extracted.read())["messages"]
    return result


# --- shapes -------------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def psrp_message_types(data: bytes) -> list[str]:
    """The message types of the PSRP messages that start in these fragments (MS-PSRP 2.2.4)."""
    types: list[str] = []
    while len(data) >= 21:
        start, length = data[16] & 0x1, int.from_bytes(data[17:21], "big")
        blob, data = data[21 : 21 + length], data[21 + length :]
        if start and len(blob) >= 8:
            value = int.from_bytes(blob[4:8], "little")
            types.append(PSRPMessageType(value).name if value in PSRPMessageType._value2member_map_ else hex(value))
    return types


@dataclass
class Answer:
    action: str
    headers: tuple[str, ...]
    status: int
    fault: tuple[str, str, str | None, str, str] | None  # (subcode, WSManFault Code, provider, reason, message)
    streams: list[tuple[str, str | None, bytes]]  # (name, CommandId, data)
    state: str | None  # Running / Done, for the command the Receive named
    exit_code: str | None

    @property
    def timed_out(self) -> bool:
        return self.fault is not None and self.fault[1] == TIMED_OUT


def parse(text: str, status: int) -> Answer:
    root = ET.fromstring(text)
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    action = (header.findtext("a:Action", namespaces=NS) or "") if header is not None else ""
    names = (_local(child.tag) for child in header) if header is not None else iter(())
    headers = tuple(sorted(name for name in names if name != "ActivityId"))
    fault = None
    if body is not None and (element := body.find("s:Fault", NS)) is not None:
        subcode = element.findtext("s:Code/s:Subcode/s:Value", namespaces=NS) or ""
        detail = element.find("s:Detail/f:WSManFault", NS)
        code = detail.attrib.get("Code", "") if detail is not None else ""
        provider = detail.find("f:Message/f:ProviderFault", NS) if detail is not None else None
        message = "".join(detail.find("f:Message", NS).itertext()) if detail is not None and detail.find(
            "f:Message", NS) is not None else ""  # fmt: skip
        reason = element.findtext("s:Reason/s:Text", namespaces=NS) or ""
        fault = (subcode.split(":")[-1], code, provider.attrib.get("provider") if provider is not None else None,
                 reason, message)  # fmt: skip
    streams: list[tuple[str, str | None, bytes]] = []
    state = exit_code = None
    receive = body.find("rsp:ReceiveResponse", NS) if body is not None else None
    if receive is not None:
        for stream in receive.findall("rsp:Stream", NS):
            streams.append((stream.attrib["Name"], stream.attrib.get("CommandId"), base64.b64decode(stream.text or "")))
        command_state = receive.find("rsp:CommandState", NS)
        if command_state is not None:
            state = command_state.attrib["State"].rsplit("/", 1)[-1]
            exit_code = command_state.findtext("rsp:ExitCode", namespaces=NS)
    return Answer(action.rsplit("/", 1)[-1], headers, status, fault, streams, state, exit_code)


@dataclass
class CommandReceives:
    """What one command's (or the pool's) Receives brought, taken together."""

    powershell: bool
    messages: list[str] = field(default_factory=list)
    streams: set[str] = field(default_factory=set)
    state: str | None = None
    exit_code: str | None = None

    def add(self, answer: Answer) -> None:
        for name, _, data in answer.streams:
            if self.powershell:
                self.messages.extend(psrp_message_types(data))
            elif data:
                self.streams.add(name)
        if answer.state is not None:
            self.state, self.exit_code = answer.state, answer.exit_code

    def summary(self) -> str:
        content = " ".join(self.messages) if self.powershell else ",".join(sorted(self.streams))
        return f"[{content}] state={self.state} exit={self.exit_code}"


# --- replay -------------------------------------------------------------------------------------------------


_ID = re.compile(r'Name="ShellId">([^<]+)<|<rsp:(?:ShellId|CommandId)>([^<]+)<')


def _ids(text: str) -> list[str]:
    """Shell and command ids an answer names (ResourceCreated selector, rsp:ShellId, rsp:CommandId)."""
    return [selector or element for selector, element in _ID.findall(text)]


def _psrp_pipeline_ids_as_today(request: str) -> str:
    """The PSRP messages of a Command or Send with their PID in .NET's byte order (see the module's docstring)."""
    match = re.search(r'CommandId="([0-9A-Fa-f-]{36})"', request)
    if match is None or "windows/shell/cmd" in request:
        return request
    command = uuid.UUID(match.group(1))

    def fixed(element: re.Match[str]) -> str:
        data = bytearray(base64.b64decode(element.group(2)))
        at = 0
        while at + 21 <= len(data):
            length = int.from_bytes(data[at + 17 : at + 21], "big")
            blob = at + 21
            if data[at + 16] & 0x1 and data[blob + 24 : blob + 40] == command.bytes:
                data[blob + 24 : blob + 40] = command.bytes_le
            at = blob + length
        return f"{element.group(1)}{base64.b64encode(bytes(data)).decode()}{element.group(3)}"

    return re.sub(r"(<rsp:(?:Arguments|Stream)[^>]*>)([^<]+)(</rsp:(?:Arguments|Stream)>)", fixed, request)


def _sleeps_on_the_replays_clock(request: str) -> str:
    """A command line's Start-Sleep shortened as its shell's Receives are (OperationTimeout to one second), so a
    command outlasts as many Receives as it did on Windows without the replay waiting out its whole sleep."""
    timeout = re.search(r"<wsman:OperationTimeout>PT(\d+)(?:\.\d+)?S<", request)
    if "/shell/Command<" not in request or timeout is None or int(timeout.group(1)) <= 1:
        return request
    scale = int(timeout.group(1))

    def shortened(match: re.Match[str]) -> str:
        return f"{match.group(1)}{math.ceil(int(match.group(2)) / scale)}"

    return re.sub(r"(<rsp:Arguments>[^<]*?Start-Sleep\s+)(\d+)", shortened, request, flags=re.IGNORECASE)


class Replay:
    def __init__(self, fleet: Fleet, name: str) -> None:
        endpoint = fleet.endpoint(name)
        self.url = endpoint.url
        self.session = requests.Session()
        self.session.auth = (fleet.username, fleet.password)
        self.ids: dict[str, str] = {}
        self.differences: list[tuple[str, str]] = []  # (kind, detail)

    def send(self, request: str) -> tuple[str, int]:
        for recorded, ours in self.ids.items():
            request = re.sub(re.escape(recorded), ours, request, flags=re.IGNORECASE)
        request = re.sub(r"uuid:[0-9A-Fa-f-]{36}(?=</wsa:MessageID>)", f"uuid:{str(uuid.uuid4()).upper()}", request)
        request = _psrp_pipeline_ids_as_today(request)
        request = _sleeps_on_the_replays_clock(request)
        if "/shell/Receive<" in request:  # a Receive with nothing to answer ends quickly
            request = re.sub(r"<wsman:OperationTimeout>[^<]*<", "<wsman:OperationTimeout>PT1S<", request)
        response = self.session.post(
            self.url, data=request.encode("utf-8"),
            headers={"Content-Type": "application/soap+xml;charset=UTF-8"}, timeout=60,
        )  # fmt: skip
        return response.text, response.status_code

    def learn_ids(self, recorded: str, ours: str) -> None:
        for theirs, mine in zip(_ids(recorded), _ids(ours), strict=False):
            if theirs.upper() != mine.upper():
                self.ids[theirs] = mine

    def differ(self, kind: str, recorded: object, ours: object) -> None:
        if recorded != ours:
            self.differences.append((kind, f"recorded {recorded}, sandbox {ours}"))


def _desired(request: str) -> tuple[str | None, bool]:
    """The CommandId a Receive asks for (None: the pool's), and whether the shell is PowerShell."""
    match = re.search(r'<rsp:DesiredStream[^>]*CommandId="([^"]+)"', request)
    return (match.group(1).upper() if match else None), "windows/shell/cmd" not in request


def replay(fleet: Fleet, host: str, messages: list[dict[str, object]]) -> list[tuple[str, str]]:
    run = Replay(fleet, host)
    recorded_receives: dict[str | None, CommandReceives] = {}
    sandbox_receives: dict[str | None, CommandReceives] = {}
    windows_timed_out: set[str | None] = set()
    for index, message in enumerate(messages):
        request, response = str(message["request"]), str(message["response"])
        if message.get("http_error") or message.get("overrides"):
            continue  # the test runner made that answer up: no Windows behaviour to compare with
        transport = message.get("transport_error")
        recorded = parse(response, int(transport["code"]) if isinstance(transport, dict) else 200)
        is_receive = "/shell/Receive<" in request
        key, powershell = _desired(request) if is_receive else (None, False)
        started = re.search(r'<rsp:CommandLine CommandId="([^"]+)"', request)
        if started and started.group(1).upper() in sandbox_receives:
            sandbox_receives[started.group(1).upper()].state = None  # the same CommandId runs a new pipeline
        if is_receive and recorded.fault is None:
            recorded_receives.setdefault(key, CommandReceives(powershell)).add(recorded)
            ours_so_far = sandbox_receives.setdefault(key, CommandReceives(powershell))
            if ours_so_far.state == "Done":
                continue  # the sandbox has already answered everything of this command
        text, status = run.send(request)
        ours = parse(text, status)
        run.learn_ids(response, text)
        label = f"#{index} {recorded.action or 'answer'}"
        if is_receive and recorded.fault is None:
            if ours.fault is not None and not ours.timed_out:
                run.differ(f"{label} fault", recorded.fault, ours.fault)
                sandbox_receives[key].state = "Done"  # nothing more will come
                continue
            sandbox_receives[key].add(ours)
            # Windows had finished by now: receive until the sandbox has too. A command Windows itself kept
            # running past a Receive (a w:TimedOut in the recording) may take long; any other gets a few seconds.
            deadline = time.monotonic() + (RESEND_BUDGET_S if key in windows_timed_out else QUICK_BUDGET_S)
            while recorded.state == "Done" and sandbox_receives[key].state != "Done" and time.monotonic() < deadline:
                text, status = run.send(request)
                more = parse(text, status)
                if more.fault is not None and not more.timed_out:
                    break
                sandbox_receives[key].add(more)
            continue
        if is_receive and recorded.timed_out:
            windows_timed_out.add(key)
        run.differ(f"{label} action", recorded.action, ours.action)
        run.differ(f"{label} headers", recorded.headers, ours.headers)
        run.differ(f"{label} status", recorded.status, ours.status)
        run.differ(f"{label} fault", recorded.fault, ours.fault)
    commands = [key for key in recorded_receives if key is not None]
    for key, theirs in recorded_receives.items():
        mine = sandbox_receives.get(key, CommandReceives(theirs.powershell))
        who = "pool" if key is None else f"command {commands.index(key) + 1}"
        run.differ(f"{who} receives", theirs.summary(), mine.summary())
    return run.differences


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """A fresh host for each recording (what one replay leaves running cannot reach another)."""
    hosts = build_hosts(ROOT / "remediate" / "sandbox" / "scenarios" / "healthy.yaml", len(recordings()), 0)
    clear_text = [HostSpec(spec.computer_name, spec.engine, TransportFaults(allow_unencrypted=True)) for spec in hosts]
    with Fleet.start(clear_text, auth="basic") as started:
        yield started


def read_known() -> dict[tuple[str, str], str]:
    """(file, kind) -> reason."""
    known: dict[tuple[str, str], str] = {}
    for raw in KNOWN.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where, _, reason = line.partition(" - ")
        file, _, kind = where.partition(": ")
        known[(file.strip(), kind.strip())] = reason.strip()
    return known


def test_every_listed_difference_has_a_reason() -> None:
    assert all(read_known().values())


def test_recorded_exchanges_with_windows_replay_with_the_same_shape(fleet: Fleet) -> None:
    known = read_known()
    found: dict[tuple[str, str], str] = {}
    files = recordings()
    hosts = [endpoint.computer_name for endpoint in fleet.endpoints]
    # the recordings replay at once, each on its own host: a replay mostly waits (Receives, commands' durations)
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        replayed = pool.map(lambda job: replay(fleet, job[1], job[0]), zip(files.values(), hosts, strict=True))
        for file, differences in zip(files, replayed, strict=True):
            for kind, detail in differences:
                found[(file, kind)] = detail
    unlisted = {f"{file}: {kind}": detail for (file, kind), detail in found.items() if (file, kind) not in known}
    gone = sorted(f"{file}: {kind}" for file, kind in known if (file, kind) not in found)
    assert not unlisted, f"differences from Windows not in {KNOWN.name}: {unlisted}"
    assert not gone, f"listed in {KNOWN.name} but no longer found (remove them): {gone}"
