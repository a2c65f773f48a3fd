param(
    [string]$KmsHost,
    [int]$KmsPort = 1688
)
$ErrorActionPreference = 'Stop'
# Defence in depth: a host name or IPv4 address only, so the value is one plain argument for slmgr.
if ($KmsHost -notmatch '^[A-Za-z0-9][A-Za-z0-9.-]*$') {
    throw 'KmsHost must be a host name or an IPv4 address.'
}
if ($KmsPort -lt 1 -or $KmsPort -gt 65535) {
    throw 'KmsPort must be between 1 and 65535.'
}
$before = Get-CimInstance -ClassName SoftwareLicensingService
$target = '{0}:{1}' -f $KmsHost, $KmsPort
$text = & cscript.exe //NoLogo "$env:SystemRoot\System32\slmgr.vbs" /skms $target | Out-String
$exitCode = $LASTEXITCODE
# Decide from what the licensing service now holds, not from slmgr's words.
$service = Get-CimInstance -ClassName SoftwareLicensingService
$applied = $service.KeyManagementServiceMachine -eq $KmsHost -and $service.KeyManagementServicePort -eq $KmsPort
$changed = $applied -and ($before.KeyManagementServiceMachine -ne $KmsHost -or $before.KeyManagementServicePort -ne $KmsPort)
$hresult = $null
if (-not $applied -and $exitCode -ne 0) {
    $hresult = '0x{0:X8}' -f $exitCode
}
$data = @{
    kms_machine = $service.KeyManagementServiceMachine
    kms_port = $service.KeyManagementServicePort
    previous_kms_machine = $before.KeyManagementServiceMachine
    previous_kms_port = $before.KeyManagementServicePort
    exit_code = $exitCode
}
[pscustomobject]@{
    ok = $applied
    hresult = $hresult
    license_status = $null
    changed = $changed
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
