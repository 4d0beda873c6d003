# Activates the virtual environment at @VENV_DIR_TEXT@ in fish.
# Use it with `source bin/activate.fish`; `deactivate` undoes what it did.
# Written by axle.

function deactivate -d "Leave the virtual environment"
    if set -q _OLD_VIRTUAL_PATH
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    if set -q _OLD_VIRTUAL_PYTHONHOME
        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME
        set -e _OLD_VIRTUAL_PYTHONHOME
    end
    if set -q _AXLE_OLD_FISH_PROMPT
        set -e _AXLE_OLD_FISH_PROMPT
        if functions -q _axle_saved_fish_prompt
            functions -e fish_prompt
            functions -c _axle_saved_fish_prompt fish_prompt
            functions -e _axle_saved_fish_prompt
        end
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != "nondestructive"
        functions -e deactivate
    end
end

# Leave whatever environment was active before entering this one.
deactivate nondestructive

set -gx VIRTUAL_ENV @VENV_DIR_FISH@
set -gx VIRTUAL_ENV_PROMPT @PROMPT_FISH@
set -gx _OLD_VIRTUAL_PATH $PATH
set -gx PATH "$VIRTUAL_ENV/bin" $PATH

if set -q PYTHONHOME
    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME
    set -e PYTHONHOME
end

if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"
    functions -c fish_prompt _axle_saved_fish_prompt
    function _axle_return_status
        return $argv[1]
    end
    function fish_prompt
        # The saved prompt may show the last command's status: keep it.
        set -l last_status $status
        printf '(%s) ' $VIRTUAL_ENV_PROMPT
        _axle_return_status $last_status
        _axle_saved_fish_prompt
    end
    set -gx _AXLE_OLD_FISH_PROMPT "$VIRTUAL_ENV"
end
