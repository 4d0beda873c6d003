//! Shared fixtures: a store and environments in a temporary directory, the fixture wheels, a
//! listing of a directory tree for comparisons and snapshots, and byte surgery on zip headers
//! for the archives no honest writer produces.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use axle_e2e::wheel::{BuiltWheel, WheelBuilder};
use axle_install::{InstallOptions, InstalledDist, Layout, Manifest, ObjectStore, install};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: ObjectStore,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path().join("store")).unwrap();
        Env { dir, store }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the wheel under `wheels/` and returns its path.
    pub fn write(&self, wheel: &BuiltWheel) -> PathBuf {
        let wheels = self.path().join("wheels");
        fs::create_dir_all(&wheels).unwrap();
        wheel.write_to(&wheels)
    }

    /// Writes raw bytes as a wheel file called `filename`.
    pub fn write_raw(&self, filename: &str, bytes: &[u8]) -> PathBuf {
        let wheels = self.path().join("wheels");
        fs::create_dir_all(&wheels).unwrap();
        let path = wheels.join(filename);
        fs::write(&path, bytes).unwrap();
        path
    }

    pub fn unpack(&self, wheel: &BuiltWheel) -> Manifest {
        let path = self.write(wheel);
        self.store.unpack(&path, &wheel.sha256).unwrap()
    }

    /// An empty environment laid out as `python -m venv` lays one out (without an interpreter).
    pub fn venv(&self, name: &str) -> (PathBuf, Layout) {
        let root = self.path().join(name);
        for dir in ["bin", "include", "lib/python3.11/site-packages"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let layout = Layout::for_venv(&root, (3, 11)).unwrap();
        (root, layout)
    }

    pub fn install(&self, manifest: &Manifest, layout: &Layout) -> InstalledDist {
        install(manifest, &self.store, layout, &InstallOptions::default()).unwrap()
    }

    /// Nothing staged is left in the store.
    pub fn assert_no_temp_files(&self) {
        let left: Vec<_> = fs::read_dir(self.store.root().join("tmp"))
            .unwrap()
            .map(|item| item.unwrap().path())
            .collect();
        assert!(left.is_empty(), "left in the store's tmp: {left:?}");
    }
}

/// The project the install tests revolve around: every `.data` scheme, a `#!python` script, a
/// plain shell script, console and GUI entry points.
pub fn demo_wheel(version: &str) -> BuiltWheel {
    demo_builder(version).build()
}

pub fn demo_builder(version: &str) -> WheelBuilder {
    let data = format!("demo_pkg-{version}.data");
    WheelBuilder::new("demo-pkg", version)
        .file(
            "demo_pkg/cli.py",
            "import sys\n\ndef main():\n    print('demo cli', sys.argv[1:])\n    return 0\n",
        )
        .file(
            &format!("{data}/scripts/tool"),
            "#!python\nimport demo_pkg\nprint('tool', demo_pkg.__version__)\n",
        )
        .file(&format!("{data}/scripts/sh-tool"), "#!/bin/sh\necho sh-tool\n")
        .file(&format!("{data}/headers/demo.h"), "int demo;\n")
        .file(&format!("{data}/data/share/demo/readme.txt"), "data\n")
        .file(&format!("{data}/purelib/demo_extra.py"), "EXTRA = 1\n")
        .file(&format!("{data}/platlib/demo_plat.py"), "PLAT = 2\n")
        .entry_point("console_scripts", "demo", "demo_pkg.cli:main")
        .entry_point("gui_scripts", "demo-gui", "demo_pkg.cli:main")
}

/// Every file, directory and symlink under `root`, one per line, relative, with Unix modes:
/// what the tree comparisons and snapshots look at.
pub fn tree(root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                lines.push(format!("{relative} -> {}", fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                lines.push(format!("{relative}/"));
                stack.push(path);
            } else {
                lines.push(format!("{relative} {mode:o} {}", meta.len()));
            }
        }
    }
    lines.sort();
    lines
}

pub fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).unwrap().ino()
}

/// Replaces every `from` by `to` (same length) in the archive bytes: renames an entry in both of
/// its headers, or, with `first_only`, in its local header alone.
pub fn rename_entry(bytes: &mut [u8], from: &str, to: &str, first_only: bool) {
    assert_eq!(from.len(), to.len());
    let mut at = 0;
    let mut count = 0;
    while let Some(found) = find(&bytes[at..], from.as_bytes()) {
        let start = at + found;
        bytes[start..start + to.len()].copy_from_slice(to.as_bytes());
        count += 1;
        at = start + to.len();
        if first_only {
            break;
        }
    }
    assert!(count > 0, "`{from}` not in the archive");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Offsets of the local and central headers of entry `name`.
pub fn headers(bytes: &[u8], name: &str) -> (usize, usize) {
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let mut local = None;
    let mut central = None;
    for at in 0..bytes.len().saturating_sub(46) {
        if bytes[at..at + 4] == [0x50, 0x4b, 0x03, 0x04] && local.is_none() {
            let length = u16_at(at + 26);
            if bytes.get(at + 30..at + 30 + length) == Some(name.as_bytes()) {
                local = Some(at);
            }
        }
        if bytes[at..at + 4] == [0x50, 0x4b, 0x01, 0x02] {
            let length = u16_at(at + 28);
            if bytes.get(at + 46..at + 46 + length) == Some(name.as_bytes()) {
                central = Some(at);
            }
        }
    }
    (local.unwrap(), central.unwrap())
}

/// Sets a 32-bit field of entry `name` in both headers: `local_offset` in the local header, the
/// same field is 2 bytes further in the central one (CRC 14/16, sizes 18/20 and 22/24).
pub fn set_field(bytes: &mut [u8], name: &str, local_offset: usize, value: u32) {
    let (local, central) = headers(bytes, name);
    bytes[local + local_offset..local + local_offset + 4].copy_from_slice(&value.to_le_bytes());
    bytes[central + local_offset + 2..central + local_offset + 6].copy_from_slice(&value.to_le_bytes());
}

pub const CRC: usize = 14;
pub const UNCOMPRESSED_SIZE: usize = 22;

/// A `python3` to build real environments with, or `None` (and a note) when there is none.
pub fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .args(["-c", "import venv"])
        .output()
        .is_ok_and(|output| output.status.success());
    if ok {
        Some(PathBuf::from("python3"))
    } else {
        eprintln!("no python3 with venv here: skipping the tests that run Python");
        None
    }
}

/// A real virtual environment at `root` (with pip only if asked), and its layout; `None` if
/// it cannot be made (no `ensurepip`, for one).
pub fn real_venv(python: &Path, root: &Path, with_pip: bool) -> Option<Layout> {
    let mut command = Command::new(python);
    command.args(["-m", "venv"]);
    if !with_pip {
        command.arg("--without-pip");
    }
    let output = command.arg(root).output().unwrap();
    if !output.status.success() {
        eprintln!(
            "cannot make a virtual environment: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let output = Command::new(root.join("bin/python"))
        .args(["-c", "import sys; print(sys.version_info[0], sys.version_info[1])"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let mut parts = text.split_whitespace().map(|part| part.parse::<u32>().unwrap());
    let version = (parts.next().unwrap(), parts.next().unwrap());
    Some(Layout::for_venv(root, version).unwrap())
}

/// Runs a program and returns its standard output, failing the test on a non-zero exit.
pub fn run(program: &Path, args: &[&str]) -> String {
    // Bytecode is written as for any user, so uninstall meets it.
    let output = Command::new(program)
        .args(args)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
