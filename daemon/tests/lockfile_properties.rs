//! Property tests (bounded): lock files of any content — pip-compile's requirements.txt and
//! PEP 751 pylock.toml — are read or refused with an error, never a panic.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use axle_daemon::lockfile;
use axle_daemon::target::target_without_interpreter;
use proptest::prelude::*;

fn read(name: &str, text: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let target = target_without_interpreter("3.12", "linux").unwrap();
    let _ = lockfile::read(&[path], &HashMap::new(), &target.markers);
}

fn pinned_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}==[0-9]{1,2}(\\.[0-9]{1,2}){0,2}",
        "[a-z]{1,6}==[0-9]\\.[0-9] \\\\\n    --hash=sha256:[0-9a-f]{64}",
        "[a-z]{1,6} @ (file:///tmp/[a-z]{1,5}\\.whl|https://127\\.0\\.0\\.1/[a-z]{1,5}\\.tar\\.gz)",
        "-e (\\./[a-z]{1,5}|git\\+https://127\\.0\\.0\\.1/x\\.git@[0-9a-f]{7})",
        Just("--index-url https://127.0.0.1/simple/".to_string()),
        Just("    # via something".to_string()),
        "[a-z]{1,6}==[0-9] ; python_version (<|>=) '3\\.[0-9]{1,2}'",
        "[ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requirements_locks_never_panic(lines in prop::collection::vec(pinned_line(), 0..10)) {
        read("requirements.txt", lines.join("\n").as_bytes());
    }

    #[test]
    fn lock_files_of_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read("requirements.txt", &bytes);
        read("pylock.toml", &bytes);
    }

    #[test]
    fn pylock_shaped_toml_never_panics(
        version in "[0-9.]{0,5}",
        name in "[a-z]{0,6}",
        package_version in "[0-9a-z.]{0,6}",
        marker in "[ -~]{0,20}",
        hash in "[0-9a-f]{0,64}",
    ) {
        let text = format!(
            "lock-version = \"{version}\"\ncreated-by = \"x\"\n\n[[packages]]\nname = \"{name}\"\nversion = \"{package_version}\"\nmarker = \"{}\"\n\n[[packages.wheels]]\nname = \"{name}-{package_version}-py3-none-any.whl\"\nurl = \"https://127.0.0.1/x.whl\"\nhashes = {{ sha256 = \"{hash}\" }}\n",
            marker.replace(['"', '\\'], "")
        );
        read("pylock.toml", text.as_bytes());
    }
}
