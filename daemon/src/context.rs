//! What a request knows about the client that sent it.
//!
//! The daemon outlives every shell that talks to it, so it never reads its
//! own working directory or environment for a request: paths are resolved
//! against [`Invocation::cwd`] and settings come from [`Invocation::env`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The client's working directory; always absolute.
    pub cwd: PathBuf,
    /// The forwarded environment (see `axle_proto::env_vars::FORWARDED`).
    pub env: BTreeMap<String, String>,
    /// The client's command line, for lock file headers.
    pub argv: Vec<String>,
}

impl Invocation {
    /// A non-empty environment variable of the client.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    /// `path` made absolute against the client's working directory.
    pub fn absolute(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() {
            normalize(path)
        } else {
            normalize(&self.cwd.join(path))
        }
    }

    /// The client's `PATH`, split.
    pub fn search_path(&self) -> Vec<PathBuf> {
        self.var("PATH")
            .map(|path| std::env::split_paths(path).map(|dir| self.absolute(dir)).collect())
            .unwrap_or_default()
    }

    pub fn user_home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
}

/// Removes `.` and resolves `..` lexically, without touching the disk, so a
/// path names what the user typed even when a component is a symlink.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_anchored_at_the_client_cwd() {
        let invocation = Invocation {
            cwd: PathBuf::from("/home/u/project"),
            ..Invocation::default()
        };
        let cases = [
            (".venv", "/home/u/project/.venv"),
            ("./a/../b", "/home/u/project/b"),
            ("../other/.venv", "/home/u/other/.venv"),
            ("/abs/./x", "/abs/x"),
        ];
        for (input, expected) in cases {
            assert_eq!(invocation.absolute(input), PathBuf::from(expected), "{input}");
        }
    }
}
