param(
    [string]$KmsHost,
    [int]$KmsPort = 1688
)
$ErrorActionPreference = 'Stop'
# KMS clients talk to the host over TCP (RPC), port 1688 by default; firewalls on both sides must allow it.
$addresses = @(Resolve-DnsName -Name $KmsHost -Type A -DnsOnly -QuickTimeout -ErrorAction SilentlyContinue | Where-Object { $_.IPAddress } | ForEach-Object { $_.IPAddress })
$tcp = Test-NetConnection -ComputerName $KmsHost -Port $KmsPort -WarningAction SilentlyContinue
$data = @{
    kms_host = $KmsHost
    kms_port = $KmsPort
    name_resolved = $addresses.Count -gt 0
    addresses = $addresses
    tcp_ok = [bool]$tcp.TcpTestSucceeded
    remote_address = [string]$tcp.RemoteAddress
}
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
