//! What builds produced, kept in memory and in SQLite (`built_metadata`, `built_wheels`) so
//! that no source is built twice for the same interpreter, across projects and restarts.
//!
//! Keys:
//! - a source: `sdist:<sha256>`, `dir:<path>:<fingerprint>`, `git:<repository>@<commit>/<subdir>`;
//! - metadata read from the source itself (PEP 643 `PKG-INFO`, a static `[project]`): the
//!   source's key alone; metadata a backend computed: the source's key, the interpreter and
//!   the settings ([`BuildKey`]), since a `setup.py` may compute dependencies per platform;
//! - wheels: always the [`BuildKey`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axle_standards::Metadata;
use sha2::{Digest, Sha256};

use crate::db::{self, Pool};
use crate::dist::BuildContext;
use crate::interpreter::InterpreterInfo;

/// A build's identity: the source, the interpreter, the kind and the settings.
pub fn build_key(source_key: &str, editable: bool, context: &BuildContext) -> String {
    let mut hasher = Sha256::new();
    hasher.update(interpreter_key(&context.interpreter).as_bytes());
    hasher.update(format!("{:?}", context.options.config_settings).as_bytes());
    hasher.update([
        u8::from(context.options.no_isolation_python.is_some()),
        u8::from(editable),
    ]);
    format!("{source_key}|{}", hex::encode(&hasher.finalize()[..12]))
}

/// What makes two interpreters build the same wheel: implementation, full version, ABI and
/// platform.
pub(super) fn interpreter_key(info: &InterpreterInfo) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        info.implementation,
        info.version,
        info.soabi.as_deref().unwrap_or(""),
        info.sysconfig_platform,
        info.libc.as_ref().map(|libc| format!("{libc:?}")).unwrap_or_default()
    )
}

pub struct BuildCache {
    pool: Pool,
    metadata: Mutex<HashMap<String, Arc<Metadata>>>,
}

impl BuildCache {
    pub fn new(pool: Pool) -> BuildCache {
        BuildCache {
            pool,
            metadata: Mutex::new(HashMap::new()),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Metadata>>> {
        self.metadata.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub async fn metadata(&self, key: &str) -> Option<Arc<Metadata>> {
        if let Some(known) = self.memory().get(key).cloned() {
            return Some(known);
        }
        let text: Option<String> = sqlx::query_scalar("SELECT text FROM built_metadata WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten();
        let metadata = Arc::new(Metadata::parse(&text?).ok()?);
        self.memory().insert(key.to_string(), metadata.clone());
        Some(metadata)
    }

    pub async fn remember_metadata(&self, key: &str, text: &str, metadata: &Arc<Metadata>) {
        self.memory().insert(key.to_string(), metadata.clone());
        let result = sqlx::query(
            "INSERT INTO built_metadata (key, text, created_at) VALUES (?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET text = excluded.text, created_at = excluded.created_at",
        )
        .bind(key)
        .bind(text)
        .bind(db::now())
        .execute(&self.pool)
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, key, "could not remember built metadata");
        }
    }

    /// The wheel a build produced: `(sha256, filename)`.
    pub async fn wheel(&self, key: &str) -> Option<(String, String)> {
        sqlx::query_as("SELECT wheel_sha256, filename FROM built_wheels WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten()
    }

    /// Remembers the wheel a build produced, with its identity in the team store (`None`: a
    /// build that is never shared).
    pub async fn remember_wheel(&self, key: &str, sha256: &str, filename: &str, shared_identity: Option<&str>) {
        let result = sqlx::query(
            "INSERT INTO built_wheels (key, wheel_sha256, filename, created_at, shared_identity)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET wheel_sha256 = excluded.wheel_sha256,
                filename = excluded.filename, created_at = excluded.created_at,
                shared_identity = excluded.shared_identity",
        )
        .bind(key)
        .bind(sha256)
        .bind(filename)
        .bind(db::now())
        .bind(shared_identity)
        .execute(&self.pool)
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, key, "could not remember a built wheel");
        }
    }

    /// The shareable builds of the source `source_key` (any interpreter): `(identity, wheel
    /// sha256, file name)`.
    pub async fn shared_builds(&self, source_key: &str) -> Vec<(String, String, String)> {
        // Keys are `<source key>|<settings hash>`: the source's rows share that prefix.
        let pattern = format!(
            "{}|%",
            source_key.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        sqlx::query_as(
            "SELECT shared_identity, wheel_sha256, filename FROM built_wheels
             WHERE key LIKE ? ESCAPE '\\' AND shared_identity IS NOT NULL",
        )
        .bind(pattern)
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default()
    }

    /// Forgets a wheel whose store entry is gone (gc, damage): the next request builds again.
    pub async fn forget_wheel(&self, key: &str) {
        let _ = sqlx::query("DELETE FROM built_wheels WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await;
    }
}
