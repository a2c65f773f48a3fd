param()
$ErrorActionPreference = 'Stop'
# Read-only. Each request the KMS host answers is event 12290 in its "Key Management Service" log; the Info part
# reads "<HRESULT>,<minimum count>,<client name>,<CMID>,<client time>,..." (the KMS events table, and the sample in
# the 0xC004F074 article). 0xC004F015 there: the KMS host key is too old for that client (the 0xC004F015 article).
$requests = @(Get-WinEvent -FilterHashtable @{ LogName = 'Key Management Service'; Id = 12290 } -MaxEvents 500 -ErrorAction SilentlyContinue)
# Newest first: the first request seen of each client is its latest; a client answered since is not counted.
$seen = @()
$refused = @()
foreach ($request in $requests) {
    if ($request.Message -match '(0x[0-9A-Fa-f]{1,8}),\s*(\d+),\s*([^,]+),') {
        $code = $Matches[1]
        $client = $Matches[3].Trim()
        if ($seen -notcontains $client) {
            $seen += $client
            if ($code -eq '0xC004F015') {
                $refused += $client
            }
        }
    }
}
$ok = $refused.Count -eq 0
$hresult = $null
if (-not $ok) {
    $hresult = '0xC004F015'
}
$data = @{
    requests_read = $requests.Count
    clients = $seen.Count
    clients_refused = $refused
}
[pscustomobject]@{
    ok = $ok
    hresult = $hresult
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
