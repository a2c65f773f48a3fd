param()
$ErrorActionPreference = 'Stop'
# Read-only. slmgr /dti prints OfflineInstallationId of the licence in use; Microsoft's activation centre answers
# with a confirmation ID for exactly this installation ID, and slmgr /atp <confirmation ID> <activation ID>
# deposits it (activation reference §2; SoftwareLicensingProduct, learn.microsoft.com/previous-versions/windows/
# desktop/sppwmi/softwarelicensingproduct). Installing another key changes the installation ID.
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$status = $null
$reason = $null
$hresult = $null
if ($product) {
    $status = [int]$product.LicenseStatus
    $reason = '0x{0:X8}' -f $product.LicenseStatusReason
}
else {
    # No Windows licence has a product key installed: SL_E_PKEY_NOT_INSTALLED, and no installation ID.
    $hresult = '0xC004F014'
}
$data = @{
    computer_name = $env:COMPUTERNAME
    installation_id = $product.OfflineInstallationId
    activation_id = $product.ID
    partial_product_key = $product.PartialProductKey
    channel = $product.ProductKeyChannel
    name = $product.Name
    license_status_reason = $reason
}
[pscustomobject]@{
    ok = $true
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
