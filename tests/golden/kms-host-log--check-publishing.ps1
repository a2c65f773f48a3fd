param()
$ErrorActionPreference = 'Stop'
# Read-only. A KMS host publishes its _VLMCS SRV record every 24 hours unless DNS publishing is off; each attempt is
# logged: 12294 published, 12293 failed with its code (0x80072338: the record exists and this host may not update
# it; the event 12293 article). The newest of the two says where publishing stands now.
$publishing = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 12293, 12294 } -MaxEvents 1 -ErrorAction SilentlyContinue
$hresult = $null
$published = $null
$domain = $null
if ($publishing) {
    $published = $publishing.Id -eq 12294
    # The domain is the last insertion string of both events.
    $domain = $publishing.Properties[-1].Value
    if (-not $published -and $publishing.Message -match '(0x[0-9A-Fa-f]{8})') {
        $hresult = '0x' + $Matches[1].Substring(2).ToUpper()
    }
}
$ok = $published -ne $false
$data = @{
    published = $published
    domain = $domain
    last_event_id = $publishing.Id
}
[pscustomobject]@{
    ok = $ok
    hresult = $hresult
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
