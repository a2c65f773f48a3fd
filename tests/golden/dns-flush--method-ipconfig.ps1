param()
$ErrorActionPreference = 'Stop'
# After DNS records change, the client keeps answers (including "name does not exist") until they expire.
$text = & ipconfig.exe /flushdns | Out-String
$exitCode = $LASTEXITCODE
$flushed = $exitCode -eq 0
$hresult = $null
if (-not $flushed) {
    $hresult = '0x{0:X8}' -f $exitCode
}
$data = @{ method = 'ipconfig'; exit_code = $exitCode }
[pscustomobject]@{
    ok = $flushed
    hresult = $hresult
    license_status = $null
    changed = $flushed
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
