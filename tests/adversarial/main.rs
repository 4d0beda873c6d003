//! The adversarial suite: hostile archives, hostile or broken indexes,
//! faults and load, and local security — each case a test that fails if its
//! protection is removed. See ARCHITECTURE.md for the invariants defended.
#![allow(clippy::unwrap_used)]

mod archives;
mod crashes;
mod faults;
mod indexes;
mod load;
mod security;

use std::path::PathBuf;

use axle_e2e::TestContext;
use axle_e2e::index::{IndexFile, TestIndex};

pub use axle_e2e::tree;

/// A project with a venv, syncing `filename` (served with `bytes`) pinned by
/// its hash.
pub struct Scene {
    pub index: TestIndex,
    pub context: TestContext,
}

impl Scene {
    pub fn serving(filename: &str, bytes: Vec<u8>) -> Scene {
        let index = TestIndex::start();
        let mut context = TestContext::new();
        context.use_index(&index);
        let project = filename.split('-').next().unwrap().to_string();
        let sha256 = axle_e2e::wheel::sha256_hex(&bytes);
        let version = filename.split('-').nth(1).unwrap().to_string();
        index.add_file(
            &project,
            IndexFile {
                filename: filename.to_string(),
                bytes: std::sync::Arc::new(bytes),
                sha256: sha256.clone(),
                metadata: None,
                requires_python: None,
                yanked: None,
                upload_time: None,
            },
        );
        context.ok(&["venv"]);
        context.write(
            "requirements.txt",
            &format!("{project}=={version} \\\n    --hash=sha256:{sha256}\n"),
        );
        Scene { index, context }
    }

    /// Restarts the daemon with one more variable in its environment (the
    /// daemon reads some settings only at start).
    pub fn restart_with(&mut self, name: &str, value: &str) {
        self.context.ok(&["daemon", "stop"]);
        self.context.env.insert(name.to_string(), value.to_string());
        self.context.ok(&["daemon", "start"]);
    }

    pub fn store(&self) -> PathBuf {
        self.context.home.join("store")
    }

    /// What a refused sync must not change: the venv, and the store's
    /// manifests and objects.
    pub fn state(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        (
            tree(&self.context.path(".venv")),
            tree(&self.store().join("wheels")),
            tree(&self.store().join("objects")),
        )
    }

    /// Syncs, expecting a refusal that names `filename` and one of `reasons`,
    /// and that nothing changed anywhere.
    pub fn assert_refused(&self, filename: &str, reasons: &[&str]) -> String {
        let before = self.state();
        let error = self.context.fails(&["sync"]);
        assert!(error.contains(filename), "the error does not name {filename}:\n{error}");
        let lower = error.to_lowercase();
        assert!(
            reasons.iter().any(|reason| lower.contains(&reason.to_lowercase())),
            "the error gives none of {reasons:?}:\n{error}"
        );
        let after = self.state();
        assert_eq!(before.0, after.0, "the venv changed");
        assert_eq!(before.1, after.1, "a manifest was written");
        assert_eq!(before.2, after.2, "objects were stored");
        let leftovers = tree(&self.store().join("tmp"));
        assert!(leftovers.is_empty(), "staging files left behind: {leftovers:?}");
        error
    }
}
