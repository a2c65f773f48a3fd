param()
$ErrorActionPreference = 'Stop'
# The Windows licence in use, as slmgr /dli selects it: the Windows application
# (55c92734-d682-4d71-983e-d6ec3f16059f), a product key installed, not an add-on. WMI applies the filter, so only
# that licence comes back rather than every licence the host knows.
$product = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter 'ApplicationID = "55c92734-d682-4d71-983e-d6ec3f16059f" AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE' | Select-Object -First 1
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
$data = @{
    request_found = [bool]$kmsRequest
    inner_hresult = $kmsRequestHresult
    kms_server = $kmsRequestServer
    age_minutes = $kmsRequestAgeMinutes
}
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
