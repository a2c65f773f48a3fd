param()
$ErrorActionPreference = 'Stop'
# Read-only. The message is localized; the code in it is not.
$failure = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 8229 } -MaxEvents 1 -ErrorAction SilentlyContinue
$code = $null
$ageMinutes = $null
if ($failure) {
    $ageMinutes = [int]((Get-Date) - $failure.TimeCreated).TotalMinutes
    if ($failure.Message -match '(0x[0-9A-Fa-f]{8})') {
        $code = '0x' + $Matches[1].Substring(2).ToUpper()
    }
}
$data = @{
    rules_engine_error = $code
    rules_engine_error_age_minutes = $ageMinutes
    dcom_self_permission_suspected = $code -eq '0x80070005'
}
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
