param(
    [string]$TargetEdition,
    [string]$ProductKey
)
$ErrorActionPreference = 'Stop'
# Defence in depth: an edition ID (letters only) and a 5x5 key, so each is one plain argument for DISM.
if ($TargetEdition -notmatch '^[A-Za-z]+$') {
    throw 'TargetEdition must be an edition ID such as ServerStandard.'
}
if ($ProductKey -notmatch '^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){4}$') {
    throw 'The product key is not five groups of five letters or digits.'
}
# Only the last five characters of a key are ever shown.
$lastFive = $ProductKey.Substring(24).ToUpper()
$masked = 'XXXXX-XXXXX-XXXXX-XXXXX-' + $lastFive
$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$domainRole = [int]$computer.DomainRole
$refused = $null
$converted = $false
$exitCode = $null
$hresult = $null
$targetEditions = @()
$text = ''
if ($domainRole -ge 4) {
    # DomainRole 4 = backup domain controller, 5 = primary domain controller. Microsoft does not support
    # converting the edition of a domain controller: demote it first, or leave it to a person.
    $refused = 'domain_controller'
}
else {
    $targetLines = & dism.exe /online /Get-TargetEditions
    foreach ($line in $targetLines) {
        if ($line -match ':\s*([A-Za-z]+)\s*$') {
            $targetEditions += $Matches[1]
        }
    }
    if ($TargetEdition -notin $targetEditions) {
        $refused = 'not_a_target_edition'
        $text = $targetLines | Out-String
    }
    else {
        $text = & dism.exe /online /Set-Edition:$TargetEdition /ProductKey:$ProductKey /AcceptEula /NoRestart | Out-String
        $exitCode = $LASTEXITCODE
        $text = $text.Replace($ProductKey, $masked).Replace($ProductKey.ToUpper(), $masked)
        # 3010 = done, restart required (ERROR_SUCCESS_REBOOT_REQUIRED).
        $converted = $exitCode -eq 0 -or $exitCode -eq 3010
        if (-not $converted) {
            $hresult = '0x{0:X8}' -f $exitCode
        }
    }
}
$data = @{
    refused = $refused
    domain_role = $domainRole
    target_edition = $TargetEdition
    target_editions = $targetEditions
    partial_product_key = $lastFive
    exit_code = $exitCode
    restart_required = $converted
}
[pscustomobject]@{
    ok = $converted
    hresult = $hresult
    license_status = $null
    changed = $converted
    output = $text
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
