<#
.SYNOPSIS
    Install or upgrade posplugin on a Windows till: silent, offline (wheels from this bundle only), upgrade-safe.

.DESCRIPTION
    Run from the unpacked bundle in an elevated PowerShell (Windows PowerShell 5.1 or PowerShell 7):

        powershell -ExecutionPolicy Bypass -File install.ps1 -ConfigFile C:\it\till.toml -ApiKeyFile C:\it\engage.key

    Fresh install: a virtualenv in <InstallDir>\<version> with a `current` junction, the config in
    <DataDir>\config.toml (from -ConfigFile, else from the example), data and logs in <DataDir> readable only by
    the service account, SYSTEM and Administrators, the Windows service `posplugin` (pywin32 host) running as the
    virtual account NT SERVICE\posplugin with restart on failure, and the API key handed to that account (the
    service moves it into its own Credential Manager on start). No firewall rule: the agent listens on 127.0.0.1.
    Upgrade: installs beside the current version, waits until no operation is on the wire, stops the service,
    backs up and migrates the database, switches `current`, starts, and rolls back if the new version does not
    report healthy. The config file is never overwritten.

    Exit codes: 0 installed, 1 failed, 2 usage, 3 upgrade rolled back.

.PARAMETER ConfigFile
    A config.toml for this till (copied on first install only).
.PARAMETER ApiKeyFile
    A file holding the Engage API key. It is copied for the service account and deleted once imported.
.PARAMETER Port
    The local port (written into a config made from the example; default 8765).
.PARAMETER Python
    python.exe of CPython 3.11 (the bundle's wheels are for 3.11). Default: found with the `py` launcher.
.PARAMETER LogFile
    Also write everything this script says to this file (the MSI passes one: its custom action has no console).
#>
[CmdletBinding()]
param(
    [string]$ConfigFile = '',
    [string]$ApiKeyFile = '',
    [int]$Port = 0,
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'posplugin'),
    [string]$DataDir = (Join-Path $env:ProgramData 'posplugin'),
    [string]$Python = '',
    [int]$DrainTimeoutSeconds = 120,
    [int]$HealthTimeoutSeconds = 60,
    [switch]$Force,
    [string]$LogFile = ''
)

$ErrorActionPreference = 'Stop'
$Bundle = $PSScriptRoot
. (Join-Path $Bundle 'common.ps1')
if ($LogFile) { Start-Log $LogFile }

# ---- checks ---------------------------------------------------------------------------------------------------
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-WithError 'run from an elevated PowerShell (as Administrator)' 2
}
if ($ConfigFile -and -not (Test-Path -LiteralPath $ConfigFile)) { Stop-WithError "-ConfigFile $ConfigFile not found" 2 }
if ($ApiKeyFile -and -not (Test-Path -LiteralPath $ApiKeyFile)) { Stop-WithError "-ApiKeyFile $ApiKeyFile not found" 2 }
if (-not (Test-BundleChecksums $Bundle)) { Stop-WithError 'the bundle is damaged: checksums do not match SHA256SUMS' }

$wheel = Get-ChildItem -LiteralPath (Join-Path $Bundle 'wheels') -Filter 'posplugin-*.whl' | Select-Object -First 1
if (-not $wheel) { Stop-WithError 'no posplugin wheel in the bundle' }
$Version = ($wheel.Name -split '-')[1]
$wantPython = ((Get-Content -LiteralPath (Join-Path $Bundle 'VERSION'))[1] -replace '^python ', '').Trim()
if (-not $Python) {
    try { $Python = (& py "-$wantPython" -c 'import sys; print(sys.executable)' 2>$null | Out-String).Trim() }
    catch { $Python = '' }   # no `py` launcher at all
    if (-not $Python) { Stop-WithError "CPython $wantPython not found; install it (python.org, InstallAllUsers=1) or pass -Python" }
}
$havePython = (& $Python -c 'import sys; print("%d.%d" % sys.version_info[:2])' | Out-String).Trim()
if ($havePython -ne $wantPython) { Stop-WithError "the bundle holds wheels for Python $wantPython; $Python is $havePython" }

$Config = Join-Path $DataDir 'config.toml'
$Old = Get-CurrentVersion $InstallDir
Write-Step "installing posplugin $Version$(if ($Old) { " (current: $Old)" }) into $InstallDir"

# ---- the new version, beside the old one ----------------------------------------------------------------------
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir, (Join-Path $DataDir 'logs') | Out-Null
$New = Join-Path $InstallDir $Version
if ($Old -ne $Version) {
    if (Test-Path -LiteralPath $New) { Remove-Item -LiteralPath $New -Recurse -Force }
    & $Python -m venv $New
    if ($LASTEXITCODE -ne 0) { Stop-WithError 'could not create the virtualenv' }
    $env:PIP_CONFIG_FILE = 'NUL'   # only this bundle: no pip.ini find-links or index
    & (Join-Path $New 'Scripts\python.exe') -m pip install -q --no-index --find-links (Join-Path $Bundle 'wheels') `
        --disable-pip-version-check "posplugin==$Version" pywin32
    if ($LASTEXITCODE -ne 0) { Remove-Item -LiteralPath $New -Recurse -Force; Stop-WithError 'pip could not install from the bundle' }
    # pythonservice.exe loads pywintypes/pythoncom from its own folder; in a virtualenv they are elsewhere.
    $site = Join-Path $New 'Lib\site-packages'
    Copy-Item -Path (Join-Path $site 'pywin32_system32\*.dll') -Destination (Join-Path $site 'win32') -Force
    Copy-Item -LiteralPath (Join-Path $Bundle 'config.example.toml') -Destination $New
}
$NewCli = Join-Path $New 'Scripts\posplugin.exe'

# ---- config (never overwritten) and permissions ----------------------------------------------------------------
if (-not (Test-Path -LiteralPath $Config)) {
    if ($ConfigFile) {
        Copy-Item -LiteralPath $ConfigFile -Destination $Config
    } else {
        $text = Get-Content -LiteralPath (Join-Path $Bundle 'config.example.toml') -Raw
        $data = $DataDir -replace '\\', '\\'
        $text = $text -replace '(?m)^data_dir = ""', "data_dir = `"$data`""
        $text = $text -replace '(?m)^log_dir = ""', "log_dir = `"$data\\logs`""
        if ($Port) { $text = $text -replace '(?m)^port = \d+', "port = $Port" }
        [IO.File]::WriteAllText($Config, $text, (New-Object Text.UTF8Encoding($false)))
    }
    Write-Step "wrote $Config"
} else {
    Write-Step "keeping $Config"
}
& $NewCli config check --config $Config | Out-Null
if ($LASTEXITCODE -ne 0) { Stop-WithError "$Config is not valid" }

# ---- the service ------------------------------------------------------------------------------------------------
$service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
function Register-Agent {
    $currentPython = Join-Path $InstallDir 'current\Scripts\python.exe'
    & $currentPython -m posplugin.winservice --startup auto install | Out-Null
    & sc.exe config $ServiceName obj= $ServiceAccount | Out-Null
    & sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000 | Out-Null
    $site = Join-Path $InstallDir 'current\Lib\site-packages'
    $environment = @(
        "POSPLUGIN_CONFIG=$Config",
        "POSPLUGIN_SECRET_BACKEND=keyring",
        "PYTHONPATH=$site;$site\win32;$site\win32\lib"
    )
    Set-ItemProperty -Path "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName" -Name Environment `
        -Type MultiString -Value $environment
}

if (-not $service) {
    # A fresh install: the service (and with it its virtual account, which the ACL below names) comes first.
    Set-Current $InstallDir $Version
    Register-Agent
}
# Only the service account, SYSTEM and Administrators: the database holds the queue, the folder the secrets import.
& icacls $DataDir /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" "${ServiceAccount}:(OI)(CI)M" | Out-Null
if ($LASTEXITCODE -ne 0) { Stop-WithError "could not set the permissions of $DataDir" }

# ---- the API key: handed to the service account, which stores it in its own Credential Manager ---------------
if ($ApiKeyFile) {
    $import = Join-Path $DataDir 'secrets-import'
    New-Item -ItemType Directory -Force -Path $import | Out-Null
    Copy-Item -LiteralPath $ApiKeyFile -Destination (Join-Path $import 'engage-api-key') -Force
    Write-Step 'the Engage API key will be stored by the service when it starts'
}

# ---- switch over ------------------------------------------------------------------------------------------------
if ($Old -and $Old -ne $Version) {
    $OldCli = Join-Path $InstallDir "$Old\Scripts\posplugin.exe"
    $waited = 0
    while (($sending = Get-SendingCount $OldCli $Config) -gt 0) {
        if ($Force) { Write-Step "$sending operation(s) on the wire; going on (-Force)"; break }
        if ($waited -ge $DrainTimeoutSeconds) {
            Stop-WithError "$sending operation(s) still on the wire after $DrainTimeoutSeconds s; nothing changed (retry later or -Force)"
        }
        Start-Sleep -Seconds 1; $waited++
    }
    Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue
    $backup = Join-Path $DataDir ("backups\posplugin-$Old-{0}.sqlite3" -f (Get-Date -Format 'yyyyMMddTHHmmss'))
    & $OldCli db backup $backup --config $Config | Out-Null
    & $NewCli db migrate --config $Config | Out-Null
    if ($LASTEXITCODE -ne 0) {
        & $OldCli db restore $backup --config $Config | Out-Null
        Start-Service -Name $ServiceName
        Stop-WithError "the database could not be migrated; still running $Old"
    }
    Set-Current $InstallDir $Version
    Start-Service -Name $ServiceName
    if (-not (Wait-Healthy $NewCli $Config $Version $HealthTimeoutSeconds)) {
        Write-Step "$Version did not report healthy within $HealthTimeoutSeconds s; rolling back to $Old"
        Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue
        & $OldCli db restore $backup --config $Config | Out-Null
        Set-Current $InstallDir $Old
        Start-Service -Name $ServiceName
        if (-not (Wait-Healthy $OldCli $Config $Old $HealthTimeoutSeconds)) { Write-Step "warning: $Old does not answer either" }
        exit 3
    }
    # Only folders named like a version: `current` is a junction, and the MSI keeps its files in `package`.
    Get-ChildItem -LiteralPath $InstallDir -Directory |
        Where-Object { $_.Name -match '^\d+(\.\d+)+' -and $_.Name -ne $Version -and $_.Name -ne $Old -and -not $_.LinkType } |
        Remove-Item -Recurse -Force
    Write-Step "upgraded $Old -> $Version (database backup: $backup)"
} else {
    Set-Current $InstallDir $Version
    Start-Service -Name $ServiceName
    if (-not (Wait-Healthy $NewCli $Config $Version $HealthTimeoutSeconds)) {
        Stop-WithError "posplugin $Version was installed but does not report healthy; see $DataDir\logs and the Application event log"
    }
    Write-Step "posplugin $Version installed"
}
# `doctor` would read the administrator's Credential Manager, not the service's: ask the running agent instead.
& $NewCli health --config $Config
exit 0
