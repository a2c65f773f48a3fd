param()
$ErrorActionPreference = 'Stop'
# Is Windows activated? Decided from CIM numbers: LicenseStatus 1 = Licensed; LicenseStatusReason is the HRESULT
# that keeps it from being licensed (0 when there is none).
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
# Office's own licences: Office 2013 and later keep them in the same service under Office's application ID
# (0ff1ce15-a989-479d-af46-f275c6370663), managed with ospp.vbs, not with the Windows tool. Office 2010 keeps them in its own
# service (OfficeSoftwareProtectionProduct), a class that exists only where it is installed.
$officeProducts = @(Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID LIKE "%-a989-479d-af46-f275c6370663" AND PartialProductKey IS NOT NULL')
$officeProducts += @(Get-CimInstance -ClassName OfficeSoftwareProtectionProduct -ErrorAction SilentlyContinue | Where-Object { $_.PartialProductKey })
$office = @($officeProducts | ForEach-Object { [pscustomobject]@{ name = $_.Name; description = $_.Description; license_status = [int]$_.LicenseStatus; license_status_reason = '0x{0:X8}' -f $_.LicenseStatusReason; partial_product_key = $_.PartialProductKey } })
$service = Get-CimInstance -ClassName SoftwareLicensingService
$status = $null
$reason = $null
if ($product) {
    $status = [int]$product.LicenseStatus
    $reason = '0x{0:X8}' -f $product.LicenseStatusReason
}
$licensed = $status -eq 1
# The last failed activation attempt: Application log, Microsoft-Windows-Security-SPP, event 8198, whose text ends
# "hr=0x<code>". The error an attempt gave is recorded here; LicenseStatusReason keeps the state's own reason.
# Office's attempts are logged the same way, their command line naming Office's application ID (AppId=0ff1ce15-...;
# Office's application IDs end -a989-479d-af46-f275c6370663): those are Office's errors, never Windows'.
$failures = @(Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 8198 } -MaxEvents 50 -ErrorAction SilentlyContinue)
$activationFailure = $failures | Where-Object { $_.Message -notlike '*-a989-479d-af46-f275c6370663*' } | Select-Object -First 1
$officeFailure = $failures | Where-Object { $_.Message -like '*-a989-479d-af46-f275c6370663*' } | Select-Object -First 1
$officeFailureHresult = $null
if ($officeFailure -and $officeFailure.Message -match 'hr=(0x[0-9A-Fa-f]{8})') {
    $officeFailureHresult = '0x' + $Matches[1].Substring(2).ToUpper()
}
$activationFailureHresult = $null
$activationFailureAgeMinutes = $null
if ($activationFailure) {
    $activationFailureAgeMinutes = [int]((Get-Date) - $activationFailure.TimeCreated).TotalMinutes
    if ($activationFailure.Message -match 'hr=(0x[0-9A-Fa-f]{8})') {
        $activationFailureHresult = '0x' + $Matches[1].Substring(2).ToUpper()  # failures are 8 digits: 0x8…, 0xC…
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
$hresult = $null
if (-not $product) {
    # No Windows licence has a product key installed: SL_E_PKEY_NOT_INSTALLED.
    $hresult = '0xC004F014'
}
elseif (-not $licensed -and $activationFailureHresult) {
    # Not activated, and the last attempt said why (event 8198): that is the error to fix.
    $hresult = $activationFailureHresult
}
elseif (-not $licensed -and $product.LicenseStatusReason) {
    $hresult = $reason
}
$data = @{
    computer_name = $env:COMPUTERNAME
    product_found = [bool]$product
    name = $product.Name
    description = $product.Description
    channel = $product.ProductKeyChannel
    partial_product_key = $product.PartialProductKey
    license_status_reason = $reason
    last_activation_error = $activationFailureHresult
    last_activation_error_age_minutes = $activationFailureAgeMinutes
    kms_request_hresult = $kmsRequestHresult
    kms_request_server = $kmsRequestServer
    evaluation = $product.Description -like '*TIMEBASED_EVAL*'
    grace_minutes_remaining = $product.GracePeriodRemaining
    kms_client = $product.Description -like '*VOLUME_KMSCLIENT*'
    kms_machine = $service.KeyManagementServiceMachine
    kms_port = $service.KeyManagementServicePort
    discovered_kms_machine = $product.DiscoveredKeyManagementServiceMachineName
    discovered_kms_port = $product.DiscoveredKeyManagementServiceMachinePort
    # The Client Machine ID: a KMS host counts each CMID once, so clones that share one count as one machine.
    client_machine_id = $service.ClientMachineID
    # The Software Licensing service's version: its build is the Windows build (what a KMS host key must cover).
    service_version = $service.Version
    office = $office
    office_last_activation_error = $officeFailureHresult
}
[pscustomobject]@{
    ok = $licensed
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
