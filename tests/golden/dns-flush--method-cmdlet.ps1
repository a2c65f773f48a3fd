param()
$ErrorActionPreference = 'Stop'
# After DNS records change, the client keeps answers (including "name does not exist") until they expire.
Clear-DnsClientCache
$data = @{ method = 'cmdlet' }
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $true
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
