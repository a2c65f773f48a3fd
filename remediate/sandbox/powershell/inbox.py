"""Names Windows PowerShell 5.1 on Windows Server resolves out of the box: cmdlets of its inbox modules, its
aliases, and programs in System32.

A name on these lists that the sandbox does not emulate fails with SandboxNotEmulated, never with
CommandNotFoundException: Windows would have found it, so "not recognized" would be a wrong answer. A name on
none of them is unknown to Windows too, and fails as Windows fails.
Sources: Get-Command -Module <module> and Get-Alias on Windows Server 2019 (Windows PowerShell 5.1)."""

from __future__ import annotations

_CMDLETS = """
Add-Computer Add-Content Checkpoint-Computer Clear-Content Clear-EventLog Clear-Item Clear-ItemProperty
Clear-RecycleBin Complete-Transaction Convert-Path Copy-Item Copy-ItemProperty Debug-Process Disable-ComputerRestore
Enable-ComputerRestore Get-ChildItem Get-Clipboard Get-ComputerInfo Get-ComputerRestorePoint Get-Content
Get-ControlPanelItem Get-EventLog Get-HotFix Get-Item Get-ItemProperty Get-ItemPropertyValue Get-Location
Get-Process Get-PSDrive Get-PSProvider Get-Service Get-TimeZone Get-Transaction Get-WmiObject Invoke-Item
Invoke-WmiMethod Join-Path Limit-EventLog Move-Item Move-ItemProperty New-EventLog New-Item New-ItemProperty
New-PSDrive New-Service New-WebServiceProxy Pop-Location Push-Location Register-WmiEvent Remove-Computer
Remove-EventLog Remove-Item Remove-ItemProperty Remove-PSDrive Remove-WmiObject Rename-Computer Rename-Item
Rename-ItemProperty Reset-ComputerMachinePassword Resolve-Path Restart-Computer Restart-Service Restore-Computer
Resume-Service Set-Clipboard Set-Content Set-Item Set-ItemProperty Set-Location Set-Service Set-TimeZone
Set-WmiInstance Show-ControlPanelItem Show-EventLog Split-Path Start-Process Start-Service Start-Transaction
Stop-Computer Stop-Process Stop-Service Suspend-Service Test-ComputerSecureChannel Test-Connection Test-Path
Undo-Transaction Use-Transaction Wait-Process Write-EventLog
Add-Member Add-Type Clear-Variable Compare-Object ConvertFrom-Csv ConvertFrom-Json ConvertFrom-String
ConvertFrom-StringData Convert-String ConvertTo-Csv ConvertTo-Html ConvertTo-Json ConvertTo-Xml Debug-Runspace
Disable-PSBreakpoint Disable-RunspaceDebug Enable-PSBreakpoint Enable-RunspaceDebug Export-Alias Export-Clixml
Export-Csv Export-FormatData Export-PSSession Format-Custom Format-Hex Format-List Format-Table Format-Wide
Get-Alias Get-Culture Get-Date Get-Event Get-EventSubscriber Get-FileHash Get-FormatData Get-Host Get-Member
Get-PSBreakpoint Get-PSCallStack Get-Random Get-Runspace Get-RunspaceDebug Get-TraceSource Get-TypeData
Get-UICulture Get-Unique Get-Variable Group-Object Import-Alias Import-Clixml Import-Csv Import-LocalizedData
Import-PowerShellDataFile Import-PSSession Invoke-Expression Invoke-RestMethod Invoke-WebRequest Measure-Command
Measure-Object New-Alias New-Event New-Guid New-Object New-TemporaryFile New-TimeSpan New-Variable Out-File
Out-GridView Out-Printer Out-String Read-Host Register-EngineEvent Register-ObjectEvent Remove-Event
Remove-PSBreakpoint Remove-TypeData Remove-Variable Select-Object Select-String Select-Xml Send-MailMessage
Set-Alias Set-Date Set-PSBreakpoint Set-TraceSource Set-Variable Show-Command Sort-Object Start-Sleep
Tee-Object Trace-Command Unblock-File Unregister-Event Update-FormatData Update-List Update-TypeData
Wait-Debugger Wait-Event Write-Debug Write-Error Write-Host Write-Information Write-Output Write-Progress
Write-Verbose Write-Warning
Add-History Clear-History Connect-PSSession Disable-PSRemoting Disable-PSSessionConfiguration Disconnect-PSSession
Enable-PSRemoting Enable-PSSessionConfiguration Enter-PSHostProcess Enter-PSSession Exit-PSHostProcess
Exit-PSSession Export-Console Export-ModuleMember ForEach-Object Get-Command Get-Help Get-History Get-Job
Get-Module Get-PSSession Get-PSSessionCapability Get-PSSessionConfiguration Import-Module Invoke-Command
Invoke-History New-Module New-ModuleManifest New-PSRoleCapabilityFile New-PSSession New-PSSessionConfigurationFile
New-PSSessionOption New-PSTransportOption Out-Default Out-Host Out-Null Receive-Job Receive-PSSession
Register-ArgumentCompleter Register-PSSessionConfiguration Remove-Job Remove-Module Remove-PSSession
Resume-Job Save-Help Set-PSDebug Set-PSSessionConfiguration Set-StrictMode Start-Job Stop-Job Suspend-Job
Test-ModuleManifest Test-PSSessionConfigurationFile Unregister-PSSessionConfiguration Update-Help Wait-Job
Where-Object Clear-Host Get-Verb Pause TabExpansion2 mkdir more oss prompt cd.. cd\\
ConvertFrom-SecureString ConvertTo-SecureString Get-Acl Get-AuthenticodeSignature Get-CmsMessage Get-Credential
Get-ExecutionPolicy Get-PfxCertificate Protect-CmsMessage Set-Acl Set-AuthenticodeSignature Set-ExecutionPolicy
Unprotect-CmsMessage
Export-BinaryMiLog Get-CimAssociatedInstance Get-CimClass Get-CimInstance Get-CimSession Import-BinaryMiLog
Invoke-CimMethod New-CimInstance New-CimSession New-CimSessionOption Register-CimIndicationEvent
Remove-CimInstance Remove-CimSession Set-CimInstance
Get-WinEvent New-WinEvent Get-Counter Export-Counter Import-Counter
Connect-WSMan Disconnect-WSMan Get-WSManCredSSP Get-WSManInstance Invoke-WSManAction New-WSManInstance
New-WSManSessionOption Remove-WSManInstance Set-WSManInstance Set-WSManQuickConfig Test-WSMan
Clear-DnsClientCache Get-DnsClient Get-DnsClientCache Get-DnsClientGlobalSetting Get-DnsClientServerAddress
Register-DnsClient Resolve-DnsName Set-DnsClient Set-DnsClientGlobalSetting Set-DnsClientServerAddress
Get-NetIPAddress Get-NetIPConfiguration Get-NetIPInterface Get-NetRoute Get-NetTCPConnection Get-NetUDPEndpoint
New-NetIPAddress New-NetRoute Remove-NetIPAddress Remove-NetRoute Set-NetIPAddress Set-NetIPInterface Test-NetConnection
Get-NetAdapter Disable-NetAdapter Enable-NetAdapter Restart-NetAdapter Set-NetAdapter Get-NetFirewallRule
New-NetFirewallRule Set-NetFirewallRule Remove-NetFirewallRule Enable-NetFirewallRule Disable-NetFirewallRule
Get-NetFirewallProfile Set-NetFirewallProfile Get-NetConnectionProfile
Get-ScheduledTask Register-ScheduledTask Unregister-ScheduledTask Start-ScheduledTask Stop-ScheduledTask
New-ScheduledTaskAction New-ScheduledTaskTrigger Set-ScheduledTask Get-ScheduledTaskInfo
Get-Disk Get-Volume Get-Partition Get-PhysicalDisk Get-LocalUser Get-LocalGroup Get-LocalGroupMember
New-LocalUser Add-LocalGroupMember Get-WindowsFeature Install-WindowsFeature Uninstall-WindowsFeature
Get-WindowsOptionalFeature Enable-WindowsOptionalFeature Disable-WindowsOptionalFeature Get-WindowsEdition
Set-WindowsEdition Get-WindowsPackage Add-WindowsPackage Get-MpComputerStatus Get-MpPreference Set-MpPreference
Get-SmbShare New-SmbShare Get-Certificate Get-Package Install-Package Find-Package Get-PackageProvider
Install-PackageProvider Find-Module Install-Module Get-InstalledModule Update-Module Get-PSRepository
Set-PSRepository Expand-Archive Compress-Archive Get-BitLockerVolume Get-TlsCipherSuite Get-StartApps
"""

_NATIVE = """
arp.exe attrib.exe auditpol.exe bcdedit.exe certutil.exe chcp.com choice.exe cipher.exe cmd.exe cmdkey.exe
cscript.exe dcdiag.exe dism.exe driverquery.exe fc.exe find.exe findstr.exe fsutil.exe getmac.exe gpresult.exe
gpupdate.exe hostname.exe icacls.exe ipconfig.exe klist.exe logman.exe more.com msiexec.exe mstsc.exe nbtstat.exe
net.exe net1.exe netsh.exe netstat.exe nltest.exe notepad.exe nslookup.exe pathping.exe ping.exe powercfg.exe
powershell.exe qwinsta.exe reg.exe regedit.exe regsvr32.exe robocopy.exe route.exe rundll32.exe sc.exe
schtasks.exe secedit.exe setx.exe shutdown.exe sort.exe systeminfo.exe takeown.exe taskkill.exe tasklist.exe
timeout.exe tracert.exe tzutil.exe w32tm.exe wbadmin.exe wevtutil.exe where.exe whoami.exe winrm.cmd
winrs.exe wmic.exe wscript.exe wusa.exe xcopy.exe slmgr.vbs
"""

# Get-Alias on Windows PowerShell 5.1: alias=command.
_ALIASES = """
?=Where-Object %=ForEach-Object ac=Add-Content asnp=Add-PSSnapin cat=Get-Content cd=Set-Location chdir=Set-Location
clc=Clear-Content clear=Clear-Host clhy=Clear-History cli=Clear-Item clp=Clear-ItemProperty cls=Clear-Host
clv=Clear-Variable cnsn=Connect-PSSession compare=Compare-Object copy=Copy-Item cp=Copy-Item cpi=Copy-Item
cpp=Copy-ItemProperty curl=Invoke-WebRequest cvpa=Convert-Path dbp=Disable-PSBreakpoint del=Remove-Item
diff=Compare-Object dir=Get-ChildItem dnsn=Disconnect-PSSession ebp=Enable-PSBreakpoint echo=Write-Output
epal=Export-Alias epcsv=Export-Csv epsn=Export-PSSession erase=Remove-Item etsn=Enter-PSSession exsn=Exit-PSSession
fc=Format-Custom fhx=Format-Hex fl=Format-List foreach=ForEach-Object ft=Format-Table fw=Format-Wide gal=Get-Alias
gbp=Get-PSBreakpoint gc=Get-Content gcb=Get-Clipboard gci=Get-ChildItem gcim=Get-CimInstance gcls=Get-CimClass
gcm=Get-Command gcs=Get-PSCallStack gdr=Get-PSDrive ghy=Get-History gi=Get-Item gin=Get-ComputerInfo gjb=Get-Job
gl=Get-Location gm=Get-Member gmo=Get-Module gp=Get-ItemProperty gps=Get-Process gpv=Get-ItemPropertyValue
group=Group-Object gsn=Get-PSSession gsnp=Get-PSSnapin gsv=Get-Service gtz=Get-TimeZone gu=Get-Unique
gv=Get-Variable gwmi=Get-WmiObject h=Get-History history=Get-History icm=Invoke-Command iex=Invoke-Expression
ihy=Invoke-History ii=Invoke-Item ipal=Import-Alias ipcsv=Import-Csv ipmo=Import-Module ipsn=Import-PSSession
irm=Invoke-RestMethod ise=powershell_ise.exe iwmi=Invoke-WmiMethod iwr=Invoke-WebRequest kill=Stop-Process
lp=Out-Printer ls=Get-ChildItem man=help md=mkdir measure=Measure-Object mi=Move-Item mount=New-PSDrive
move=Move-Item mp=Move-ItemProperty mv=Move-Item nal=New-Alias ndr=New-PSDrive ni=New-Item nmo=New-Module
npssc=New-PSSessionConfigurationFile nsn=New-PSSession nv=New-Variable ogv=Out-GridView oh=Out-Host
popd=Pop-Location ps=Get-Process pushd=Push-Location pwd=Get-Location r=Invoke-History rbp=Remove-PSBreakpoint
rcjb=Receive-Job rcsn=Receive-PSSession rd=Remove-Item rdr=Remove-PSDrive ren=Rename-Item ri=Remove-Item
rjb=Remove-Job rm=Remove-Item rmdir=Remove-Item rmo=Remove-Module rni=Rename-Item rnp=Rename-ItemProperty
rp=Remove-ItemProperty rsn=Remove-PSSession rsnp=Remove-PSSnapin rujb=Resume-Job rv=Remove-Variable
rvpa=Resolve-Path rwmi=Remove-WmiObject sajb=Start-Job sal=Set-Alias saps=Start-Process sasv=Start-Service
sbp=Set-PSBreakpoint sc=Set-Content scb=Set-Clipboard select=Select-Object set=Set-Variable shcm=Show-Command
si=Set-Item sl=Set-Location sleep=Start-Sleep sls=Select-String sort=Sort-Object sp=Set-ItemProperty spjb=Stop-Job
spps=Stop-Process spsv=Stop-Service start=Start-Process stz=Set-TimeZone sujb=Suspend-Job sv=Set-Variable
swmi=Set-WmiInstance tee=Tee-Object trcm=Trace-Command type=Get-Content wget=Invoke-WebRequest where=Where-Object
wjb=Wait-Job write=Write-Output
"""



def _alias_table(text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for pair in text.split():
        alias, command = pair.split("=")
        table[alias.lower()] = command
    return table


ALIASES = _alias_table(_ALIASES)
INBOX_CMDLETS = frozenset(name.lower() for name in _CMDLETS.split())
NATIVE_PROGRAMS = frozenset(name.lower() for name in _NATIVE.split())


def resolve_alias(name: str) -> str:
    """The command an alias stands for; any other name unchanged."""
    return ALIASES.get(name.lower(), name)


def windows_has_command(name: str) -> bool:
    """Whether Windows would resolve `name` (a cmdlet, a System32 program with or without its extension)."""
    lowered = name.lower()
    if lowered in INBOX_CMDLETS or lowered in NATIVE_PROGRAMS:
        return True
    return any(lowered + extension in NATIVE_PROGRAMS for extension in (".exe", ".com", ".cmd"))
