//! Crash points instead of timed kills: the daemon aborts exactly at a named step of lock,
//! sync, gc or repair (`daemon/src/crash.rs`; compiled in only for the tests), then the next
//! run must repair, and nothing half-written may be trusted. One case per point.

use std::process::Command;

use std::path::Path;

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success, wait_for_exit};

fn index() -> TestIndex {
    let index = TestIndex::start();
    for (name, version, module) in [
        ("app", "1.0", "app_mod"),
        ("helper", "1.0", "helper_mod"),
        ("tool", "1.0", "tool_mod"),
    ] {
        let mut wheel = WheelBuilder::new(name, version).file(&format!("{module}.py"), format!("NAME = '{name}'\n"));
        if name == "app" {
            wheel = wheel.requires("helper");
        }
        index.add(&wheel.build());
    }
    index
}

fn scene() -> (TestIndex, TestContext) {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "app\ntool\n");
    (index, context)
}

/// The scene with its hashed lock synced into `.venv`.
fn synced_scene() -> (TestIndex, TestContext) {
    let (index, context) = scene();
    context.ok(&["lock", "--generate-hashes"]);
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    (index, context)
}

/// Runs `args` with the daemon set to abort at `point`, and checks that it did.
fn crash_at(context: &mut TestContext, point: &str, args: &[&str]) {
    // A fresh daemon that reads the crash point at start.
    let _ = context.axle().args(["daemon", "stop"]).output();
    context.env.insert("FAILPOINTS".to_string(), format!("{point}=return"));
    let pid_before = context.daemon_pid();
    assert!(pid_before.is_none());
    // The client retries once when its daemon dies; both attempts may crash.
    let output = context.axle().args(args).output().unwrap();
    context.env.remove("FAILPOINTS");
    let stderr_log = std::fs::read_to_string(context.home.join("logs/axled.stderr")).unwrap_or_default();
    assert!(
        stderr_log.contains(&format!("crash point {point}")),
        "the daemon did not crash at {point} (is axled built with its crash points? `cargo test --workspace` builds it so): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(pid) = context.daemon_pid() {
        wait_for_exit(pid, std::time::Duration::from_secs(10));
    }
}

fn imports(context: &TestContext, venv: &str, modules: &str) {
    let output = Command::new(context.path(venv).join("bin/python"))
        .args(["-c", &format!("import {modules}")])
        .output()
        .unwrap();
    assert_success(&output, &format!("import {modules}"));
}

/// The state every repaired run must reach: the venv holds the lock, a second sync changes
/// nothing, and every stored and installed file matches its hash.
fn whole(context: &TestContext) {
    let (ok, again) = context.json(&["sync"]);
    assert!(ok, "{again}");
    assert_eq!(again["installed"], serde_json::json!([]), "{again}");
    assert_eq!(again["removed"], serde_json::json!([]), "{again}");
    let (ok, verified) = context.json(&["store", "verify"]);
    assert!(ok, "{verified}");
}

#[test]
fn a_crash_at_any_step_of_a_sync_is_repaired_by_the_next_sync() {
    for point in [
        "sync-after-download",
        "sync-after-unpack",
        "sync-mid-link",
        "sync-before-commit",
        "sync-after-commit",
    ] {
        let (_index, mut context) = scene();
        context.ok(&["lock", "--generate-hashes"]);
        context.ok(&["venv"]);
        crash_at(&mut context, point, &["sync"]);
        let (ok, synced) = context.json(&["sync"]);
        assert!(ok, "{point}: {synced}");
        imports(&context, ".venv", "app_mod, helper_mod, tool_mod");
        whole(&context);
    }
}

#[test]
fn a_crash_between_two_uninstalls_is_repaired_by_the_next_sync() {
    let (_index, mut context) = synced_scene();
    // Now only `tool`: app and helper go.
    context.write("requirements.in", "tool\n");
    context.ok(&["lock", "--generate-hashes"]);
    crash_at(&mut context, "sync-mid-uninstall", &["sync"]);
    let (ok, synced) = context.json(&["sync"]);
    assert!(ok, "{synced}");
    imports(&context, ".venv", "tool_mod");
    let gone = Command::new(context.path(".venv/bin/python"))
        .args(["-c", "import app_mod"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "app is still installed");
    whole(&context);
}

#[test]
fn a_crash_while_writing_a_lock_never_leaves_half_a_lock() {
    for point in ["lock-before-write", "lock-mid-write"] {
        let (_index, mut context) = scene();
        context.write("requirements.txt", "# the lock before\n");
        crash_at(&mut context, point, &["lock"]);
        // The old lock, whole, or none: never a part of the new one.
        assert_eq!(context.read("requirements.txt"), "# the lock before\n", "{point}");
        context.ok(&["lock"]);
        let lock = context.read("requirements.txt");
        assert!(
            lock.contains("app==1.0") && lock.contains("tool==1.0"),
            "{point}: {lock}"
        );
    }
}

#[test]
fn a_crash_in_the_middle_of_a_gc_is_repaired_at_the_next_start() {
    let (index, mut context) = synced_scene();
    std::fs::remove_dir_all(context.path(".venv")).unwrap();
    crash_at(
        &mut context,
        "gc-after-files",
        // The smallest cap evicts every wheel no venv links, whatever the clock says.
        &["store", "gc", "--max-size", "1B"],
    );
    // The rows of the removed wheels are dropped at the next start; the wheels are fetched
    // again, not trusted from rows whose files are gone.
    index.clear_requests();
    context.ok(&["venv"]);
    let (ok, synced) = context.json(&["sync"]);
    assert!(ok, "{synced}");
    assert_eq!(index.requests_to(".whl").len(), 3, "{:?}", index.requests());
    imports(&context, ".venv", "app_mod, helper_mod, tool_mod");
    whole(&context);
}

#[test]
fn a_crash_in_the_middle_of_a_repair_is_finished_by_the_next_repair() {
    let (_index, mut context) = synced_scene();
    let edited = site_packages(&context.path(".venv")).join("tool_mod.py");
    std::fs::set_permissions(&edited, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&edited, "NAME = 'evil'\n").unwrap();
    crash_at(&mut context, "repair-mid", &["store", "verify", "--repair"]);
    // The restart drops the damaged object and the wheel's manifest; the venv's record still
    // names the wheel, whose kept file restores it.
    let (ok, repaired) = context.json(&["store", "verify", "--repair"]);
    assert!(ok, "{repaired}");
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "NAME = 'tool'\n");
    whole(&context);
}

fn site_packages(venv: &Path) -> std::path::PathBuf {
    let (major, minor) = axle_e2e::real_python_version();
    venv.join(format!("lib/python{major}.{minor}/site-packages"))
}
