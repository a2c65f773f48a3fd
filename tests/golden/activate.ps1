param()
$ErrorActionPreference = 'Stop'
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$before = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$text = & cscript.exe //NoLogo "$env:SystemRoot\System32\slmgr.vbs" /ato | Out-String
$exitCode = $LASTEXITCODE
# slmgr's exit code is the HRESULT of a failed call, but some failures exit 0 and its text is localized:
# the licence state read back decides.
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$status = $null
if ($product) {
    $status = [int]$product.LicenseStatus
}
$activated = $status -eq 1
$hresult = $null
if (-not $activated) {
    if ($exitCode -ne 0) {
        $hresult = '0x{0:X8}' -f $exitCode
    }
    elseif ($product.LicenseStatusReason) {
        $hresult = '0x{0:X8}' -f $product.LicenseStatusReason
    }
}
$changed = $status -ne $before.LicenseStatus
$data = @{
    exit_code = $exitCode
    previous_license_status = $before.LicenseStatus
    license_status_reason = $(if ($product) { '0x{0:X8}' -f $product.LicenseStatusReason } else { $null })
    grace_minutes_remaining = $product.GracePeriodRemaining
    discovered_kms_machine = $product.DiscoveredKeyManagementServiceMachineName
}
[pscustomobject]@{
    ok = $activated
    hresult = $hresult
    license_status = $status
    changed = $changed
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
