-- The index cache, kept compactly (see daemon/src/index/packed.rs). Both tables are caches
-- of what the index serves: their new form starts empty and fills again as locks ask.

DROP TABLE index_pages;
CREATE TABLE index_pages (
    url           TEXT    PRIMARY KEY,
    found         INTEGER NOT NULL,          -- 0: the index said 404
    files         BLOB    NOT NULL,          -- [DistFile] as JSON, deflate-compressed
    etag          TEXT,
    last_modified TEXT,
    fetched_at    INTEGER NOT NULL,          -- unix milliseconds of the last 200/304
    max_age       INTEGER                    -- Cache-Control max-age, seconds
);

-- Core metadata of distribution files, immutable for a given file, kept until garbage
-- collection. `key` is `sha256:<hex>` of the file when known, else its URL. `headers` is
-- METADATA without its description, deflate-compressed.
DROP TABLE file_metadata;
CREATE TABLE file_metadata (
    key        TEXT    PRIMARY KEY,
    headers    BLOB    NOT NULL,
    fetched_at INTEGER NOT NULL
);
