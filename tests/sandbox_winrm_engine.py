"""A small HostEngine for the WinRM server's tests: it echoes what arrived, and misbehaves on markers.

Markers (the script text or command name):
  "fail"  -> the pipeline ends Failed (as after an uncaught throw)
  "error" -> a non-terminating error record, then Completed
  "sleep:<seconds>" -> takes that long
  "objects" -> a CIM-like object and a custom object
  "big:<n>" -> one string of n characters
  "streams" -> a warning, a verbose and an information record
  "crash" -> the engine raises (an engine bug)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from remediate.sandbox.seam import (
    ErrorRecord,
    NativeOutcome,
    PipelineOutcome,
    PipelineRequest,
    PSObject,
    ShellContext,
)

CIM_TYPE = "Microsoft.Management.Infrastructure.CimInstance#root/cimv2/SoftwareLicensingProduct"


class EchoEngine:
    def __init__(self, computer_name: str = "WS01") -> None:
        self.computer_name = computer_name
        self.requests: list[PipelineRequest] = []
        self.native_calls: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        with self._lock:
            self.requests.append(request)
        first = request.commands[0]
        # execute_ps wraps the script: Invoke-Expression -Command <script> | Out-String -Stream
        text = str(dict(first.parameters).get("Command")) if first.text == "Invoke-Expression" else first.text
        if text.startswith("sleep:"):
            time.sleep(float(text.split(":", 1)[1]))
        if text == "crash":
            raise RuntimeError("engine bug")
        if text == "fail":
            return PipelineOutcome(
                output=["before the throw"],
                state="Failed",
                failure=ErrorRecord(
                    message="activation failed",
                    fully_qualified_error_id="activation failed",
                    category="OperationStopped",
                    hresult=-1073418124,
                ),
            )
        if text == "error":
            return PipelineOutcome(
                output=["still here"],
                errors=[
                    ErrorRecord(
                        message="no such product",
                        fully_qualified_error_id="CmdletizationQuery_NotFound,Get-CimInstance",
                        category="ObjectNotFound",
                        exception_type="Microsoft.Management.Infrastructure.CimException",
                        target_object="SoftwareLicensingProduct",
                        activity="Get-CimInstance",
                    )
                ],
            )
        if text == "objects":
            product = PSObject(
                [CIM_TYPE, "Microsoft.Management.Infrastructure.CimInstance", "System.Object"],
                {"Name": "Windows(R), Professional edition", "LicenseStatus": 5, "GracePeriodRemaining": 0},
            )
            custom = PSObject(
                ["System.Management.Automation.PSCustomObject", "System.Object"],
                {
                    "ok": True,
                    "hresult": None,
                    "data": {"kms": "kms01.example.com"},
                    "items": [1, "two"],
                    "ratio": 0.1,
                    "big": 2**40,
                },
            )
            return PipelineOutcome(output=[product, custom])
        if text.startswith("big:"):
            return PipelineOutcome(output=["x" * int(text.split(":", 1)[1])])
        if text == "streams":
            return PipelineOutcome(
                output=[], warnings=["警告: check KMS"], verbose=["looking up DNS"], information=["info line"]
            )
        if request.commands[-1].text == "Out-String":  # execute_ps: the output as lines of text
            script = dict(first.parameters).get("Command")
            return PipelineOutcome(output=[f"ran: {script}"])
        return PipelineOutcome(output=[self._echo(request)])

    @staticmethod
    def _echo(request: PipelineRequest) -> dict[str, Any]:
        """The first command as a hashtable (an array of hashtables would reach pypsrp as generic objects)."""
        first = request.commands[0]
        return {
            "text": first.text,
            "is_script": first.is_script,
            "parameters": dict(first.parameters),
            "commands": [command.text for command in request.commands],
            "input": request.input,
        }

    def run_native(self, command: str, arguments: list[str], shell: ShellContext | None = None) -> NativeOutcome:
        with self._lock:
            self.native_calls.append((command, arguments))
        if "fail" in command:
            return NativeOutcome(stdout=b"", stderr=b"Error: 0xC004F074\r\n", exit_code=-1073418124)
        return NativeOutcome(stdout=f"ran {command}\r\n".encode(), stderr=b"", exit_code=0)
