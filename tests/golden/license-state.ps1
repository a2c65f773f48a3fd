param()
$ErrorActionPreference = 'Stop'
# Is Windows activated? Decided from CIM numbers: LicenseStatus 1 = Licensed; LicenseStatusReason is the HRESULT
# that keeps it from being licensed (0 when there is none).
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct | Where-Object { $_.ApplicationID -eq '55c92734-d682-4d71-983e-d6ec3f16059f' -and $_.PartialProductKey -and -not $_.LicenseIsAddon } | Select-Object -First 1
$service = Get-CimInstance -ClassName SoftwareLicensingService
$status = $null
$reason = $null
if ($product) {
    $status = [int]$product.LicenseStatus
    $reason = '0x{0:X8}' -f $product.LicenseStatusReason
}
$licensed = $status -eq 1
$hresult = $null
if (-not $product) {
    # No Windows licence has a product key installed: SL_E_PKEY_NOT_INSTALLED.
    $hresult = '0xC004F014'
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
