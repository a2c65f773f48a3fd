"""A PowerShell shell: one PSRP runspace pool (psrpcore's server side) and its pipelines.

For each pipeline the shell builds a seam.PipelineRequest, calls the host's HostEngine on a worker thread, and
serializes the PipelineOutcome back as PSRP messages. Outgoing data is routed as Windows routes it: pool
messages to the Receive without a CommandId, pipeline messages to the Receive with that pipeline's CommandId.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    PipelineHostResponseEvent,
    PipelineInputEvent,
    PSRPCoreError,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerHostRequestor,
    ServerPipeline,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import PSInvocationState, PSRPMessageType, PSVersion

from remediate.sandbox import seam
from remediate.sandbox.winrm import values, workers
from remediate.sandbox.winrm.host_calls import PipelineHost
from remediate.sandbox.winrm.pipelines import ServerPool
from remediate.sandbox.winrm.wsman import (
    command_not_found_fault,
    invalid_fault,
    operation_timeout_fault,
    shell_not_found_fault,
)

SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
SIGNAL_PS_CTRL_C = "powershell/signal/ctrl_c"
_FRAGMENT_PAYLOAD = 32_768  # bytes of PSRP data per outgoing payload; a Receive packs as many as fit


def _engine_failure(error: Exception) -> seam.PipelineOutcome:
    """An engine that raised, reported to the client as a failed pipeline (the host keeps serving)."""
    return seam.PipelineOutcome(
        state="Failed",
        failure=seam.ErrorRecord(
            message=f"The sandbox engine failed: {type(error).__name__}: {error}",
            fully_qualified_error_id="SandboxEngineFailure",
            exception_type="System.InvalidOperationException",
        ),
    )


@functools.cache
def _windows_private_data() -> dict[str, Any]:
    """What Windows PowerShell 5.1 on Windows Server 2019 tells a client about itself when a pool opens. Built
    once (its PSVersions are slow to make) and only read: psrpcore copies it into the message it writes."""
    return {
        "PSVersionTable": {
            "PSVersion": PSVersion("5.1.17763.6414"),
            "PSEdition": "Desktop",
            "PSCompatibleVersions": [
                PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1.17763.6414")
            ],
            "BuildVersion": PSVersion("10.0.17763.6414"),
            "CLRVersion": PSVersion("4.0.30319.42000"),
            "WSManStackVersion": PSVersion("3.0"),
            "PSRemotingProtocolVersion": PSVersion("2.3"),
            "SerializationVersion": PSVersion("1.1.0.1"),
        }
    }


@dataclass
class _PipelineRun:
    pipeline: ServerPipeline
    command_id: str
    input: list[Any] = field(default_factory=list)
    started: bool = False
    finished: bool = False
    control: seam.PipelineControl = field(default_factory=seam.PipelineControl)
    host: PipelineHost | None = None  # the client's host, once the pipeline's HostInfo is known


class PowerShellShell:
    """The server side of one pypsrp RunspacePool."""

    def __init__(
        self,
        shell_id: str,
        engine: seam.HostEngine,
        computer_name: str,
        session: seam.RunspaceSession | None = None,
    ) -> None:
        self.shell_id = shell_id
        self.engine = engine
        self.computer_name = computer_name
        self.session = session or seam.RunspaceSession()
        self.closed = False
        self._pool = ServerPool(_windows_private_data(), private_data_name="Windows PowerShell 5.1")
        self._runs: dict[uuid.UUID, _PipelineRun] = {}
        self._outbox: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self._cond = threading.Condition()

    @property
    def operations(self) -> int:
        """What this shell counts against MaxConcurrentOperationsPerUser: its pipelines until the client ends
        them with the Terminate signal (MS-WSMV 3.1.4.12; [inf] a pipeline is one operation)."""
        with self._cond:
            return len(self._runs)

    # --- requests -------------------------------------------------------------------------------------------

    def open(self, creation_data: bytes) -> None:
        with self._cond:
            self._feed(creation_data, None)
            arguments = values.to_plain(getattr(self._pool, "application_arguments", None) or {})
            self.session.application_arguments = arguments if isinstance(arguments, dict) else {}

    def command(self, command_id: str | None, fragments: list[bytes]) -> str:
        if not command_id:
            raise invalid_fault("A PowerShell Command request must carry a CommandId.")
        pipeline_id = uuid.UUID(command_id)
        with self._cond:
            self._check_open()
            run = _PipelineRun(ServerPipeline(self._pool, pipeline_id), command_id.upper())
            self._runs[pipeline_id] = run
            self._outbox[pipeline_id] = deque()
            for fragment in fragments:
                self._feed(fragment, pipeline_id)
        return run.command_id

    def send(self, command_id: str | None, data: bytes, end: bool = False) -> None:
        pipeline_id = uuid.UUID(command_id) if command_id else None
        with self._cond:
            self._check_open()
            if pipeline_id is not None and pipeline_id not in self._runs:
                raise command_not_found_fault(command_id, self.shell_id)
            self._feed(data, pipeline_id)

    def receive(self, command_id: str | None, timeout: float, max_bytes: int) -> tuple[list[bytes], bool]:
        """Long poll: wait for data for the pool (command_id None) or one pipeline, up to `timeout` seconds.

        Returns the payloads (each one Stream element) and whether the pipeline is done.
        """
        key = uuid.UUID(command_id) if command_id else None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._check_open()
                queue = self._outbox.get(key)
                if queue is None:
                    raise command_not_found_fault(command_id, self.shell_id)
                if queue:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise operation_timeout_fault()
                self._cond.wait(remaining)
            chunks = [queue.popleft()]
            size = len(chunks[0])
            while queue and size + len(queue[0]) <= max_bytes:
                size += len(queue[0])
                chunks.append(queue.popleft())
            run = self._runs.get(key) if key else None
            done = bool(run and run.finished and not queue)
        return chunks, done

    def signal(self, command_id: str | None, code: str) -> None:
        if not command_id:
            return
        pipeline_id = uuid.UUID(command_id)
        with self._cond:
            run = self._runs.get(pipeline_id)
            if run is None:
                return
            if code.lower() == SIGNAL_PS_CTRL_C:
                self._stop(run)
            elif code.lower() == SIGNAL_TERMINATE:
                self._stop(run)
                del self._runs[pipeline_id]
                self._outbox.pop(pipeline_id, None)
                run.pipeline.close()
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            for run in self._runs.values():
                run.control.stop()  # closing the pool ends what still runs in it
                run.finished = True
            self._runs.clear()
            self.closed = True
            self._cond.notify_all()

    # --- PSRP -----------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise shell_not_found_fault(self.shell_id)

    def _feed(self, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        # pypsrp names the call id of set-min/max-runspaces `N="CI"`; psrpcore looks it up as `ci`.
        data = data.replace(b'N="CI"', b'N="ci"')
        self._pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
        try:
            while (event := self._pool.next_event()) is not None:
                self._handle(event)
        except (PSRPCoreError, ValueError, KeyError, TypeError) as error:
            # what PowerShell's deserializer would reject too (e.g. pypsrp writes ints beyond Int32 as <I32>)
            raise invalid_fault(f"The PSRP data could not be processed: {error}") from None
        self._drain()

    def _handle(self, event: Any) -> None:
        if isinstance(event, CreatePipelineEvent):
            run = self._runs[event.pipeline_id]
            if run.pipeline.metadata is not None and run.pipeline.metadata.no_input:
                self._start(run)
        elif isinstance(event, PipelineHostResponseEvent):
            answered = self._runs.get(event.pipeline_id)
            if answered is not None and answered.host is not None:
                answered.host.answer(int(event.ci), event.result, event.error)
        elif isinstance(event, PipelineInputEvent):
            self._runs[event.pipeline_id].input.append(values.to_plain(event.data))
        elif isinstance(event, EndOfPipelineInputEvent):
            self._start(self._runs[event.pipeline_id])
        elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent)):
            # Windows refuses a count below 1 (RunspacePool.SetMaxRunspaces/SetMinRunspaces return false; the
            # recorded exchange test_psrp_set_runspaces.yml answers False for -1)
            self._pool.runspace_availability_response(event.ci, event.count >= 1)
        elif isinstance(event, ResetRunspaceStateEvent):
            self._pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetAvailableRunspacesEvent):
            self._pool.runspace_availability_response(event.ci, max(self._pool.max_runspaces, 1))

    def _drain(self) -> None:
        while (payload := self._pool.data_to_send(_FRAGMENT_PAYLOAD)) is not None:
            queue = self._outbox.get(payload.pipeline_id)
            if queue is not None:  # output of a pipeline the client already terminated is dropped
                queue.append(payload.data)
        self._cond.notify_all()

    def _start(self, run: _PipelineRun) -> None:
        if run.started:
            return
        run.started = True
        # psrpcore announces Running; PowerShell does not (it would cost the client an extra Receive).
        run.pipeline._change_state(PSInvocationState.Running, emit=False)
        metadata = run.pipeline.metadata
        info = metadata.host if metadata is not None else None
        if info is not None and info.UseRunspaceHost:
            info = getattr(self._pool, "host", None)
        run.host = PipelineHost(run.pipeline, info, self._cond, self._drain, run.control, lambda: self.closed)
        request = self._statements(run)
        if metadata is not None and metadata.is_nested:
            # a nested pipeline runs inside the one running in this runspace, at its next safe point
            # (PowerShell.CreateNestedPowerShell); with none running it runs as any other
            running = next(
                (other for other in self._runs.values() if other is not run and other.started and not other.finished),
                None,
            )
            if running is not None and running.control.run_nested(lambda: self._execute(run, request)):
                return
        workers.run_later(lambda: self._execute(run, request))

    def _statements(self, run: _PipelineRun) -> list[seam.PipelineRequest]:
        """One PipelineRequest per statement (add_statement separates them), in order."""
        metadata = run.pipeline.metadata
        history = bool(metadata is not None and metadata.add_to_history)
        nested = bool(metadata is not None and metadata.is_nested)

        def statement(input_: list[Any]) -> seam.PipelineRequest:
            return seam.PipelineRequest(
                commands=[],
                input=input_,
                session=self.session,
                add_to_history=history,
                control=run.control,
                nested=nested,
                host=run.host,
            )

        statements: list[seam.PipelineRequest] = [statement(run.input)]
        for command in metadata.commands if metadata is not None else []:
            parameters = [(name, values.to_plain(value)) for name, value in command.parameters]
            statements[-1].commands.append(
                seam.Command(str(command.command_text), bool(command.is_script), parameters)
            )
            if command.end_of_statement:
                statements.append(statement([]))
        return [statement for statement in statements if statement.commands]

    def _execute(self, run: _PipelineRun, statements: list[seam.PipelineRequest]) -> None:
        outcomes: list[seam.PipelineOutcome] = []
        for statement in statements:
            if run.control.stopping:
                break
            try:
                outcome = self.engine.invoke_pipeline(statement)
            except Exception as error:  # an engine bug fails the pipeline, never the host
                outcome = _engine_failure(error)
            outcomes.append(outcome)
            if outcome.state != "Completed":
                break
        for nested in run.control.end():  # nested pipelines that came as this one ended
            workers.run_later(nested)
        with self._cond:
            if run.pipeline.pipeline_id in self._runs and run.pipeline.state == PSInvocationState.Running:
                final = outcomes[-1] if outcomes else seam.PipelineOutcome()
                try:
                    for outcome in outcomes:
                        self._write(run, outcome)
                except Exception as error:  # a value the engine returned that CLIXML cannot carry
                    final = _engine_failure(error)
                self._finish(run, final)
            run.finished = True
            self._drain()

    def _write(self, run: _PipelineRun, outcome: seam.PipelineOutcome) -> None:
        pipeline = run.pipeline
        for item in outcome.output:
            if type(item) is str:
                self._pool.prepare_string_output(item, pipeline.pipeline_id)
            else:
                pipeline.prepare_message(values.to_clixml_object(item), PSRPMessageType.PipelineOutput)
        for record in outcome.errors:
            pipeline.prepare_message(values.error_record(record), PSRPMessageType.ErrorRecord)
        for text in outcome.warnings:
            pipeline.prepare_message(
                values.informational_record("WarningRecord", text), PSRPMessageType.WarningRecord
            )
        for text in outcome.verbose:
            pipeline.prepare_message(
                values.informational_record("VerboseRecord", text), PSRPMessageType.VerboseRecord
            )
        for method, arguments in outcome.host_calls:
            if method == "SetShouldExit":
                ServerHostRequestor(pipeline).set_should_exit(arguments[0])
        for text in outcome.debug:
            pipeline.prepare_message(values.informational_record("DebugRecord", text), PSRPMessageType.DebugRecord)
        for text in outcome.information:
            pipeline.write_information(text, source="Write-Information", computer=self.computer_name)

    def _finish(self, run: _PipelineRun, outcome: seam.PipelineOutcome) -> None:
        pipeline = run.pipeline
        if outcome.state == "Failed":
            failure = outcome.failure or seam.ErrorRecord(message="The pipeline failed.")
            pipeline._change_state(PSInvocationState.Failed, error=values.error_record(failure))
        elif outcome.state == "Stopped":
            pipeline.stop()
        else:
            pipeline.complete()

    def _stop(self, run: _PipelineRun) -> None:
        run.control.stop()
        if run.pipeline.state == PSInvocationState.Running:
            run.pipeline.stop()
            run.finished = True
            self._drain()
