param(
    [string]$LookupDomain = ''
)
$ErrorActionPreference = 'Stop'
# A KMS client finds its host through DNS: the _vlmcs._tcp SRV records of the domain set with /skms-domain,
# else of its own DNS domain. A host set with /skms overrides that lookup.
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$service = Get-CimInstance -ClassName SoftwareLicensingService
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$domain = $LookupDomain
if (-not $domain) {
    $domain = $product.KeyManagementServiceLookupDomain
}
if (-not $domain -and $computer.PartOfDomain) {
    $domain = $computer.Domain
}
$srvName = '_vlmcs._tcp'
if ($domain) {
    $srvName = '_vlmcs._tcp.{0}' -f $domain
}
$answers = Resolve-DnsName -Name $srvName -Type SRV -DnsOnly -ErrorAction SilentlyContinue
$records = @($answers | Where-Object { $_.Type -eq 'SRV' })
$kmsHosts = @()
foreach ($record in $records) {
    $kmsHosts += [pscustomobject]@{
        name = $record.NameTarget
        port = $record.Port
        priority = $record.Priority
        weight = $record.Weight
    }
}
# A host set with /skms (KeyManagementServiceMachine) is used instead of DNS auto-discovery.
$configuredMachine = $service.KeyManagementServiceMachine
$configuredPort = [int]$service.KeyManagementServicePort
if ($configuredPort -eq 0) {
    $configuredPort = 1688
}
$configuredReachable = $null
$data = @{
    srv_name = $srvName
    srv_found = $records.Count -gt 0
    kms_hosts = $kmsHosts
    configured_kms_machine = $configuredMachine
    configured_kms_port = $configuredPort
    configured_tcp_ok = $configuredReachable
    part_of_domain = [bool]$computer.PartOfDomain
}
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
