//! Faults: killed processes, a full disk, a store changed behind axle's back,
//! the hard-link limit, and the SQLite in use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success, real_python, sqlite_integrity, wait_for_exit};

fn site_packages(venv: &Path) -> PathBuf {
    let (major, minor) = axle_e2e::real_python_version();
    venv.join(format!("lib/python{major}.{minor}/site-packages"))
}

/// A project index with enough files that a sync takes a moment.
fn busy_index() -> TestIndex {
    let index = TestIndex::start();
    for (name, version, dependency) in [
        ("web", "1.0", Some("core")),
        ("web", "2.0", Some("core")),
        ("core", "1.0", None),
        ("core", "2.0", None),
        ("extras", "1.0", Some("core")),
    ] {
        let mut wheel = WheelBuilder::new(name, version);
        for file in 0..40 {
            wheel = wheel.file(
                &format!("{name}/module_{file}.py"),
                format!("VALUE = {file}\nVERSION = {version:?}\n"),
            );
        }
        if let Some(dependency) = dependency {
            wheel = wheel.requires(dependency);
        }
        index.add(&wheel.build());
    }
    index
}

/// Distributions of a venv as `name==version`, from Python itself.
fn installed(venv: &Path) -> Vec<String> {
    let output = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import importlib.metadata as m; print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))",
        ])
        .output()
        .unwrap();
    assert_success(&output, "list distributions");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `pip check` of the venv, with the base interpreter's pip.
fn pip_check(venv: &Path) {
    let output = Command::new(real_python())
        .args(["-m", "pip", "--python"])
        .arg(venv.join("bin/python"))
        .arg("check")
        .output()
        .unwrap();
    assert_success(&output, "pip check");
}

/// Small deterministic pseudo-random delays.
fn delays(count: usize) -> Vec<u64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % 400
        })
        .collect()
}

#[test]
fn kill_9_at_random_points_of_lock_and_sync() {
    // A bounded run here; AXLE_KILL_LOOPS=50 (or more) for the long one.
    let loops: usize = std::env::var("AXLE_KILL_LOOPS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(8);
    let index = busy_index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.ok(&["venv"]);
    let inputs = ["web==1.0\nextras\n", "web==2.0\n"];
    let expected = [
        vec!["core==2.0", "extras==1.0", "web==1.0"],
        vec!["core==2.0", "web==2.0"],
    ];
    for (round, delay) in delays(loops).into_iter().enumerate() {
        let which = round % 2;
        context.write("requirements.in", inputs[which]);
        // Slow transfers widen the window in which the daemon dies.
        index
            .behaviour()
            .delay_ms
            .store(if round % 3 == 0 { 0 } else { 50 }, Ordering::SeqCst);
        let command = if round % 4 == 1 { "lock" } else { "sync" };
        if command == "sync" {
            context.ok(&["lock", "--generate-hashes"]);
        }
        let mut child = context.spawn_quiet(&[command]);
        std::thread::sleep(Duration::from_millis(delay));
        if let Some(pid) = context.daemon_pid() {
            Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
            assert!(wait_for_exit(pid, Duration::from_secs(10)));
        }
        let _ = child.wait();
        index.behaviour().delay_ms.store(0, Ordering::SeqCst);

        // Whatever was cut off, the next lock and sync give a clean result.
        context.ok(&["lock", "--generate-hashes"]);
        context.ok(&["sync"]);
        let venv = context.path(".venv");
        assert_eq!(
            installed(&venv),
            expected[which],
            "round {round} ({command}, killed after {delay} ms)"
        );
        pip_check(&venv);
        assert_eq!(sqlite_integrity(&context.home.join("axle.db")), "ok", "round {round}");
        // A venv made from scratch from the same store is the same.
        let clean = context.path(&format!("clean-{round}"));
        context.ok(&["venv", clean.to_str().unwrap()]);
        context.ok(&["sync", "--venv", clean.to_str().unwrap()]);
        assert_eq!(installed(&clean), installed(&venv));
    }
}

#[test]
fn a_full_disk_while_unpacking_leaves_everything_consistent() {
    let index = TestIndex::start();
    // Small to download, larger than the filesystem below once unpacked.
    let blob: Vec<u8> = b"axle fills the disk "
        .iter()
        .copied()
        .cycle()
        .take(4 * 1024 * 1024)
        .collect();
    let wheel = WheelBuilder::new("big", "1.0").file("big/blob.bin", blob).build();
    assert!(wheel.bytes.len() < 256 * 1024);
    index.add(&wheel);
    let mut context = TestContext::new();
    context.use_index(&index);
    let store = context.home.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&store)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        axle_e2e::cannot_run(
            "a_full_disk_while_unpacking_leaves_everything_consistent",
            "cannot mount a small tmpfs here (needs root)",
            "AXLE_REQUIRE_ROOT_TESTS",
        );
        return;
    }
    let _unmount = axle_e2e::Unmount(store.clone());
    context.ok(&["venv"]);
    context.write(
        "requirements.txt",
        &format!("big==1.0 \\\n    --hash=sha256:{}\n", wheel.sha256),
    );
    let before = crate::tree(&context.path(".venv"));
    let error = context.fails(&["sync"]);
    assert!(error.to_lowercase().contains("space"), "{error}");
    assert_eq!(crate::tree(&context.path(".venv")), before);
    assert!(crate::tree(&store.join("wheels")).is_empty());
    assert!(
        crate::tree(&store.join("tmp")).is_empty(),
        "{:?}",
        crate::tree(&store.join("tmp"))
    );
    // The daemon is healthy and says so.
    assert_eq!(context.status()["running"], true);
}

#[test]
fn a_store_changed_behind_axles_back_is_detected_and_refetched() {
    let index = TestIndex::start();
    index.add(
        &WheelBuilder::new("lib", "1.0")
            .file("lib/data.py", "DATA = 'original'\n")
            .build(),
    );
    let mut context = TestContext::new();
    context.use_index(&index);
    context.ok(&["venv"]);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock", "--generate-hashes"]);
    context.ok(&["sync"]);
    let object = std::fs::canonicalize(site_packages(&context.path(".venv")).join("lib/data.py")).unwrap();
    let objects = context.home.join("store/objects");
    let find_object = || -> PathBuf {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&object).unwrap().ino();
        axle_e2e::files_under(&objects)
            .into_iter()
            .find(|path| std::fs::metadata(path).unwrap().ino() == inode)
            .expect("the object of lib/data.py")
    };
    let stored = find_object();
    let downloads = || {
        index
            .requests()
            .iter()
            .filter(|r| r.path == "/files/lib-1.0-py3-none-any.whl")
            .count()
    };
    assert_eq!(downloads(), 1);

    // Altered, same size: never linked again; fetched anew.
    use std::os::unix::fs::PermissionsExt;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&stored, "DATA = 'tampered'\n").unwrap();
    std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o444)).unwrap();
    let second = context.path("second");
    context.ok(&["venv", second.to_str().unwrap()]);
    context.ok(&["sync", "--venv", second.to_str().unwrap()]);
    let data = std::fs::read_to_string(site_packages(&second).join("lib/data.py")).unwrap();
    assert_eq!(data, "DATA = 'original'\n");
    assert_eq!(downloads(), 2);

    // Deleted: fetched anew.
    for path in axle_e2e::files_under(&objects) {
        std::fs::remove_file(path).unwrap();
    }
    let third = context.path("third");
    context.ok(&["venv", third.to_str().unwrap()]);
    context.ok(&["sync", "--venv", third.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(site_packages(&third).join("lib/data.py")).unwrap(),
        "DATA = 'original'\n"
    );
    assert_eq!(downloads(), 3);
}

#[test]
fn the_daemon_reconciles_the_store_at_start() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.ok(&["venv"]);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock", "--generate-hashes"]);
    context.ok(&["sync"]);
    context.ok(&["daemon", "stop"]);
    let store = context.home.join("store");
    for manifest in axle_e2e::files_under(&store.join("wheels")) {
        std::fs::remove_file(manifest).unwrap();
    }
    // A half download a killed daemon left.
    std::fs::create_dir_all(store.join("downloads")).unwrap();
    std::fs::write(store.join("downloads/.download-stale"), "half").unwrap();
    context.ok(&["daemon", "start"]);
    assert!(!store.join("downloads/.download-stale").exists());
    // A wheel whose manifest is gone is never linked from: a new venv gets it fetched again.
    // (Its row and kept wheel file stay until gc, for `store verify --repair`.)
    index.clear_requests();
    context.ok(&["venv", "second"]);
    context.ok(&["sync", "--venv", "second"]);
    assert_eq!(index.requests_to(".whl").len(), 1, "{:?}", index.requests());
    context.ok(&["daemon", "stop"]);
    for manifest in axle_e2e::files_under(&store.join("wheels")) {
        std::fs::remove_file(manifest).unwrap();
    }
    std::fs::remove_dir_all(context.path("second")).unwrap();
    std::fs::remove_dir_all(context.path(".venv")).unwrap();
    // Objects no manifest knows are collected.
    context.ok(&["store", "gc", "--older-than-days", "0"]);
    assert!(
        axle_e2e::files_under(&store.join("objects")).is_empty(),
        "{:?}",
        axle_e2e::files_under(&store.join("objects"))
    );
}

#[test]
fn the_hard_link_limit_is_survived() {
    let scratch = tempfile::Builder::new().prefix("axle-ext2").tempdir().unwrap();
    let image = scratch.path().join("fs.img");
    let mount = scratch.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let ready = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=32", "status=none"])
        .arg(format!("of={}", image.display()))
        .status()
        .is_ok_and(|status| status.success())
        && Command::new("mkfs.ext2")
            .args(["-q", "-F", "-N", "4096"])
            .arg(&image)
            .status()
            .is_ok_and(|status| status.success())
        && Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
    if !ready {
        axle_e2e::cannot_run(
            "the_hard_link_limit_is_survived",
            "cannot mount an ext2 image here (needs root and loop devices)",
            "AXLE_REQUIRE_ROOT_TESTS",
        );
        return;
    }
    let _unmount = axle_e2e::Unmount(mount.clone());

    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context
        .env
        .insert("AXLE_HOME".into(), mount.join("home").display().to_string());
    let first = mount.join("first");
    context.ok(&["venv", first.to_str().unwrap()]);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock", "--generate-hashes"]);
    context.ok(&["sync", "--venv", first.to_str().unwrap()]);
    // Use up the object's links (32000 for ext2; 65000 where the ext4
    // driver mounts the image).
    let object = site_packages(&first).join("lib/__init__.py");
    let links = mount.join("links");
    std::fs::create_dir(&links).unwrap();
    let mut made = 0;
    for number in 0..70_000 {
        if std::fs::hard_link(&object, links.join(number.to_string())).is_err() {
            break;
        }
        made += 1;
    }
    assert!(made < 70_000, "no link limit reached");
    let second = mount.join("second");
    context.ok(&["venv", second.to_str().unwrap()]);
    context.ok(&["sync", "--venv", second.to_str().unwrap()]);
    let output = Command::new(second.join("bin/python"))
        .args(["-c", "import lib; print(lib.__version__)"])
        .output()
        .unwrap();
    assert_success(&output, "import after EMLINK");
    context.ok(&["daemon", "stop"]);
}

#[test]
fn the_linked_sqlite_is_recent_enough() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let status = context.status();
    let version = status["sqlite_version"].as_str().unwrap().to_string();
    let parts: Vec<u32> = version.split('.').map(|part| part.parse().unwrap()).collect();
    assert!(parts >= vec![3, 51, 3], "SQLite {version}");
}

#[test]
fn a_client_killed_mid_stream_leaves_a_healthy_daemon_that_finishes() {
    let index = busy_index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.ok(&["venv"]);
    context.write("requirements.in", "web==1.0\n");
    context.ok(&["lock", "--generate-hashes"]);
    index.behaviour().delay_ms.store(300, Ordering::SeqCst);
    let mut child = context
        .axle()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(context.status()["running"], true);
    // The operation runs to its end without the client.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if installed(&context.path(".venv")) == ["core==2.0", "web==1.0"] {
            break;
        }
        assert!(Instant::now() < deadline, "the abandoned sync never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    index.behaviour().delay_ms.store(0, Ordering::SeqCst);
    let (_, result) = context.json(&["sync"]);
    assert_eq!(result["installed"], serde_json::json!([]), "{result}");
}
