//! `axle venv` against `python -m venv --without-pip`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use axle_e2e::{TestContext, assert_success, real_python, real_python_version};

fn tree(root: &Path) -> Vec<String> {
    let mut entries = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            if kind.is_symlink() {
                entries.push(format!(
                    "{relative} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if kind.is_dir() {
                entries.push(format!("{relative}/"));
                stack.push(path);
            } else {
                entries.push(relative);
            }
        }
    }
    entries.sort();
    entries
}

fn cfg(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path.join("pyvenv.cfg"))
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[test]
fn matches_python_venv_for_the_same_interpreter() {
    let context = TestContext::new();
    let python = real_python();
    context.ok(&["venv", "axle-env", "--python", python.to_str().unwrap()]);
    let output = context
        .command(&python)
        .args(["-m", "venv", "--without-pip", "venv-env"])
        .output()
        .unwrap();
    assert_success(&output, "python -m venv");

    let axle_tree = tree(&context.path("axle-env"));
    let mut venv_tree = tree(&context.path("venv-env"));
    // venv writes .gitignore only from 3.13 on; axle always does.
    if !venv_tree.contains(&".gitignore".to_string()) {
        venv_tree.push(".gitignore".to_string());
        venv_tree.sort();
    }
    assert_eq!(axle_tree, venv_tree);

    let axle_cfg = cfg(&context.path("axle-env"));
    let venv_cfg = cfg(&context.path("venv-env"));
    assert_eq!(axle_cfg.keys().collect::<Vec<_>>(), venv_cfg.keys().collect::<Vec<_>>());
    for key in ["home", "include-system-site-packages", "version", "executable"] {
        assert_eq!(axle_cfg[key], venv_cfg[key], "pyvenv.cfg key {key}");
    }
    assert_eq!(
        axle_cfg["command"],
        venv_cfg["command"].replace("venv-env", "axle-env"),
        "the recorded command recreates the same environment"
    );
}

#[test]
fn the_environment_runs_and_activates() {
    let context = TestContext::new();
    context.ok(&["venv"]);
    let venv = context.path(".venv");
    let output = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sys, site; print(sys.prefix != sys.base_prefix); print(sys.prefix); print(site.getsitepackages()[0])",
        ])
        .output()
        .unwrap();
    assert_success(&output, "venv python");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (major, minor) = real_python_version();
    assert_eq!(lines[0], "True");
    assert_eq!(Path::new(lines[1]), venv);
    assert_eq!(
        Path::new(lines[2]),
        venv.join(format!("lib/python{major}.{minor}/site-packages"))
    );

    let script = "source .venv/bin/activate && echo \"$VIRTUAL_ENV\" && echo \"$PATH\" && command -v python && deactivate && echo \"after:${VIRTUAL_ENV-}\"";
    let output = context.command("bash").args(["-c", script]).output().unwrap();
    assert_success(&output, "bash activate");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(Path::new(lines[0]), venv);
    assert!(
        lines[1].starts_with(&format!("{}/bin:", venv.display())),
        "{}",
        lines[1]
    );
    assert_eq!(Path::new(lines[2]), venv.join("bin/python"));
    assert_eq!(lines[3], "after:");

    // The daemon's venv registry knows it (recorded just after the reply).
    let db = context.home.join("axle.db");
    let query =
        "import sqlite3, sys; print([r[0] for r in sqlite3.connect(sys.argv[1]).execute('select path from venvs')])";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let rows = axle_e2e::python(query, &[db.to_str().unwrap()]);
        if rows.contains(&venv.display().to_string()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "venv not registered: {rows}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn default_interpreter_is_python3_on_path_and_python_version_wins() {
    let context = TestContext::new();
    let json = context.ok(&["--json", "venv"]);
    let created: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        Path::new(created["interpreter"]["executable"].as_str().unwrap()),
        context.python_bin.join("python3")
    );

    // A .python-version naming a version nobody has is honoured, not ignored.
    std::fs::write(context.path(".python-version"), "3.99\n").unwrap();
    let error = context.fails(&["venv", "other"]);
    assert!(error.contains("3.99"), "{error}");
    assert!(error.contains(".python-version"), "{error}");
    assert!(!context.path("other").exists());
}

#[test]
fn prompt_and_system_site_packages_are_recorded() {
    let context = TestContext::new();
    context.ok(&["venv", "--prompt", "hello", "--system-site-packages"]);
    let cfg = cfg(&context.path(".venv"));
    assert_eq!(cfg["prompt"], "'hello'");
    assert_eq!(cfg["include-system-site-packages"], "true");
    let activate = std::fs::read_to_string(context.path(".venv/bin/activate")).unwrap();
    assert!(activate.contains("VIRTUAL_ENV_PROMPT='hello'"));
}

#[test]
fn refuses_a_directory_that_is_not_a_venv_and_keeps_it() {
    let context = TestContext::new();
    let precious = context.path("src");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("main.py"), "print('mine')").unwrap();
    for args in [&["venv", "src"][..], &["venv", "src", "--clear"][..]] {
        let error = context.fails(args);
        assert!(error.contains("not a virtual environment"), "{error}");
        assert_eq!(
            std::fs::read_to_string(precious.join("main.py")).unwrap(),
            "print('mine')"
        );
        assert_eq!(std::fs::read_dir(&precious).unwrap().count(), 1);
    }

    std::fs::write(context.path("file"), "data").unwrap();
    let error = context.fails(&["venv", "file"]);
    assert!(error.contains("not a directory"), "{error}");
    assert_eq!(std::fs::read_to_string(context.path("file")).unwrap(), "data");
}

#[test]
fn an_existing_venv_is_replaced_only_with_clear() {
    let context = TestContext::new();
    context.ok(&["venv"]);
    let marker = context.path(".venv/lib/marker");
    std::fs::write(&marker, "").unwrap();
    let error = context.fails(&["venv"]);
    assert!(error.contains("--clear"), "{error}");
    assert!(marker.exists());
    context.ok(&["venv", "--clear"]);
    assert!(!marker.exists());
    assert!(context.path(".venv/pyvenv.cfg").exists());
    // No staging or trash directories are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&context.project)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("axle-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn missing_interpreter_lists_what_was_tried() {
    let context = TestContext::new();
    let error = context.fails(&["venv", "--python", "3.99"]);
    assert!(error.contains("3.99"), "{error}");
    assert!(
        error.contains(&context.python_bin.join("python3").display().to_string()),
        "{error}"
    );
    assert!(!context.path(".venv").exists());

    let error = context.fails(&["venv", "--python", "/nonexistent/python3"]);
    assert!(error.contains("/nonexistent/python3"), "{error}");
}

#[test]
fn unwritable_parent_gives_a_clear_error() {
    let context = TestContext::new();
    std::fs::write(context.path("plain-file"), "keep").unwrap();
    let error = context.fails(&["venv", "plain-file/env"]);
    assert!(error.contains("plain-file/env"), "{error}");
    assert_eq!(std::fs::read_to_string(context.path("plain-file")).unwrap(), "keep");

    // Permission bits do not stop root; the check only means something for others.
    if rustix_like_uid() != 0 {
        let locked = context.path("locked");
        std::fs::create_dir(&locked).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        let error = context.fails(&["venv", "locked/env"]);
        assert!(error.contains("ermission denied"), "{error}");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn rustix_like_uid() -> u32 {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
}
