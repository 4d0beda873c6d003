-- Interpreters axled has asked about, so that later requests need not spawn
-- Python. A row is valid only while the file at `path` still has the same
-- identity (device, inode, size, mtime). pyenv shims are resolved before
-- they get here, so `path` is always the real executable.
CREATE TABLE interpreters (
    path          TEXT    PRIMARY KEY,
    file_identity TEXT    NOT NULL,
    info_json     TEXT    NOT NULL,
    queried_at    INTEGER NOT NULL
);

-- Every virtual environment axle created or synced.
CREATE TABLE venvs (
    path                   TEXT    PRIMARY KEY,
    interpreter_executable TEXT    NOT NULL,
    python_version         TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    last_used_at           INTEGER NOT NULL
);
