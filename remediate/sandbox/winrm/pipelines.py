"""psrpcore's server runspace pool, reading and writing the messages every host exchanges alike only once.

CLIXML is the sandbox's hottest spot: psrpcore builds a PSObject per element to read a message and walks one to
write it. A fleet client sends the same steps, byte for byte, to every host, and opens every pool alike; every
pool answers alike that it opened, and every pipeline that completes says so alike. So:
- a CREATE_PIPELINE, SESSION_CAPABILITY or INIT_RUNSPACEPOOL message seen before is not deserialized again: the
  object psrpcore made of it is only read (the pool's settings, or the pipeline's metadata, which is kept too),
  so one copy serves every pool that sent the same bytes;
- a state message that carries nothing but its state (a pipeline completed, a pool opened), the server's
  SESSION_CAPABILITY and its APPLICATION_PRIVATE_DATA (given a name: pools given one name hold the same data)
  are serialized once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from psrpcore import CreatePipelineEvent, PSRPEvent, ServerRunspacePool, StreamType
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import (
    ApplicationPrivateData,
    PipelineState,
    PSRPMessageType,
    RunspacePoolStateMsg,
    SessionCapability,
    deserialize,
    serialize,
)
from psrpcore.types._serializer import _serialize_string

_KEPT = 256  # distinct messages kept, read or written
_READ_ONCE = frozenset(
    {PSRPMessageType.CreatePipeline, PSRPMessageType.SessionCapability, PSRPMessageType.InitRunspacePool}
)
_read: OrderedDict[bytes, Any] = OrderedDict()
_metadata: OrderedDict[bytes, Any] = OrderedDict()  # CREATE_PIPELINE bytes -> the pipeline psrpcore makes of it
_written: dict[tuple[str, ...], bytes] = {}
_reading: dict[bytes, threading.Lock] = {}  # messages being read now, each by one pool
_lock = threading.Lock()


def _kept(data: bytes) -> Any:
    """The object read from these bytes before, or None."""
    with _lock:
        ps_object = _read.get(data)
        if ps_object is not None:
            _read.move_to_end(data)
        return ps_object


class ServerPool(ServerRunspacePool):
    """A ServerRunspacePool that reads a message it has seen before, and writes a message every pool writes
    alike, once. private_data_name names what application_private_data holds."""

    def __init__(self, application_private_data: dict[str, Any], private_data_name: str) -> None:
        super().__init__(application_private_data=application_private_data)
        self.private_data_name = private_data_name

    def _process_message(self, message: Any) -> PSRPEvent[Any, Any]:  # message: psrpcore's PSRPMessage
        data = bytes(message.data)
        if message.message_type not in _READ_ONCE or b"<SS" in data:  # SecureStrings belong to one pool
            return super()._process_message(message)
        ps_object = _kept(data)
        if ps_object is None:
            # one pool reads a message new to the process; pools sending the same bytes meanwhile (a fleet's
            # hosts get each step at about the same time) wait for its reading rather than read it too
            with _lock:
                gate = _reading.setdefault(data, threading.Lock())
            try:
                with gate:
                    ps_object = _kept(data)
                    if ps_object is None:
                        ps_object = deserialize(
                            ElementTree.fromstring(data),
                            cipher=self._cipher,
                            our_capability=self.our_capability,
                            their_capability=self.their_capability,
                        )
                        with _lock:
                            _read[data] = ps_object
                            while len(_read) > _KEPT:
                                _read.popitem(last=False)
            finally:
                with _lock:
                    _reading.pop(data, None)
        event = PSRPEvent.create(message.message_type, ps_object, message.runspace_pool_id, message.pipeline_id)
        if isinstance(event, CreatePipelineEvent) and event.pipeline_id in self.pipeline_table:
            # psrpcore would rebuild the pipeline's metadata from the message; it is only read, so it is kept too
            with _lock:
                metadata = _metadata.get(data)
            if metadata is None:
                metadata = event.pipeline
                with _lock:
                    _metadata[data] = metadata
                    while len(_metadata) > _KEPT:
                        _metadata.popitem(last=False)
            self.pipeline_table[event.pipeline_id].metadata = metadata
        else:
            getattr(self, f"_process_{message.message_type.name}")(event)
        return event

    def prepare_message(
        self,
        message: Any,
        message_type: PSRPMessageType | None = None,
        pipeline_id: Any = None,
        stream_type: StreamType = StreamType.default,
    ) -> None:
        key = self._written_alike(message)
        if key is None:
            super().prepare_message(message, message_type, pipeline_id, stream_type)
            return
        with _lock:
            data = _written.get(key)
        if data is None:
            element = serialize(message, self._cipher, our_capability=self.our_capability,
                                their_capability=self.their_capability)
            data = ElementTree.tostring(element, encoding="utf-8", method="xml")
            with _lock:
                _written[key] = data
        self._queue(PSRPMessageType.get_message_id(type(message)), data, pipeline_id, stream_type)

    def prepare_string_output(self, text: str, pipeline_id: Any) -> None:
        """A string a pipeline outputs (most of what scripts return): the <S> element psrpcore would serialize,
        written without building and walking an element tree."""
        escaped = escape(_serialize_string(text))  # & < > as ElementTree escapes an element's text
        data = b"<S>" + escaped.encode("utf-8", "xmlcharrefreplace") + b"</S>" if escaped else b"<S />"
        self._queue(PSRPMessageType.PipelineOutput, data, pipeline_id, StreamType.default)

    def _queue(self, kind: PSRPMessageType, data: bytes, pipeline_id: Any, stream_type: StreamType) -> None:
        packed = create_message(self._is_client, kind, data, self.runspace_pool_id, pipeline_id)
        self._send_buffer.append(
            PSRPMessage(kind, bytearray(packed), self.runspace_pool_id, pipeline_id, self._fragment_counter,
                        stream_type)
        )


    def _written_alike(self, message: Any) -> tuple[str, ...] | None:
        """What a message every pool writes alike is known by: ("PipelineState", "4") for a state message that
        carries nothing but its state, ("SessionCapability", versions...) for this server's capability,
        ("ApplicationPrivateData", name) for its private data; None for anything else."""
        if isinstance(message, PipelineState) and message.ExceptionAsErrorRecord is None:
            return "PipelineState", str(int(message.PipelineState))
        if isinstance(message, RunspacePoolStateMsg) and message.ExceptionAsErrorRecord is None:
            return "RunspacePoolState", str(int(message.RunspaceState))
        if isinstance(message, SessionCapability) and message is self.our_capability:
            versions = (message.PSVersion, message.protocolversion, message.SerializationVersion)
            return ("SessionCapability", *(str(version) for version in versions))
        if isinstance(message, ApplicationPrivateData):  # a server sends only its own, as its pool opens
            return "ApplicationPrivateData", self.private_data_name
        return None
