# auditor collector: windows_audit (schema wsl-docker-audit/1). Windows PowerShell 5.1, read-only.
# Prints ONE compressed JSON document. Contract: docs/collectors.md. Design: docs/research/domain.md 5.2 / 5.3.
# Runs as the WinRM account, which is NOT the developer: every user profile is read from disk and
# HKEY_USERS, and wsl.exe is only ever asked for --version (anything else would start the admin's VM).
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$MaxFile = 65536

function RV($p, $n) { try { (Get-ItemProperty -LiteralPath $p -Name $n -ErrorAction Stop).$n } catch { $null } }
function B64File($f) {
  try {
    $b = [IO.File]::ReadAllBytes($f)
    $len = $b.Length
    if ($len -gt $MaxFile) { $b = $b[0..($MaxFile - 1)] }
    [ordered]@{ LastWriteUtc = (Get-Item -LiteralPath $f -Force).LastWriteTimeUtc.ToString('o'); Length = $len; Base64 = [Convert]::ToBase64String([byte[]]$b) }
  } catch { [ordered]@{ Error = $_.Exception.Message } }
}
# Run a native exe and keep its raw stdout bytes (wsl.exe writes UTF-16LE; PowerShell would mangle it).
function RunRaw([string]$exe, [string]$argline, [int]$ms, [hashtable]$envs) {
  try {
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $exe; $psi.Arguments = $argline; $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.CreateNoWindow = $true
    if ($envs) { foreach ($k in $envs.Keys) { $psi.EnvironmentVariables[$k] = $envs[$k] } }
    $p = [Diagnostics.Process]::Start($psi)
    $errTask = $p.StandardError.ReadToEndAsync()
    $ms2 = New-Object IO.MemoryStream
    $copy = $p.StandardOutput.BaseStream.CopyToAsync($ms2)
    if (-not $p.WaitForExit($ms)) { try { $p.Kill() } catch {} ; return [ordered]@{ ExitCode = $null; Bytes = $null; Err = "timed out after $ms ms" } }
    [void]$copy.Wait(5000)
    [ordered]@{ ExitCode = $p.ExitCode; Bytes = $ms2.ToArray(); Err = $errTask.Result }
  } catch { [ordered]@{ ExitCode = $null; Bytes = $null; Err = $_.Exception.Message } }
}
function Utf8($bytes) { if ($bytes) { [Text.Encoding]::UTF8.GetString($bytes) } else { $null } }

$cv  = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$pol = 'HKLM:\SOFTWARE\Policies\WSL'
$msi = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss\MSI'
$ddKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Docker Desktop'
$procs = @(Get-Process -IncludeUserName -ErrorAction SilentlyContinue)   # needs elevation (WinRM admin: OK)
$byId = @{}; foreach ($p in $procs) { $byId[$p.Id] = $p }
$caption = $null; try { $caption = (Get-CimInstance Win32_OperatingSystem -ErrorAction Stop).Caption } catch {}
$appx = $null
if (-not (RV $msi 'Version')) {
  try { $appx = (Get-AppxPackage -AllUsers -Name MicrosoftCorporationII.WindowsSubsystemForLinux -ErrorAction Stop | Select-Object -First 1).Version.ToString() } catch {}
}

$profiles = @(Get-CimInstance Win32_UserProfile -ErrorAction SilentlyContinue | Where-Object { -not $_.Special -and $_.LocalPath } | ForEach-Object {
  $acct = $null; try { $acct = (New-Object System.Security.Principal.SecurityIdentifier($_.SID)).Translate([System.Security.Principal.NTAccount]).Value } catch {}
  $f = Join-Path $_.LocalPath '.wslconfig'
  $e = [ordered]@{ SID = $_.SID; Account = $acct; LocalPath = $_.LocalPath; Loaded = [bool]$_.Loaded
                   LastUseUtc = $(try { $_.LastUseTime.ToUniversalTime().ToString('o') } catch { $null })
                   WslConfig = $null; WslConfigBackup = $null
                   Variants = @(Get-ChildItem -LiteralPath $_.LocalPath -Force -Filter '.wslconfig*' -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
                   DockerSettings = @(); LxssDefault = $null; LxssDistros = @(); DockerUninstall = $null }
  if (Test-Path -LiteralPath $f -PathType Leaf) { $e.WslConfig = B64File $f }
  # newest backup auditor's remediation left (wslconfig-<UTC stamp>.bak): the file as it was before the edit,
  # so a VM started before that edit is known to run with the old settings
  $bk = Get-ChildItem -LiteralPath $_.LocalPath -Force -Filter 'wslconfig-*.bak' -ErrorAction SilentlyContinue | Sort-Object Name -Descending | Select-Object -First 1
  if ($bk) { $e.WslConfigBackup = B64File $bk.FullName; $e.WslConfigBackup['Name'] = $bk.Name }
  foreach ($n in 'settings-store.json', 'settings.json') {
    $d = Join-Path $_.LocalPath "AppData\Roaming\Docker\$n"
    if (Test-Path -LiteralPath $d -PathType Leaf) { $s = B64File $d; $s['Name'] = $n; $e.DockerSettings += $s }
  }
  $hku = "Registry::HKEY_USERS\$($_.SID)\Software\Microsoft\Windows\CurrentVersion"
  if ($_.Loaded -and (Test-Path -LiteralPath "$hku\Lxss")) {
    $e.LxssDefault = RV "$hku\Lxss" 'DefaultDistribution'
    $e.LxssDistros = @(Get-ChildItem -LiteralPath "$hku\Lxss" -ErrorAction SilentlyContinue | ForEach-Object {
      [ordered]@{ Id = $_.PSChildName; Name = RV $_.PSPath 'DistributionName'; Flags = RV $_.PSPath 'Flags'; BasePath = RV $_.PSPath 'BasePath' } })
  }
  if ($_.Loaded -and (Test-Path -LiteralPath "$hku\Uninstall\Docker Desktop")) {
    $e.DockerUninstall = [ordered]@{ DisplayVersion = RV "$hku\Uninstall\Docker Desktop" 'DisplayVersion'; InstallLocation = RV "$hku\Uninstall\Docker Desktop" 'InstallLocation' }
  }
  $e })

$ddLoc = RV $ddKey 'InstallLocation'
if (-not $ddLoc) { foreach ($pr in $profiles) { if ($pr.DockerUninstall -and $pr.DockerUninstall.InstallLocation) { $ddLoc = $pr.DockerUninstall.InstallLocation; break } } }
$adminSettings = 'C:\ProgramData\DockerDesktop\admin-settings.json'

# Docker queries against Docker Desktop's Linux engine pipe (the admin has no desktop-linux context of its own).
$docker = [ordered]@{ Reachable = $false; Error = $null; Version = $null; Info = $null; Ps = $null; Inspect = $null }
$dockerExe = $null
if ($ddLoc) { $dockerExe = Join-Path $ddLoc 'resources\bin\docker.exe' }
if ($dockerExe -and (Test-Path -LiteralPath $dockerExe)) {
  $denv = @{ DOCKER_HOST = 'npipe:////./pipe/dockerDesktopLinuxEngine' }
  $v = RunRaw $dockerExe 'version --format "{{json .}}"' 20000 $denv
  $docker.Version = Utf8 $v.Bytes
  if ($v.ExitCode -eq 0) {
    $docker.Reachable = $true
    $docker.Info = Utf8 (RunRaw $dockerExe 'info --format "{{json .}}"' 20000 $denv).Bytes
    $ps = RunRaw $dockerExe 'ps --no-trunc --format "{{json .}}"' 20000 $denv
    $docker.Ps = Utf8 $ps.Bytes
    $ids = @((Utf8 (RunRaw $dockerExe 'ps -q --no-trunc' 20000 $denv).Bytes) -split '\s+' | Where-Object { $_ -match '^[0-9a-f]{12,64}$' } | Select-Object -First 64)
    if ($ids.Count -gt 0) { $docker.Inspect = Utf8 (RunRaw $dockerExe ('inspect ' + ($ids -join ' ')) 20000 $denv).Bytes }
  } else { $docker.Error = ("" + $v.Err).Trim() }
} else { $docker.Error = 'docker.exe not found' }

$wslExe = Join-Path $env:SystemRoot 'System32\wsl.exe'
$wslVersion = $null
if (Test-Path -LiteralPath $wslExe) {
  $r = RunRaw $wslExe '--version' 15000 $null
  $wslVersion = [ordered]@{ ExitCode = $r.ExitCode; Base64 = $(if ($r.Bytes) { [Convert]::ToBase64String($r.Bytes) } else { $null }) }
}

$hvfw = $null
try {
  $h = Get-NetFirewallHyperVVMSetting -PolicyStore ActiveStore -Name '{40E0AC32-46A5-438A-A0B2-2B479E8F2E90}' -ErrorAction Stop
  $hvfw = [ordered]@{ Enabled = "$($h.Enabled)"; DefaultInboundAction = "$($h.DefaultInboundAction)"; DefaultOutboundAction = "$($h.DefaultOutboundAction)"; LoopbackEnabled = "$($h.LoopbackEnabled)" }
} catch {}

$primary = $null
try {
  $rt = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction Stop | Sort-Object { $_.RouteMetric + $_.InterfaceMetric } | Select-Object -First 1
  $primary = (Get-NetIPAddress -AddressFamily IPv4 -InterfaceIndex $rt.InterfaceIndex -ErrorAction Stop | Select-Object -First 1).IPAddress
} catch {}

$out = [ordered]@{
  schema = 'wsl-docker-audit/1'; collectedUtc = (Get-Date).ToUniversalTime().ToString('o'); host = $env:COMPUTERNAME
  os = [ordered]@{
    CurrentBuild = RV $cv 'CurrentBuild'; UBR = RV $cv 'UBR'; DisplayVersion = RV $cv 'DisplayVersion'
    ProductName = RV $cv 'ProductName'; EditionID = RV $cv 'EditionID'; InstallationType = RV $cv 'InstallationType'
    Caption = $caption; EnvOSVersion = [Environment]::OSVersion.Version.ToString()
    Ipv6DisabledComponents = RV 'HKLM:\SYSTEM\CurrentControlSet\Services\Tcpip6\Parameters' 'DisabledComponents' }
  wsl = [ordered]@{
    MsiVersion = RV $msi 'Version'; MsiInstallLocation = RV $msi 'InstallLocation'; AppxVersion = $appx
    Policy = [ordered]@{ DefaultNetworkingMode = RV $pol 'DefaultNetworkingMode'
                         AllowNetworkingModeUserSetting = RV $pol 'AllowNetworkingModeUserSetting'
                         AllowFirewallUserSetting = RV $pol 'AllowFirewallUserSetting'
                         AllowWSL = RV $pol 'AllowWSL'; AllowInboxWSL = RV $pol 'AllowInboxWSL' }
    Service = @(Get-Service -Name 'WSLService', 'LxssManager' -ErrorAction SilentlyContinue |
                ForEach-Object { [ordered]@{ Name = $_.Name; Status = $_.Status.ToString(); StartType = $_.StartType.ToString() } }) }
  wslVersion = $wslVersion
  profiles = $profiles
  dockerDesktop = [ordered]@{
    UninstallHKLM = $(if (Test-Path -LiteralPath $ddKey) { [ordered]@{ DisplayVersion = RV $ddKey 'DisplayVersion'; InstallLocation = RV $ddKey 'InstallLocation' } })
    AdminSettingsBase64 = $(if (Test-Path -LiteralPath $adminSettings) { (B64File $adminSettings).Base64 }) }
  docker = $docker
  processes = @($procs | Where-Object { $_.ProcessName -in 'Docker Desktop', 'com.docker.backend', 'com.docker.build', 'com.docker.service', 'com.docker.proxy', 'vpnkit', 'wslservice', 'wslrelay', 'wslhost', 'wsl', 'vmmemWSL', 'vmmem', 'gvproxy', 'win-sshproxy', 'Podman Desktop', 'Rancher Desktop', 'host-switch' } |
    ForEach-Object { [ordered]@{ Name = $_.ProcessName; Id = $_.Id; UserName = $_.UserName; StartUtc = $(try { $_.StartTime.ToUniversalTime().ToString('o') } catch { $null }); Path = $(try { $_.Path } catch { $null }) } })
  tcpListen = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue | ForEach-Object {
    [ordered]@{ LocalAddress = $_.LocalAddress; LocalPort = [int]$_.LocalPort; OwningProcess = [int]$_.OwningProcess
                Process = $(if ($byId.ContainsKey([int]$_.OwningProcess)) { $byId[[int]$_.OwningProcess].ProcessName }); State = $_.State.ToString() } })
  udp = @(Get-NetUDPEndpoint -ErrorAction SilentlyContinue | ForEach-Object {
    [ordered]@{ LocalAddress = $_.LocalAddress; LocalPort = [int]$_.LocalPort; OwningProcess = [int]$_.OwningProcess
                Process = $(if ($byId.ContainsKey([int]$_.OwningProcess)) { $byId[[int]$_.OwningProcess].ProcessName }) } })
  wslEvents = @(Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'WSL'; StartTime = (Get-Date).AddDays(-14) } -MaxEvents 200 -ErrorAction SilentlyContinue |
    ForEach-Object { [ordered]@{ TimeUtc = $_.TimeCreated.ToUniversalTime().ToString('o'); Id = $_.Id; Level = $_.LevelDisplayName; Message = $_.Message } })
  hypervFirewall = $hvfw
  primaryIPv4 = $primary
}
ConvertTo-Json -InputObject $out -Depth 8 -Compress
