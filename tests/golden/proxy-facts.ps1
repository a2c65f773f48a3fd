param()
$ErrorActionPreference = 'Stop'
# Online activation (MAK, retail) reaches Microsoft over HTTPS through the machine's WinHTTP proxy, not the proxy
# of a user's browser. The text is localized, so it is kept for a person to read, not parsed.
$text = & netsh.exe winhttp show proxy | Out-String
$exitCode = $LASTEXITCODE
$data = @{ exit_code = $exitCode }
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
