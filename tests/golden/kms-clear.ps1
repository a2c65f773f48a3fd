param()
$ErrorActionPreference = 'Stop'
# Microsoft recommends DNS auto-discovery; a stale /skms entry keeps a client on a host that moved away.
$before = Get-CimInstance -ClassName SoftwareLicensingService
$text = & cscript.exe //NoLogo "$env:SystemRoot\System32\slmgr.vbs" /ckms | Out-String
$exitCode = $LASTEXITCODE
$service = Get-CimInstance -ClassName SoftwareLicensingService
$cleared = -not $service.KeyManagementServiceMachine
$changed = $cleared -and [bool]$before.KeyManagementServiceMachine
$hresult = $null
if (-not $cleared -and $exitCode -ne 0) {
    $hresult = '0x{0:X8}' -f $exitCode
}
$data = @{
    previous_kms_machine = $before.KeyManagementServiceMachine
    previous_kms_port = $before.KeyManagementServicePort
    exit_code = $exitCode
}
[pscustomobject]@{
    ok = $cleared
    hresult = $hresult
    license_status = $null
    changed = $changed
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
