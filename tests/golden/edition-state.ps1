param()
$ErrorActionPreference = 'Stop'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
# DomainRole 4 = backup domain controller, 5 = primary domain controller: no edition conversion there.
$domainRole = [int]$computer.DomainRole
# Evaluation editions: OperatingSystemSKU 79 / 160 (Server Standard Evaluation, full / core), 80 / 159
# (Server Datacenter Evaluation, full / core),
# or a TIMEBASED_EVAL licence channel.
$sku = [int]$os.OperatingSystemSKU
$evaluation = $sku -in @(79, 80, 159, 160) -or $product.Description -like '*TIMEBASED_EVAL*'
# DISM's labels are localized; the edition IDs after the colon are not.
$currentLines = & dism.exe /online /Get-CurrentEdition
$currentExit = $LASTEXITCODE
$currentEdition = $null
foreach ($line in $currentLines) {
    if ($line -match ':\s*([A-Za-z]+)\s*$') {
        $currentEdition = $Matches[1]
    }
}
$targetLines = & dism.exe /online /Get-TargetEditions
$targetExit = $LASTEXITCODE
$targetEditions = @()
foreach ($line in $targetLines) {
    if ($line -match ':\s*([A-Za-z]+)\s*$') {
        $targetEditions += $Matches[1]
    }
}
$text = ($currentLines | Out-String) + ($targetLines | Out-String)
$data = @{
    caption = $os.Caption
    operating_system_sku = $sku
    build_number = [int]$os.BuildNumber
    evaluation = $evaluation
    current_edition = $currentEdition
    target_editions = $targetEditions
    domain_role = $domainRole
    domain_controller = $domainRole -ge 4
    channel = $product.ProductKeyChannel
    description = $product.Description
    dism_exit_codes = @($currentExit, $targetExit)
}
[pscustomobject]@{
    ok = -not $evaluation
    hresult = $null
    license_status = $null
    changed = $false
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
