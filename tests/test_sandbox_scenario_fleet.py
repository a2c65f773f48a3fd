"""A scenario's hosts served over real WinRM: pypsrp talks to them as to Windows (CIM, slmgr, WinRS bytes)."""

from __future__ import annotations

from pypsrp.client import Client
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate.sandbox.scenario import build, hosts_with_fault
from remediate.sandbox.testing import StartFleet
from remediate.sandbox.windows.host import WindowsHost


def test_mixed_fleet_over_winrm(sandbox_fleet: StartFleet) -> None:
    built = build("mixed-fleet", None, seed=1)
    stale = hosts_with_fault(built.hosts, "0xC004F074")[0]
    japanese = next(h for h in built.hosts if isinstance(h.engine, WindowsHost) and h.engine.state.japanese)
    fleet = sandbox_fleet([stale, japanese], auth="ntlm")

    # PSRP: a template-style script with a parameter; CIM and the event log answer as the model says
    options = fleet.client_options(stale.computer_name)
    with WSMan("127.0.0.1", **options) as wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(
            "param([string]$Provider)\n"
            "$ErrorActionPreference = 'Stop'\n"
            '$text = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /ato | Out-String\n'
            "$code = $LASTEXITCODE\n"
            "$product = Get-CimInstance -ClassName SoftwareLicensingProduct |"
            " Where-Object { $_.PartialProductKey }\n"
            "$event = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = $Provider;"
            " Id = 12288 } -MaxEvents 1\n"
            "[pscustomobject]@{ code = $code; reason = $product.LicenseStatusReason;"
            " inner = $event.Properties[0].Value } | ConvertTo-Json -Compress\n"
        )
        ps.add_parameter("Provider", "Microsoft-Windows-Security-SPP")
        output = ps.invoke()
        assert not ps.had_errors, ps.streams.error
    # the licence keeps its own reason (0x4004F00C: out-of-box grace); the attempt's error
    # is the code, and the inner one is in event 12288
    assert output == ['{"code":-1073418124,"reason":1074065420,"inner":"0x800706BA"}']

    # WinRS: native output arrives in the host's console code page (ref §2c: CP932 on Japanese Windows)
    options = fleet.client_options(japanese.computer_name)
    stdout, _, rc = Client("127.0.0.1", **options).execute_cmd("ipconfig.exe /flushdns", encoding="cp932")
    assert rc == 0
    assert "DNS リゾルバー キャッシュは正常にフラッシュされました。" in stdout
