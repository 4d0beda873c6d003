//! The store: unpacking, manifests, deduplication, self-healing and garbage collection.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use axle_e2e::wheel::{WheelBuilder, sha256_hex};
use axle_install::{ObjectStoreError, StoredObject};

use crate::common::{Env, demo_builder, demo_wheel};

fn objects(env: &Env) -> Vec<StoredObject> {
    env.store.objects().unwrap().map(Result::unwrap).collect()
}

#[test]
fn unpacks_every_file_into_read_only_objects_and_a_manifest() {
    let env = Env::new();
    let wheel = demo_wheel("1.0");
    let manifest = env.unpack(&wheel);

    assert_eq!(manifest.wheel_sha256, wheel.sha256);
    assert_eq!(manifest.filename, "demo_pkg-1.0-py3-none-any.whl");
    assert_eq!((manifest.name.as_str(), manifest.version.as_str()), ("demo-pkg", "1.0"));
    assert_eq!(manifest.dist_info, "demo_pkg-1.0.dist-info");
    assert!(manifest.root_is_purelib);
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"demo_pkg/__init__.py"));
    assert!(paths.contains(&"demo_pkg-1.0.dist-info/METADATA"));
    assert!(
        !paths.contains(&"demo_pkg-1.0.dist-info/RECORD"),
        "RECORD is written anew at install"
    );
    assert_eq!(manifest.entry_points.console_scripts[0].name, "demo");
    assert_eq!(manifest.entry_points.gui_scripts[0].name, "demo-gui");

    for file in &manifest.files {
        let path = env.store.object_path(&file.sha256, file.executable).unwrap();
        let content = fs::read(&path).unwrap();
        assert_eq!(sha256_hex(&content), file.sha256, "{}", file.path);
        assert_eq!(content.len() as u64, file.size);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, if file.executable { 0o555 } else { 0o444 }, "{}", file.path);
        assert!(env.store.verify_object_contents(&file.sha256, file.executable).unwrap());
    }
    // Scripts are executable objects even though the zip did not mark them so.
    let script = manifest
        .files
        .iter()
        .find(|f| f.path.ends_with("scripts/sh-tool"))
        .unwrap();
    assert!(script.executable);

    assert_eq!(env.store.manifest(&wheel.sha256).unwrap(), Some(manifest));
    assert_eq!(env.store.manifests().unwrap(), std::slice::from_ref(&wheel.sha256));
    env.assert_no_temp_files();
}

#[test]
fn large_wheels_unpacked_by_several_threads_are_complete_and_clean() {
    // Enough files that unpacking is split between threads, some identical
    // (one object each) and some in the same chunk as their duplicates.
    let mut builder = demo_builder("2.0");
    for number in 0..600 {
        builder = builder.file(
            &format!("demo_pkg/many/m{number}.py"),
            format!("VALUE = {}\n", number % 450),
        );
    }
    let env = Env::new();
    let wheel = builder.build();
    let manifest = env.unpack(&wheel);

    let many: Vec<_> = manifest
        .files
        .iter()
        .filter(|file| file.path.starts_with("demo_pkg/many/"))
        .collect();
    assert_eq!(many.len(), 600);
    for file in &manifest.files {
        let content = fs::read(env.store.object_path(&file.sha256, file.executable).unwrap()).unwrap();
        assert_eq!(sha256_hex(&content), file.sha256, "{}", file.path);
    }
    let distinct: HashSet<&str> = many.iter().map(|file| file.sha256.as_str()).collect();
    assert_eq!(distinct.len(), 450);
    // The manifest lists files in the archive's order, whatever thread staged them.
    let order: Vec<String> = many.iter().map(|file| file.path.clone()).collect();
    let expected: Vec<String> = (0..600).map(|number| format!("demo_pkg/many/m{number}.py")).collect();
    assert_eq!(order, expected);
    env.assert_no_temp_files();
}

/// A wheel too large to be read into memory is read through a window of its file by each
/// thread (entries on both sides of the window's edges, one far larger than a window): every
/// object is its file's bytes.
#[test]
fn wheels_read_from_their_file_unpack_as_wheels_read_into_memory() {
    // Bytes that do not compress, so the wheel is as large as its files.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = |length: usize| -> Vec<u8> {
        (0..length)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let mut builder = demo_builder("3.0").file("demo_pkg/big.bin", noise(1_500_000));
    for number in 0..300 {
        builder = builder.file(&format!("demo_pkg/part/p{number}.bin"), noise(17_000 + number));
    }
    let wheel = builder.build();
    assert!(
        wheel.bytes.len() > 6 << 20,
        "{} bytes: not past the in-memory limit",
        wheel.bytes.len()
    );
    let env = Env::new();
    let manifest = env.unpack(&wheel);
    assert_eq!(
        manifest
            .files
            .iter()
            .filter(|file| file.path.starts_with("demo_pkg/part/"))
            .count(),
        300
    );
    assert!(
        manifest
            .files
            .iter()
            .any(|file| file.path == "demo_pkg/big.bin" && file.size == 1_500_000)
    );
    for file in &manifest.files {
        let content = fs::read(env.store.object_path(&file.sha256, file.executable).unwrap()).unwrap();
        assert_eq!(sha256_hex(&content), file.sha256, "{}", file.path);
        assert_eq!(content.len() as u64, file.size, "{}", file.path);
    }
    env.assert_no_temp_files();
}

#[test]
fn identical_files_are_stored_once() {
    let env = Env::new();
    let license = "Permission is hereby granted, free of charge...\n";
    let one = WheelBuilder::new("one", "1.0")
        .file("one/LICENSE", license)
        .file("one/data.txt", "shared\n")
        .build();
    let two = WheelBuilder::new("two", "2.0")
        .file("two/LICENSE", license)
        .file("two/other.txt", "shared\n")
        .build();
    let first = env.unpack(&one);
    let after_one = objects(&env).len();
    assert_eq!(after_one, first.files.len());
    let second = env.unpack(&two);

    let distinct: HashSet<(String, bool)> = first
        .files
        .iter()
        .chain(&second.files)
        .map(|f| (f.sha256.clone(), f.executable))
        .collect();
    assert_eq!(objects(&env).len(), distinct.len());
    // LICENSE, the shared text (and WHEEL, identical too) added nothing.
    let license_objects: HashSet<&str> = first
        .files
        .iter()
        .chain(&second.files)
        .filter(|f| f.path.ends_with("/LICENSE"))
        .map(|f| f.sha256.as_str())
        .collect();
    assert_eq!(license_objects.len(), 1);
    assert!(objects(&env).len() <= after_one + second.files.len() - 2);

    // Unpacking the same wheel again changes nothing.
    let before: Vec<StoredObject> = objects(&env);
    assert_eq!(env.unpack(&one), first);
    assert_eq!(objects(&env), before);
    env.assert_no_temp_files();
}

#[test]
fn a_manifest_with_a_missing_or_damaged_object_is_absent_and_removed() {
    let env = Env::new();
    let wheel = demo_wheel("1.0");
    let manifest = env.unpack(&wheel);
    let victim = &manifest.files[0];
    let object = env.store.object_path(&victim.sha256, victim.executable).unwrap();

    // Wrong size: a truncated object.
    fs::remove_file(&object).unwrap();
    fs::write(&object, b"x").unwrap();
    assert!(!env.store.verify_object(&victim.sha256, victim.executable, victim.size));
    assert_eq!(env.store.manifest(&wheel.sha256).unwrap(), None);
    assert!(env.store.manifests().unwrap().is_empty());

    // Unpacking again heals it.
    let again = env.unpack(&wheel);
    assert_eq!(again, manifest);
    assert!(
        env.store
            .verify_object_contents(&victim.sha256, victim.executable)
            .unwrap()
    );

    // Missing altogether.
    fs::remove_file(&object).unwrap();
    assert_eq!(env.store.manifest(&wheel.sha256).unwrap(), None);
    assert!(env.store.manifests().unwrap().is_empty());
}

#[test]
fn an_unreadable_manifest_is_absent_and_removed() {
    let env = Env::new();
    let wheel = demo_wheel("1.0");
    env.unpack(&wheel);
    let path = env.store.root().join("wheels").join(format!("{}.json", wheel.sha256));
    fs::write(&path, b"{ not json").unwrap();
    assert_eq!(env.store.manifest(&wheel.sha256).unwrap(), None);
    assert!(!path.exists());
    assert!(!env.store.remove_manifest(&wheel.sha256).unwrap());
}

#[test]
fn a_wheel_that_is_not_the_expected_one_is_refused() {
    let env = Env::new();
    let wheel = demo_wheel("1.0");
    let path = env.write(&wheel);
    let wrong = "0".repeat(64);
    let err = env.store.unpack(&path, &wrong).unwrap_err();
    assert!(matches!(err, ObjectStoreError::WheelHashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("demo_pkg-1.0-py3-none-any.whl"));
    assert!(env.store.manifests().unwrap().is_empty());
    assert!(objects(&env).is_empty());
    let err = env.store.unpack(&path, "../../etc").unwrap_err();
    assert!(matches!(err, ObjectStoreError::InvalidDigest(_)));
}

#[test]
fn gc_keeps_what_kept_wheels_need_and_nothing_else() {
    let env = Env::new();
    let shared = "shared between the two\n";
    let one = WheelBuilder::new("one", "1.0").file("one/shared.txt", shared).build();
    let two = WheelBuilder::new("two", "1.0")
        .file("two/shared.txt", shared)
        .file("two/own.txt", "only in two\n")
        .build();
    let first = env.unpack(&one);
    let second = env.unpack(&two);
    // A leftover from a crash, old enough to be collected, and a fresh one that is not.
    let temp = env.store.root().join("tmp");
    fs::create_dir(temp.join("unpack-old")).unwrap();
    fs::write(temp.join("unpack-old/0"), b"partial").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7 * 3600);
    fs::File::open(temp.join("unpack-old"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::create_dir(temp.join("unpack-fresh")).unwrap();

    let keep: HashSet<String> = [one.sha256.clone()].into();
    let report = env.store.gc(&keep).unwrap();
    assert_eq!(report.manifests_removed, 1);
    let needed: HashSet<&str> = first.files.iter().map(|f| f.sha256.as_str()).collect();
    let dropped: Vec<_> = second
        .files
        .iter()
        .filter(|f| !needed.contains(f.sha256.as_str()))
        .collect();
    assert_eq!(report.objects_removed, dropped.len());
    assert_eq!(report.bytes_freed, dropped.iter().map(|f| f.size).sum::<u64>());
    assert_eq!(report.temp_removed, 1);
    assert!(temp.join("unpack-fresh").exists());

    assert_eq!(env.store.manifest(&one.sha256).unwrap().as_ref(), Some(&first));
    assert_eq!(env.store.manifest(&two.sha256).unwrap(), None);
    assert_eq!(objects(&env).len(), needed.len());

    let report = env.store.gc(&HashSet::new()).unwrap();
    assert_eq!(report.manifests_removed, 1);
    assert!(objects(&env).is_empty());
}
