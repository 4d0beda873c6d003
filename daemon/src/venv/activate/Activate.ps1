# Activates the virtual environment at @VENV_DIR_TEXT@ in PowerShell.
# Use it with `. bin/Activate.ps1`; `deactivate` undoes what it did.
# Written by axle.

function global:deactivate ([switch] $NonDestructive) {
    if (Test-Path variable:global:_OLD_VIRTUAL_PATH) {
        $env:PATH = $global:_OLD_VIRTUAL_PATH
        Remove-Variable -Name _OLD_VIRTUAL_PATH -Scope Global
    }
    if (Test-Path variable:global:_OLD_VIRTUAL_PYTHONHOME) {
        $env:PYTHONHOME = $global:_OLD_VIRTUAL_PYTHONHOME
        Remove-Variable -Name _OLD_VIRTUAL_PYTHONHOME -Scope Global
    }
    if (Test-Path function:global:_axle_saved_prompt) {
        Copy-Item -Path function:global:_axle_saved_prompt -Destination function:global:prompt
        Remove-Item -Path function:global:_axle_saved_prompt
    }
    if (Test-Path env:VIRTUAL_ENV) {
        Remove-Item -Path env:VIRTUAL_ENV
    }
    if (Test-Path env:VIRTUAL_ENV_PROMPT) {
        Remove-Item -Path env:VIRTUAL_ENV_PROMPT
    }
    if (-not $NonDestructive) {
        Remove-Item -Path function:global:deactivate
    }
}

# Leave whatever environment was active before entering this one.
deactivate -NonDestructive

$env:VIRTUAL_ENV = @VENV_DIR_PS@
$env:VIRTUAL_ENV_PROMPT = @PROMPT_PS@

$global:_OLD_VIRTUAL_PATH = $env:PATH
$env:PATH = (Join-Path $env:VIRTUAL_ENV "@BIN_NAME@") + [System.IO.Path]::PathSeparator + $env:PATH

if (Test-Path env:PYTHONHOME) {
    $global:_OLD_VIRTUAL_PYTHONHOME = $env:PYTHONHOME
    Remove-Item -Path env:PYTHONHOME
}

if (-not $env:VIRTUAL_ENV_DISABLE_PROMPT) {
    Copy-Item -Path function:global:prompt -Destination function:global:_axle_saved_prompt
    function global:prompt {
        Write-Host -NoNewline "($env:VIRTUAL_ENV_PROMPT) "
        _axle_saved_prompt
    }
}
