//! The frontend against real archives and a real interpreter: sdists made by the test
//! harness, hooks of the harness's in-tree backend run by the machine's Python.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axle_build_frontend::{BuildKind, ConfigSettings, HookRunner, SourceTree, UnpackLimits, unpack};
use axle_e2e::sdist::{ProjectBuilder, raw_tar_gz};

fn runner(dir: &Path, timeout: Duration) -> HookRunner {
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    HookRunner {
        python: axle_e2e::real_python(),
        env: vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())],
        log: dir.join("build.log"),
        timeout,
        scratch,
        cancel: Default::default(),
    }
}

fn unpacked(project: &ProjectBuilder, dir: &Path) -> PathBuf {
    let archive = project.sdist().write_to(dir);
    unpack(&archive, &dir.join("src"), UnpackLimits::default()).unwrap()
}

#[test]
fn unpacks_tar_gz_and_zip_sdists_to_their_top_directory() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("demo-pkg", "1.0");
    for (index, sdist) in [project.sdist(), project.sdist_zip()].iter().enumerate() {
        let archive = sdist.write_to(dir.path());
        let root = unpack(
            &archive,
            &dir.path().join(format!("out{index}")),
            UnpackLimits::default(),
        )
        .unwrap();
        assert!(root.ends_with("demo_pkg-1.0"), "{}", root.display());
        assert!(root.join("pyproject.toml").is_file());
        assert!(root.join("demo_pkg/__init__.py").is_file());
    }
}

#[test]
fn hostile_sdists_are_refused_and_write_nothing_outside() {
    use tar::EntryType::{Block, Fifo, Link, Regular, Symlink};
    type Entries<'a> = Vec<(&'a str, tar::EntryType, &'a str, &'a [u8])>;
    let cases: [(&str, Entries<'_>, &str); 7] = [
        (
            "absolute",
            vec![("/tmp/axle-escape", Regular, "", b"x")],
            "absolute path",
        ),
        (
            "parent",
            vec![("p-1/../../escape", Regular, "", b"x")],
            "`..` component",
        ),
        (
            "symlink out",
            vec![("p-1/out", Symlink, "../../..", b"")],
            "outside the archive",
        ),
        (
            "absolute link",
            vec![("p-1/out", Symlink, "/etc", b"")],
            "absolute path",
        ),
        (
            "write through link",
            vec![("p-1/d", Symlink, ".", b""), ("p-1/d/x", Regular, "", b"x")],
            "through a link",
        ),
        ("hard link out", vec![("p-1/h", Link, "/etc/passwd", b"")], "hard link"),
        (
            "device",
            vec![("p-1/dev", Block, "", b""), ("p-1/fifo", Fifo, "", b"")],
            "device file",
        ),
    ];
    for (what, entries, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("p-1.tar.gz");
        std::fs::write(&archive, raw_tar_gz(&entries)).unwrap();
        let target = dir.path().join("out");
        let error = unpack(&archive, &target, UnpackLimits::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{what}: {error}");
        // Nothing exists outside the target but the archive.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["out", "p-1.tar.gz"], "{what}");
    }
    assert!(!Path::new("/tmp/axle-escape").exists());
}

#[test]
fn sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("big", "1.0").file("big/data.bin", vec![0u8; 100_000]);
    let archive = project.sdist().write_to(dir.path());
    let limits = UnpackLimits {
        max_total_size: 50_000,
        ..UnpackLimits::default()
    };
    let error = unpack(&archive, &dir.path().join("out"), limits)
        .unwrap_err()
        .to_string();
    assert!(error.contains("more than 50000 bytes"), "{error}");
}

#[test]
fn hooks_answer_requirements_metadata_and_wheels() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("app", "2.0")
        .requires("dep>=1")
        .extra("cli", &["click"])
        .build_requires("helper");
    let root = unpacked(&project, dir.path());
    let tree = SourceTree::read(&root).unwrap();
    let runner = runner(dir.path(), Duration::from_secs(60));
    let config = ConfigSettings::new();

    assert_eq!(
        runner.get_requires(&tree, BuildKind::Wheel, &config).unwrap(),
        ["helper"]
    );
    let metadata_dir = dir.path().join("metadata");
    std::fs::create_dir_all(&metadata_dir).unwrap();
    let dist_info = runner
        .prepare_metadata(&tree, BuildKind::Wheel, &metadata_dir, &config)
        .unwrap()
        .unwrap();
    let metadata = std::fs::read_to_string(dist_info.join("METADATA")).unwrap();
    assert!(metadata.contains("Requires-Dist: dep>=1"), "{metadata}");

    let wheels = dir.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let wheel = runner.build(&tree, BuildKind::Wheel, &wheels, None, &config).unwrap();
    assert_eq!(wheel.file_name().unwrap(), "app-2.0-py3-none-any.whl");
    let editable = runner
        .build(&tree, BuildKind::Editable, &wheels, None, &config)
        .unwrap();
    assert!(editable.is_file());
}

#[test]
fn a_backend_without_prepare_metadata_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("plain", "1.0").setting("no_prepare", true.into());
    let root = unpacked(&project, dir.path());
    let tree = SourceTree::read(&root).unwrap();
    let runner = runner(dir.path(), Duration::from_secs(60));
    let answer = runner
        .prepare_metadata(&tree, BuildKind::Wheel, dir.path(), &ConfigSettings::new())
        .unwrap();
    assert!(answer.is_none());
}

#[test]
fn failures_name_the_hook_show_the_output_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("broken", "1.0").setting("fail", "build_wheel".into());
    let root = unpacked(&project, dir.path());
    let tree = SourceTree::read(&root).unwrap();
    let runner = runner(dir.path(), Duration::from_secs(60));
    let error = runner
        .build(&tree, BuildKind::Wheel, dir.path(), None, &ConfigSettings::new())
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(error.hook, "build_wheel");
    assert!(text.contains("`build_wheel` hook failed"), "{text}");
    assert!(text.contains("failing on purpose"), "{text}");
    assert!(
        text.contains(&dir.path().join("build.log").display().to_string()),
        "{text}"
    );
}

#[test]
fn a_hanging_hook_is_stopped_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("slow", "1.0").setting("hang", "get_requires_for_build_wheel".into());
    let root = unpacked(&project, dir.path());
    let tree = SourceTree::read(&root).unwrap();
    let runner = runner(dir.path(), Duration::from_secs(2));
    let started = Instant::now();
    let error = runner
        .get_requires(&tree, BuildKind::Wheel, &ConfigSettings::new())
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(error.to_string().contains("did not finish within 2 seconds"), "{error}");
}

#[test]
fn a_missing_backend_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let project = ProjectBuilder::new("nobackend", "1.0")
        .pyproject("[build-system]\nrequires = []\nbuild-backend = \"no_such_backend_module\"\n");
    let root = unpacked(&project, dir.path());
    let tree = SourceTree::read(&root).unwrap();
    let runner = runner(dir.path(), Duration::from_secs(60));
    let error = runner
        .get_requires(&tree, BuildKind::Wheel, &ConfigSettings::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("`no_such_backend_module` cannot be imported"), "{error}");
}
