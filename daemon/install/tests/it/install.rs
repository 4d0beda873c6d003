//! Installing into environments: the tree and RECORD pip would write, link modes, inode sharing,
//! reinstalls, and manifests that must be refused before anything is written.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use axle_e2e::wheel::WheelBuilder;
use axle_install::{EntryPoint, InstallError, InstallOptions, LinkMode, Manifest, cleanup_partial, install};

use crate::common::{Env, demo_wheel, inode, tree};

#[test]
fn installs_every_scheme_with_pip_shaped_metadata() {
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (root, mut layout) = env.venv("venv");
    // A fixed interpreter path keeps launchers (and so their sizes and hashes) independent of
    // where the temporary directory is.
    layout.python = "/venv/bin/python".into();
    let options = InstallOptions {
        requested: true,
        direct_url: Some(r#"{"url": "file:///wheels/demo_pkg-1.0-py3-none-any.whl", "archive_info": {}}"#.to_string()),
        ..InstallOptions::default()
    };
    let installed = install(&manifest, &env.store, &layout, &options).unwrap();
    let site = layout.purelib.clone();
    assert_eq!(installed.dist_info_path, site.join("demo_pkg-1.0.dist-info"));
    assert_eq!(installed.name.to_string(), "demo-pkg");
    assert_eq!(installed.link_fallback, None);
    assert!(installed.bytes_linked > 0);
    for file in &installed.files {
        assert!(
            fs::symlink_metadata(file).is_ok(),
            "{} listed but missing",
            file.display()
        );
    }

    insta::assert_snapshot!("venv_tree", tree(&root).join("\n"));
    let record = fs::read_to_string(installed.dist_info_path.join("RECORD")).unwrap();
    assert!(record.ends_with("\r\n"), "RECORD lines end in CRLF, as pip writes them");
    insta::assert_snapshot!("record", record.replace("\r\n", "\n"));
    let launcher = fs::read_to_string(root.join("bin/demo")).unwrap();
    insta::assert_snapshot!("launcher", launcher);
    let tool = fs::read_to_string(root.join("bin/tool")).unwrap();
    assert_eq!(
        tool,
        "#!/venv/bin/python\nimport demo_pkg\nprint('tool', demo_pkg.__version__)\n"
    );
    assert_eq!(
        fs::read_to_string(installed.dist_info_path.join("INSTALLER")).unwrap(),
        "axle\n"
    );
    assert_eq!(fs::read(installed.dist_info_path.join("REQUESTED")).unwrap(), b"");
    assert!(
        fs::read_to_string(installed.dist_info_path.join("direct_url.json"))
            .unwrap()
            .contains("file:///wheels/")
    );
    let mode = fs::metadata(&installed.dist_info_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the staged .dist-info is made readable by all");
    // No temporary names left anywhere in the environment.
    assert!(
        tree(&root).iter().all(|line| !line.contains(".axle-tmp-")),
        "{:#?}",
        tree(&root)
    );
}

#[test]
fn two_environments_share_the_store_inodes_and_copies_do_not() {
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (_, one) = env.venv("one");
    let (_, two) = env.venv("two");
    let (_, copied) = env.venv("copied");
    env.install(&manifest, &one);
    env.install(&manifest, &two);
    let copy = install(
        &manifest,
        &env.store,
        &copied,
        &InstallOptions {
            link_mode: LinkMode::Copy,
            ..InstallOptions::default()
        },
    )
    .unwrap();
    assert_eq!(copy.bytes_linked, 0);

    let file = manifest
        .files
        .iter()
        .find(|f| f.path == "demo_pkg/__init__.py")
        .unwrap();
    let object = env.store.object_path(&file.sha256, false).unwrap();
    let in_one = one.purelib.join("demo_pkg/__init__.py");
    let in_two = two.purelib.join("demo_pkg/__init__.py");
    let in_copy = copied.purelib.join("demo_pkg/__init__.py");
    assert_eq!(inode(&in_one), inode(&object));
    assert_eq!(inode(&in_two), inode(&object));
    assert_ne!(inode(&in_copy), inode(&object));
    assert_eq!(fs::read(&in_copy).unwrap(), fs::read(&object).unwrap());
    let mode = |path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&in_one), 0o444, "linked files are the read-only objects");
    assert_eq!(mode(&in_copy), 0o644, "copies are ordinary files");
    assert_eq!(mode(&copied.scripts.join("sh-tool")), 0o755);

    // The same installed RECORD either way.
    let record = |layout: &axle_install::Layout| {
        fs::read_to_string(layout.purelib.join("demo_pkg-1.0.dist-info/RECORD"))
            .unwrap()
            .lines()
            // Scripts and launchers name their environment's interpreter.
            .filter(|line| !line.starts_with("../../../bin/demo") && !line.starts_with("../../../bin/tool"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(record(&one), record(&copied));
}

#[test]
fn clone_and_symlink_modes() {
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (_, cloned) = env.venv("cloned");
    let installed = install(
        &manifest,
        &env.store,
        &cloned,
        &InstallOptions {
            link_mode: LinkMode::Clone,
            ..InstallOptions::default()
        },
    )
    .unwrap();
    // Most filesystems cannot clone; then it copies and says so.
    let path = cloned.purelib.join("demo_pkg/cli.py");
    let file = manifest.files.iter().find(|f| f.path == "demo_pkg/cli.py").unwrap();
    let object = env.store.object_path(&file.sha256, false).unwrap();
    assert_ne!(inode(&path), inode(&object));
    assert_eq!(fs::read(&path).unwrap(), fs::read(&object).unwrap());
    if let Some(fallback) = installed.link_fallback {
        assert_eq!(fallback, axle_install::LinkFallback::CloneUnsupported);
    }

    let (_, linked) = env.venv("symlinked");
    install(
        &manifest,
        &env.store,
        &linked,
        &InstallOptions {
            link_mode: LinkMode::Symlink,
            ..InstallOptions::default()
        },
    )
    .unwrap();
    let path = linked.purelib.join("demo_pkg/cli.py");
    assert_eq!(fs::read_link(&path).unwrap(), object);
}

#[test]
fn reinstalling_replaces_files_in_place() {
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (root, layout) = env.venv("venv");
    env.install(&manifest, &layout);
    let before = tree(&root);
    // Again, on top of itself: links already in place, dist-info present.
    env.install(&manifest, &layout);
    assert_eq!(tree(&root), before);
    // And by copy over links: every file replaced atomically, no temporary names left.
    install(
        &manifest,
        &env.store,
        &layout,
        &InstallOptions {
            link_mode: LinkMode::Copy,
            ..InstallOptions::default()
        },
    )
    .unwrap();
    let after: Vec<String> = tree(&root);
    assert_eq!(after.len(), before.len(), "{after:#?}");
    assert!(after.iter().all(|line| !line.contains(".axle-tmp-")));
    // A stale file from an older version (not yet uninstalled) is replaced too.
    let file = layout.purelib.join("demo_pkg/cli.py");
    fs::remove_file(&file).unwrap();
    fs::write(&file, "stale").unwrap();
    env.install(&manifest, &layout);
    assert_ne!(fs::read_to_string(&file).unwrap(), "stale");
}

#[test]
fn namespace_packages_from_two_wheels_share_a_directory() {
    let env = Env::new();
    let a = WheelBuilder::new("ns-a", "1.0")
        .file("ns/a/__init__.py", "A = 1\n")
        .build();
    let b = WheelBuilder::new("ns-b", "1.0")
        .file("ns/b/__init__.py", "B = 1\n")
        .build();
    let (_, layout) = env.venv("venv");
    env.install(&env.unpack(&a), &layout);
    env.install(&env.unpack(&b), &layout);
    assert!(layout.purelib.join("ns/a/__init__.py").is_file());
    assert!(layout.purelib.join("ns/b/__init__.py").is_file());
    assert!(!layout.purelib.join("ns/__init__.py").exists());
}

/// A manifest is read back from disk, so install checks it again; a refused install writes
/// nothing at all.
#[test]
fn tampered_manifests_are_refused_before_writing() {
    let env = Env::new();
    let good = env.unpack(&demo_wheel("1.0"));
    type Tamper = Box<dyn Fn(&mut Manifest)>;
    let tamper: Vec<(&str, Tamper, &str)> = vec![
        (
            "entry point out of bin",
            Box::new(|m: &mut Manifest| {
                m.entry_points.console_scripts.push(EntryPoint {
                    name: "../../evil".to_string(),
                    module: "demo_pkg".to_string(),
                    attr: "main".to_string(),
                })
            }),
            "script name `../../evil` contains a path separator",
        ),
        (
            "path climbing out",
            Box::new(|m: &mut Manifest| m.files[0].path = "../../../../etc/evil".to_string()),
            "has a `..` component",
        ),
        (
            "absolute path",
            Box::new(|m: &mut Manifest| m.files[0].path = "/etc/evil".to_string()),
            "is an absolute path",
        ),
        (
            "nested script",
            Box::new(|m: &mut Manifest| m.files[0].path = "demo_pkg-1.0.data/scripts/x/y".to_string()),
            "subdirectory of `.data/scripts/`",
        ),
        (
            "dist-info elsewhere",
            Box::new(|m: &mut Manifest| m.dist_info = "../evil.dist-info".to_string()),
            "has a `..` component",
        ),
        (
            "missing object",
            Box::new(|m: &mut Manifest| m.files[1].sha256 = "ab".repeat(32)),
            "unpack the wheel again",
        ),
        (
            "two files on one path",
            Box::new(|m: &mut Manifest| {
                let mut copy = m.files[0].clone();
                copy.path = format!("demo_pkg-1.0.data/purelib/{}", copy.path);
                m.files.push(copy);
            }),
            "would both be installed as",
        ),
    ];
    for (name, change, expected) in tamper {
        let (root, layout) = env.venv(&format!("venv-{}", name.replace(' ', "-")));
        let before = tree(&root);
        let mut manifest = good.clone();
        change(&mut manifest);
        let err = install(&manifest, &env.store, &layout, &InstallOptions::default()).expect_err(name);
        assert!(err.to_string().contains(expected), "{name}: {err}");
        assert!(
            err.to_string().contains("demo_pkg-1.0-py3-none-any.whl"),
            "{name}: {err}"
        );
        assert_eq!(tree(&root), before, "{name}: the environment was written to");
    }
    let (root, layout) = env.venv("venv-options");
    let before = tree(&root);
    let err = install(
        &good,
        &env.store,
        &layout,
        &InstallOptions {
            direct_url: Some("not json".to_string()),
            ..InstallOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, InstallError::InvalidOption(_)), "{err}");
    assert_eq!(tree(&root), before);
}

#[test]
fn cleanup_partial_removes_leftover_staging() {
    let env = Env::new();
    let (_, layout) = env.venv("venv");
    let staging = layout.purelib.join(".axle-tmp-abc123");
    fs::create_dir(&staging).unwrap();
    fs::write(staging.join("METADATA"), "x").unwrap();
    fs::write(layout.purelib.join(".axle-tmp-file"), "x").unwrap();
    fs::write(layout.purelib.join("keep.py"), "x").unwrap();
    let removed = cleanup_partial(&layout.purelib).unwrap();
    assert_eq!(removed.len(), 2);
    assert!(layout.purelib.join("keep.py").exists());
    assert!(!staging.exists());
}

/// The store on another filesystem than the environment: hard links cannot cross, so files are
/// copied and the fallback reported. Needs a second filesystem (`/dev/shm`), else skipped.
#[test]
fn hard_links_across_filesystems_fall_back_to_copies() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let shm = std::path::Path::new("/dev/shm");
    let Ok(other) = tempfile::tempdir_in(shm) else {
        eprintln!("no /dev/shm: skipping");
        return;
    };
    if fs::metadata(other.path()).unwrap().dev() == fs::metadata(env.path()).unwrap().dev() {
        eprintln!("/dev/shm is on the same filesystem: skipping");
        return;
    }
    let store = axle_install::ObjectStore::open(other.path().join("store")).unwrap();
    let wheel = demo_wheel("1.0");
    let path = env.write(&wheel);
    let manifest = store.unpack(&path, &wheel.sha256).unwrap();
    let (_, layout) = env.venv("venv");
    let installed = install(&manifest, &store, &layout, &InstallOptions::default()).unwrap();
    assert_eq!(installed.link_fallback, Some(axle_install::LinkFallback::CrossDevice));
    assert_eq!(installed.bytes_linked, 0);
    let file = layout.purelib.join("demo_pkg/cli.py");
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
    assert!(fs::read_to_string(file).unwrap().contains("demo cli"));
}

#[test]
fn relative_layouts_are_refused() {
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (root, mut layout) = env.venv("venv");
    let before = tree(&root);
    layout.python = "bin/python".into();
    let err = env_install_err(&env, &manifest, &layout);
    assert!(err.contains("layout python path `bin/python`"), "{err}");
    layout.python = root.join("bin/python");
    layout.scripts = root.join("lib/../bin");
    let err = env_install_err(&env, &manifest, &layout);
    assert!(err.contains("layout scripts path"), "{err}");
    assert_eq!(tree(&root), before);
}

fn env_install_err(env: &Env, manifest: &Manifest, layout: &axle_install::Layout) -> String {
    install(manifest, &env.store, layout, &InstallOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn placed_files_are_exactly_what_an_install_writes() {
    use axle_install::{PlacedContent, placed_files};
    let env = Env::new();
    let manifest = env.unpack(&demo_wheel("1.0"));
    let (_root, layout) = env.venv("venv");
    let options = InstallOptions {
        requested: true,
        ..InstallOptions::default()
    };
    // Described first: nothing is written.
    let placed = placed_files(&manifest, &env.store, &layout, &options).unwrap();
    assert!(!layout.purelib.join("demo_pkg-1.0.dist-info").exists());
    let installed = install(&manifest, &env.store, &layout, &options).unwrap();
    let mut placed_paths: Vec<_> = placed.iter().map(|file| file.path.clone()).collect();
    let mut installed_paths = installed.files.clone();
    placed_paths.sort();
    installed_paths.sort();
    assert_eq!(placed_paths, installed_paths);
    for file in &placed {
        let bytes = match &file.content {
            PlacedContent::Object { path, .. } => fs::read(path).unwrap(),
            PlacedContent::Bytes(bytes) => bytes.clone(),
        };
        assert_eq!(bytes, fs::read(&file.path).unwrap(), "{}", file.path.display());
        let executable = fs::metadata(&file.path).unwrap().permissions().mode() & 0o111 != 0;
        assert_eq!(file.executable, executable, "{}", file.path.display());
    }
    assert!(placed.last().unwrap().path.ends_with("RECORD"));
}
