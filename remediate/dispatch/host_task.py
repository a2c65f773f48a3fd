"""What a worker does with one delivery of `remediate.run_host`: open the sealed task, ask the controller for
the host's one start, run the engine on it with every event streamed to the controller (remote_engine.py), and
send the host's report.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import redis

from remediate.dispatch.events import HEARTBEAT_S, HostChannel
from remediate.dispatch.payload import PayloadError, task_in
from remediate.dispatch.remote_engine import OVER, RunOver, run_engine
from remediate.dispatch.secrets import RunKey, SealError
from remediate.errors import RemediateError
from remediate.live import connector
from remediate.playbook import PlaybookLibrary

log = logging.getLogger("remediate.worker")


@dataclass(frozen=True)
class WorkerContext:
    """What every task of a worker shares."""

    client: redis.Redis
    library: PlaybookLibrary
    dispatch_key: bytes
    name: str  # site@host:pid
    site: str
    scripts: dict[str, str] = field(default_factory=dict)  # sha256 -> script, as fetched (checked by task_in)

    def script(self, channel: HostChannel, sha256: str) -> str | None:
        found = self.scripts.get(sha256)
        if found is None:
            found = channel.script(sha256)
            if found is not None and hashlib.sha256(found.encode("utf-8")).hexdigest() == sha256:
                self.scripts[sha256] = found
        return found


def run_host(context: WorkerContext, run_id: str, sealed: str) -> None:
    """One delivery of a host's task."""
    try:
        data = RunKey(context.dispatch_key, run_id).open(sealed)
    except SealError as error:
        log.error("run %s: task refused: %s", run_id, error)
        return
    channel = HostChannel(context.client, run_id, str(data["label"]), context.name)
    try:
        if channel.control() in OVER:
            return  # delivered again after the run ended
        try:
            task = task_in(data, context.library, lambda sha256: context.script(channel, sha256))
        except (PayloadError, RemediateError, KeyError, TypeError, ValueError) as error:
            channel.ask("refused", site=context.site, message=str(error))
            return
        if not channel.ask("start", site=context.site).get("go"):
            return  # another delivery has it, or the run stopped starting hosts (the controller recorded why)
        run_engine(channel, task, connector(task.connection, task.credentials), context.library, HEARTBEAT_S)
    except RunOver as error:
        log.warning("run %s: %s: %s", run_id, channel.host, error)
