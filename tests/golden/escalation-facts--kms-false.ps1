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
}
[pscustomobject]@{
    ok = $true
    hresult = $hresult
    license_status = $status
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
