"""A pipeline's calls of the client's host: PIPELINE_HOST_CALL out, PIPELINE_HOST_RESPONSE back.

What the server sends is shaped as Windows sends it (pypsrp's recorded exchange
test_psrp_pshost_ui_mocked_methods.yml): a void method goes out with call id -100 and the pipeline goes on; any
other gets the next call id and the pipeline waits for the client's answer, which comes back in a Send on the
pipeline. WriteProgress also writes the record to the pipeline's progress stream, as the server's host does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psrpcore import ServerHostRequestor, ServerPipeline
from psrpcore.types import (
    ChoiceDescription,
    FieldDescription,
    HostInfo,
    HostMethodIdentifier,
    ProgressRecordType,
    PSInt64,
)

from remediate.sandbox import seam
from remediate.sandbox.winrm import values


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class PipelineHost:
    """seam.ClientHost for one pipeline. `condition` is the shell's lock; `drain` moves what psrpcore queued to
    the shell's outbox (called with the lock held); `closed` tells whether the shell has been closed."""

    def __init__(
        self,
        pipeline: ServerPipeline,
        info: HostInfo | None,
        condition: threading.Condition,
        drain: Callable[[], None],
        control: seam.PipelineControl,
        closed: Callable[[], bool],
    ) -> None:
        self._pipeline = pipeline
        self._info = info
        self._condition = condition
        self._drain = drain
        self._control = control
        self._closed = closed
        self._answers: dict[int, tuple[Any, Any]] = {}  # call id -> (value, error)

    @property
    def has_ui(self) -> bool:
        return self._info is not None and not self._info.IsHostNull and not self._info.IsHostUINull

    def answer(self, call_id: int, value: Any, error: Any) -> None:
        """The client's PIPELINE_HOST_RESPONSE (call with the shell's lock held)."""
        self._answers[call_id] = (value, error)
        self._condition.notify_all()

    def call(self, method: str, arguments: list[Any]) -> Any:
        identifier = HostMethodIdentifier[method]
        with self._condition:
            call_id = self._send(identifier, arguments)
            self._drain()
            if identifier.is_void():
                return None
            while call_id not in self._answers:
                if self._control.stopping or self._closed():
                    raise seam.PipelineStopped()
                self._condition.wait(0.1)
            value, error = self._answers.pop(call_id)
        if error is not None:
            raise seam.ClientHostError(
                seam.ErrorRecord(
                    message=str(error),
                    fully_qualified_error_id="HostMethodError",
                    exception_type="System.Management.Automation.Remoting.PSRemotingDataStructureException",
                )
            )
        return values.to_plain(value)

    def _send(self, identifier: HostMethodIdentifier, arguments: list[Any]) -> int:
        requestor = ServerHostRequestor(self._pipeline)
        if identifier == HostMethodIdentifier.WriteProgress:
            source, record = arguments
            fields = record.properties if isinstance(record, seam.PSObject) else {}
            activity = str(fields.get("Activity", ""))
            activity_id = int(fields.get("ActivityId", 0))
            status = str(fields.get("StatusDescription", ""))
            operation = _text(fields.get("CurrentOperation"))
            parent = int(fields.get("ParentActivityId", -1))
            percent = int(fields.get("PercentComplete", -1))
            kind = ProgressRecordType[str(fields.get("RecordType", "Processing"))]
            seconds = int(fields.get("SecondsRemaining", -1))
            self._pipeline.write_progress(activity, activity_id, status, operation, parent, percent, kind, seconds)
            requestor.write_progress(
                PSInt64(source), activity_id, activity, status, operation, parent, percent, kind, seconds
            )
            return -100
        if identifier == HostMethodIdentifier.Prompt:
            caption, message, fields = arguments
            return requestor.prompt(str(caption), str(message), [_field(field) for field in fields])
        if identifier == HostMethodIdentifier.PromptForChoice:
            caption, message, choices, default = arguments
            return requestor.prompt_for_choice(str(caption), str(message), [_choice(c) for c in choices], default)
        return self._pipeline.host_call(identifier, [values.to_clixml_object(item) for item in arguments])


def _property(value: Any, name: str, default: Any = None) -> Any:
    return value.get(name, default) if isinstance(value, seam.PSObject) else default


def _field(value: Any) -> FieldDescription:
    return FieldDescription(
        Name=str(_property(value, "Name", "")),
        Label=str(_property(value, "Label", "")),
        ParameterTypeName=_text(_property(value, "ParameterTypeName")),
        ParameterTypeFullName=_text(_property(value, "ParameterTypeFullName")),
        ParameterAssemblyFullName=_text(_property(value, "ParameterAssemblyFullName")),
        HelpMessage=str(_property(value, "HelpMessage", "")),
        IsMandatory=bool(_property(value, "IsMandatory", True)),
        Attributes=[],
    )


def _choice(value: Any) -> ChoiceDescription:
    label = str(_property(value, "Label", ""))
    return ChoiceDescription(Label=label, HelpMessage=str(_property(value, "HelpMessage", "")))
