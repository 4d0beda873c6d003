//! The memory of locks already made, so that `axle lock` with unchanged
//! inputs answers without resolving.
//!
//! The key covers everything that decides the output except the existing
//! lock file: options, the target, the sources, and the bytes of every
//! input file (and the variables they expand). The existing lock is covered
//! by checking that the output file still has exactly the content written
//! last time: a lock that satisfies its unchanged inputs is what a new
//! resolution would keep (pip-compile's minimal change), so the memo cannot
//! answer differently than a resolution would, except for files published
//! since (use `--refresh` or `--upgrade` to look again).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::LockRequest;
use super::inputs::Inputs;
use crate::db::{self, Pool};
use crate::index::Sources;
use crate::lockfile::requirements_txt::WriteOptions;
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct MemoHit {
    pub content: String,
    pub packages: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    output_path: String,
    output_sha256: String,
    /// The output file's identity when last checked: while it holds, the
    /// content need not be hashed again.
    output_identity: Option<String>,
    content: String,
    packages: usize,
}

pub struct Memo {
    pool: Pool,
    memory: Mutex<HashMap<String, Entry>>,
}

/// The memo key of a lock request.
pub fn key(
    request: &LockRequest,
    inputs: &Inputs,
    options: &WriteOptions,
    sources: &Sources,
    target: &Target,
    output_file: &Path,
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |label: &str, value: &[u8]| {
        hasher.update(label.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    };
    field("version", env!("CARGO_PKG_VERSION").as_bytes());
    field("output", output_file.as_os_str().as_encoded_bytes());
    field(
        "request",
        format!(
            "{:?}|{:?}|{:?}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            request.constraints,
            request.extras,
            request.groups,
            request.all_extras,
            request.pre,
            request.offline,
            request.dry_run,
            request.exclude_newer,
            request.format,
            request.strategy,
            request.python_version,
            request.python_platform,
            request.universal,
        )
        .as_bytes(),
    );
    field(
        "build",
        format!("{:?}|{:?}|{:?}", request.build, request.only_binary, request.no_binary).as_bytes(),
    );
    field("options", format!("{options:?}").as_bytes());
    field("sources", format!("{sources:?}").as_bytes());
    field(
        "target",
        format!("{:?}|{}", target.markers, target.python_full_version).as_bytes(),
    );
    let tags: Vec<String> = target.tags.iter().take(64).map(ToString::to_string).collect();
    field("tags", tags.join(",").as_bytes());
    for file in &inputs.files {
        field("file", file.as_os_str().as_encoded_bytes());
        let content = std::fs::read(file).unwrap_or_default();
        // Variables the file expands change its meaning, not its bytes.
        for name in referenced_variables(&content) {
            let value = request.invocation.var(&name).unwrap_or("");
            field("variable", format!("{name}={value}").as_bytes());
        }
        field("content", &content);
    }
    // Local projects the inputs name: what decides their metadata (a dependency added to
    // `-e .`'s pyproject.toml is a changed input).
    let trees = inputs
        .sources
        .iter()
        .filter_map(|input| match &input.source {
            crate::dist::SourceDist::Directory { path, .. } => Some(path.clone()),
            _ => None,
        })
        .chain(inputs.projects.iter().map(|project| project.directory.clone()));
    for tree in trees {
        field("tree", tree.as_os_str().as_encoded_bytes());
        field(
            "fingerprint",
            axle_build_frontend::SourceTree::fingerprint(&tree).as_bytes(),
        );
    }
    hex::encode(hasher.finalize())
}

/// `${NAME}` references in a requirement file.
fn referenced_variables(content: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(content);
    let mut names = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        names.push(after[..end].to_string());
        rest = &after[end..];
    }
    names.sort();
    names.dedup();
    names
}

fn file_sha256(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|bytes| hex::encode(Sha256::digest(bytes)))
}

impl Memo {
    pub fn new(pool: Pool) -> Memo {
        Memo {
            pool,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered lock for `key`, if `output_file` still holds it.
    pub async fn lookup(&self, key: &str, output_file: &Path) -> Option<MemoHit> {
        let remembered = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned();
        let entry = match remembered {
            Some(entry) => entry,
            None => {
                let row: Option<(String, String, String, i64)> =
                    sqlx::query_as("SELECT output_path, output_sha256, content, packages FROM lock_memo WHERE key = ?")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .ok()
                        .flatten();
                let (output_path, output_sha256, content, packages) = row?;
                let entry = Entry {
                    output_path,
                    output_sha256,
                    output_identity: None,
                    content,
                    packages: packages as usize,
                };
                self.memory
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(key.to_string(), entry.clone());
                entry
            }
        };
        if entry.output_path != output_file.to_string_lossy() {
            return None;
        }
        let identity = crate::fingerprint::identity(output_file);
        let unchanged = match (&identity, &entry.output_identity) {
            (Some(now), Some(then)) if now == then => true,
            _ => {
                let same = file_sha256(output_file).as_deref() == Some(entry.output_sha256.as_str());
                if same {
                    let mut memory = self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Some(known) = memory.get_mut(key) {
                        known.output_identity = identity;
                    }
                }
                same
            }
        };
        unchanged.then_some(MemoHit {
            content: entry.content,
            packages: entry.packages,
        })
    }

    pub async fn store(&self, key: &str, output_file: &Path, content: &str, packages: usize) {
        let entry = Entry {
            output_path: output_file.to_string_lossy().into_owned(),
            output_sha256: hex::encode(Sha256::digest(content.as_bytes())),
            output_identity: crate::fingerprint::identity(output_file),
            content: content.to_string(),
            packages,
        };
        let result = sqlx::query(
            "INSERT INTO lock_memo (key, output_path, output_sha256, content, packages, created_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET output_path = excluded.output_path,
                output_sha256 = excluded.output_sha256, content = excluded.content,
                packages = excluded.packages, created_at = excluded.created_at",
        )
        .bind(key)
        .bind(&entry.output_path)
        .bind(&entry.output_sha256)
        .bind(&entry.content)
        .bind(packages as i64)
        .bind(db::now())
        .execute(&self.pool)
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not remember the lock");
        }
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.to_string(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_referenced_variables() {
        let names = referenced_variables(b"-i https://${USER}:${TOKEN}@127.0.0.1/simple\nfoo\n${TOKEN}\n");
        assert_eq!(names, ["TOKEN", "USER"]);
    }
}
