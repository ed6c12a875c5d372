# auditor collector: windows_user_context (opt-in: --enable user-context). Windows PowerShell 5.1.
# Runs wsl.exe AS THE DEVELOPER through a one-shot scheduled task (docs/research/domain.md 5.5), because wsl.exe run as the
# WinRM account only sees the admin's own WSL session. Side effect: starts that user's WSL VM if it was stopped.
# It also asks a Docker Engine installed inside the user's default distro for its version (moby#48056: engines
# before 27.3 lose localhost publishing under mirrored networking).
# The task and its output file are always removed (finally). Prints ONE compressed JSON document.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$res = [ordered]@{ User = $null; Method = 'scheduled-task'; TaskName = $null; Ran = $false; TaskResult = $null
                   OutputBase64 = $null; Error = $null; Actions = @()
                   Cleanup = [ordered]@{ TaskRemoved = $null; FileRemoved = $null } }
function Act($m) { $script:res.Actions += ((Get-Date).ToUniversalTime().ToString('o') + ' ' + $m) }

# The developer: owner of Docker Desktop's backend, else of the Docker Desktop GUI, else of explorer.exe.
foreach ($n in 'com.docker.backend', 'Docker Desktop', 'explorer') {
  $o = Get-Process -IncludeUserName -Name $n -ErrorAction SilentlyContinue | Where-Object { $_.UserName } | Select-Object -First 1
  if ($o) { $res.User = $o.UserName; break }
}
$taskName = $null; $outFile = $null
try {
  if (-not $res.User) { $res.Error = 'no interactive developer session found (no Docker Desktop or explorer process)'; return }
  $sid = (New-Object System.Security.Principal.NTAccount($res.User)).Translate([System.Security.Principal.SecurityIdentifier]).Value
  $prof = Get-CimInstance Win32_UserProfile -Filter "SID='$sid'" -ErrorAction Stop
  $tmp = Join-Path $prof.LocalPath 'AppData\Local\Temp'
  $taskName = 'auditor-wsl-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
  $res.TaskName = $taskName
  $outFile = Join-Path $tmp "$taskName.txt"
  $inner = 'set WSL_UTF8=1&& (echo @@wslinfo& wsl.exe -e wslinfo --networking-mode& echo.& echo @@docker-desktop& wsl.exe -d docker-desktop -e ip -o addr show& echo @@engine& wsl.exe -e sh -c "docker version --format {{.Server.Version}} 2>/dev/null || echo unavailable"& echo @@end) > "' + $outFile + '" 2>&1'
  $action = New-ScheduledTaskAction -Execute 'cmd.exe' -Argument ('/c ' + $inner)
  $principal = New-ScheduledTaskPrincipal -UserId $res.User -LogonType Interactive -RunLevel Limited
  $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Minutes 2) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
  Register-ScheduledTask -TaskName $taskName -Action $action -Principal $principal -Settings $settings -Force -ErrorAction Stop | Out-Null
  Act "registered scheduled task $taskName as $($res.User)"
  Start-ScheduledTask -TaskName $taskName -ErrorAction Stop
  Act "started scheduled task $taskName"
  $deadline = (Get-Date).AddSeconds(90)
  do { Start-Sleep -Milliseconds 500; $st = (Get-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue).State }
  while ((("$st" -eq 'Running') -or ("$st" -eq '4')) -and ((Get-Date) -lt $deadline))
  $res.TaskResult = (Get-ScheduledTaskInfo -TaskName $taskName -ErrorAction SilentlyContinue).LastTaskResult
  if (Test-Path -LiteralPath $outFile) { $res.Ran = $true; $res.OutputBase64 = [Convert]::ToBase64String([IO.File]::ReadAllBytes($outFile)) }
  else { $res.Error = 'the task produced no output (user not logged on interactively?)' }
} catch { $res.Error = $_.Exception.Message }
finally {
  if ($taskName) {
    try { Unregister-ScheduledTask -TaskName $taskName -Confirm:$false -ErrorAction Stop; $res.Cleanup.TaskRemoved = $true; Act "removed scheduled task $taskName" } catch { $res.Cleanup.TaskRemoved = $false }
  }
  if ($outFile) {
    try { if (Test-Path -LiteralPath $outFile) { Remove-Item -LiteralPath $outFile -Force -ErrorAction Stop }; $res.Cleanup.FileRemoved = $true } catch { $res.Cleanup.FileRemoved = $false }
  }
  ConvertTo-Json -InputObject $res -Depth 5 -Compress
}
