//! Git sources, through the `git` command line: one bare clone per repository under
//! `$AXLE_HOME/git/db`, fetched when a reference must be resolved, and one checkout per commit
//! under `$AXLE_HOME/git/checkouts` (a commit never changes, so a checkout is made once).
//!
//! `git` never prompts (`GIT_TERMINAL_PROMPT=0`): a daemon has no terminal. Credentials come as
//! they do for the user's own `git` (its credential helpers, `~/.ssh`), through the client's
//! environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::dist::{BuildError, GitSource};

/// Serialises work on one repository's bare clone (fetches and checkouts).
#[derive(Default)]
pub struct GitRepositories {
    locks: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl GitRepositories {
    fn lock_for(&self, repository: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(repository.to_string()).or_default().clone()
    }

    /// The commit `source`'s reference names now (fetching the repository).
    pub async fn resolve(
        &self,
        home: &Path,
        source: &GitSource,
        env: &BTreeMap<String, String>,
    ) -> Result<String, BuildError> {
        if let Some(reference) = &source.reference
            && is_full_commit(reference)
        {
            return Ok(reference.to_ascii_lowercase());
        }
        let guard = self.lock_for(&source.repository);
        let _held = guard.lock().await;
        let db = database(home, &source.repository);
        fetch(&db, &source.repository, env).await?;
        let wanted = source.reference.as_deref().unwrap_or("HEAD");
        let candidates = if wanted == "HEAD" {
            vec!["refs/remotes/origin/HEAD".to_string()]
        } else {
            vec![
                format!("refs/remotes/origin/{wanted}"),
                format!("refs/tags/{wanted}"),
                wanted.to_string(),
            ]
        };
        for candidate in candidates {
            let spec = format!("{candidate}^{{commit}}");
            if let Ok(commit) = git(Some(&db), &["rev-parse", "--verify", "--quiet", &spec], env).await {
                return Ok(commit.trim().to_string());
            }
        }
        Err(git_error(source, format!("it has no branch, tag or commit `{wanted}`")))
    }

    /// A checkout of `commit` (shared by every build of it): the repository's root.
    pub async fn checkout(
        &self,
        home: &Path,
        source: &GitSource,
        commit: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<PathBuf, BuildError> {
        let db = database(home, &source.repository);
        let root = home
            .join("git")
            .join("checkouts")
            .join(short_hash(&source.repository))
            .join(commit);
        if root.join(".git").exists() {
            return Ok(root);
        }
        let guard = self.lock_for(&source.repository);
        let _held = guard.lock().await;
        if root.join(".git").exists() {
            return Ok(root);
        }
        let has_commit = git(Some(&db), &["cat-file", "-e", &format!("{commit}^{{commit}}")], env)
            .await
            .is_ok();
        if !has_commit {
            fetch(&db, &source.repository, env).await?;
            // A commit no branch or tag reaches is fetched by name, where the server allows.
            let _ = git(Some(&db), &["fetch", "--quiet", &source.repository, commit], env).await;
        }
        let parent = root.parent().unwrap_or(home);
        std::fs::create_dir_all(parent).map_err(|error| io_error(parent, error))?;
        let staging = tempfile::Builder::new()
            .prefix(".checkout-")
            .tempdir_in(parent)
            .map_err(|error| io_error(parent, error))?;
        let target = staging.path().join("tree");
        let db_text = db.display().to_string();
        let target_text = target.display().to_string();
        git(
            None,
            &["clone", "--quiet", "--shared", "--no-checkout", &db_text, &target_text],
            env,
        )
        .await
        .map_err(|reason| git_error(source, reason))?;
        git(
            Some(&target.join(".git")),
            &["--work-tree", &target_text, "checkout", "--quiet", "--detach", commit],
            env,
        )
        .await
        .map_err(|reason| git_error(source, format!("cannot check out {commit}: {reason}")))?;
        if target.join(".gitmodules").is_file() {
            git(
                Some(&target.join(".git")),
                &[
                    "--work-tree",
                    &target_text,
                    "submodule",
                    "update",
                    "--init",
                    "--recursive",
                    "--quiet",
                ],
                env,
            )
            .await
            .map_err(|reason| git_error(source, format!("cannot check out its submodules: {reason}")))?;
        }
        std::fs::rename(&target, &root).map_err(|error| io_error(&root, error))?;
        Ok(root)
    }
}

/// The project's directory in a checkout rooted at `root`.
pub fn project_dir(source: &GitSource, root: &Path) -> PathBuf {
    match &source.subdirectory {
        Some(subdirectory) => root.join(subdirectory),
        None => root.to_path_buf(),
    }
}

/// Clones `commit` of `source` into `directory` for an editable install (pip's `<venv>/src/name`):
/// made once; afterwards the directory belongs to the user, and a different commit there is an
/// error rather than something axle overwrites.
pub async fn editable_checkout(
    repositories: &GitRepositories,
    home: &Path,
    source: &GitSource,
    commit: &str,
    directory: &Path,
    env: &BTreeMap<String, String>,
) -> Result<PathBuf, BuildError> {
    if directory.exists() {
        let head = git(Some(&directory.join(".git")), &["rev-parse", "HEAD"], env)
            .await
            .map_err(|reason| {
                git_error(
                    source,
                    format!("{} is not a git checkout: {reason}", directory.display()),
                )
            })?;
        if head.trim() != commit {
            return Err(git_error(
                source,
                format!(
                    "{} is checked out at {}, not at the locked {commit}; check it out there or remove it",
                    directory.display(),
                    head.trim()
                ),
            ));
        }
        return Ok(project_dir(source, directory));
    }
    let root = repositories.checkout(home, source, commit, env).await?;
    if let Some(parent) = directory.parent() {
        std::fs::create_dir_all(parent).map_err(|error| io_error(parent, error))?;
    }
    let root_text = root.display().to_string();
    let directory_text = directory.display().to_string();
    git(
        None,
        &["clone", "--quiet", "--no-checkout", &root_text, &directory_text],
        env,
    )
    .await
    .map_err(|reason| git_error(source, reason))?;
    git(
        Some(&directory.join(".git")),
        &[
            "--work-tree",
            &directory_text,
            "checkout",
            "--quiet",
            "--detach",
            commit,
        ],
        env,
    )
    .await
    .map_err(|reason| git_error(source, reason))?;
    git(
        Some(&directory.join(".git")),
        &["remote", "set-url", "origin", &source.repository],
        env,
    )
    .await
    .map_err(|reason| git_error(source, reason))?;
    Ok(project_dir(source, directory))
}

fn database(home: &Path, repository: &str) -> PathBuf {
    home.join("git").join("db").join(short_hash(repository))
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn is_full_commit(reference: &str) -> bool {
    reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit())
}

async fn fetch(db: &Path, repository: &str, env: &BTreeMap<String, String>) -> Result<(), BuildError> {
    let source_error = |reason: String| BuildError::Source(format!("cannot fetch {repository}: {reason}"));
    if !db.join("HEAD").exists() {
        std::fs::create_dir_all(db).map_err(|error| io_error(db, error))?;
        git(Some(db), &["init", "--quiet", "--bare"], env)
            .await
            .map_err(source_error)?;
    }
    git(
        Some(db),
        &[
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--tags",
            repository,
            "+HEAD:refs/remotes/origin/HEAD",
            "+refs/heads/*:refs/remotes/origin/*",
        ],
        env,
    )
    .await
    .map_err(source_error)?;
    Ok(())
}

/// Runs `git` (in `git_dir` when given) and returns its standard output.
async fn git(git_dir: Option<&Path>, args: &[&str], env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut command = tokio::process::Command::new("git");
    if let Some(git_dir) = git_dir {
        command.arg("--git-dir").arg(git_dir);
    }
    command
        .args(args)
        .env_clear()
        .envs(env.iter().filter(|(key, _)| !key.starts_with("GIT_")))
        .env("GIT_TERMINAL_PROMPT", "0")
        // `ext::` and other command-running transports stay off whatever the URL says.
        .env("GIT_ALLOW_PROTOCOL", "https:http:ssh:git:file")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = command
        .output()
        .await
        .map_err(|error| format!("cannot run git ({error}); is git installed?"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("git {} failed: {}", args.first().unwrap_or(&""), stderr.trim()))
    }
}

fn git_error(source: &GitSource, reason: String) -> BuildError {
    BuildError::Source(format!("git repository {}: {reason}", source.repository))
}

fn io_error(path: &Path, error: std::io::Error) -> BuildError {
    BuildError::Source(format!("cannot write {}: {error}", path.display()))
}
