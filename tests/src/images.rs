//! Real parts for `axle image`'s tests, from Debian's packages: a base image made once per
//! test run (`mmdebstrap` — a Debian with `python3-minimal`, from the machine's own apt
//! sources — turned into an OCI layout by `umoci`), a registry (`docker-registry serve` on
//! 127.0.0.1, killed by pid when dropped), and `umoci` / `skopeo` to look at what was built.
//!
//! Without the tools the tests say SKIPPED; `.ci/run` installs them and sets
//! `AXLE_REQUIRE_IMAGES`, which makes a missing tool a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PROMISE: &str = "AXLE_REQUIRE_IMAGES";

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// Whether `tools` are all here; says SKIPPED (or fails where promised) when not.
pub fn tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|tool| !on_path(tool)).collect();
    if missing.is_empty() {
        return true;
    }
    crate::cannot_run(
        test,
        &format!(
            "{} not installed (apt-get install mmdebstrap umoci skopeo docker-registry)",
            missing.join(", ")
        ),
        PROMISE,
    );
    false
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where images made for tests are kept between runs (beside the build's own output).
fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target")
        .join("axle-e2e-images")
}

/// The machine's apt sources, for mmdebstrap to read on stdin (the tests name no mirror).
fn apt_sources() -> Vec<u8> {
    let mut sources = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "sources"))
            .collect();
        files.sort();
        for file in files {
            sources.extend(std::fs::read(file).unwrap_or_default());
            sources.extend(b"\n");
        }
    }
    if sources.is_empty() {
        sources = std::fs::read("/etc/apt/sources.list").unwrap_or_default();
    }
    sources
}

/// An OCI layout (`DIR:base`) of Debian bookworm with `python3-minimal`: made once (about a
/// minute), then kept under `target/`. `None` (said) without root or the tools.
pub fn debian_base(test: &str) -> Option<PathBuf> {
    if !tools(test, &["mmdebstrap", "umoci"]) {
        return None;
    }
    if !is_root() {
        crate::cannot_run(
            test,
            "making a Debian root filesystem needs root",
            "AXLE_REQUIRE_ROOT_TESTS",
        );
        return None;
    }
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    Some(
        BASE.get_or_init(|| {
            let cache = cache_dir();
            let layout = cache.join("debian-python");
            if layout.join("index.json").is_file() {
                return layout;
            }
            std::fs::create_dir_all(&cache).unwrap();
            let rootfs = cache.join("rootfs.tar");
            let mut mmdebstrap = Command::new("mmdebstrap")
                .args([
                    "--variant=essential",
                    "--include=python3-minimal,ca-certificates",
                    "bookworm",
                ])
                .arg(&rootfs)
                .arg("-")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            {
                use std::io::Write;
                let mut stdin = mmdebstrap.stdin.take().unwrap();
                stdin.write_all(&apt_sources()).unwrap();
            }
            let output = mmdebstrap.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "mmdebstrap: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let partial = cache.join("debian-python.partial");
            let _ = std::fs::remove_dir_all(&partial);
            let image = format!("{}:base", partial.display());
            run(Command::new("umoci").args(["init", "--layout"]).arg(&partial));
            run(Command::new("umoci").args(["new", "--image", &image]));
            run(Command::new("umoci")
                .args(["raw", "add-layer", "--image", &image])
                .arg(&rootfs));
            run(Command::new("umoci").args([
                "config",
                "--image",
                &image,
                "--config.env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--config.cmd",
                "/usr/bin/python3",
                "--created",
                "2024-01-01T00:00:00Z",
                "--history.created",
                "2024-01-01T00:00:00Z",
            ]));
            run(Command::new("umoci").args(["gc", "--layout"]).arg(&partial));
            let _ = std::fs::remove_file(&rootfs);
            std::fs::rename(&partial, &layout).unwrap();
            layout
        })
        .clone(),
    )
}

/// Unpacks the image `DIR:TAG` (`umoci unpack`, as root) and returns its root filesystem.
pub fn unpack(image: &str, into: &Path) -> PathBuf {
    run(Command::new("umoci").args(["unpack", "--image", image]).arg(into));
    into.join("rootfs")
}

/// A registry (`docker-registry serve`) on 127.0.0.1, storing in a temporary directory.
pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: axle-test-registry\nhealth:\n  storagedriver:\n    enabled: false\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, port, _dir: dir }
    }

    /// `docker://127.0.0.1:PORT/name`.
    pub fn reference(&self, name: &str) -> String {
        format!("docker://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `skopeo ARGS` prints, asserting it succeeds.
pub fn skopeo(args: &[&str]) -> String {
    let output = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
