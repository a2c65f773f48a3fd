param()
$ErrorActionPreference = 'Stop'
# Read-only: collect the facts for the person who takes over (and for Microsoft's activation centre).
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$service = Get-CimInstance -ClassName SoftwareLicensingService
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$status = $null
$reason = $null
$hresult = $null
if ($product) {
    $status = [int]$product.LicenseStatus
    $reason = '0x{0:X8}' -f $product.LicenseStatusReason
    if ($status -ne 1 -and $product.LicenseStatusReason) {
        $hresult = $reason
    }
}
# The last request this client sent to a KMS host: Application log, Microsoft-Windows-Security-SPP, event 12288.
# Its "Info" part reads "<HRESULT>, <status flags>, <KMS host:port>, <CMID>, ..."; the words around it are
# localized, the codes are not.
# Only the requests for this licence: the Info part names its activation ID (ActID); Office's own KMS requests
# are logged the same way.
$kmsRequest = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 12288 } -MaxEvents 50 -ErrorAction SilentlyContinue | Where-Object { $_.Message -like "*$($product.ID)*" } | Select-Object -First 1
$kmsRequestHresult = $null
$kmsRequestServer = $null
$kmsRequestAgeMinutes = $null
if ($kmsRequest) {
    $kmsRequestAgeMinutes = [int]((Get-Date) - $kmsRequest.TimeCreated).TotalMinutes
    if ($kmsRequest.Message -match '(0x[0-9A-Fa-f]{1,8}),\s*(0x[0-9A-Fa-f]{1,8}),\s*([^,]*),') {
        $requestCode = $Matches[1]
        $kmsRequestServer = $Matches[3].Trim()
        # 0x0 means the request itself succeeded; anything else is the inner error code.
        if ($requestCode -notmatch '^0x0+$') {
            $kmsRequestHresult = '0x' + $requestCode.Substring(2).ToUpper()
        }
    }
}
$kmsPort = $product.KeyManagementServicePort
if (-not $kmsPort) {
    $kmsPort = $service.KeyManagementServicePort
}
$data = @{
    # The installation ID is what phone activation (and Microsoft's activation centre) asks for.
    installation_id = $product.OfflineInstallationId
    activation_id = $product.ID
    name = $product.Name
    description = $product.Description
    channel = $product.ProductKeyChannel
    partial_product_key = $product.PartialProductKey
    license_status = $status
    license_status_reason = $reason
    grace_minutes_remaining = $product.GracePeriodRemaining
    evaluation_end_date = [string]$product.EvaluationEndDate
    remaining_rearm_count = $service.RemainingWindowsReArmCount
    caption = $os.Caption
    version = $os.Version
    build_number = [int]$os.BuildNumber
    operating_system_sku = [int]$os.OperatingSystemSKU
    domain = $computer.Domain
    part_of_domain = [bool]$computer.PartOfDomain
    domain_role = [int]$computer.DomainRole
    # A key in the firmware (OEM Activation 3.0): only whether there is one, never the key.
    firmware_key_present = [bool]$service.OA3xOriginalProductKey
    client_machine_id = $service.ClientMachineID
    kms_machine = $service.KeyManagementServiceMachine
    kms_product_machine = $product.KeyManagementServiceMachine
    kms_port = $kmsPort
    kms_lookup_domain = $product.KeyManagementServiceLookupDomain
    discovered_kms_machine = $product.DiscoveredKeyManagementServiceMachineName
    discovered_kms_port = $product.DiscoveredKeyManagementServiceMachinePort
    discovered_kms_address = $product.DiscoveredKeyManagementServiceMachineIpAddress
    kms_host_role = [bool]$service.IsKeyManagementServiceMachine
    kms_current_count = $service.KeyManagementServiceCurrentCount
    kms_required_client_count = $product.RequiredClientCount
    kms_listening_port = $service.KeyManagementServiceListeningPort
    kms_dns_publishing = $service.KeyManagementServiceDnsPublishing
    last_kms_request_hresult = $kmsRequestHresult
    last_kms_request_server = $kmsRequestServer
    last_kms_request_age_minutes = $kmsRequestAgeMinutes
}
[pscustomobject]@{
    ok = $true
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
