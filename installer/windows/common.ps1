# Shared by install.ps1 and uninstall.ps1. Dot-sourced; defines functions only.

$ServiceName = 'posplugin'
$ServiceAccount = 'NT SERVICE\posplugin'   # a virtual account: no password to manage, its own Credential Manager

function Write-Step([string]$Message) {
    Write-Output "posplugin install: $Message"
}

function Stop-WithError([string]$Message, [int]$Code = 1) {
    Write-Error "posplugin install: $Message" -ErrorAction Continue
    exit $Code
}

function Test-BundleChecksums([string]$Bundle) {
    # SHA256SUMS lines are "<sha256>  <relative/path>", as sha256sum writes them.
    foreach ($line in Get-Content -LiteralPath (Join-Path $Bundle 'SHA256SUMS')) {
        if (-not $line.Trim()) { continue }
        $expected, $relative = $line -split '  ', 2
        $path = Join-Path $Bundle ($relative -replace '/', '\')
        if (-not (Test-Path -LiteralPath $path)) { return $false }
        $actual = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
        if ($actual -ne $expected) { return $false }
    }
    return $true
}

function Get-AgentPort([string]$Posplugin, [string]$Config) {
    $json = & $Posplugin config show --config $Config | Out-String
    return ($json | ConvertFrom-Json).agent.port
}

function Wait-Healthy([string]$Posplugin, [string]$Config, [string]$Version, [int]$TimeoutSeconds) {
    $port = Get-AgentPort $Posplugin $Config
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    while ((Get-Date) -lt $deadline) {
        try {
            $health = Invoke-RestMethod -Uri "http://127.0.0.1:$port/api/v1/health" -TimeoutSec 2 -UseBasicParsing
            # Any status counts (warning: Engage offline; critical: ops for a person): rollback is for a version
            # that cannot run, not for the till's state.
            if ($health.status -in @('ok', 'warning', 'critical') -and $health.version -eq $Version) { return $true }
        } catch { }
        Start-Sleep -Milliseconds 500
    }
    return $false
}

function Get-SendingCount([string]$Posplugin, [string]$Config) {
    try {
        $queue = & $Posplugin queue list --json --config $Config | Out-String | ConvertFrom-Json
        return [int]$queue.sending
    } catch {
        return 0   # no database yet
    }
}

function Set-Current([string]$InstallDir, [string]$Version) {
    # `current` is a directory junction, switched by replacing it (the service path never changes).
    $current = Join-Path $InstallDir 'current'
    if (Test-Path -LiteralPath $current) { cmd /c rmdir "$current" | Out-Null }
    New-Item -ItemType Junction -Path $current -Target (Join-Path $InstallDir $Version) | Out-Null
}

function Get-CurrentVersion([string]$InstallDir) {
    $current = Join-Path $InstallDir 'current'
    if (-not (Test-Path -LiteralPath $current)) { return '' }
    $item = Get-Item -LiteralPath $current
    if ($item.Target) { return Split-Path -Leaf ([string]@($item.Target)[0]) }
    return ''
}

function Start-Log([string]$Path) {
    # A transcript of everything the script writes; an MSI custom action has no console to show it on.
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path) | Out-Null
    Start-Transcript -LiteralPath $Path -Append | Out-Null
}
