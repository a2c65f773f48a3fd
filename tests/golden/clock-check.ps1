param(
    [string]$ReferenceTimeUtc = ''
)
$ErrorActionPreference = 'Stop'
# A KMS host refuses a client whose clock is more than 4 hours (240 minutes) away from its own, compared in UTC:
# time zones do not matter, the UTC instant does.
$hostUtc = (Get-Date).ToUniversalTime()
$skewMinutes = $null
$skewTooLarge = $null
if ($ReferenceTimeUtc) {
    $reference = ([datetime]$ReferenceTimeUtc).ToUniversalTime()
    $skewMinutes = [int]($hostUtc - $reference).TotalMinutes
    $absoluteSkew = $skewMinutes
    if ($absoluteSkew -lt 0) {
        $absoluteSkew = 0 - $skewMinutes
    }
    $skewTooLarge = $absoluteSkew -gt 240
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
$data = @{
    host_time_utc = [string]$hostUtc
    reference_time_utc = $ReferenceTimeUtc
    skew_minutes = $skewMinutes
    skew_exceeds_limit = $skewTooLarge
    kms_rejected_timestamp = $kmsRequestHresult -eq '0xC004F06C'
    kms_request_hresult = $kmsRequestHresult
    kms_server = $kmsRequestServer
}
[pscustomobject]@{
    ok = $true
    hresult = $null
    license_status = $null
    changed = $false
    output = ''
    data = $data
} | ConvertTo-Json -Depth 6 -Compress
