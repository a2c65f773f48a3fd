param()
$ErrorActionPreference = 'Stop'
$before = (Get-Date).ToUniversalTime()
$text = & w32tm.exe /resync | Out-String
$exitCode = $LASTEXITCODE
$after = (Get-Date).ToUniversalTime()
# w32tm's words are localized; its exit code is not (0 = the resync was accepted).
$resynced = $exitCode -eq 0
$hresult = $null
if (-not $resynced) {
    $hresult = '0x{0:X8}' -f $exitCode
}
$data = @{
    exit_code = $exitCode
    time_before_utc = [string]$before
    time_after_utc = [string]$after
}
[pscustomobject]@{
    ok = $resynced
    hresult = $hresult
    license_status = $null
    changed = $resynced
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
