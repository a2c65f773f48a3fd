"""The event stream over Redis: workers send every audit event (and their questions) to the controller, which
appends them to the one audit log in the order they arrive and answers the questions.

Keys of one run (`remediate:run:<run id>:…`):
    events          a Redis stream: one entry per message, `m` = JSON; every worker appends, the controller reads
    scripts         a hash: each script of the run by its sha256, put once by the controller (tasks name them)
    reply:<id>      a list the controller pushes its answer to a question onto; the asking worker pops it
    alive:<host>    set by the worker running a host every HEARTBEAT_S, expiring after ALIVE_TTL_S: a worker that
                    died stops renewing it, and the controller finds the host lost
    control         "finish" after the first Ctrl-C (start no new step), "abandon" after the second, "over"
                    once the run ended (a task delivered again after that is dropped)

A message is {"kind", "host", "channel", "n", …}: `channel` is one task's attempt at a host and `n` counts its
messages, so that a message sent again (the broker went away before it answered) is applied once. A question
(`rid` set) is asked again until its answer comes; the controller answers a repeated question as it did the first
time, without acting twice. Every call is retried while the broker is unreachable: a worker waiting for the answer
to `step_started` sends nothing to its host meanwhile.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from remediate.dispatch.remote_engine import OVER, RunOver

BROKER_ENV = "REMEDIATE_BROKER_URL"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
HEARTBEAT_S = 1.0  # how often a worker renews its hosts' alive keys (and reads the run's control word)
ALIVE_TTL_S = 6  # a host whose alive key is gone this long with the broker reachable is lost
REPLY_WAIT_S = 5  # a worker asks again after this long without an answer
GIVE_UP_S = 15 * 60.0  # a worker that cannot reach the broker this long gives its host up (nothing sent)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)

T = TypeVar("T")


class BrokerLost(RunOver):
    """The broker stayed unreachable longer than GIVE_UP_S."""


def broker_url(given: str | None = None) -> str:
    return given or os.environ.get(BROKER_ENV) or DEFAULT_BROKER


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=REPLY_WAIT_S + 5, socket_connect_timeout=2,
                                health_check_interval=10)


def keys(run_id: str) -> str:
    return f"remediate:run:{run_id}:"


def through_outages(call: Callable[[], T], *, give_up_s: float = GIVE_UP_S,
                    on_outage: Callable[[bool], None] | None = None,
                    errors: tuple[type[BaseException], ...] = ()) -> T:
    """call(), again and again while the broker is unreachable (for at most give_up_s); `errors`: what else
    says so (the Celery client's own).
    on_outage(True) once the first try fails, on_outage(False) once a call works again."""
    began = time.monotonic()
    pause = 0.2
    failed = False
    unreachable: tuple[type[BaseException], ...] = (*UNREACHABLE, *errors)
    while True:
        try:
            result = call()
        except unreachable as error:
            if not failed and on_outage is not None:
                on_outage(True)
            failed = True
            if time.monotonic() - began > give_up_s:
                raise BrokerLost(f"the broker stayed unreachable for {give_up_s:.0f} s: {error}") from error
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            continue
        if failed and on_outage is not None:
            on_outage(False)
        return result


class HostChannel:
    """A worker's side of the stream for one attempt at one host."""

    def __init__(self, client: redis.Redis, run_id: str, host: str, worker: str) -> None:
        self.client = client
        self.prefix = keys(run_id)
        self.host = host
        self.worker = worker
        self.channel = uuid.uuid4().hex
        self._n = 0
        self._lock = threading.Lock()  # one message at a time: the stream keeps a host's events in order

    def _message(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        return {"kind": kind, "host": self.host, "channel": self.channel, "n": self._n, "worker": self.worker, **body}

    def _append(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, ensure_ascii=False)
        through_outages(lambda: self.client.xadd(self.prefix + "events", {"m": text}))

    def send(self, kind: str, **body: Any) -> None:
        with self._lock:
            self._append(self._message(kind, body))

    def ask(self, kind: str, **body: Any) -> dict[str, Any]:
        """Send a question and wait for the controller's answer (asking again while none comes)."""
        with self._lock:
            rid = uuid.uuid4().hex
            message = self._message(kind, {**body, "rid": rid})
            began = time.monotonic()
            while True:
                self._append(message)
                answer = through_outages(lambda: self.client.blpop([self.prefix + "reply:" + rid], REPLY_WAIT_S))
                if answer is not None:
                    decoded: dict[str, Any] = json.loads(answer[1])
                    return decoded
                if self.control() in OVER:
                    raise RunOver(f"the run is {self.control()}: no answer will come")
                if time.monotonic() - began > GIVE_UP_S:
                    raise BrokerLost(f"no answer from the controller for {GIVE_UP_S:.0f} s")

    def script(self, sha256: str) -> str | None:
        """The run's script of this sha256 (None: the controller put none)."""
        text: Any = through_outages(lambda: self.client.hget(self.prefix + "scripts", sha256))
        return text.decode("utf-8") if text is not None else None

    def control(self) -> str:
        """The run's control word ("", "finish", "abandon" or "over")."""
        word: Any = through_outages(lambda: self.client.get(self.prefix + "control"))
        return word.decode("utf-8") if word else ""

    def heartbeat(self) -> str:
        """Renew this host's alive key; the run's control word ("", "finish" or "abandon")."""
        def beat() -> Any:
            pipe = self.client.pipeline()
            pipe.set(self.prefix + "alive:" + self.host, self.worker, ex=ALIVE_TTL_S)
            pipe.get(self.prefix + "control")
            return pipe.execute()

        _, control = through_outages(beat)
        return control.decode("utf-8") if control else ""

    def follow(self, stop: Callable[[], None]) -> bool:
        """The control word is read with each heartbeat (remote_engine.HostLink.follow)."""
        return False

    def gone(self) -> None:
        """The host is done: its alive key goes (the controller already has its report)."""
        through_outages(lambda: self.client.delete(self.prefix + "alive:" + self.host))


class RunStream:
    """The controller's side of one run's stream."""

    def __init__(self, client: redis.Redis, run_id: str, on_outage: Callable[[bool], None] | None = None) -> None:
        self.client = client
        self.prefix = keys(run_id)
        self.on_outage = on_outage
        self._last = "0-0"
        self._read = 0

    def _call(self, call: Callable[[], T]) -> T:
        return through_outages(call, give_up_s=float("inf"), on_outage=self.on_outage)

    def put_scripts(self, scripts: dict[str, str]) -> None:
        """Every script of the run, once (a task names its steps' scripts by sha256)."""
        mapping: dict[Any, Any] = dict(scripts)
        if mapping:
            self._call(lambda: self.client.hset(self.prefix + "scripts", mapping=mapping))

    def read(self, block_ms: int = 200) -> list[dict[str, Any]]:
        """The messages after the last one read, oldest first (waiting up to block_ms for one)."""
        answer: Any = self._call(lambda: self.client.xread({self.prefix + "events": self._last}, count=2000,
                                                      block=block_ms))
        messages = []
        for _, entries in answer or ():
            for entry_id, fields in entries:
                self._last = entry_id.decode("ascii")
                messages.append(json.loads(fields[b"m"]))
        self._read += len(messages)
        if self._read >= 5000:  # what was read is in the audit log: the broker need not keep it
            last = self._last
            self._call(lambda: self.client.xtrim(self.prefix + "events", minid=last, approximate=True))
            self._read = 0
        return messages

    def answer(self, rid: str, body: dict[str, Any]) -> None:
        key = self.prefix + "reply:" + rid
        text = json.dumps(body, ensure_ascii=False)

        def push() -> None:
            pipe = self.client.pipeline()
            pipe.rpush(key, text)
            pipe.expire(key, 3600)
            pipe.execute()

        self._call(push)

    def alive(self, hosts: Iterable[str]) -> set[str]:
        """Of these hosts, those whose alive key is there."""
        listed = list(hosts)
        if not listed:
            return set()

        def check() -> list[Any]:
            pipe = self.client.pipeline()
            for host in listed:
                pipe.exists(self.prefix + "alive:" + host)
            return pipe.execute()

        return {host for host, found in zip(listed, self._call(check), strict=True) if found}

    def control(self, word: str) -> None:
        self._call(lambda: self.client.set(self.prefix + "control", word, ex=7 * 24 * 3600))

    def close(self, word: str = "over") -> None:
        """The run is over: its keys go (the audit log has everything), but for the control word, which tells a
        task delivered again later (or a worker still asking, after an abandon) that no answer will come."""
        control = self.prefix + "control"

        def drop() -> None:
            found = [key for key in self.client.scan_iter(match=self.prefix + "*", count=1000)
                     if key != control.encode()]
            for start in range(0, len(found), 500):
                self.client.delete(*found[start:start + 500])

        self._call(drop)
        self.control(word)
