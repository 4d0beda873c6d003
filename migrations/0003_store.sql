-- Wheels unpacked into the content-addressed store ($AXLE_HOME/store). A
-- row exists only once the wheel's manifest was written (store.rs).
CREATE TABLE store_wheels (
    sha256        TEXT    PRIMARY KEY,   -- of the wheel file
    filename      TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    size          INTEGER NOT NULL,      -- the wheel file
    unpacked_size INTEGER NOT NULL,      -- its files
    source_url    TEXT,                  -- never with credentials
    added_at      INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL
);

-- Which wheel each distribution of each environment came from.
CREATE TABLE venv_dists (
    venv          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    wheel_sha256  TEXT    NOT NULL,
    installed_at  INTEGER NOT NULL,
    PRIMARY KEY (venv, name)
);

-- The last sync of each environment: what it was synced to and what its
-- site-packages looked like after, so an unchanged pair answers at once.
CREATE TABLE venv_sync (
    venv          TEXT    PRIMARY KEY,
    lock_digest   TEXT    NOT NULL,
    site_packages TEXT    NOT NULL,
    site_stamp    TEXT    NOT NULL,
    synced_at     INTEGER NOT NULL
);
