//! Load: many clients on one daemon, daemons that must not share, and
//! clients and daemons of other builds.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success, bin_dir};

#[test]
fn fifty_clients_at_once_get_the_same_answers_as_one_at_a_time() {
    let index = TestIndex::start();
    for (name, version) in [("alpha", "1.0"), ("beta", "2.0"), ("gamma", "3.0")] {
        index.add(&WheelBuilder::new(name, version).requires("shared").build());
    }
    index.add(&WheelBuilder::new("shared", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "alpha\nbeta\ngamma\n");
    context.ok(&["lock", "--generate-hashes"]);
    let serial_lock = context.ok(&["lock", "--generate-hashes", "--dry-run", "--no-header"]);
    for number in 0..20 {
        context.ok(&["venv", &format!("sync-{number}")]);
    }

    let started = Instant::now();
    let mut children = Vec::new();
    for number in 0..50 {
        let args: Vec<String> = match number % 5 {
            0 => vec!["venv".into(), format!("made-{number}")],
            1 => vec![
                "lock".into(),
                "--generate-hashes".into(),
                "--dry-run".into(),
                "--no-header".into(),
            ],
            2 | 3 => vec![
                "sync".into(),
                "--venv".into(),
                format!("sync-{}", number / 5 * 2 + number % 5 - 2),
            ],
            _ => vec!["daemon".into(), "status".into()],
        };
        let child = context
            .axle()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((args, child));
    }
    for (args, child) in children {
        let output = child.wait_with_output().unwrap();
        assert_success(&output, &format!("axle {}", args.join(" ")));
        if args[0] == "lock" {
            assert_eq!(String::from_utf8(output.stdout).unwrap(), serial_lock);
        }
    }
    assert!(started.elapsed() < Duration::from_secs(120), "{:?}", started.elapsed());
    for number in 0..20 {
        let venv = context.path(&format!("sync-{number}"));
        let output = Command::new(venv.join("bin/python"))
            .args(["-c", "import alpha, beta, gamma, shared"])
            .output()
            .unwrap();
        assert_success(&output, &format!("imports in sync-{number}"));
    }
    // Bounded memory.
    let rss_kib = axle_e2e::rss_kib(context.daemon_pid().unwrap());
    assert!(rss_kib < 300 * 1024, "daemon RSS {rss_kib} KiB");
}

/// A wheel of many files (homeassistant's holds 36,000) unpacks in bounded memory: what each
/// entry leaves behind while the next is inflated is plain data, so the inflater's buffers
/// reuse one hole. Each entry used to leave its manifest line and paths in the hole the
/// previous inflater freed, and the daemon's peak grew by about 20 KiB per file (900 MB for
/// that wheel).
#[test]
fn a_wheel_of_many_files_unpacks_in_bounded_memory() {
    let mut builder = WheelBuilder::new("many", "1.0");
    for number in 0..12_000 {
        builder = builder.file(
            &format!("many/part{}/module{number}.py", number % 40),
            format!("VALUE = {number}\nNAME = 'module {number} of many'\n"),
        );
    }
    let index = TestIndex::start();
    index.add(&builder.build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.txt", "many==1.0\n");
    context.ok(&["venv"]);
    let pid = context.daemon_pid().unwrap();
    let before = peak_rss_kib(pid);
    context.ok(&["sync"]);
    let grown = peak_rss_kib(pid).saturating_sub(before);
    assert!(
        grown < 100 * 1024,
        "the daemon's peak grew by {grown} KiB over the sync"
    );
    assert!(
        context.path(".venv/lib").exists() && context.ok(&["env", "packages"]).contains("many==1.0"),
        "not installed"
    );
}

/// The highest resident memory a process has had, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap()
}

#[test]
fn a_second_daemon_for_one_home_is_refused_and_unlinks_nothing() {
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let status = context.status();
    let socket = std::path::PathBuf::from(status["socket"].as_str().unwrap());
    let output = context
        .command(bin_dir().join("axled"))
        .arg("--foreground")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already serves"));
    assert!(socket.exists());
    assert_eq!(context.status()["pid"], status["pid"]);
}

#[test]
fn two_homes_sharing_one_store_are_refused() {
    let first = TestContext::new();
    first.ok(&["daemon", "start"]);
    first.ok(&["store", "stats"]);
    let second = TestContext::new();
    std::fs::create_dir_all(&second.home).unwrap();
    std::os::unix::fs::symlink(first.home.join("store"), second.home.join("store")).unwrap();
    let error = second.fails(&["daemon", "start"]);
    assert!(error.contains("axled"), "{error}");
    let log = std::fs::read_to_string(second.home.join("logs/axled.stderr")).unwrap_or_default() + &second.log_text();
    assert!(log.contains("in use by another axle daemon"), "{log}");
    // The first daemon is unharmed.
    assert_eq!(first.status()["running"], true);
}

#[test]
fn clients_without_the_build_header_are_served_and_other_builds_replace_the_daemon() {
    // An editor speaking the API directly sends no build id: it is served.
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let socket = context.status()["socket"].as_str().unwrap().to_string();
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
data = s.recv(65536)
print("settings" if len(data) >= 9 and data[3] == 4 else "nothing")
"#;
    let answer = axle_e2e::python(script, &[&socket]);
    assert_eq!(answer.trim(), "settings");
    // The other direction (a client of another build) is covered by
    // it::daemon::a_daemon_of_another_build_is_replaced.
}
