-- What the store's files add up to, counted by walking them (see wheels.rs: `count_totals`),
-- so `axle store stats` and the status page answer without a walk while the store is
-- unchanged. One row.
CREATE TABLE store_totals (
    id         INTEGER PRIMARY KEY CHECK (id = 0),
    objects    INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,        -- objects and kept wheel files
    counted_at INTEGER NOT NULL
);
