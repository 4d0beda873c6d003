//! The daemon's SQLite database: opening it, its pragmas and migrations.
//!
//! One file, `$AXLE_HOME/axle.db`, in WAL mode so readers never wait for the
//! writer. Queries are checked at run time (no `DATABASE_URL` at build time);
//! the schema lives in `migrations/` and is applied at start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use sqlx::SqlitePool as Pool;

/// The oldest SQLite we run on: 3.51.3 fixes a WAL-reset bug that can corrupt
/// a database written by several connections.
const MIN_SQLITE: (u32, u32, u32) = (3, 51, 3);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot update the database schema in {path}: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("SQLite {found} is linked, but axle needs {needed} or later")]
    TooOld { found: String, needed: String },
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Opens (creating if needed) the database at `path`. A file that is not an SQLite database,
/// or is corrupt, is moved aside (`axle.db.corrupt-<time>`, kept for inspection) and a new one
/// is made: the database caches what the files also hold, and the daemon rebuilds the store's
/// rows from the store at start (`WheelStore::reconcile`).
pub async fn open(path: &Path) -> Result<Pool, DbError> {
    match open_once(path).await {
        Err(error) if error.is_corruption() => {
            let aside = path.with_extension(format!("db.corrupt-{}", now()));
            tracing::warn!(%error, aside = %aside.display(), "the database is unreadable; starting a new one");
            std::fs::rename(path, &aside).map_err(|source| DbError::Open {
                path: path.display().to_string(),
                source: sqlx::Error::Io(source),
            })?;
            for suffix in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                let _ = std::fs::remove_file(side);
            }
            open_once(path).await
        }
        other => other,
    }
}

impl DbError {
    /// Whether the file is damaged or no database at all (SQLITE_CORRUPT, SQLITE_NOTADB).
    fn is_corruption(&self) -> bool {
        let source = match self {
            DbError::Open { source, .. } | DbError::Query(source) => source,
            DbError::Migrate {
                source: sqlx::migrate::MigrateError::Execute(source),
                ..
            } => source,
            _ => return false,
        };
        match source {
            sqlx::Error::Database(error) => {
                let code = error.code().map(|code| code.into_owned()).unwrap_or_default();
                // Extended codes keep the primary code in their low byte.
                let primary = code.parse::<i32>().map(|code| code & 0xff).unwrap_or(0);
                primary == 11 || primary == 26
            }
            _ => false,
        }
    }
}

async fn open_once(path: &Path) -> Result<Pool, DbError> {
    let display = path.display().to_string();
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|source| DbError::Open {
            path: display.clone(),
            source,
        })?
        .filename(path)
        .create_if_missing(true)
        // Cached index pages are megabytes of JSON; bigger pages write them
        // with a quarter of the system calls. (Takes effect when the file is
        // created; an existing database keeps its page size.)
        .page_size(16 * 1024)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        // A checkpoint every 4 MiB of WAL (256 of these 16 KiB pages, not SQLite's 1000), and
        // the file truncated back to 4 MiB after each: a day of locks does not leave a WAL as
        // big as the busiest moment's writes.
        .pragma("wal_autocheckpoint", "256")
        .pragma("journal_size_limit", (4 * 1024 * 1024).to_string())
        // 1 MiB of page cache per connection (SQLite's default is 2 MiB): the daemon keeps
        // what it reads often in memory itself.
        .pragma("cache_size", "-1024")
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // A burst of work opens up to eight connections, each with its cache; an idle daemon
        // keeps one.
        .idle_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Open {
            path: display.clone(),
            source,
        })?;
    check_version(&pool).await?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .map_err(|source| DbError::Migrate { path: display, source })?;
    Ok(pool)
}

/// The linked SQLite's version, e.g. `3.51.3`.
pub async fn sqlite_version(pool: &Pool) -> Result<String, DbError> {
    Ok(sqlx::query_scalar("SELECT sqlite_version()").fetch_one(pool).await?)
}

async fn check_version(pool: &Pool) -> Result<(), DbError> {
    let found: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(pool).await?;
    refuse_older(found)
}

/// Refuses a linked SQLite older than `MIN_SQLITE` (the WAL-reset fix), naming both versions.
fn refuse_older(found: String) -> Result<(), DbError> {
    if parse_version(&found) < MIN_SQLITE {
        let (a, b, c) = MIN_SQLITE;
        return Err(DbError::TooOld {
            found,
            needed: format!("{a}.{b}.{c}"),
        });
    }
    Ok(())
}

fn parse_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.split('.').map(|part| part.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Milliseconds since the Unix epoch, for timestamps compared within one
/// operation.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, the unit of timestamp columns unless their
/// comment says otherwise.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_migrates_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open(&dir.path().join("axle.db")).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // Re-opening applies no migration twice.
        pool.close().await;
        open(&dir.path().join("axle.db")).await.unwrap();
    }

    #[test]
    fn an_sqlite_older_than_the_wal_reset_fix_is_refused_by_name() {
        for (found, refused) in [
            ("3.51.2", true),
            ("3.45.1", true),
            ("3.9.0", true),
            ("3.51.3", false),
            ("3.52.0", false),
        ] {
            let result = refuse_older(found.to_string());
            assert_eq!(result.is_err(), refused, "{found}");
            if let Err(error) = result {
                assert_eq!(
                    error.to_string(),
                    format!("SQLite {found} is linked, but axle needs 3.51.3 or later")
                );
            }
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("3.51.10") > (3, 51, 3));
        assert!(parse_version("3.9.0") < (3, 51, 3));
    }
}
