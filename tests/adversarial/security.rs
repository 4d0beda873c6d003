//! Local security: who may talk to the daemon, where it listens, and where
//! credentials may appear.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, real_python};

#[test]
fn another_user_is_refused_even_through_an_open_socket() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout == b"0\n");
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !is_root || !has_setpriv {
        axle_e2e::cannot_run(
            "another_user_is_refused_even_through_an_open_socket",
            "needs root and setpriv to act as another user",
            "AXLE_REQUIRE_ROOT_TESTS",
        );
        return;
    }
    let context = TestContext::new();
    context.ok(&["daemon", "start"]);
    let socket = context.status()["socket"].as_str().unwrap().to_string();
    let directory = Path::new(&socket).parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::metadata(&directory).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Open every door the file system has, so only the peer check remains.
    let mut opened = vec![directory.clone()];
    let mut parent = directory.parent();
    while let Some(dir) = parent {
        opened.push(dir.to_path_buf());
        parent = dir.parent();
    }
    let saved: Vec<(std::path::PathBuf, u32)> = opened
        .iter()
        .map(|dir| (dir.clone(), std::fs::metadata(dir).unwrap().permissions().mode()))
        .collect();
    for dir in &opened {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    data = s.recv(65536)
except OSError:
    data = b""
print("served" if data else "refused")
"#;
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(real_python())
        .args(["-c", script, &socket])
        .output()
        .unwrap();
    for (dir, mode) in saved {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let answer = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        answer.trim(),
        "refused",
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(context.log_text().contains("refused a connection from another user"));
}

#[test]
fn the_daemon_listens_on_no_network_socket() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock"]);
    let pid = context.daemon_pid().unwrap();
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let text = target.to_string_lossy().into_owned();
            text.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string)
        })
        .collect();
    assert!(!inodes.is_empty());
    for table in ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (state, inode) = (fields[3], fields[9]);
            let listening = state == "0A" || table.contains("udp");
            assert!(
                !(listening && inodes.iter().any(|ours| ours == inode)),
                "the daemon listens on {table}: {line}"
            );
        }
    }
}

/// Every file under `root`, read as bytes, searched for `secret`.
fn files_containing(root: &Path, secret: &str) -> Vec<String> {
    axle_e2e::files_under(root)
        .into_iter()
        .filter(|path| {
            std::fs::read(path).is_ok_and(|bytes| bytes.windows(secret.len()).any(|window| window == secret.as_bytes()))
        })
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn credentials_never_reach_logs_the_database_locks_or_errors() {
    let secret = "s3cr3t-pa55word";
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").requires("dep").build());
    index.add(&WheelBuilder::new("dep", "1.0").build());
    index.require_credentials("alice", secret);
    let mut context = TestContext::new();
    context.env.insert("AXLE_LOG".into(), "debug".into());
    context
        .env
        .insert("PIP_INDEX_URL".into(), index.url_with_credentials("alice", secret));
    context.ok(&["venv"]);
    context.write("requirements.in", "lib\n");
    let mut outputs = Vec::new();
    for args in [
        &["lock", "--generate-hashes"][..],
        &["sync"][..],
        &["lock", "--format", "pylock"][..],
    ] {
        let output = context.axle().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(output);
    }
    // A wrong password: the error names the index, not the password.
    let mut wrong = context.axle();
    wrong.env("PIP_INDEX_URL", index.url_with_credentials("alice", "wrong-pa55word"));
    let output = wrong.args(["lock", "-U"]).output().unwrap();
    assert!(!output.status.success());
    assert!(!String::from_utf8_lossy(&output.stderr).contains("wrong-pa55word"));
    outputs.push(output);

    // The same through .netrc.
    let netrc = context.root.path().join("netrc");
    std::fs::write(&netrc, format!("machine 127.0.0.1 login alice password {secret}\n")).unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = context
        .axle()
        .env("PIP_INDEX_URL", index.url())
        .env("NETRC", &netrc)
        .args(["lock", "-U", "-o", "netrc.txt"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    outputs.push(output);

    for output in &outputs {
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(secret),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
    }
    context.ok(&["daemon", "stop"]);
    assert_eq!(files_containing(&context.home, secret), Vec::<String>::new());
    for lock in ["requirements.txt", "pylock.toml", "netrc.txt"] {
        assert!(!context.read(lock).contains(secret), "{lock}");
        assert!(!context.read(lock).contains("alice"), "{lock}");
    }
}
