"""A pipeline's calls of the client's host: PIPELINE_HOST_CALL out, PIPELINE_HOST_RESPONSE back.

What the server sends is shaped as Windows sends it (pypsrp's recorded exchange
test_psrp_pshost_ui_mocked_methods.yml): a void method goes out with call id -100 and the pipeline goes on; any
other gets the next call id and the pipeline waits for the client's answer, which comes back in a Send on the
pipeline; while it waits, the pipeline can be stopped and nested pipelines of its runspace run. WriteProgress
also writes the record to the pipeline's progress stream, as the server's host does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psrpcore import ServerHostRequestor, ServerPipeline
from psrpcore.types import (
    BufferCell,
    BufferCellType,
    ChoiceDescription,
    ConsoleColor,
    Coordinates,
    FieldDescription,
    HostInfo,
    HostMethodIdentifier,
    ProgressRecordType,
    PSInt64,
    PSList,
    Rectangle,
    Size,
    add_note_property,
)
from psrpcore.types import PSObject as CoreObject

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
        self._raw_ui: dict[str, Any] | None = None

    @property
    def has_ui(self) -> bool:
        return self._info is not None and not self._info.IsHostNull and not self._info.IsHostUINull

    @property
    def raw_ui(self) -> dict[str, Any] | None:
        info = self._info
        if self._raw_ui is None and self.has_ui and info is not None and not info.IsHostRawUINull:
            data = info.HostDefaultData
            if data is not None:
                largest = data.MaxPhysicalWindowSize
                self._raw_ui = {
                    "ForegroundColor": int(data.ForegroundColor),
                    "BackgroundColor": int(data.BackgroundColor),
                    "CursorPosition": _point(data.CursorPosition.X, data.CursorPosition.Y),
                    "WindowPosition": _point(data.WindowPosition.X, data.WindowPosition.Y),
                    "CursorSize": int(data.CursorSize),
                    "BufferSize": _extent(data.BufferSize.Width, data.BufferSize.Height),
                    "WindowSize": _extent(data.WindowSize.Width, data.WindowSize.Height),
                    "MaxWindowSize": _extent(data.MaxWindowSize.Width, data.MaxWindowSize.Height),
                    "MaxPhysicalWindowSize": _extent(largest.Width, largest.Height),
                    "WindowTitle": str(data.WindowTitle),
                }
        return self._raw_ui

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
                if self._closed():
                    raise seam.PipelineStopped()
                # a safe point: stopped, or nested pipelines of the runspace run while this one waits
                self._condition.release()
                try:
                    self._control.checkpoint()
                finally:
                    self._condition.acquire()
                if call_id not in self._answers:
                    self._condition.wait(0.05)
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
        return self._pipeline.host_call(identifier, [_host_value(item) for item in arguments])


_HOST_API = "System.Management.Automation.Host."


def _point(x: int, y: int) -> seam.PSObject:
    return seam.PSObject([_HOST_API + "Coordinates", "System.ValueType", "System.Object"], {"X": int(x), "Y": int(y)},
                         to_string=f"{x},{y}")  # fmt: skip


def _extent(width: int, height: int) -> seam.PSObject:
    return seam.PSObject([_HOST_API + "Size", "System.ValueType", "System.Object"],
                         {"Width": int(width), "Height": int(height)}, to_string=f"{width},{height}")  # fmt: skip


def _host_value(value: Any) -> Any:
    """A host call argument as the server's host encodes it (for_host: lower-case fields, no type names)."""
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return _cells(value)
    if not isinstance(value, seam.PSObject):
        return values.to_clixml_object(value)
    kind = value.type_names[0][len(_HOST_API) :] if value.type_names[0].startswith(_HOST_API) else ""
    get = value.get
    if kind == "Coordinates":
        return Coordinates.ToPSObjectForRemoting(Coordinates(X=get("X"), Y=get("Y")), for_host=True)
    if kind == "Size":
        return Size.ToPSObjectForRemoting(Size(Width=get("Width"), Height=get("Height")), for_host=True)
    if kind == "Rectangle":
        rectangle = Rectangle(Left=get("Left"), Top=get("Top"), Right=get("Right"), Bottom=get("Bottom"))
        return Rectangle.ToPSObjectForRemoting(rectangle, for_host=True)
    if kind == "BufferCell":
        return BufferCell.ToPSObjectForRemoting(_cell(value), for_host=True)
    return values.to_clixml_object(value)


def _cell(value: seam.PSObject) -> BufferCell:
    return BufferCell(
        Character=str(value.get("Character") or " "),
        ForegroundColor=ConsoleColor(int(value.get("ForegroundColor", 0))),
        BackgroundColor=ConsoleColor(int(value.get("BackgroundColor", 0))),
        BufferCellType=BufferCellType(int(value.get("BufferCellType", 0))),
    )


def _cells(rows: list[list[Any]]) -> CoreObject:
    """A BufferCell[,] as a host call carries it: its elements row by row (mae) and its lengths (mal)."""
    lengths = PSList([len(rows), len(rows[0])])
    lengths.PSObject.type_names = ["System.Int32[]", "System.Array", "System.Object"]
    encoded = CoreObject()
    encoded.PSObject.type_names = []
    add_note_property(encoded, "mae", [_host_value(cell) for row in rows for cell in row])
    add_note_property(encoded, "mal", lengths)
    return encoded


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
