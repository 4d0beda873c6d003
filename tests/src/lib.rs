//! The end-to-end test harness: an isolated `AXLE_HOME` per test, the real
//! `axle` and `axled` binaries, and (in `index`) local package indexes.
//!
//! Every variable axle reads is set or cleared here, so a developer's shell
//! (`PIP_FIND_LINKS`, `XDG_RUNTIME_DIR`, ...) never leaks into a test.
#![allow(clippy::unwrap_used)]

pub mod images;
pub mod index;
pub mod s3;
pub mod sdist;
pub mod wheel;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Variables that would change axle's behaviour if inherited.
const CLEARED: &[&str] = &[
    "AXLE_HOME",
    "AXLE_IDLE_TIMEOUT",
    "AXLE_DAEMON_BIN",
    "AXLE_LOG",
    "RUST_LOG",
    "AXLE_HTTP2",
    "AXLE_WATCH_LIMIT",
    "AXLE_STORE_MAX_SIZE",
    "AXLE_NO_DAEMON",
    "AXLE_HTTP_TIMEOUT",
    "AXLE_BUILD_TIMEOUT",
    "AXLE_MAX_WHEEL_SIZE",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "VIRTUAL_ENV",
    "PYENV_VERSION",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_PRE",
    "PIP_CONFIG_FILE",
    "PIP_CERT",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_CONSTRAINT",
    "PIP_ONLY_BINARY",
    "PIP_NO_BINARY",
    "PIP_NO_BUILD_ISOLATION",
    "NETRC",
    "CUSTOM_COMPILE_COMMAND",
    "NO_COLOR",
    "PYTHONPATH",
    "PYTHONHOME",
];

/// Directory holding the built `axle` and `axled`.
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/<profile>/deps/<test-binary>
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        for name in ["axle", "axled"] {
            assert!(
                dir.join(name).is_file(),
                "{} is missing: run the tests with `cargo test --workspace`, which builds it",
                dir.join(name).display()
            );
            refuse_stale(&dir.join(name));
        }
        dir
    })
    .clone()
}

/// A test that cannot run here says so where a reader sees it — on the terminal, past libtest's
/// capture of `eprintln!`, which would hide it in a passing test — and fails instead when
/// `promise` (a variable `.ci/run` sets where it provides what the test needs) is set.
pub fn cannot_run(test: &str, why: &str, promise: &str) {
    if std::env::var_os(promise).is_some_and(|value| !value.is_empty()) {
        panic!("{test} cannot run: {why} ({promise} is set)");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Fails when `binary` is older than a source file it is built from: `cargo test -p axle-e2e`
/// alone does not rebuild the binaries, and a test of a stale build proves nothing about the
/// tree under test.
fn refuse_stale(binary: &Path) {
    let built = std::fs::metadata(binary).and_then(|meta| meta.modified()).unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let roots = [
        "proto/src",
        "proto/axle",
        "daemon/src",
        "daemon/build-frontend/src",
        "daemon/install/src",
        "daemon/standards/src",
        "client/src",
        "migrations",
    ];
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut stack: Vec<PathBuf> = roots.iter().map(|root| workspace.join(root)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| ["rs", "proto", "sql", "py"].iter().any(|known| extension == *known))
                && let Ok(modified) = meta.modified()
                && newest.as_ref().is_none_or(|(time, _)| modified > *time)
            {
                newest = Some((modified, path));
            }
        }
    }
    if let Some((modified, source)) = newest {
        // A little slack for filesystems with coarse timestamps.
        let slack = Duration::from_secs(2);
        assert!(
            modified <= built + slack,
            "{} is older than {}: the end-to-end tests would test a stale build; run `cargo build --workspace` (or `cargo test --workspace`) first",
            binary.display(),
            source.display()
        );
    }
}

/// The real interpreter the tests use (the base of whatever `python3` is).
pub fn real_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let output = Command::new("python3")
                .args([
                    "-c",
                    "import sys; print(getattr(sys, '_base_executable', sys.executable))",
                ])
                .output()
                .expect("python3 must be on PATH for the end-to-end tests");
            PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
        })
        .clone()
}

/// `(major, minor)` of [`real_python`].
pub fn real_python_version() -> (u32, u32) {
    let output = Command::new(real_python())
        .args(["-c", "import sys; print(sys.version_info[0], sys.version_info[1])"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let mut parts = text.split_whitespace().map(|part| part.parse().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// One isolated axle world: its own `AXLE_HOME`, project directory, and a
/// `PATH` whose only python is [`real_python`].
pub struct TestContext {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    pub project: PathBuf,
    /// A directory on PATH with `python3` and `python` links.
    pub python_bin: PathBuf,
    pub env: BTreeMap<String, String>,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> TestContext {
        let root = tempfile::Builder::new().prefix("axle-e2e").tempdir().unwrap();
        let home = root.path().join("home");
        let project = root.path().join("project");
        let python_bin = root.path().join("python-bin");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&python_bin).unwrap();
        for name in ["python3", "python"] {
            std::os::unix::fs::symlink(real_python(), python_bin.join(name)).unwrap();
        }
        let mut env = BTreeMap::new();
        env.insert("AXLE_HOME".to_string(), home.display().to_string());
        // A backstop: daemons of finished tests go away by themselves.
        env.insert("AXLE_IDLE_TIMEOUT".to_string(), "120".to_string());
        env.insert("PATH".to_string(), format!("{}:/usr/bin:/bin", python_bin.display()));
        env.insert("HOME".to_string(), root.path().join("user-home").display().to_string());
        // Never the real index by accident: a dead local one unless a test
        // serves its own, and no pip configuration of the machine's user.
        env.insert("PIP_INDEX_URL".to_string(), "http://127.0.0.1:9/simple/".to_string());
        env.insert("PIP_CONFIG_FILE".to_string(), "/dev/null".to_string());
        env.insert(
            "XDG_CONFIG_DIRS".to_string(),
            root.path().join("xdg").display().to_string(),
        );
        env.insert("AXLE_HTTP_TIMEOUT".to_string(), "10".to_string());
        TestContext {
            root,
            home,
            project,
            python_bin,
            env,
        }
    }

    /// An `axle` command in the project directory with this context's environment.
    pub fn axle(&self) -> Command {
        self.command(bin_dir().join("axle"))
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        // Every variable a request forwards too, so that one added later cannot leak in from
        // the machine (these machines set `PIP_*` and may set `AWS_*`).
        for name in CLEARED.iter().chain(axle_proto::env_vars::FORWARDED) {
            command.env_remove(name);
        }
        command.envs(&self.env).current_dir(&self.project);
        command
    }

    /// Runs `axle args…`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.axle().args(args).output().unwrap();
        assert_success(&output, &format!("axle {}", args.join(" ")));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs `axle args…`, asserting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.axle().args(args).output().unwrap();
        assert!(
            !output.status.success(),
            "axle {} should have failed; stdout:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// Starts `axle args…` in the background with its output discarded, for what a test does
    /// while it runs.
    pub fn spawn_quiet(&self, args: &[&str]) -> std::process::Child {
        self.axle()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `axle --json daemon status` as JSON (`running: false` when none).
    pub fn status(&self) -> serde_json::Value {
        let output = self.axle().args(["--json", "daemon", "status"]).output().unwrap();
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        let status = self.status();
        status["pid"].as_u64().map(|pid| pid as u32)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.home.join("logs").join("axled.log")).unwrap_or_default()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.project.join(relative)
    }

    /// Writes a file in the project directory.
    pub fn write(&self, relative: &str, content: &str) -> PathBuf {
        let path = self.project.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.project.join(relative)).unwrap()
    }

    /// Points this context at `index` through `PIP_INDEX_URL`.
    pub fn use_index(&mut self, index: &index::TestIndex) {
        self.env.insert("PIP_INDEX_URL".to_string(), index.url());
    }

    /// Runs `axle --json args…` and parses its document, whatever the exit code.
    pub fn json(&self, args: &[&str]) -> (bool, serde_json::Value) {
        let output = self.axle().arg("--json").args(args).output().unwrap();
        let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "axle --json {} printed no JSON ({error}):\n{}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.success(), document)
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        // Stop this test's daemon; a leftover would hold its temp dir open.
        if let Ok(text) = std::fs::read_to_string(self.home.join("daemon.json"))
            && let Ok(info) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(pid) = info["pid"].as_u64()
        {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            wait_for_exit(pid as u32, Duration::from_secs(10));
        }
    }
}

pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn process_alive(pid: u32) -> bool {
    // Zombies count as gone: /proc/<pid>/stat state Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while process_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Runs a Python one-liner with [`real_python`] and returns its stdout.
pub fn python(code: &str, args: &[&str]) -> String {
    let output = Command::new(real_python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert_success(&output, "python");
    String::from_utf8(output.stdout).unwrap()
}

/// `PRAGMA integrity_check` of a SQLite file, through Python's sqlite3.
pub fn sqlite_integrity(db: &Path) -> String {
    python(
        "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])",
        &[&db.display().to_string()],
    )
    .trim()
    .to_string()
}

/// Every path under `root`, relative and sorted (what "nothing changed"
/// compares).
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every regular file under `root`.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap()
}

/// Unmounts a test's filesystem when dropped.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
