param()
$ErrorActionPreference = 'Stop'
# Read-only. slmgr /dlv on a KMS host reads these properties of SoftwareLicensingService and of the licence whose
# Description holds VOLUME_KMS but not VOLUME_KMSCLIENT (activation reference §2, §2a, §3); in WQL's LIKE, [_] is
# the underscore itself (a bare _ would match any one character).
$service = Get-CimInstance -ClassName SoftwareLicensingService
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$licence = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND Description LIKE "%VOLUME[_]KMS%" AND NOT Description LIKE "%VOLUME[_]KMSCLIENT%"' | Select-Object -First 1
$isKmsHost = [bool]$licence
$status = $null
$hresult = $null
if ($licence) {
    $status = [int]$licence.LicenseStatus
    if ($status -ne 1) {
        # A KMS host that is not activated answers its clients 0xC004F041 (activation reference §1a).
        $hresult = '0xC004F041'
    }
}
# Port 0 is the default, 1688 (slmgr prints it so).
$port = [int]$service.KeyManagementServiceListeningPort
if ($port -eq 0) {
    $port = 1688
}
# KMS hosts publish _vlmcs._tcp SRV records in their domain; clients find them there (activation reference §4).
$domain = $computer.Domain
$fqdn = ('{0}.{1}' -f $env:COMPUTERNAME, $domain).ToLower()
$srvName = '_vlmcs._tcp.{0}' -f $domain
$answers = Resolve-DnsName -Name $srvName -Type SRV -DnsOnly -ErrorAction SilentlyContinue
# A record names this host by its FQDN, with or without the root's dot.
$names = @($fqdn, ('{0}.' -f $fqdn))
$own = @($answers | Where-Object { $_.Type -eq 'SRV' -and ([string]$_.NameTarget).ToLower() -in $names })
$srv = $null
if ($own.Count -gt 0) {
    $srv = @{ priority = $own[0].Priority; weight = $own[0].Weight; port = $own[0].Port }
}
# Each request it answers is event 12290 in its "Key Management Service" log, Info "<HRESULT>,<minimum count>,<client
# name>,<CMID>,..." (the KMS events table; the 0xC004F074 article's sample). Newest first: a client's first event is
# its latest request; 0x0 is an activation, any other code a refusal.
$processed = @(Get-WinEvent -FilterHashtable @{ LogName = 'Key Management Service'; Id = 12290 } -MaxEvents 500 -ErrorAction SilentlyContinue)
$clients = @()
$refused = @()
foreach ($request in $processed) {
    if ($request.Message -match '(0x[0-9A-Fa-f]{1,8}),\s*(\d+),\s*([^,]+),') {
        $code = $Matches[1]
        $client = $Matches[3].Trim()
        if ($clients -notcontains $client) {
            $clients += $client
            if ($code -ne '0x0') {
                $refused += @{ client = $client; code = '0x' + $code.Substring(2).ToUpper() }
            }
        }
    }
}
# Its last attempt to publish its _VLMCS SRV record (Application log): 12294 published, 12293 failed with its code
# (0x80072338: the record is another host's; the event 12293 article). The domain is the last insertion string.
$published = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 12293, 12294 } -MaxEvents 1 -ErrorAction SilentlyContinue
$publishing = $null
if ($published) {
    $publishCode = $null
    if ($published.Id -eq 12293 -and $published.Message -match '(0x[0-9A-Fa-f]{8})') {
        $publishCode = '0x' + $Matches[1].Substring(2).ToUpper()
    }
    $publishing = @{ published = $published.Id -eq 12294; domain = $published.Properties[-1].Value; hresult = $publishCode }
}
$data = @{
    computer_name = $env:COMPUTERNAME
    fqdn = $fqdn
    kms_host = $isKmsHost
    name = $licence.Name
    description = $licence.Description
    partial_product_key = $licence.PartialProductKey
    license_status_reason = $(if ($licence) { '0x{0:X8}' -f $licence.LicenseStatusReason } else { $null })
    service_version = $service.Version
    caption = $os.Caption
    build_number = [int]$os.BuildNumber
    current_count = $service.KeyManagementServiceCurrentCount
    listening_port = $port
    dns_publishing = [bool]$service.KeyManagementServiceDnsPublishing
    low_priority = [bool]$service.KeyManagementServiceLowPriority
    srv_name = $srvName
    srv_record = $srv
    requests = @{
        total = $service.KeyManagementServiceTotalRequests
        failed = $service.KeyManagementServiceFailedRequests
        unlicensed = $service.KeyManagementServiceUnlicensedRequests
        licensed = $service.KeyManagementServiceLicensedRequests
        initial_grace = $service.KeyManagementServiceOOBGraceRequests
        expired_or_out_of_tolerance = $service.KeyManagementServiceOOTGraceRequests
        non_genuine_grace = $service.KeyManagementServiceNonGenuineGraceRequests
        notification = $service.KeyManagementServiceNotificationRequests
    }
    log = @{
        clients = $clients.Count
        refused = $refused
        publishing = $publishing
    }
}
$serving = $isKmsHost -and $status -eq 1
[pscustomobject]@{
    ok = $serving
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
