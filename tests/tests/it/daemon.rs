//! The daemon's lifecycle, driven through the real binaries.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axle_e2e::{TestContext, assert_success, bin_dir, process_alive, real_python, sqlite_integrity, wait_for_exit};

#[test]
fn twenty_clients_at_once_start_one_daemon() {
    let context = TestContext::new();
    let children: Vec<_> = (0..20)
        .map(|index| {
            context
                .axle()
                .args(["venv", &format!("env-{index}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_success(&output, "concurrent axle venv");
    }
    for index in 0..20 {
        assert!(context.path(&format!("env-{index}/pyvenv.cfg")).exists());
    }
    let starts = context.log_text().matches("axled started").count();
    assert_eq!(starts, 1, "log:\n{}", context.log_text());
}

#[test]
fn a_killed_daemon_is_replaced_and_its_database_survives() {
    let context = TestContext::new();
    context.ok(&["venv", "first"]);
    let pid = context.daemon_pid().unwrap();
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(wait_for_exit(pid, Duration::from_secs(5)));
    // The socket file is still there: stale, and must be replaced.
    context.ok(&["venv", "second"]);
    let new_pid = context.daemon_pid().unwrap();
    assert_ne!(pid, new_pid);
    assert_eq!(sqlite_integrity(&context.home.join("axle.db")), "ok");
    assert!(context.log_text().contains("replaced a stale socket"));
}

#[test]
fn status_answers_while_a_slow_request_runs() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    // An interpreter that takes two seconds to answer its first question.
    let slow = context.root.path().join("slow-python");
    std::fs::write(
        &slow,
        format!("#!/bin/sh\nsleep 2\nexec {} \"$@\"\n", real_python().display()),
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let slow_request = context
        .axle()
        .args(["venv", "slow", "--python", slow.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = context.status();
    let elapsed = started.elapsed();
    assert_eq!(status["active_requests"], 1, "{status}");
    assert!(elapsed < Duration::from_millis(1000), "status took {elapsed:?}");
    let output = slow_request.wait_with_output().unwrap();
    assert_success(&output, "slow venv");
}

#[test]
fn stop_shuts_down_cleanly_and_removes_the_socket() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let status = context.status();
    let socket = std::path::PathBuf::from(status["socket"].as_str().unwrap());
    assert!(socket.exists());
    let mode = std::fs::metadata(socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "socket directory mode");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode");

    let pid = status["pid"].as_u64().unwrap() as u32;
    context.ok(&["daemon", "stop"]);
    assert!(!process_alive(pid));
    assert!(!socket.exists());
    assert!(!context.home.join("daemon.json").exists());
    assert!(context.log_text().contains("axled stopped"));
    assert_eq!(context.status()["running"], false);
}

#[test]
fn sigterm_stops_the_daemon_gracefully() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let pid = context.daemon_pid().unwrap();
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(wait_for_exit(pid, Duration::from_secs(10)));
    assert!(context.log_text().contains("reason=Signal"), "{}", context.log_text());
}

#[test]
fn an_idle_daemon_exits_by_itself() {
    let mut context = TestContext::new();
    context.env.insert("AXLE_IDLE_TIMEOUT".into(), "1".into());
    context.ok(&["venv"]);
    let pid = context.daemon_pid().unwrap();
    assert!(wait_for_exit(pid, Duration::from_secs(10)), "daemon still running");
    assert!(context.log_text().contains("reason=Idle"));
}

#[test]
fn a_daemon_of_another_build_is_replaced() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let old = context.status();

    // Another build: a copy of axled is another file, so another build id.
    let other = context.root.path().join("other-axled");
    std::fs::copy(bin_dir().join("axled"), &other).unwrap();
    let output = context
        .axle()
        .env("AXLE_DAEMON_BIN", &other)
        .args(["venv"])
        .output()
        .unwrap();
    assert_success(&output, "axle venv with another daemon build");
    let new = context.status();
    assert_ne!(old["pid"], new["pid"]);
    assert_ne!(old["build_id"], new["build_id"]);
    assert!(!process_alive(old["pid"].as_u64().unwrap() as u32));
}

#[test]
fn json_errors_are_machine_readable() {
    let context = TestContext::new();
    let output = context
        .axle()
        .args(["--json", "venv", "--python", "3.99"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["code"], "not-found");
    assert!(document["error"]["message"].as_str().unwrap().contains("3.99"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn logs_prints_the_daemon_log() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let logs = context.ok(&["daemon", "logs", "-n", "5"]);
    assert!(logs.contains("axled started"), "{logs}");
}

#[test]
fn the_default_log_has_one_line_per_request_and_no_resolver_internals() {
    use axle_e2e::index::TestIndex;
    use axle_e2e::wheel::WheelBuilder;
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("alpha", "1.0").requires("beta").build());
    index.add(&WheelBuilder::new("beta", "1.0").build());
    let mut context = TestContext::new();
    context.env.remove("AXLE_LOG");
    context.use_index(&index);
    context.write("requirements.in", "alpha\n");
    context.ok(&["lock"]);
    context.fails(&["sync", "--venv", "nowhere"]);
    // The log is written in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while context.log_text().matches(" request ").count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = context.log_text();
    let requests: Vec<&str> = log.lines().filter(|line| line.contains(" request ")).collect();
    assert_eq!(requests.len(), 2, "{log}");
    assert!(
        requests[0].contains("rpc=\"Lock\"") && requests[0].contains("outcome=\"ok\""),
        "{log}"
    );
    assert!(
        requests[1].contains("rpc=\"Sync\"") && requests[1].contains("outcome=NotFound"),
        "{log}"
    );
    assert!(requests.iter().all(|line| line.contains(" ms=")), "{log}");
    assert!(
        !log.contains("pubgrub"),
        "resolver internals in the default log:\n{log}"
    );
}

/// `axle daemon stop` does not wait for a cold lock in progress: the lock's requests are cut
/// (the lock writes nothing until it is done), the daemon is gone at once, and the next lock
/// starts a new one and works. The bound asserted is generous; the figure (≤ 200 ms) is the
/// bench's.
#[test]
fn stop_does_not_wait_for_a_lock_in_progress() {
    use axle_e2e::index::TestIndex;
    use axle_e2e::wheel::WheelBuilder;
    let index = TestIndex::start();
    for link in 0..6 {
        index.add(
            &WheelBuilder::new(&format!("chain{link}"), "1.0")
                .requires(&format!("chain{}", link + 1))
                .build(),
        );
    }
    index.add(&WheelBuilder::new("chain6", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "chain0\n");
    context.ok(&["daemon", "start"]);
    let pid = context.daemon_pid().unwrap();
    // Each answer takes 1.5 s: the lock needs at least ten seconds.
    index
        .behaviour()
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let mut lock = context.spawn_quiet(&["lock"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while index.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    context.ok(&["daemon", "stop"]);
    let elapsed = started.elapsed();
    assert!(!process_alive(pid), "the daemon outlived its stop");
    assert!(elapsed < Duration::from_millis(1500), "stop took {elapsed:?}");
    assert!(
        !context.path("requirements.txt").exists(),
        "a cut lock wrote its output"
    );
    let _ = lock.kill();
    let _ = lock.wait();

    index.behaviour().delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    context.ok(&["lock"]);
    assert!(context.read("requirements.txt").contains("chain6==1.0"));
}
