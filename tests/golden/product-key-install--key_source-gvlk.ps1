param(
    [hashtable]$GvlkTable
)
$ErrorActionPreference = 'Stop'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$sku = [int]$os.OperatingSystemSKU
$build = [int]$os.BuildNumber
# The GVLK table is keyed by OperatingSystemSKU; each entry covers a range of build numbers.
$key = $null
$gvlkEdition = $null
$skuKey = [string]$sku
foreach ($entry in $GvlkTable[$skuKey]) {
    if ($build -ge $entry['min_build'] -and $build -le $entry['max_build']) {
        $key = $entry['key']
        $gvlkEdition = $entry['edition']
    }
}
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$before = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
$installed = $false
$changed = $false
$exitCode = $null
$text = ''
$lastFive = $null
$hresult = $null
if ($key) {
    if ($key -notmatch '^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){4}$') {
        throw 'The product key is not five groups of five letters or digits.'
    }
    # Only the last five characters of a key are ever shown.
    $lastFive = $key.Substring(24).ToUpper()
    $masked = 'XXXXX-XXXXX-XXXXX-XXXXX-' + $lastFive
    $text = & cscript.exe //NoLogo "$env:SystemRoot\System32\slmgr.vbs" /ipk $key | Out-String
    $exitCode = $LASTEXITCODE
    # slmgr echoes the key it installed: mask it before the text leaves the host.
    $text = $text.Replace($key, $masked).Replace($key.ToUpper(), $masked)
    # The Windows licence in use, as slmgr /dli selects it: the Windows application
    # (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
    # that licence comes back rather than every licence the host knows.
    $product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
    $installed = $product.PartialProductKey -eq $lastFive
    $changed = $installed -and $before.PartialProductKey -ne $lastFive
    if (-not $installed -and $exitCode -ne 0) {
        $hresult = '0x{0:X8}' -f $exitCode
    }
}
$data = @{
    key_source = 'gvlk'
    gvlk_found = [bool]$key
    gvlk_edition = $gvlkEdition
    operating_system_sku = $sku
    build_number = $build
    caption = $os.Caption
    partial_product_key = $lastFive
    previous_partial_product_key = $before.PartialProductKey
    previous_channel = $before.ProductKeyChannel
    exit_code = $exitCode
}
[pscustomobject]@{
    ok = $installed
    hresult = $hresult
    license_status = $null
    changed = $changed
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
