<#
.SYNOPSIS
    Remove posplugin. Config and data (the queue, the cache) stay in <DataDir> unless -Purge.
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File uninstall.ps1
    powershell -ExecutionPolicy Bypass -File uninstall.ps1 -Purge
#>
[CmdletBinding()]
param(
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'posplugin'),
    [string]$DataDir = (Join-Path $env:ProgramData 'posplugin'),
    [switch]$Purge,
    [string]$LogFile = ''   # also write what this script says to this file (the MSI passes one)
)

$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'common.ps1')
if ($LogFile) { Start-Log $LogFile }

$cli = Join-Path $InstallDir 'current\Scripts\posplugin.exe'
$config = Join-Path $DataDir 'config.toml'
if ((Test-Path -LiteralPath $cli) -and (Test-Path -LiteralPath $config) -and -not $Purge) {
    try {
        $queue = & $cli queue list --json --config $config | Out-String | ConvertFrom-Json
        $left = [int]$queue.pending + [int]$queue.parked
        if ($left -gt 0) { Write-Output "posplugin uninstall: $left operation(s) are still queued; they stay in $DataDir" }
    } catch { }
}
if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue
    & sc.exe delete $ServiceName | Out-Null
}
if (Test-Path -LiteralPath $InstallDir) {
    $current = Join-Path $InstallDir 'current'
    if (Test-Path -LiteralPath $current) { cmd /c rmdir "$current" | Out-Null }   # the junction, not its target
    Remove-Item -LiteralPath $InstallDir -Recurse -Force
}
if ($Purge) {
    Remove-Item -LiteralPath $DataDir -Recurse -Force -ErrorAction SilentlyContinue
    Write-Output 'posplugin removed with its config and data'
} else {
    Write-Output "posplugin removed; kept $DataDir (use -Purge to delete it)"
}
