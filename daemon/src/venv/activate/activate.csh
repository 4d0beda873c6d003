# Activates the virtual environment at @VENV_DIR_TEXT@ in csh or tcsh.
# Use it with `source bin/activate.csh`; `deactivate` undoes what it did.
# Written by axle.

alias deactivate 'if ($?_OLD_VIRTUAL_PATH) setenv PATH "$_OLD_VIRTUAL_PATH"; unset _OLD_VIRTUAL_PATH; if ($?_OLD_VIRTUAL_PROMPT) set prompt="$_OLD_VIRTUAL_PROMPT"; unset _OLD_VIRTUAL_PROMPT; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; rehash; test "\!:*" != "nondestructive" && unalias deactivate'

# Leave whatever environment was active before entering this one.
deactivate nondestructive

setenv VIRTUAL_ENV @VENV_DIR_CSH@
setenv VIRTUAL_ENV_PROMPT @PROMPT_CSH@

set _OLD_VIRTUAL_PATH="$PATH"
setenv PATH "${VIRTUAL_ENV}/bin:${PATH}"

if ($?prompt) then
    set _OLD_VIRTUAL_PROMPT="$prompt"
    if (! $?VIRTUAL_ENV_DISABLE_PROMPT) then
        set prompt = "(${VIRTUAL_ENV_PROMPT}) $prompt"
    endif
endif

rehash
