# auditor collector: windows_probe (opt-in: --enable probe). INTRUSIVE: starts one container. PowerShell 5.1.
# Active publish probe W-PROBE-01 (docs/research/domain.md 6.3): publish a port through Docker Desktop, look for the Windows
# listener, try HTTP on 127.0.0.1 and the LAN IPv4. Never pulls an image unless $AllowPull is set. The container
# is removed in `finally` (also on Ctrl+C / pipeline stop) and, as a second guard, exits by itself after
# $SelfDestructSec with --rm. Leftovers of an earlier interrupted probe (label wslaudit.probe=1) are removed
# first. Prints ONE compressed JSON document with a transcript of everything it did.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$Image = 'nginx:alpine'; $AllowPull = $false; $SelfDestructSec = 300
$Candidates = @(8081) + (18080..18099)
$res = [ordered]@{ Ran = $false; Skipped = $null; Image = $Image; ImagePresentBefore = $null; Port = $null; BindAddress = '0.0.0.0'
                   Container = $null; RunExitCode = $null; RunStderr = $null; Running = $false; DockerPort = $null
                   Listeners = @(); PrimaryIPv4 = $null; Http = @(); LeftoversRemoved = @()
                   Cleanup = [ordered]@{ Attempted = $false; Removed = $null; Remaining = $null; PortReleased = $null }
                   Transcript = @() }
function Log($m) { $script:res.Transcript += ((Get-Date).ToUniversalTime().ToString('o') + ' ' + $m) }
function D([string]$argline) {
  $psi = New-Object System.Diagnostics.ProcessStartInfo
  $psi.FileName = $script:dockerExe; $psi.Arguments = $argline; $psi.UseShellExecute = $false
  $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.CreateNoWindow = $true
  $psi.EnvironmentVariables['DOCKER_HOST'] = 'npipe:////./pipe/dockerDesktopLinuxEngine'
  $p = [Diagnostics.Process]::Start($psi); $o = $p.StandardOutput.ReadToEndAsync(); $e = $p.StandardError.ReadToEndAsync()
  if (-not $p.WaitForExit(60000)) { try { $p.Kill() } catch {}; return [pscustomobject]@{ Rc = -1; Out = ''; Err = 'timed out' } }
  Log "docker $argline -> rc $($p.ExitCode)"
  [pscustomobject]@{ Rc = $p.ExitCode; Out = $o.Result; Err = $e.Result }
}
function Listeners($port) {
  @(Get-NetTCPConnection -LocalPort $port -State Listen -ErrorAction SilentlyContinue | ForEach-Object {
    $pn = $null; try { $pn = (Get-Process -Id $_.OwningProcess -ErrorAction Stop).ProcessName } catch {}
    [ordered]@{ LocalAddress = $_.LocalAddress; LocalPort = [int]$_.LocalPort; OwningProcess = [int]$_.OwningProcess; Process = $pn; State = 'Listen' } })
}
$name = $null
try {
  $loc = $null
  try { $loc = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Docker Desktop' -ErrorAction Stop).InstallLocation } catch {}
  $script:dockerExe = if ($loc) { Join-Path $loc 'resources\bin\docker.exe' } else { $null }
  if (-not $dockerExe -or -not (Test-Path -LiteralPath $dockerExe)) { $res.Skipped = 'docker.exe not found (Docker Desktop not installed?)'; return }
  $v = D 'version --format "{{.Server.Version}}"'
  if ($v.Rc -ne 0) { $res.Skipped = 'docker engine not reachable: ' + $v.Err.Trim(); return }
  $left = D 'ps -a -q --filter label=wslaudit.probe=1'
  foreach ($id in @($left.Out -split '\s+' | Where-Object { $_ })) { [void](D "rm -f $id"); $res.LeftoversRemoved += $id }
  $img = D "image inspect --format {{.Id}} $Image"
  $res.ImagePresentBefore = ($img.Rc -eq 0)
  if (-not $res.ImagePresentBefore -and -not $AllowPull) { $res.Skipped = "image $Image not present locally and pulling is not allowed"; return }
  try {
    $adm = Get-Content -Raw -LiteralPath 'C:\ProgramData\DockerDesktop\admin-settings.json' -ErrorAction Stop | ConvertFrom-Json
    if ($adm.portBindingBehavior.value -eq 'local-only-port-binding') { $res.BindAddress = '127.0.0.1'; Log 'admin portBindingBehavior=local-only-port-binding: binding 127.0.0.1 only (reduced coverage)' }
  } catch {}
  $excluded = @()
  foreach ($line in (netsh interface ipv4 show excludedportrange protocol=tcp)) { if ($line -match '^\s*(\d+)\s+(\d+)') { $excluded += ,@([int]$matches[1], [int]$matches[2]) } }
  foreach ($c in $Candidates) {
    if (@(Get-NetTCPConnection -LocalPort $c -State Listen -ErrorAction SilentlyContinue).Count) { continue }
    if (@(Get-NetUDPEndpoint -LocalPort $c -ErrorAction SilentlyContinue).Count) { continue }
    if (@($excluded | Where-Object { $c -ge $_[0] -and $c -le $_[1] }).Count) { continue }
    $res.Port = $c; break
  }
  if (-not $res.Port) { $res.Skipped = 'no free candidate port (8081, 18080-18099)'; return }
  $P = $res.Port
  $name = 'wslaudit-probe-' + [guid]::NewGuid().ToString('N').Substring(0, 4)
  $res.Container = $name
  $pull = if ($AllowPull) { 'missing' } else { 'never' }
  $run = D ("run -d --rm --pull $pull --name $name --label wslaudit.probe=1 -p $($res.BindAddress):${P}:80 --entrypoint sh $Image -c ""nginx && sleep $SelfDestructSec""")
  $res.Ran = $true; $res.RunExitCode = $run.Rc; $res.RunStderr = $run.Err.Trim()
  if ($run.Rc -ne 0) { return }
  $deadline = (Get-Date).AddSeconds(20)
  do { $st = D "inspect -f {{.State.Running}} $name"; if ($st.Out.Trim() -eq 'true') { $res.Running = $true; break }; Start-Sleep -Milliseconds 500 } while ((Get-Date) -lt $deadline)
  $res.DockerPort = (D "port $name").Out.Trim()
  $deadline = (Get-Date).AddSeconds(15)
  do { $res.Listeners = @(Listeners $P); if (@($res.Listeners | Where-Object { $_.Process -eq 'com.docker.backend' }).Count) { break }; Start-Sleep -Milliseconds 500 } while ((Get-Date) -lt $deadline)
  try {
    $rt = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction Stop | Sort-Object { $_.RouteMetric + $_.InterfaceMetric } | Select-Object -First 1
    $res.PrimaryIPv4 = (Get-NetIPAddress -AddressFamily IPv4 -InterfaceIndex $rt.InterfaceIndex -ErrorAction Stop | Select-Object -First 1).IPAddress
  } catch {}
  $targets = @('127.0.0.1'); if ($res.PrimaryIPv4 -and $res.BindAddress -ne '127.0.0.1') { $targets += $res.PrimaryIPv4 }
  foreach ($t in $targets) {
    $url = "http://${t}:$P/"
    try { $r = Invoke-WebRequest -Uri $url -UseBasicParsing -TimeoutSec 5 -ErrorAction Stop; $res.Http += [ordered]@{ Target = $t; Url = $url; Ok = $true; Status = [int]$r.StatusCode; Error = $null } }
    catch { $res.Http += [ordered]@{ Target = $t; Url = $url; Ok = $false; Status = $null; Error = $_.Exception.Message } }
    Log "GET $url"
  }
} finally {
  if ($name) {
    $res.Cleanup.Attempted = $true
    $rm = D "rm -f $name"
    $rest = D 'ps -a -q --filter label=wslaudit.probe=1'
    $res.Cleanup.Remaining = @($rest.Out -split '\s+' | Where-Object { $_ }).Count
    $res.Cleanup.Removed = ($res.Cleanup.Remaining -eq 0)
    $deadline = (Get-Date).AddSeconds(10)
    do { $busy = @(Get-NetTCPConnection -LocalPort $res.Port -State Listen -ErrorAction SilentlyContinue).Count; if (-not $busy) { break }; Start-Sleep -Milliseconds 500 } while ((Get-Date) -lt $deadline)
    $res.Cleanup.PortReleased = ($busy -eq 0)
  }
  ConvertTo-Json -InputObject $res -Depth 5 -Compress
}
