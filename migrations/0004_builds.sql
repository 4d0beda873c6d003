-- What source builds produced, so that no source is built twice for the
-- same interpreter: across projects and daemon restarts. Keys are built in
-- build/cache.rs: the source's identity (an sdist's hash, a directory's
-- path and fingerprint, a Git commit), and for anything a backend computed,
-- the interpreter and the build's settings.
CREATE TABLE built_metadata (
    key        TEXT    PRIMARY KEY,
    text       TEXT    NOT NULL,          -- METADATA
    created_at INTEGER NOT NULL
);

CREATE TABLE built_wheels (
    key          TEXT    PRIMARY KEY,
    wheel_sha256 TEXT    NOT NULL,        -- a row of store_wheels
    filename     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- For distributions installed from a source, what identifies that source
-- (sync compares it with the lock); NULL: the wheel itself.
ALTER TABLE venv_dists ADD COLUMN source_identity TEXT;

-- Local project directories the last sync installed from, with their
-- fingerprints (JSON [[path, fingerprint]]): an edit to one's metadata makes
-- the next sync look again even though the lock files did not change.
ALTER TABLE venv_sync ADD COLUMN trees_json TEXT NOT NULL DEFAULT '[]';
