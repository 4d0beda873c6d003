-- What the last `axle lock` and `axle sync` run from each directory used, so that an editor
-- can ask where the project stands without saying how it is locked and synced. Paths are
-- absolute. `inputs_json` is a list of {path, identity, sha256}: each input as the lock read
-- it (identity is device, inode, size and mtime; while it holds, the file is not read again).
CREATE TABLE projects (
    dir             TEXT    PRIMARY KEY,
    lock_file       TEXT,
    inputs_json     TEXT    NOT NULL DEFAULT '[]',
    lock_identity   TEXT,
    lock_sha256     TEXT,
    locked_at       INTEGER,
    venv            TEXT,
    lock_files_json TEXT    NOT NULL DEFAULT '[]',
    synced_at       INTEGER
);
