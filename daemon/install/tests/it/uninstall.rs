//! Uninstalling: exactly what was installed goes, and nothing outside the environment, whatever
//! RECORD says.

use std::fs;

use axle_install::{SkipReason, site, uninstall};

use crate::common::{Env, demo_wheel, tree};

#[test]
fn uninstall_leaves_the_fresh_environment() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    let fresh = tree(&root);
    let installed = env.install(&env.unpack(&demo_wheel("1.0")), &layout);
    // Bytecode as Python would have written it.
    let cache = layout.purelib.join("demo_pkg/__pycache__");
    fs::create_dir(&cache).unwrap();
    for name in [
        "__init__.cpython-311.pyc",
        "cli.cpython-311.opt-1.pyc",
        "cli.cpython-312.pyc",
    ] {
        fs::write(cache.join(name), "bytecode").unwrap();
    }
    fs::write(cache.join("unrelated.cpython-311.pyc"), "someone else's").unwrap();

    let removed = uninstall(&layout.purelib, &root, &installed.dist_info_path).unwrap();
    assert!(removed.skipped.is_empty(), "{:?}", removed.skipped);
    assert!(removed.missing.is_empty(), "{:?}", removed.missing);
    assert!(!removed.record_missing);
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    fs::remove_file(cache.join("unrelated.cpython-311.pyc")).unwrap();
    fs::remove_dir(&cache).unwrap();
    fs::remove_dir(layout.purelib.join("demo_pkg")).unwrap();
    assert_eq!(tree(&root), fresh);
}

#[test]
fn the_site_lists_what_is_installed() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    let installed = env.install(&env.unpack(&demo_wheel("1.0")), &layout);
    let found = site::installed(&layout.purelib).unwrap();
    assert_eq!(found.distributions.len(), 1);
    let dist = &found.distributions[0];
    assert_eq!(dist.name.to_string(), "demo-pkg");
    assert_eq!(dist.version.to_string(), "1.0");
    assert_eq!(dist.installer.as_deref(), Some("axle"));
    assert!(dist.has_record);
    uninstall(&layout.purelib, &root, &installed.dist_info_path).unwrap();
    assert!(site::installed(&layout.purelib).unwrap().distributions.is_empty());
}

#[test]
fn upgrade_leaves_no_stale_files() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    let fresh = tree(&root);
    let old = crate::common::demo_builder("1.0")
        .file("demo_pkg/old_only.py", "OLD = 1\n")
        .build();
    let new = crate::common::demo_builder("2.0")
        .file("demo_pkg/new_only.py", "NEW = 1\n")
        .build();
    let first = env.install(&env.unpack(&old), &layout);
    uninstall(&layout.purelib, &root, &first.dist_info_path).unwrap();
    let second = env.install(&env.unpack(&new), &layout);
    assert!(!layout.purelib.join("demo_pkg/old_only.py").exists());
    assert!(!layout.purelib.join("demo_pkg-1.0.dist-info").exists());
    assert!(layout.purelib.join("demo_pkg/new_only.py").exists());
    assert_eq!(
        fs::read_to_string(layout.purelib.join("demo_pkg/__init__.py")).unwrap(),
        "__version__ = \"2.0\"\n"
    );
    uninstall(&layout.purelib, &root, &second.dist_info_path).unwrap();
    assert_eq!(tree(&root), fresh);
}

#[test]
fn record_entries_outside_the_environment_are_never_deleted() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    let installed = env.install(&env.unpack(&demo_wheel("1.0")), &layout);

    let outside = env.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let sentinel = outside.join("sentinel.txt");
    fs::write(&sentinel, "precious").unwrap();
    // A directory inside the environment that is a symlink to outside it.
    std::os::unix::fs::symlink(&outside, layout.purelib.join("escape")).unwrap();

    let record_path = installed.dist_info_path.join("RECORD");
    let mut record = fs::read_to_string(&record_path).unwrap();
    for line in [
        sentinel.display().to_string(),
        "../../../../outside/sentinel.txt".to_string(),
        "../../../../../../../../../../..".to_string() + &sentinel.display().to_string(),
        "escape/sentinel.txt".to_string(),
        "demo_pkg/../../../../../outside/sentinel.txt".to_string(),
        "../../../lib".to_string(),
    ] {
        record.push_str(&format!("{line},,\r\n"));
    }
    fs::write(&record_path, record).unwrap();

    let removed = uninstall(&layout.purelib, &root, &installed.dist_info_path).unwrap();
    assert_eq!(fs::read_to_string(&sentinel).unwrap(), "precious");
    let reasons: Vec<&SkipReason> = removed.skipped.iter().map(|s| &s.reason).collect();
    assert_eq!(
        reasons,
        [
            &SkipReason::OutsideEnvironment,
            &SkipReason::OutsideEnvironment,
            &SkipReason::OutsideEnvironment,
            &SkipReason::SymlinkOutsideEnvironment,
            &SkipReason::OutsideEnvironment,
            &SkipReason::Directory,
        ],
        "{:#?}",
        removed.skipped
    );
    assert!(root.join("lib").is_dir());
    assert!(fs::symlink_metadata(layout.purelib.join("escape")).is_ok());
}

#[test]
fn a_dist_info_without_record_is_removed_alone() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    let installed = env.install(&env.unpack(&demo_wheel("1.0")), &layout);
    fs::remove_file(installed.dist_info_path.join("RECORD")).unwrap();
    let removed = uninstall(&layout.purelib, &root, &installed.dist_info_path).unwrap();
    assert!(removed.record_missing);
    assert!(!installed.dist_info_path.exists());
    assert!(layout.purelib.join("demo_pkg/__init__.py").exists());
}

#[test]
fn only_a_dist_info_of_this_site_packages_is_accepted() {
    let env = Env::new();
    let (root, layout) = env.venv("venv");
    fs::create_dir(layout.purelib.join("pkg")).unwrap();
    for bad in [
        layout.purelib.join("pkg"),
        layout.purelib.join("missing-1.0.dist-info"),
        root.join("bin"),
        "../../../x.dist-info".into(),
    ] {
        assert!(uninstall(&layout.purelib, &root, &bad).is_err(), "{}", bad.display());
    }
    assert!(layout.purelib.join("pkg").is_dir());
}
