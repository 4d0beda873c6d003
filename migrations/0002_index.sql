-- Project pages of package indexes and find-links pages, as parsed file
-- lists, with the HTTP validators needed to revalidate them. `url` never
-- carries credentials.
CREATE TABLE index_pages (
    url           TEXT    PRIMARY KEY,
    found         INTEGER NOT NULL,          -- 0: the index said 404
    files_json    TEXT    NOT NULL,          -- [DistFile], see index/simple.rs
    etag          TEXT,
    last_modified TEXT,
    fetched_at    INTEGER NOT NULL,          -- unix milliseconds of the last 200/304
    max_age       INTEGER                    -- Cache-Control max-age, seconds
);

-- Core metadata (METADATA text) of distribution files. Immutable for a
-- given file, so kept until garbage collection. `key` is `sha256:<hex>` of
-- the file when known, else its URL.
CREATE TABLE file_metadata (
    key        TEXT    PRIMARY KEY,
    url        TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    fetched_at INTEGER NOT NULL
);

-- Locks the daemon made, keyed by everything that decides their content
-- except the existing output; valid while the output file still has
-- `output_sha256` (see lock/memo.rs).
CREATE TABLE lock_memo (
    key           TEXT    PRIMARY KEY,
    output_path   TEXT    NOT NULL,
    output_sha256 TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    packages      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
