param()
$ErrorActionPreference = 'Stop'
# Is Windows activated? Decided from CIM numbers: LicenseStatus 1 = Licensed; LicenseStatusReason is the HRESULT
# that keeps it from being licensed (0 when there is none).
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
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
$activationFailure = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 8198 } -MaxEvents 1 -ErrorAction SilentlyContinue
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
$kmsRequest = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 12288 } -MaxEvents 1 -ErrorAction SilentlyContinue
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
    evaluation = $product.Description -like '*TIMEBASED_EVAL*'
    grace_minutes_remaining = $product.GracePeriodRemaining
    kms_client = $product.Description -like '*VOLUME_KMSCLIENT*'
    kms_machine = $service.KeyManagementServiceMachine
    kms_port = $service.KeyManagementServicePort
    discovered_kms_machine = $product.DiscoveredKeyManagementServiceMachineName
    discovered_kms_port = $product.DiscoveredKeyManagementServiceMachinePort
}
[pscustomobject]@{
    ok = $licensed
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
