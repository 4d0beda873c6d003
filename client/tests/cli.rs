//! The command line's shape, as users see it in `--help`.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_axle")).args(args).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!(help(&["--help"]));
}

#[test]
fn venv_help() {
    insta::assert_snapshot!(help(&["venv", "--help"]));
}

#[test]
fn usage_errors_exit_with_two() {
    let output = Command::new(env!("CARGO_BIN_EXE_axle"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
