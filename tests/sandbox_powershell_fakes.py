"""A small CommandSet for the interpreter's tests: a few cmdlets and native programs, calls recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from remediate.sandbox.commands import (
    CmdletError,
    CmdletSpec,
    CommandContext,
    Invocation,
    NativeFunction,
    NativeResult,
)
from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.seam import ErrorRecord, PipelineOutcome, PSObject

CIM = "Microsoft.Management.Infrastructure.CimInstance"


def cim(class_name: str, **properties: Any) -> PSObject:
    return PSObject(
        type_names=[f"{CIM}#root/cimv2/{class_name}", CIM, "System.Object"],
        properties=dict(properties),
        handle=class_name,
    )


@dataclass
class FakeCommands:
    """Cmdlets and native programs as a CommandSet; every call is recorded in `calls`."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    native_outputs: dict[str, NativeResult] = field(default_factory=dict)
    service: PSObject = field(
        default_factory=lambda: cim(
            "SoftwareLicensingService",
            KeyManagementServiceMachine="kms.example.com",
            KeyManagementServicePort=1688,
        )
    )
    products: list[PSObject] = field(
        default_factory=lambda: [
            cim("SoftwareLicensingProduct", Name="Office", PartialProductKey=None, LicenseStatus=0),
            cim(
                "SoftwareLicensingProduct",
                Name="Windows(R), ServerStandard edition",
                PartialProductKey="T83GX",
                LicenseStatus=5,
                LicenseStatusReason=-1073418124,
            ),
        ]
    )
    now: datetime = datetime(2024, 3, 5, 14, 7, 9, tzinfo=timezone.utc)

    def cmdlet(self, name: str) -> CmdletSpec | None:
        specs: dict[str, CmdletSpec] = {
            "get-ciminstance": CmdletSpec("Get-CimInstance", ("ClassName", "Namespace"), run=self._get_cim),
            "invoke-cimmethod": CmdletSpec(
                "Invoke-CimMethod", ("InputObject", "MethodName", "Arguments"), run=self._invoke_cim
            ),
            "get-date": CmdletSpec("Get-Date", (), run=lambda invocation, context: [self.now]),
            "start-sleep": CmdletSpec("Start-Sleep", ("Seconds",), run=self._record),
            "clear-dnsclientcache": CmdletSpec("Clear-DnsClientCache", (), run=self._record),
            "resolve-dnsname": CmdletSpec(
                "Resolve-DnsName", ("Name", "Type"), switches=("DnsOnly", "QuickTimeout"), run=self._resolve
            ),
            "test-netconnection": CmdletSpec(
                "Test-NetConnection", ("ComputerName", "Port"), run=self._test_connection
            ),
            "get-winevent": CmdletSpec("Get-WinEvent", ("FilterHashtable", "MaxEvents"), run=self._events),
        }
        return specs.get(name.lower())

    def native(self, name: str) -> NativeFunction | None:
        lowered = name.lower()
        if lowered not in ("cscript.exe", "ipconfig.exe", "w32tm.exe", "dism.exe", "netsh.exe"):
            return None

        def run(arguments: list[str], context: CommandContext) -> NativeResult:
            self.calls.append((lowered, list(arguments)))
            return self.native_outputs.get(lowered, NativeResult(stdout=f"{lowered} ok\r\n"))

        return run

    # --- cmdlets --------------------------------------------------------------------------------------------

    def _record(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        return []

    def _get_cim(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        class_name = str(invocation.named.get("ClassName", ""))
        if class_name.lower() == "softwarelicensingservice":
            return [self.service]
        if class_name.lower() == "softwarelicensingproduct":
            return list(self.products)
        if class_name.lower() == "win32_operatingsystem":
            return [
                cim(
                    "Win32_OperatingSystem",
                    Caption="Microsoft Windows Server 2022 Standard",
                    BuildNumber="20348",
                    OperatingSystemSKU=7,
                )
            ]
        if class_name.lower() == "win32_computersystem":
            return [cim("Win32_ComputerSystem", Domain="example.com", PartOfDomain=True, DomainRole=3)]
        raise CmdletError(
            ErrorRecord(
                message="Invalid class ",
                fully_qualified_error_id="HRESULT 0x80041010,Microsoft.Management.Infrastructure.CimCmdlets."
                "GetCimInstanceCommand",
                category="MetadataError",
                exception_type="Microsoft.Management.Infrastructure.CimException",
                hresult=-2147217392,
            )
        )

    def _invoke_cim(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        return [
            PSObject(
                type_names=["Microsoft.Management.Infrastructure.CimMethodResult"],
                properties={"ReturnValue": 0},
            )
        ]

    def _resolve(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        name = str(invocation.named.get("Name"))
        if name.startswith("_vlmcs"):
            return [
                PSObject(
                    type_names=["Microsoft.DnsClient.Commands.DnsRecord_SRV"],
                    properties={"Name": name, "NameTarget": "kms.example.com", "Port": 1688, "Priority": 0},
                )
            ]
        context.write_error(
            ErrorRecord(
                message=f"{name} : DNS name does not exist",
                fully_qualified_error_id="DNS_ERROR_RCODE_NAME_ERROR,Microsoft.DnsClient.Commands.ResolveDnsName",
                category="ResourceUnavailable",
            )
        )
        return []

    def _test_connection(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        context.write_warning(f"TCP connect to {invocation.named.get('ComputerName')} failed")
        return [
            PSObject(
                type_names=["TestNetConnectionResult"],
                properties={"TcpTestSucceeded": False, "RemoteAddress": "10.0.0.5"},
            )
        ]

    def _events(self, invocation: Invocation, context: CommandContext) -> list[Any]:
        self.calls.append((invocation.name, dict(invocation.named)))
        return []


def run(
    script: str,
    parameters: dict[str, Any] | None = None,
    commands: FakeCommands | None = None,
    env: dict[str, str] | None = None,
) -> PipelineOutcome:
    interpreter = Interpreter(
        commands or FakeCommands(), env or {"SystemRoot": "C:\\Windows", "COMPUTERNAME": "HOST1"}
    )
    return interpreter.run_script(script, parameters or {})


def output_of(script: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
    """The output of a script that must complete without errors."""
    outcome = run(script, parameters, **kwargs)
    assert outcome.state == "Completed", outcome.failure
    assert outcome.errors == [], outcome.errors
    return outcome.output


def value_of(script: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """The single output object of a script."""
    output = output_of(script, parameters, **kwargs)
    assert len(output) == 1, output
    return output[0]
