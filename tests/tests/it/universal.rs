//! `axle lock --universal`: one lock for every platform and every Python from the target's on,
//! with markers on the pins and forks where requirements differ by marker or a release needs a
//! newer Python — and `axle sync` installing from it what this interpreter needs.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axle_e2e::TestContext;
use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;

fn context_with(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context
}

/// The pin lines of `file` (with their markers), without hashes or annotations.
fn pins(context: &TestContext, file: &str) -> Vec<String> {
    context
        .read(file)
        .lines()
        .filter(|line| line.contains("==") && !line.trim_start().starts_with('#'))
        .map(|line| line.trim_end_matches(" \\").to_string())
        .collect()
}

fn site_packages(context: &TestContext) -> PathBuf {
    let (major, minor) = axle_e2e::real_python_version();
    context
        .path(".venv")
        .join(format!("lib/python{major}.{minor}/site-packages"))
}

/// The `name-version` of every distribution installed in the venv.
fn installed(context: &TestContext) -> BTreeSet<String> {
    std::fs::read_dir(site_packages(context))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".dist-info").map(str::to_string)
        })
        .collect()
}

/// A project whose requirements differ by platform: a newer `dep` on Linux, an older one
/// elsewhere, and a Windows-only helper (whose wheel exists only for Windows).
fn platform_shapes(index: &TestIndex) {
    index.add(
        &WheelBuilder::new("app", "1.0")
            .requires("dep>=2; sys_platform == 'linux'")
            .requires("dep<2; sys_platform != 'linux'")
            .requires("winhelper; sys_platform == 'win32'")
            .requires("common")
            .build(),
    );
    for version in ["1.0", "1.5", "2.0", "2.1"] {
        index.add(&WheelBuilder::new("dep", version).requires("common>=1").build());
    }
    index.add(&WheelBuilder::new("common", "1.0").build());
    index.add(&WheelBuilder::new("common", "1.1").build());
    index.add(&WheelBuilder::new("winhelper", "3.0").tag("cp39-abi3-win_amd64").build());
}

#[test]
fn a_universal_lock_forks_where_requirements_differ_by_platform() {
    let index = TestIndex::start();
    platform_shapes(&index);
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    context.ok(&["lock", "--universal", "--generate-hashes"]);
    let lock = context.read("requirements.txt");
    assert_eq!(
        pins(&context, "requirements.txt"),
        [
            "app==1.0",
            "common==1.1",
            "dep==1.5 ; sys_platform != \"linux\"",
            "dep==2.1 ; sys_platform == \"linux\"",
            "winhelper==3.0 ; sys_platform == \"win32\"",
        ],
        "{lock}"
    );
    assert!(lock.contains("--universal"), "the header names the option:\n{lock}");

    // Synced here (Linux), the universal lock gives the venv a platform lock gives.
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    let from_universal = installed(&context);
    assert_eq!(
        from_universal,
        BTreeSet::from(["app-1.0", "common-1.1", "dep-2.1"].map(str::to_string)),
        "{lock}"
    );
    context.ok(&["lock", "--generate-hashes", "-o", "platform.txt"]);
    context.ok(&["sync", "platform.txt"]);
    assert_eq!(installed(&context), from_universal);
}

#[test]
fn a_release_needing_a_newer_python_is_pinned_for_those_pythons_only() {
    // lib 3.0 needs a Python newer than the lowest the lock covers: uv's default strategy pins
    // it for those Pythons and the newest release the older ones can use for them.
    let (major, minor) = axle_e2e::real_python_version();
    let next = format!("{major}.{}", minor + 1);
    let index = TestIndex::start();
    for (version, requires_python) in [("1.0", ">=3.8"), ("2.0", ">=3.8"), ("3.0", &*format!(">={next}"))] {
        let wheel = WheelBuilder::new("lib", version)
            .requires_python(requires_python)
            .build();
        let filename = wheel.filename.clone();
        index.add(&wheel);
        index.update(&filename, |file| {
            file.requires_python = Some(requires_python.to_string())
        });
    }
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock", "--universal"]);
    assert_eq!(
        pins(&context, "requirements.txt"),
        [
            format!("lib==2.0 ; python_full_version < \"{next}\""),
            format!("lib==3.0 ; python_full_version >= \"{next}\""),
        ],
        "{}",
        context.read("requirements.txt")
    );
    // This interpreter is the older one: it gets 2.0.
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert!(installed(&context).contains("lib-2.0"), "{:?}", installed(&context));
}

#[test]
fn a_universal_pylock_names_its_markers_and_syncs_like_the_requirements_file() {
    let index = TestIndex::start();
    platform_shapes(&index);
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    context.ok(&["lock", "--universal", "--format", "pylock", "-o", "pylock.toml"]);
    let lock = context.read("pylock.toml");
    let (major, minor) = axle_e2e::real_python_version();
    assert!(
        lock.contains(&format!("requires-python = \">={major}.{minor}\"")),
        "{lock}"
    );
    assert!(lock.contains("marker = \"sys_platform == 'win32'\""), "{lock}");
    context.ok(&["venv"]);
    context.ok(&["sync", "pylock.toml"]);
    assert_eq!(
        installed(&context),
        BTreeSet::from(["app-1.0", "common-1.1", "dep-2.1"].map(str::to_string))
    );
}

#[test]
fn universal_conflicts_with_a_named_platform() {
    let index = TestIndex::start();
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    let error = context.fails(&["lock", "--universal", "--python-platform", "linux"]);
    assert!(error.contains("--python-platform"), "{error}");
}

#[test]
fn a_universal_lock_reads_only_lower_bounds_of_requires_python_as_uv_does() {
    // No upper bound can hold for every Python a universal lock covers: like uv, the lock pins
    // legacy 2.0 (a lock for this interpreter alone steps back to 1.0, as pip would).
    let (major, minor) = axle_e2e::real_python_version();
    let below = format!(">=3.6,<{major}.{minor}");
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("legacy", "1.0").build());
    index.add(&WheelBuilder::new("legacy", "2.0").requires_python(&below).build());
    index.update("legacy-2.0-py3-none-any.whl", |file| {
        file.requires_python = Some(below.clone())
    });
    let context = context_with(&index);
    context.write("requirements.in", "legacy\n");
    let lock = context.ok(&["lock", "--universal", "--dry-run"]);
    assert!(lock.contains("legacy==2.0"), "{lock}");
}
