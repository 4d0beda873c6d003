//! Where a daemon keeps its state and where its socket lives.
//!
//! Both sides compute the same answer from `AXLE_HOME`, `XDG_CACHE_HOME`,
//! `XDG_RUNTIME_DIR` and `HOME`:
//!
//! ```text
//! $AXLE_HOME                      (default $XDG_CACHE_HOME/axle, ~/.cache/axle)
//! ├── axle.db                     SQLite state (WAL)
//! ├── daemon.lock                 held (flock) by the one live daemon
//! ├── spawn.lock                  held by a client while it starts a daemon
//! ├── daemon.json                 pid and socket of the live daemon
//! ├── logs/axled.log              the daemon's tracing log
//! └── run/axled.sock              socket, when there is no XDG_RUNTIME_DIR
//! $XDG_RUNTIME_DIR/axle/<hash>.sock   socket, keyed by the AXLE_HOME it serves
//! ```
//!
//! Socket directories are created 0700 and must be owned by the user: a
//! directory that others can enter is refused rather than used.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Longest socket path we create; `sun_path` holds 108 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;

/// The variables that decide where things live, read once by the caller.
#[derive(Debug, Clone, Default)]
pub struct LocationEnv {
    pub axle_home: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl LocationEnv {
    pub fn from_process() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        LocationEnv {
            axle_home: var("AXLE_HOME"),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            home: var("HOME"),
        }
    }
}

/// The resolved locations of one daemon's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub home: PathBuf,
    pub socket: PathBuf,
}

impl Location {
    /// Resolves the locations; `cwd` anchors a relative `AXLE_HOME`.
    pub fn resolve(env: &LocationEnv, cwd: &Path) -> io::Result<Location> {
        let home = match (&env.axle_home, &env.xdg_cache_home, &env.home) {
            (Some(home), _, _) => cwd.join(home),
            (None, Some(cache), _) => cwd.join(cache).join("axle"),
            (None, None, Some(user_home)) => user_home.join(".cache").join("axle"),
            (None, None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "cannot tell where axle keeps its files: set AXLE_HOME or HOME",
                ));
            }
        };
        let socket = socket_path(&home, env.xdg_runtime_dir.as_deref());
        Ok(Location { home, socket })
    }

    pub fn database(&self) -> PathBuf {
        self.home.join("axle.db")
    }

    pub fn daemon_lock(&self) -> PathBuf {
        self.home.join("daemon.lock")
    }

    pub fn spawn_lock(&self) -> PathBuf {
        self.home.join("spawn.lock")
    }

    pub fn daemon_info(&self) -> PathBuf {
        self.home.join("daemon.json")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.home.join("logs")
    }

    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("axled.log")
    }
}

fn socket_path(home: &Path, runtime_dir: Option<&Path>) -> PathBuf {
    let key = &hex::encode(Sha256::digest(home.as_os_str().as_encoded_bytes()))[..16];
    if let Some(runtime) = runtime_dir {
        let candidate = runtime.join("axle").join(format!("{key}.sock"));
        if candidate.as_os_str().len() <= MAX_SOCKET_PATH {
            return candidate;
        }
    }
    let candidate = home.join("run").join("axled.sock");
    if candidate.as_os_str().len() <= MAX_SOCKET_PATH {
        return candidate;
    }
    let uid = rustix::process::getuid().as_raw();
    std::env::temp_dir()
        .join(format!("axle-{uid}"))
        .join(format!("{key}.sock"))
}

/// Creates `dir` (and parents) with mode 0700, or checks that an existing one
/// is owned by us and closed to everyone else.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    let meta = fs::symlink_metadata(dir)?;
    let uid = rustix::process::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory owned by the current user; refusing to put axle's socket there",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        // Ours, but too open (made by an older umask): close it rather than
        // expose the socket.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: Option<&str>, cache: Option<&str>, runtime: Option<&str>) -> LocationEnv {
        LocationEnv {
            axle_home: home.map(PathBuf::from),
            xdg_cache_home: cache.map(PathBuf::from),
            xdg_runtime_dir: runtime.map(PathBuf::from),
            home: Some(PathBuf::from("/home/u")),
        }
    }

    #[test]
    fn home_precedence() {
        let cwd = Path::new("/work");
        let cases = [
            (env(Some("/h"), Some("/c"), None), "/h"),
            (env(Some("rel"), None, None), "/work/rel"),
            (env(None, Some("/c"), None), "/c/axle"),
            (env(None, None, None), "/home/u/.cache/axle"),
        ];
        for (input, expected) in cases {
            let location = Location::resolve(&input, cwd).unwrap();
            assert_eq!(location.home, PathBuf::from(expected), "{input:?}");
        }
    }

    #[test]
    fn socket_prefers_runtime_dir_and_is_keyed_by_home() {
        let a = Location::resolve(&env(Some("/a"), None, Some("/run/user/1")), Path::new("/")).unwrap();
        let b = Location::resolve(&env(Some("/b"), None, Some("/run/user/1")), Path::new("/")).unwrap();
        assert!(a.socket.starts_with("/run/user/1/axle"));
        assert_ne!(a.socket, b.socket);
        let c = Location::resolve(&env(Some("/a"), None, None), Path::new("/")).unwrap();
        assert_eq!(c.socket, PathBuf::from("/a/run/axled.sock"));
    }

    #[test]
    fn long_homes_fall_back_to_a_short_socket_path() {
        let long = format!("/{}", "x".repeat(150));
        let location = Location::resolve(&env(Some(&long), None, None), Path::new("/")).unwrap();
        assert!(location.socket.as_os_str().len() <= MAX_SOCKET_PATH);
    }
}
