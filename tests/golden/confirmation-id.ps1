param(
    [string]$ConfirmationId
)
$ErrorActionPreference = 'Stop'
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$before = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
# A confirmation ID is 48 digits, read out as eight blocks of six; the blocks may come with hyphens or spaces.
$digits = $ConfirmationId.Replace('-', '').Replace(' ', '').Trim()
$installationId = $before.OfflineInstallationId
$deposited = $false
$hresult = $null
if (-not $before) {
    # No Windows licence has a product key installed: SL_E_PKEY_NOT_INSTALLED.
    $hresult = '0xC004F014'
}
elseif ([int]$before.LicenseStatus -ne 1) {
    # slmgr /atp: DepositOfflineConfirmationId(installation ID, confirmation ID) on the licence, then
    # RefreshLicenseStatus on the service (activation reference §2; DepositOfflineConfirmationId method,
    # learn.microsoft.com/previous-versions/windows/desktop/sppwmi/depositofflineconfirmationid-softwarelicensingproduct).
    try {
        $deposit = Invoke-CimMethod -InputObject $before -MethodName DepositOfflineConfirmationId -Arguments @{ InstallationId = $installationId; ConfirmationId = $digits }
        $deposited = $true
        $service = Get-CimInstance -ClassName SoftwareLicensingService
        $refresh = Invoke-CimMethod -InputObject $service -MethodName RefreshLicenseStatus
    }
    catch {
        # A refused deposit is a CimException whose FullyQualifiedErrorId starts "HRESULT 0xc004f02c," (format),
        # 0xc004f031 (the confirmation ID is not this installation ID's) or 0xc004f04d (not valid): not localized.
        if ($_.FullyQualifiedErrorId -match 'HRESULT (0x[0-9A-Fa-f]{8})') {
            $hresult = '0x' + $Matches[1].Substring(2).ToUpper()
        }
        else {
            $hresult = '0x{0:X8}' -f $_.Exception.HResult
        }
    }
}
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$status = $null
if ($product) {
    $status = [int]$product.LicenseStatus
}
$activated = $status -eq 1
if (-not $activated -and -not $hresult -and $product.LicenseStatusReason) {
    $hresult = '0x{0:X8}' -f $product.LicenseStatusReason
}
$changed = $deposited -and $status -ne $before.LicenseStatus
$data = @{
    installation_id = $installationId
    activation_id = $before.ID
    deposited = $deposited
    previous_license_status = $before.LicenseStatus
    license_status_reason = $(if ($product) { '0x{0:X8}' -f $product.LicenseStatusReason } else { $null })
}
[pscustomobject]@{
    ok = $activated
    hresult = $hresult
    license_status = $status
    changed = $changed
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
