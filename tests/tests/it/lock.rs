//! `axle lock` against a local index: pip-compile's format and semantics.

use std::sync::Arc;

use axle_e2e::TestContext;
use axle_e2e::index::{IndexFile, TestIndex};
use axle_e2e::wheel::WheelBuilder;

fn add(index: &TestIndex, wheel: WheelBuilder) {
    index.add(&wheel.build());
}

/// An sdist entry (its bytes are never unpacked by a lock).
fn sdist(index: &TestIndex, project: &str, filename: &str) {
    let bytes = format!("not really a tarball: {filename}").into_bytes();
    index.add_file(
        project,
        IndexFile {
            filename: filename.to_string(),
            sha256: axle_e2e::wheel::sha256_hex(&bytes),
            bytes: Arc::new(bytes),
            metadata: None,
            requires_python: None,
            yanked: None,
            upload_time: None,
        },
    );
}

fn context_with(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"Python \d+\.\d+", "Python 3.X"),
    ]
}

#[test]
fn writes_pip_compiles_format() {
    let index = TestIndex::start();
    add(
        &index,
        WheelBuilder::new("web-app", "1.2.0")
            .requires("helper>=1.0")
            .extra("speed", &["fastpath>=2"]),
    );
    add(&index, WheelBuilder::new("helper", "1.0").requires("shared"));
    add(&index, WheelBuilder::new("helper", "1.1").requires("shared"));
    add(
        &index,
        WheelBuilder::new("helper", "1.1")
            .requires("shared")
            .tag("cp311-cp311-win_amd64"),
    );
    add(&index, WheelBuilder::new("fastpath", "2.0").requires("shared<2"));
    add(&index, WheelBuilder::new("shared", "1.5"));
    // Every file of a pinned version is hashed, whatever its platform.
    add(&index, WheelBuilder::new("shared", "1.5").tag("cp311-cp311-win_amd64"));
    sdist(&index, "shared", "shared-1.5.tar.gz");
    add(&index, WheelBuilder::new("shared", "2.0"));
    add(&index, WheelBuilder::new("tool", "3.0").requires("setuptools"));
    add(&index, WheelBuilder::new("setuptools", "70.0"));
    sdist(&index, "helper", "helper-1.1.tar.gz");
    let context = context_with(&index);
    context.write(
        "requirements.in",
        "# The service.\nweb-app[speed]>=1.0\ntool ; python_version >= '3.0'\nnever-needed ; sys_platform == 'nonexistent'\n-c constraints.txt\n",
    );
    context.write("constraints.txt", "helper<1.1\n");

    context.ok(&["lock", "--generate-hashes"]);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("generate_hashes", context.read("requirements.txt"));
    });

    context.ok(&[
        "lock",
        "-o",
        "line.txt",
        "--annotation-style=line",
        "--allow-unsafe",
        "--no-strip-extras",
    ]);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("line_style", context.read("line.txt"));
    });

    context.ok(&[
        "lock",
        "-o",
        "bare.txt",
        "--no-header",
        "--no-annotate",
        "--no-emit-index-url",
    ]);
    insta::assert_snapshot!("bare", context.read("bare.txt"));
}

#[test]
fn backtracks_to_a_version_that_fits() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("alpha", "2.0").requires("gamma==2.0"));
    add(&index, WheelBuilder::new("alpha", "1.0").requires("gamma==1.0"));
    add(&index, WheelBuilder::new("beta", "1.0").requires("gamma<2"));
    add(&index, WheelBuilder::new("gamma", "1.0"));
    add(&index, WheelBuilder::new("gamma", "2.0"));
    let context = context_with(&index);
    context.write("requirements.in", "alpha\nbeta\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("alpha==1.0\n"), "{lock}");
    assert!(lock.contains("gamma==1.0\n"), "{lock}");
}

#[test]
fn conflicts_are_explained_down_the_chain() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("left", "1.0").requires("shared>=2"));
    add(&index, WheelBuilder::new("right", "1.0").requires("shared<2"));
    add(&index, WheelBuilder::new("shared", "1.0"));
    add(&index, WheelBuilder::new("shared", "2.0"));
    let context = context_with(&index);
    context.write("requirements.in", "left\nright\n");
    let error = context.fails(&["lock"]);
    for expected in ["left", "right", "shared >=2", "shared <2"] {
        assert!(error.contains(expected), "missing `{expected}` in:\n{error}");
    }
    assert!(!context.path("requirements.txt").exists());
    let (ok, document) = context.json(&["lock"]);
    assert!(!ok);
    assert_eq!(document["error"]["code"], "unsatisfiable");
}

#[test]
fn an_existing_lock_is_kept_until_upgraded() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0"));
    add(&index, WheelBuilder::new("other", "1.0"));
    let context = context_with(&index);
    context.write("requirements.in", "lib\nother\n");
    context.ok(&["lock"]);
    add(&index, WheelBuilder::new("lib", "2.0"));
    add(&index, WheelBuilder::new("other", "2.0"));

    // A changed input re-resolves, but the pins that still fit stay.
    context.write("requirements.in", "lib\nother\n# touched\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("lib==1.0") && lock.contains("other==1.0"), "{lock}");

    context.ok(&["lock", "-P", "lib"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("lib==2.0") && lock.contains("other==1.0"), "{lock}");

    context.ok(&["lock", "--upgrade"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("lib==2.0") && lock.contains("other==2.0"), "{lock}");

    context.ok(&["lock", "-P", "lib==1.0"]);
    assert!(context.read("requirements.txt").contains("lib==1.0"));
}

#[test]
fn pre_releases_only_when_asked_or_needed() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0"));
    add(&index, WheelBuilder::new("lib", "2.0b1"));
    add(&index, WheelBuilder::new("solo", "1.0rc1"));
    let context = context_with(&index);
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("lib\n", &[], &["lib==1.0"]),
        ("lib\n", &["--pre"], &["lib==2.0b1"]),
        ("lib>=2.0b1\n", &[], &["lib==2.0b1"]),
        ("solo\n", &[], &["solo==1.0rc1"]),
    ];
    for (input, flags, expected) in cases {
        context.write("requirements.in", input);
        let mut args = vec!["lock", "--dry-run", "--no-header"];
        args.extend_from_slice(flags);
        let lock = context.ok(&args);
        for pin in expected {
            assert!(lock.contains(pin), "{input} {flags:?}: {lock}");
        }
    }
}

#[test]
fn yanked_versions_only_when_pinned_exactly() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0"));
    add(&index, WheelBuilder::new("lib", "2.0"));
    index.update("lib-2.0-py3-none-any.whl", |file| file.yanked = Some("broken".into()));
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    assert!(context.ok(&["lock", "--dry-run"]).contains("lib==1.0"));
    context.write("requirements.in", "lib==2.0\n");
    assert!(context.ok(&["lock", "--dry-run"]).contains("lib==2.0"));
}

#[test]
fn requires_python_and_markers_are_honoured() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("modern", "1.0"));
    add(&index, WheelBuilder::new("modern", "2.0").requires_python(">=3.99"));
    index.update("modern-2.0-py3-none-any.whl", |file| {
        file.requires_python = Some(">=3.99".into())
    });
    add(
        &index,
        WheelBuilder::new("cross", "1.0")
            .requires("linux-only ; sys_platform == 'linux'")
            .requires("windows-only ; sys_platform == 'win32'"),
    );
    add(&index, WheelBuilder::new("linux-only", "1.0"));
    add(&index, WheelBuilder::new("windows-only", "1.0"));
    let context = context_with(&index);
    context.write("requirements.in", "modern\ncross\n");
    let lock = context.ok(&["lock", "--dry-run"]);
    assert!(lock.contains("modern==1.0"), "{lock}");
    assert!(
        lock.contains("linux-only==1.0") && !lock.contains("windows-only"),
        "{lock}"
    );

    // Another target: Windows, Python 3.12.
    let lock = context.ok(&[
        "lock",
        "--dry-run",
        "--python-platform",
        "windows",
        "--python-version",
        "3.12",
    ]);
    assert!(
        lock.contains("windows-only==1.0") && !lock.contains("linux-only"),
        "{lock}"
    );
}

#[test]
fn unchanged_inputs_answer_from_memory() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0"));
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    let (_, first) = context.json(&["lock"]);
    assert_eq!(first["fresh"], false);
    let requests = index.requests().len();
    let (_, second) = context.json(&["lock"]);
    assert_eq!(second["fresh"], true);
    assert_eq!(index.requests().len(), requests, "a fresh answer asked the index");

    // Editing the lock by hand, or an input, means resolving again.
    let edited = context.read("requirements.txt").replace("# via", "#   via");
    context.write("requirements.txt", &edited);
    assert_eq!(context.json(&["lock"]).1["fresh"], false);
    context.write("requirements.in", "lib>=1\n");
    assert_eq!(context.json(&["lock"]).1["fresh"], false);
    assert_eq!(context.json(&["lock"]).1["fresh"], true);
}

#[test]
fn bad_input_names_file_and_line_and_writes_nothing() {
    let index = TestIndex::start();
    let context = context_with(&index);
    context.write("requirements.in", "good\nbad==\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("requirements.in:2"), "{error}");
    assert!(error.contains("bad=="), "{error}");
    assert!(!context.path("requirements.txt").exists());

    context.write("requirements.in", "lib\n");
    let error = context.fails(&["lock", "missing.in"]);
    assert!(error.contains("missing.in"), "{error}");
}

#[test]
fn offline_after_a_warm_run() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0"));
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock"]);
    context.ok(&["daemon", "stop"]);
    let before = index.requests().len();
    context.write("requirements.in", "lib\n# changed\n");
    context.ok(&["lock", "--offline"]);
    assert_eq!(index.requests().len(), before);
    context.write("requirements.in", "lib\nunknown\n");
    let error = context.fails(&["lock", "--offline"]);
    assert!(error.contains("offline") && error.contains("unknown"), "{error}");
}

#[test]
fn a_dead_index_is_named() {
    let context = TestContext::new();
    context.write("requirements.in", "lib\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("127.0.0.1:9"), "{error}");
}

#[test]
fn pylock_lists_every_file_with_url_and_hash() {
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("lib", "1.0").requires("dep"));
    add(&index, WheelBuilder::new("lib", "1.0").tag("cp311-cp311-win_amd64"));
    add(&index, WheelBuilder::new("dep", "2.0"));
    index.update("dep-2.0-py3-none-any.whl", |file| {
        file.upload_time = Some("2024-03-01T12:00:00.123456Z".into());
    });
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock", "--format", "pylock"]);
    let text = context.read("pylock.toml");
    // Valid TOML, as Python's own parser reads it.
    let summary = axle_e2e::python(
        "import sys, tomllib; d = tomllib.load(open(sys.argv[1], 'rb')); \
         print(d['lock-version'], [(p['name'], p['version'], len(p.get('wheels', []))) for p in d['packages']]); \
         w = d['packages'][0]['wheels'][0]; print(w['upload-time'].year, sorted(w))",
        &[context.path("pylock.toml").to_str().unwrap()],
    );
    assert!(
        summary.contains("1.0 [('dep', '2.0', 1), ('lib', '1.0', 2)]"),
        "{summary}\n{text}"
    );
    assert!(
        summary.contains("2024 ['hashes', 'name', 'size', 'upload-time', 'url']"),
        "{summary}"
    );
}

#[test]
fn direct_url_requirements_pin_their_file() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let local = WheelBuilder::new("local-tool", "0.3").requires("dep").build();
    let remote = WheelBuilder::new("remote-tool", "2.0").build();
    index.add(&remote);
    let context = context_with(&index);
    let path = local.write_to(context.root.path());
    context.write(
        "requirements.in",
        &format!(
            "local-tool @ file://{}\nremote-tool @ {}/files/{}\n",
            path.display(),
            index.base(),
            remote.filename
        ),
    );
    context.ok(&["lock", "--generate-hashes"]);
    let lock = context.read("requirements.txt");
    assert!(
        lock.contains(&format!("local-tool @ file://{}", path.display())),
        "{lock}"
    );
    assert!(lock.contains(&format!("--hash=sha256:{}", local.sha256)), "{lock}");
    assert!(
        lock.contains(&format!("remote-tool @ {}/files/{}", index.base(), remote.filename)),
        "{lock}"
    );
    assert!(lock.contains("dep==1.0"), "{lock}");
    // It syncs.
    context.ok(&["venv"]);
    context.ok(&["sync"]);
}

#[test]
fn wheels_whose_dist_info_is_spelled_the_old_way_lock_and_sync() {
    // `proxy.py-2.4.10.dist-info`: found by normalised name wherever a wheel is read (range
    // requests, whole downloads, install), and kept as spelled when installed.
    let index = TestIndex::start();
    index
        .behaviour()
        .no_metadata
        .store(true, std::sync::atomic::Ordering::SeqCst);
    index.add(
        &WheelBuilder::new("proxy.py", "2.4.10")
            .spelled("proxy.py")
            .file("proxy/__init__.py", "VERSION = '2.4.10'\n")
            .build(),
    );
    let context = context_with(&index);
    context.write("requirements.in", "proxy.py\n");
    context.ok(&["lock", "--generate-hashes"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("proxy-py==2.4.10"), "{lock}");
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    let site = context.path(".venv/lib");
    let dist_info = axle_e2e::files_under(&site)
        .into_iter()
        .find(|path| path.ends_with("METADATA"))
        .unwrap();
    assert!(
        dist_info.display().to_string().contains("proxy.py-2.4.10.dist-info"),
        "{}",
        dist_info.display()
    );
    let (_, again) = context.json(&["sync"]);
    assert_eq!(again["installed"], serde_json::json!([]), "{again}");
}

#[test]
fn the_metadata_of_a_wheel_with_many_files_is_read_in_a_few_ranges() {
    // No PEP 658 file, and a central directory of megabytes (torch has tens of thousands of
    // files): the gap between the directory's start and the tail is fetched in one request,
    // never the wheel whole.
    let index = TestIndex::start();
    index
        .behaviour()
        .no_metadata
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut wheel = WheelBuilder::new("huge", "1.0");
    for number in 0..30_000 {
        wheel = wheel.file(&format!("huge/part_{number:05}/module_with_a_long_name.py"), "");
    }
    index.add(&wheel.build());
    let context = context_with(&index);
    context.write("requirements.in", "huge\n");
    context.ok(&["lock"]);
    assert!(context.read("requirements.txt").contains("huge==1.0"));
    let fetches = index.requests_to("huge-1.0-py3-none-any.whl");
    assert!(
        fetches.iter().all(|fetch| fetch.range.is_some()),
        "a whole download: {fetches:?}"
    );
    assert!(fetches.len() <= 4, "{} range requests: {fetches:?}", fetches.len());
}

#[test]
fn an_extra_never_walks_its_package_back_through_old_releases() {
    // app 2.0 needs lib>=2, whose [fast] extra needs speed>=2, which the root forbids: the
    // answer is app 1.0 with lib 1.0. A resolver that walks lib[fast] down while lib stays
    // at 2.0 reads (here: builds, and fails on) every older lib; extras are proxies whose
    // wrong versions are refused without metadata, so the walk ends in memory and app steps
    // back instead.
    let index = TestIndex::start();
    add(
        &index,
        WheelBuilder::new("app", "2.0").requires("lib>=2").requires("lib[fast]"),
    );
    add(
        &index,
        WheelBuilder::new("app", "1.0").requires("lib>=1").requires("lib[fast]"),
    );
    add(&index, WheelBuilder::new("lib", "2.0").extra("fast", &["speed>=2"]));
    add(&index, WheelBuilder::new("lib", "1.0").extra("fast", &["speed<2"]));
    add(&index, WheelBuilder::new("speed", "2.0"));
    add(&index, WheelBuilder::new("speed", "1.0"));
    for old in ["0.1", "0.2", "0.3"] {
        index.add_sdist(
            &axle_e2e::sdist::ProjectBuilder::new("lib", old)
                .setting("fail", "prepare_metadata_for_build_wheel".into())
                .sdist(),
        );
    }
    let context = context_with(&index);
    context.write("requirements.in", "app\nspeed<2\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    for pin in ["app==1.0", "lib==1.0", "speed==1.0"] {
        assert!(lock.contains(pin), "{pin}:\n{lock}");
    }
    assert!(!context.home.join("logs/builds").exists(), "nothing was built");
}

#[test]
fn a_requires_python_upper_bound_is_honoured_as_pip_honours_it() {
    // uv ignores upper bounds of Requires-Python and would pin legacy 2.0 here; pip would
    // refuse to install it on this interpreter, so axle (like pip-compile) steps back.
    let (major, minor) = axle_e2e::real_python_version();
    let below = format!("<{major}.{minor}");
    let index = TestIndex::start();
    add(&index, WheelBuilder::new("legacy", "1.0"));
    add(&index, WheelBuilder::new("legacy", "2.0").requires_python(&below));
    index.update("legacy-2.0-py3-none-any.whl", |file| {
        file.requires_python = Some(below.clone())
    });
    let context = context_with(&index);
    context.write("requirements.in", "legacy\n");
    let lock = context.ok(&["lock", "--dry-run"]);
    assert!(lock.contains("legacy==1.0"), "{lock}");
}

#[test]
fn setuptools_and_pip_are_left_out_as_unsafe_as_pip_compile_leaves_them() {
    let index = TestIndex::start();
    add(
        &index,
        WheelBuilder::new("tool", "1.0").requires("setuptools").requires("pip"),
    );
    add(&index, WheelBuilder::new("setuptools", "70.0"));
    add(&index, WheelBuilder::new("pip", "24.0"));
    let context = context_with(&index);
    context.write("requirements.in", "tool\n");
    let lock = context.ok(&["lock", "--dry-run"]);
    assert!(lock.contains("tool==1.0"), "{lock}");
    assert!(!lock.contains("setuptools==") && !lock.contains("pip=="), "{lock}");
    assert!(
        lock.contains(
            "# The following packages are considered to be unsafe in a requirements file:\n# pip\n# setuptools"
        ),
        "{lock}"
    );
    let allowed = context.ok(&["lock", "--dry-run", "--allow-unsafe"]);
    assert!(
        allowed.contains("setuptools==70.0") && allowed.contains("pip==24.0"),
        "{allowed}"
    );
}

/// `--exclude-newer`: releases uploaded after the date are not seen (PEP 700 `upload-time`).
#[test]
fn exclude_newer_hides_releases_uploaded_after_the_date() {
    let index = axle_e2e::index::TestIndex::start();
    for (version, uploaded) in [("1.0", "2024-01-10T12:00:00Z"), ("2.0", "2025-06-01T08:30:00Z")] {
        let wheel = axle_e2e::wheel::WheelBuilder::new("dated", version).build();
        let mut file = axle_e2e::index::IndexFile::from(&wheel);
        file.upload_time = Some(uploaded.to_string());
        index.add_file("dated", file);
    }
    let mut context = axle_e2e::TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "dated\n");
    let pinned = |args: &[&str]| {
        context.ok(&[
            &["lock", "--no-header", "--no-annotate", "--no-emit-index-url"][..],
            args,
        ]
        .concat());
        context.read("requirements.txt").trim().to_string()
    };
    assert_eq!(pinned(&[]), "dated==2.0");
    assert_eq!(pinned(&["-U", "--exclude-newer", "2025-01-01"]), "dated==1.0");
    // A timestamp, to the second: the day 2.0 came out, before and after its upload.
    assert_eq!(pinned(&["-U", "--exclude-newer", "2025-06-01T08:00:00Z"]), "dated==1.0");
    assert_eq!(pinned(&["-U", "--exclude-newer", "2025-06-01T09:00:00Z"]), "dated==2.0");
    // Nothing old enough is an error that says why.
    let error = context.fails(&["lock", "-U", "--exclude-newer", "2023-01-01"]);
    assert!(error.contains("dated"), "{error}");
    // A date that is no date names itself.
    let error = context.fails(&["lock", "--exclude-newer", "last tuesday"]);
    assert!(error.contains("last tuesday"), "{error}");
}

/// `--exclude-newer` as a cooldown: a duration back from now (`7 days`, `P7D`), as uv and pip
/// take it; the lock's header records the moment it meant, and that command, run again, pins
/// the same.
#[test]
fn exclude_newer_takes_a_duration_and_the_header_records_the_moment() {
    let now = jiff::Timestamp::now();
    let ago = |days: i64| now.checked_sub(jiff::SignedDuration::from_hours(24 * days)).unwrap();
    let index = axle_e2e::index::TestIndex::start();
    for (version, uploaded) in [("1.0", ago(30)), ("2.0", ago(10)), ("3.0", ago(2))] {
        let wheel = axle_e2e::wheel::WheelBuilder::new("cooled", version).build();
        let mut file = axle_e2e::index::IndexFile::from(&wheel);
        file.upload_time = Some(uploaded.to_string());
        index.add_file("cooled", file);
    }
    let mut context = axle_e2e::TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "cooled\n");
    let pins = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("=="))
            .map(str::to_string)
            .collect()
    };
    for (cooldown, expected) in [
        ("7 days", "cooled==2.0"),
        ("P7D", "cooled==2.0"),
        ("3 weeks", "cooled==1.0"),
    ] {
        context.ok(&["lock", "-U", "--exclude-newer", cooldown]);
        let lock = context.read("requirements.txt");
        assert_eq!(pins(&lock), [expected], "{cooldown}:\n{lock}");
        // The header names the moment, not the duration.
        let moment = lock
            .lines()
            .find_map(|line| line.split("--exclude-newer=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no --exclude-newer in the header:\n{lock}"));
        let moment: jiff::Timestamp = moment.parse().unwrap();
        let days = if cooldown == "3 weeks" { 21 } else { 7 };
        let off = (ago(days).as_second() - moment.as_second()).abs();
        assert!(off < 120, "{cooldown} meant {moment}, {off} s from {}", ago(days));
        // The header's command, run again later, pins the same.
        let _ = std::fs::remove_file(context.path("again.txt"));
        context.ok(&["lock", "--exclude-newer", &moment.to_string(), "-o", "again.txt"]);
        assert_eq!(pins(&context.read("again.txt")), [expected]);
    }
    let error = context.fails(&["lock", "-U", "--exclude-newer", "7 parsecs"]);
    assert!(error.contains("a duration back from now"), "{error}");
}

/// `--refresh-package NAME`: that project's page is asked again even while the cached copy is
/// fresh; the others are answered from the cache.
#[test]
fn refresh_package_revalidates_only_the_named_project() {
    let index = axle_e2e::index::TestIndex::start();
    index
        .behaviour()
        .max_age
        .store(600, std::sync::atomic::Ordering::SeqCst);
    index.add(
        &axle_e2e::wheel::WheelBuilder::new("moving", "1.0")
            .requires("steady")
            .build(),
    );
    index.add(&axle_e2e::wheel::WheelBuilder::new("steady", "1.0").build());
    let mut context = axle_e2e::TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "moving\n");
    context.ok(&["lock"]);
    assert!(context.read("requirements.txt").contains("moving==1.0"));

    // A new release, while the cached pages are still fresh for ten minutes.
    index.add(
        &axle_e2e::wheel::WheelBuilder::new("moving", "2.0")
            .requires("steady")
            .build(),
    );
    index.clear_requests();
    context.ok(&["lock", "-U"]);
    assert!(
        context.read("requirements.txt").contains("moving==1.0"),
        "served from the cache"
    );
    assert!(index.requests_to("/moving/").is_empty(), "{:?}", index.requests());

    context.ok(&["lock", "-U", "--refresh-package", "moving"]);
    assert!(context.read("requirements.txt").contains("moving==2.0"));
    assert_eq!(index.requests_to("/moving/").len(), 1, "{:?}", index.requests());
    assert!(index.requests_to("/steady/").is_empty(), "{:?}", index.requests());
}

/// The test index answers as the real one does: gzip-compressed pages to clients that accept
/// them, PEP 700's `versions` key. axle reads both, and the same pages uncompressed.
#[test]
fn gzip_pages_and_pep_700_versions_are_read() {
    let index = axle_e2e::index::TestIndex::start();
    index.add(
        &axle_e2e::wheel::WheelBuilder::new("zipped", "1.0")
            .requires("plain")
            .build(),
    );
    index.add(
        &axle_e2e::wheel::WheelBuilder::new("zipped", "1.1")
            .requires("plain")
            .build(),
    );
    index.add(&axle_e2e::wheel::WheelBuilder::new("plain", "3.0").build());
    let mut context = axle_e2e::TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "zipped\n");
    context.ok(&["lock", "--no-header", "--no-annotate", "--no-emit-index-url"]);
    assert_eq!(context.read("requirements.txt"), "plain==3.0\nzipped==1.1\n");
    assert!(
        index
            .behaviour()
            .gzipped_pages
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2
    );

    index
        .behaviour()
        .no_gzip
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut uncompressed = axle_e2e::TestContext::new();
    uncompressed.use_index(&index);
    uncompressed.write("requirements.in", "zipped\n");
    uncompressed.ok(&["lock", "--no-header", "--no-annotate", "--no-emit-index-url"]);
    assert_eq!(uncompressed.read("requirements.txt"), context.read("requirements.txt"));
}

/// An index over TLS, as real ones are: its certificate is refused until the request names
/// the CA bundle (pip's `PIP_CERT` or `cert` in pip.conf, read per request, so the daemon that
/// refused it a moment ago accepts it now), and then pages and files come over HTTP/2;
/// HTTP/1.1 over TLS works too.
#[test]
fn a_tls_index_is_trusted_through_pip_cert_and_spoken_to_over_http2() {
    let index = axle_e2e::index::TestIndex::start_tls();
    index.add(
        &axle_e2e::wheel::WheelBuilder::new("secure", "1.0")
            .requires("plain")
            .build(),
    );
    index.add(&axle_e2e::wheel::WheelBuilder::new("plain", "2.0").build());
    let certificate = index.certificate().unwrap();
    let mut context = axle_e2e::TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "secure\n");

    let refused = context.fails(&["lock"]);
    assert!(refused.contains("certificate is not trusted"), "{refused}");
    assert!(refused.contains("PIP_CERT"), "{refused}");
    context
        .env
        .insert("PIP_CERT".to_string(), "/nonexistent/bundle.pem".to_string());
    let missing = context.fails(&["lock"]);
    assert!(missing.contains("/nonexistent/bundle.pem"), "{missing}");

    context
        .env
        .insert("PIP_CERT".to_string(), certificate.display().to_string());
    context.ok(&["lock", "--no-header", "--no-annotate", "--no-emit-index-url"]);
    assert_eq!(context.read("requirements.txt"), "plain==2.0\nsecure==1.0\n");
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert!(context.path(".venv").join("lib").exists());
    let files = index.requests_to("/files/").len() as u64;
    assert!(files >= 2, "{:?}", index.requests());
    assert!(
        index.http2_requests() >= files,
        "{} requests over HTTP/2 of {:?}",
        index.http2_requests(),
        index.requests()
    );

    // pip.conf's `cert`, and HTTP/1.1 when HTTP/2 is switched off.
    let http2_before = index.http2_requests();
    let mut plain = axle_e2e::TestContext::new();
    plain.use_index(&index);
    let conf = plain.write("pip.conf", &format!("[global]\ncert = {}\n", certificate.display()));
    plain
        .env
        .insert("PIP_CONFIG_FILE".to_string(), conf.display().to_string());
    plain.env.insert("AXLE_HTTP2".to_string(), "0".to_string());
    plain.write("requirements.in", "secure\n");
    plain.ok(&["lock", "--no-header", "--no-annotate", "--no-emit-index-url"]);
    assert_eq!(plain.read("requirements.txt"), context.read("requirements.txt"));
    assert_eq!(index.http2_requests(), http2_before);
}
