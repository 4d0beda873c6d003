//! `axle sync` against a local index: pip-sync's semantics, the shared
//! store, and what a failure leaves behind.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success, tree, wait_for_exit};

fn project_index() -> TestIndex {
    let index = TestIndex::start();
    index.add(
        &WheelBuilder::new("app", "1.0")
            .requires("helper")
            .file("app/main.py", "def main():\n    print('app 1.0 runs')\n")
            .entry_point("console_scripts", "app-run", "app.main:main")
            .file(
                "app-1.0.data/scripts/app-shell",
                "#!python\nimport app\nprint(app.__version__)\n",
            )
            .file("app-1.0.data/data/share/app/readme.txt", "shared data\n")
            .build(),
    );
    index.add(
        &WheelBuilder::new("app", "2.0")
            .requires("helper")
            .file("app/main.py", "def main():\n    print('app 2.0 runs')\n")
            .entry_point("console_scripts", "app-run", "app.main:main")
            .build(),
    );
    index.add(
        &WheelBuilder::new("helper", "1.0")
            .file("ns/helper_part.py", "PART = 'helper'\n")
            .build(),
    );
    index.add(
        &WheelBuilder::new("other-ns", "1.0")
            .file("ns/other_part.py", "PART = 'other'\n")
            .build(),
    );
    index
}

fn context_with(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context
}

fn python(context: &TestContext, venv: &str, code: &str) -> String {
    let output = Command::new(context.path(venv).join("bin/python"))
        .args(["-c", code])
        .output()
        .unwrap();
    assert_success(&output, &format!("python -c {code}"));
    String::from_utf8(output.stdout).unwrap()
}

fn site_packages(context: &TestContext, venv: &str) -> PathBuf {
    let (major, minor) = axle_e2e::real_python_version();
    context
        .path(venv)
        .join(format!("lib/python{major}.{minor}/site-packages"))
}

/// A venv and a hashed lock of `requirements` from the test index.
fn locked(context: &TestContext, requirements: &str) {
    context.ok(&["venv"]);
    context.write("requirements.in", requirements);
    context.ok(&["lock", "--generate-hashes"]);
}

#[test]
fn installs_scripts_data_entry_points_and_namespace_packages() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\nother-ns\n");
    context.ok(&["sync"]);

    let output = Command::new(context.path(".venv/bin/app-run")).output().unwrap();
    assert_success(&output, "app-run");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "app 1.0 runs\n");
    let output = Command::new(context.path(".venv/bin/app-shell")).output().unwrap();
    assert_success(&output, "app-shell");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "1.0\n");
    assert_eq!(
        std::fs::read_to_string(context.path(".venv/share/app/readme.txt")).unwrap(),
        "shared data\n"
    );
    let parts = python(
        &context,
        ".venv",
        "import ns.helper_part, ns.other_part, importlib.metadata as m; print(ns.helper_part.PART, ns.other_part.PART, m.version('app'))",
    );
    assert_eq!(parts, "helper other 1.0\n");
    let installer =
        std::fs::read_to_string(site_packages(&context, ".venv").join("app-1.0.dist-info/INSTALLER")).unwrap();
    assert_eq!(installer, "axle\n");
}

#[test]
fn upgrades_remove_everything_of_the_old_version() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    context.ok(&["sync"]);
    assert!(context.path(".venv/bin/app-shell").exists());

    context.write("requirements.in", "app==2.0\n");
    context.ok(&["lock", "--generate-hashes"]);
    let (_, result) = context.json(&["sync"]);
    assert_eq!(result["installed"], serde_json::json!(["app==2.0"]));
    assert_eq!(result["removed"], serde_json::json!(["app==1.0"]));
    let output = Command::new(context.path(".venv/bin/app-run")).output().unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "app 2.0 runs\n");
    // Files only 1.0 had are gone.
    assert!(!context.path(".venv/bin/app-shell").exists());
    assert!(!context.path(".venv/share/app/readme.txt").exists());
    assert!(!site_packages(&context, ".venv").join("app-1.0.dist-info").exists());
}

#[test]
fn removes_what_the_lock_does_not_name_except_protected_packages() {
    let index = project_index();
    index.add(&WheelBuilder::new("pip", "24.0").build());
    let context = context_with(&index);
    context.ok(&["venv"]);
    context.write("requirements.in", "app==1.0\nother-ns\npip\n");
    context.ok(&["lock", "--generate-hashes", "--allow-unsafe"]);
    context.ok(&["sync"]);

    context.write("requirements.in", "helper\n");
    context.ok(&["lock", "--generate-hashes"]);
    let (_, result) = context.json(&["sync"]);
    let removed: Vec<String> = serde_json::from_value(result["removed"].clone()).unwrap();
    assert_eq!(removed, ["app==1.0", "other-ns==1.0"]);
    // pip is not in the lock but pip-sync keeps it.
    assert!(site_packages(&context, ".venv").join("pip-24.0.dist-info").exists());
    assert!(site_packages(&context, ".venv").join("ns/helper_part.py").exists());
    assert!(!site_packages(&context, ".venv").join("ns/other_part.py").exists());
}

#[test]
fn a_second_venv_costs_links_not_bytes() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    context.ok(&["sync"]);
    context.ok(&["venv", "second"]);
    let requests = index.requests().len();
    context.ok(&["sync", "--venv", "second"]);
    assert_eq!(index.requests().len(), requests, "a warm sync asked the index");
    let a = std::fs::metadata(site_packages(&context, ".venv").join("app/main.py")).unwrap();
    let b = std::fs::metadata(site_packages(&context, "second").join("app/main.py")).unwrap();
    assert_eq!(a.ino(), b.ino());

    // --copy gives independent files.
    context.ok(&["venv", "copied"]);
    context.ok(&["sync", "--venv", "copied", "--copy"]);
    let c = std::fs::metadata(site_packages(&context, "copied").join("app/main.py")).unwrap();
    assert_ne!(a.ino(), c.ino());
    assert!(python(&context, "copied", "import app; print(app.__version__)").contains("1.0"));
}

#[test]
fn another_filesystem_gets_copies_and_one_notice() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return;
    }
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    let elsewhere = tempfile::Builder::new().prefix("axle-shm").tempdir_in(shm).unwrap();
    let venv = elsewhere.path().join("venv");
    context.ok(&["venv", venv.to_str().unwrap()]);
    let output = context
        .axle()
        .args(["sync", "--venv", venv.to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&output, "sync onto tmpfs");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.matches("another filesystem").count(), 1, "{stderr}");
    let output = Command::new(venv.join("bin/app-run")).output().unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "app 1.0 runs\n");
}

#[test]
fn a_hash_mismatch_installs_nothing() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    let lock = context.read("requirements.txt");
    // Replace app's hash with another file's.
    let tampered: String = lock
        .lines()
        .map(|line| {
            if line.contains("--hash=sha256:") && lock.find(line) < lock.find("helper==") {
                "    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    context.write("requirements.txt", &format!("{tampered}\n"));
    let before = tree(&context.path(".venv"));
    let (ok, document) = context.json(&["sync"]);
    assert!(!ok);
    assert!(
        document["error"]["message"].as_str().unwrap().contains("app"),
        "{document}"
    );
    assert_eq!(
        tree(&context.path(".venv")),
        before,
        "the failed sync changed the environment"
    );
}

#[test]
fn a_corrupted_download_installs_nothing() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    index
        .behaviour()
        .corrupt_files
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = tree(&context.path(".venv"));
    let error = context.fails(&["sync"]);
    assert!(error.contains("hash"), "{error}");
    assert_eq!(tree(&context.path(".venv")), before);
    index
        .behaviour()
        .corrupt_files
        .store(false, std::sync::atomic::Ordering::SeqCst);
    context.ok(&["sync"]);
}

#[test]
fn refuses_non_venvs_in_files_and_conflicting_pins() {
    let index = project_index();
    let context = context_with(&index);
    context.write("requirements.in", "app==1.0\n");
    context.ok(&["lock", "--generate-hashes"]);

    // No venv here: an error, and nothing created.
    std::fs::create_dir(context.path("not-a-venv")).unwrap();
    std::fs::write(context.path("not-a-venv/keep"), "mine").unwrap();
    let error = context.fails(&["sync", "--venv", "not-a-venv"]);
    assert!(error.contains("not a virtual environment"), "{error}");
    assert_eq!(std::fs::read_dir(context.path("not-a-venv")).unwrap().count(), 1);

    context.ok(&["venv"]);
    let error = context.fails(&["sync", "requirements.in"]);
    assert!(error.contains(".in"), "{error}");

    context.write("a.txt", "helper==1.0\n");
    context.write("b.txt", "helper==2.0\n");
    let error = context.fails(&["sync", "a.txt", "b.txt"]);
    assert!(
        error.contains("helper") && error.contains("a.txt") && error.contains("b.txt"),
        "{error}"
    );
}

#[test]
fn dry_run_changes_nothing_and_an_unchanged_sync_is_instant() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\n");
    let before = tree(&context.path(".venv"));
    let (_, result) = context.json(&["sync", "--dry-run"]);
    assert_eq!(result["installed"], serde_json::json!(["app==1.0", "helper==1.0"]));
    assert_eq!(tree(&context.path(".venv")), before);

    context.ok(&["sync"]);
    let (_, again) = context.json(&["sync"]);
    assert_eq!(again["fresh"], true);
    // Someone else changes site-packages: the next sync looks again.
    std::fs::create_dir(site_packages(&context, ".venv").join("stray-1.0.dist-info")).unwrap();
    std::fs::write(
        site_packages(&context, ".venv").join("stray-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: stray\nVersion: 1.0\n",
    )
    .unwrap();
    let (_, repaired) = context.json(&["sync"]);
    assert_eq!(repaired["fresh"], false);
    assert_eq!(repaired["removed"], serde_json::json!(["stray==1.0"]));
}

/// A lock made for another Python still syncs where its pins fit, with one warning line that
/// names both targets; a lock without a header says nothing of its target, and gets none.
#[test]
fn a_venv_that_is_not_what_the_lock_was_made_for_gets_one_warning() {
    let index = project_index();
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    let (major, minor) = axle_e2e::real_python_version();
    let newer = format!("{major}.{}", minor + 1);
    context.ok(&["lock", "--python-version", &newer]);
    context.ok(&["venv"]);
    let output = context.axle().arg("sync").output().unwrap();
    assert_success(&output, "axle sync");
    let said = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = said.lines().filter(|line| line.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{said}");
    assert!(
        warnings[0].starts_with(&format!(
            "warning: requirements.txt was locked for Python {newer}; this venv is Python {major}.{minor}."
        )),
        "{said}"
    );
    assert!(python(&context, ".venv", "import app.main").is_empty());

    context.ok(&["lock", "--python-version", &newer, "--no-header", "-o", "bare.txt"]);
    context.ok(&["venv", "--clear"]);
    let output = context.axle().args(["sync", "bare.txt"]).output().unwrap();
    assert_success(&output, "axle sync bare.txt");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains("warning:"), "{said}");
}

#[test]
fn pylock_files_sync_too() {
    let index = project_index();
    let context = context_with(&index);
    context.ok(&["venv"]);
    context.write("requirements.in", "app==1.0\n");
    context.ok(&["lock", "--format", "pylock"]);
    context.ok(&["sync", "pylock.toml"]);
    assert!(python(&context, ".venv", "import app; print(app.__version__)").contains("1.0"));
}

#[test]
fn ten_venvs_in_parallel_share_one_store() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\nother-ns\n");
    for number in 0..10 {
        context.ok(&["venv", &format!("env-{number}")]);
    }
    let children: Vec<_> = (0..10)
        .map(|number| {
            context
                .axle()
                .args(["sync", "--venv", &format!("env-{number}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert_success(&child.wait_with_output().unwrap(), "parallel sync");
    }
    let first = std::fs::metadata(site_packages(&context, "env-0").join("app/main.py")).unwrap();
    for number in 1..10 {
        let other = std::fs::metadata(site_packages(&context, &format!("env-{number}")).join("app/main.py")).unwrap();
        assert_eq!(first.ino(), other.ino());
    }
    // Each wheel was downloaded once.
    let downloads = index
        .requests()
        .into_iter()
        .filter(|request| request.path == "/files/app-1.0-py3-none-any.whl")
        .count();
    assert_eq!(downloads, 1);
    let (_, stats) = context.json(&["store", "stats"]);
    assert_eq!(stats["venvs"], 10);
    assert!(stats["bytes_saved"].as_u64().unwrap() > 0, "{stats}");
}

#[test]
fn a_sync_killed_half_way_is_repaired_by_the_next() {
    let index = project_index();
    let context = context_with(&index);
    locked(&context, "app==1.0\nother-ns\n");
    // Slow downloads, so the daemon dies in the middle.
    index
        .behaviour()
        .delay_ms
        .store(400, std::sync::atomic::Ordering::SeqCst);
    let mut child = context.spawn_quiet(&["sync"]);
    std::thread::sleep(Duration::from_millis(600));
    let pid = context.daemon_pid().unwrap();
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(wait_for_exit(pid, Duration::from_secs(5)));
    let _ = child.wait();
    index.behaviour().delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);

    context.ok(&["sync"]);
    let check = python(
        &context,
        ".venv",
        "import app, ns.helper_part, ns.other_part, importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))",
    );
    assert_eq!(check, "['app', 'helper', 'other-ns']\n");
    assert_eq!(axle_e2e::sqlite_integrity(&context.home.join("axle.db")), "ok");
}

#[test]
fn venv_seed_installs_pip_through_the_store() {
    let index = project_index();
    index.add(&WheelBuilder::new("pip", "23.0").build());
    index.add(&WheelBuilder::new("pip", "24.0").build());
    index.add(&WheelBuilder::new("pip", "25.0b1").build());
    let context = context_with(&index);
    let (ok, created) = context.json(&["venv", "--seed"]);
    assert!(ok, "{created}");
    assert_eq!(created["seeded"], serde_json::json!(["pip==24.0"]));
    let dist_info = site_packages(&context, ".venv").join("pip-24.0.dist-info");
    assert_eq!(std::fs::read_to_string(dist_info.join("INSTALLER")).unwrap(), "axle\n");
    assert!(python(&context, ".venv", "import pip; print(pip.__version__)").contains("24.0"));
}

/// A venv synced with `app==1.0` (app, helper) and a second one, since deleted, that held
/// `other-ns`: the store holds three wheels, one of them linked by no venv.
fn store_with_an_unlinked_wheel(context: &TestContext) {
    locked(context, "app==1.0\n");
    context.ok(&["sync"]);
    context.write("other/requirements.txt", "other-ns==1.0\n");
    context.ok(&["venv", "other/.venv"]);
    context.ok(&["sync", "--venv", "other/.venv", "other/requirements.txt"]);
    std::fs::remove_dir_all(context.path("other")).unwrap();
    let (_, stats) = context.json(&["store", "stats"]);
    assert_eq!(stats["wheels"], 3, "{stats}");
}

#[test]
fn a_size_cap_evicts_unlinked_wheels_and_leaves_every_venv_whole() {
    let index = project_index();
    let context = context_with(&index);
    store_with_an_unlinked_wheel(&context);
    // Smaller than what the live venv links: only the unlinked wheel can go, however recent.
    let (ok, gc) = context.json(&["store", "gc", "--max-size", "1B"]);
    assert!(ok, "{gc}");
    assert_eq!(gc["wheels_removed"], 1, "{gc}");
    let (_, stats) = context.json(&["store", "stats"]);
    assert_eq!(stats["wheels"], 2, "{stats}");
    // The venv still runs, and a sync finds nothing to do.
    let output = Command::new(context.path(".venv/bin/app-run")).output().unwrap();
    assert_success(&output, "app-run after gc");
    let (_, again) = context.json(&["sync"]);
    assert_eq!(again["installed"], serde_json::json!([]), "{again}");
}

/// `axle store stats` counts the store's files once and then answers from the database while
/// the store is unchanged (across a restart too): an object put there behind the daemon's
/// back is not seen until the store changes, and a gc makes the next answer count again.
#[test]
fn store_stats_answer_from_the_database_until_the_store_changes() {
    let index = project_index();
    let context = context_with(&index);
    store_with_an_unlinked_wheel(&context);
    let (_, counted) = context.json(&["store", "stats"]);
    let stray = context.home.join("store/objects/ff").join("f".repeat(62));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, "not axle's doing").unwrap();
    let (_, again) = context.json(&["store", "stats"]);
    assert_eq!(again["files"], counted["files"], "{again}");
    context.ok(&["daemon", "stop"]);
    let (_, restarted) = context.json(&["store", "stats"]);
    assert_eq!(restarted["files"], counted["files"], "{restarted}");
    assert_eq!(restarted["bytes_stored"], counted["bytes_stored"], "{restarted}");

    // A gc removes the unlinked wheel's files and the stray one (referenced by no wheel).
    let (ok, gc) = context.json(&["store", "gc", "--max-size", "1B"]);
    assert!(ok, "{gc}");
    let (_, after) = context.json(&["store", "stats"]);
    let objects = |stats: &serde_json::Value| stats["files"].as_u64().unwrap();
    assert!(objects(&after) < objects(&counted), "{after} after {counted}");
    assert!(!stray.exists());
}

#[test]
fn the_daemon_keeps_the_store_within_its_cap_when_idle() {
    let index = project_index();
    let mut context = context_with(&index);
    context.env.insert("AXLE_STORE_MAX_SIZE".to_string(), "1B".to_string());
    store_with_an_unlinked_wheel(&context);
    // The daemon waits for two seconds without requests; each look is one.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut wheels = serde_json::Value::Null;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(3));
        let (_, stats) = context.json(&["store", "stats"]);
        wheels = stats["wheels"].clone();
        if wheels == 2 {
            break;
        }
    }
    assert_eq!(wheels, 2, "{}", context.log_text());
    let output = Command::new(context.path(".venv/bin/app-run")).output().unwrap();
    assert_success(&output, "app-run after the daemon's eviction");
}
