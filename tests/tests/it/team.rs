//! The team store against a real S3 server (SeaweedFS, see `axle_e2e::s3`): several homes
//! sharing one bucket, as CI runners and teammates do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use axle_e2e::index::TestIndex;
use axle_e2e::s3::{Access, SeaweedFs};
use axle_e2e::sdist::ProjectBuilder;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success};

/// A test's set: a wheel (`dep`), and two sdist-only projects whose backend counts its hooks.
struct Scene {
    index: TestIndex,
    counter: PathBuf,
    _counter_dir: tempfile::TempDir,
}

fn scene() -> Scene {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let counter_dir = tempfile::tempdir().unwrap();
    let counter = counter_dir.path().join("hooks.txt");
    for (name, requires) in [("app", "dep>=1"), ("tool", "dep")] {
        index.add_sdist(
            &ProjectBuilder::new(name, "1.0")
                .requires(requires)
                .setting("counter", counter.display().to_string().into())
                .sdist(),
        );
    }
    Scene {
        index,
        counter,
        _counter_dir: counter_dir,
    }
}

fn build_wheel_hooks(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .unwrap_or_default()
        .lines()
        .filter(|line| *line == "build_wheel")
        .count()
}

/// A home pointed at the scene's index and at `prefix` of the bucket as `access`.
fn home(scene: &Scene, s3: &SeaweedFs, prefix: &str, access: Access) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(&scene.index);
    context.env.extend(s3.env(prefix, access));
    context
}

/// A signing key made in `context`, trusted there: its public line.
fn signing_key(context: &mut TestContext, name: &str) -> String {
    let file = context.root.path().join(format!("{name}.key"));
    let public = context
        .ok(&["store", "keygen", name, "--secret-key", &file.display().to_string()])
        .trim()
        .to_string();
    context
        .env
        .insert("AXLE_TEAM_STORE_SIGNING_KEY".into(), file.display().to_string());
    public
}

fn trust(context: &mut TestContext, public: &str) {
    context
        .env
        .insert("AXLE_TEAM_STORE_TRUSTED_KEYS".into(), public.to_string());
}

/// Every file of the venv's site-packages with its bytes, but RECORD (it hashes the scripts,
/// whose first line names the venv's own path).
fn site_files(context: &TestContext) -> BTreeMap<String, Vec<u8>> {
    let lib = context.path(".venv/lib");
    let site = std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir())
        .unwrap();
    let mut files = BTreeMap::new();
    let mut stack = vec![site.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with("RECORD") && !path.to_string_lossy().contains("__pycache__") {
                let relative = path.strip_prefix(&site).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn stats(context: &TestContext) -> serde_json::Value {
    let (ok, document) = context.json(&["store", "stats"]);
    assert!(ok, "{document}");
    document["team_stores"][0].clone()
}

/// A writer locks (building the sdists once), syncs and pushes.
fn writer(scene: &Scene, s3: &SeaweedFs, prefix: &str) -> (TestContext, String) {
    let mut writer = home(scene, s3, prefix, Access::ReadWrite);
    let public = signing_key(&mut writer, "ci");
    trust(&mut writer, &public);
    writer.write("requirements.in", "app\ntool\n");
    writer.ok(&["lock", "--generate-hashes"]);
    writer.ok(&["venv"]);
    writer.ok(&["sync"]);
    let pushed = writer.ok(&["--json", "store", "push", "requirements.txt"]);
    let pushed: serde_json::Value = serde_json::from_str(&pushed).unwrap();
    assert_eq!(pushed["failed"], 0, "{pushed}");
    assert_eq!(pushed["missing"], serde_json::json!([]), "{pushed}");
    (writer, public)
}

#[test]
fn a_runner_with_no_index_syncs_a_hashed_lock_from_the_team_store_alone_and_builds_nothing() {
    let test = "a_runner_with_no_index_syncs_a_hashed_lock_from_the_team_store_alone_and_builds_nothing";
    let scene = scene();
    let Some(s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let (writer, public) = writer(&scene, &s3, "ci");
    assert_eq!(build_wheel_hooks(&scene.counter), 2, "each sdist built once");
    let keys = s3.keys("ci");
    assert_eq!(
        keys.iter().filter(|key| key.starts_with("ci/builds/")).count(),
        2,
        "{keys:?}"
    );
    // dep's wheel, and the two built wheels.
    assert_eq!(
        keys.iter().filter(|key| key.starts_with("ci/wheels/")).count(),
        3,
        "{keys:?}"
    );

    // A fresh runner: empty home, the index down, read-only credentials.
    let mut runner = home(&scene, &s3, "ci", Access::ReadOnly);
    trust(&mut runner, &public);
    scene.index.behaviour().fail_always.store(true, Ordering::SeqCst);
    runner.write("requirements.txt", &writer.read("requirements.txt"));
    runner.ok(&["venv"]);
    let output = runner.axle().args(["sync"]).output().unwrap();
    assert_success(&output, "axle sync from the team store");
    assert_eq!(build_wheel_hooks(&scene.counter), 2, "no build on the runner");
    assert_eq!(site_files(&runner), site_files(&writer));
    let team = stats(&runner);
    // Three pins: dep's wheel by its hash, app's and tool's builds by their records.
    assert_eq!(team["hits"], 3, "{team}");
    assert_eq!(team["uploaded"], 0, "{team}");
    let written: u64 = keys
        .iter()
        .filter(|key| key.starts_with("ci/wheels/"))
        .map(|key| s3.get(key).len() as u64)
        .sum();
    assert_eq!(team["bytes_read"], written, "{team}");
}

#[test]
fn a_replaced_wheel_is_refused_with_its_key_named_and_fetched_from_the_index() {
    let test = "a_replaced_wheel_is_refused_with_its_key_named_and_fetched_from_the_index";
    let scene = scene();
    let Some(s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let (writer, public) = writer(&scene, &s3, "ci");
    let dep_key = s3
        .keys("ci/wheels/dep/")
        .into_iter()
        .next()
        .expect("dep's wheel in the team store");
    s3.put(&dep_key, b"not the wheel whose hash names this key".to_vec());

    let mut runner = home(&scene, &s3, "ci", Access::ReadOnly);
    trust(&mut runner, &public);
    runner.write("requirements.txt", &writer.read("requirements.txt"));
    runner.ok(&["venv"]);
    let output = runner.axle().args(["sync"]).output().unwrap();
    assert_success(&output, "axle sync past a replaced object");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let named = format!("s3://axle-team/{dep_key} does not hold what its name says");
    assert_eq!(
        stderr.matches(&named).count(),
        1,
        "one warning naming the object:\n{stderr}"
    );
    assert_eq!(site_files(&runner), site_files(&writer));
    assert!(
        !scene.index.requests_to("/dep-1.0").is_empty(),
        "dep's wheel came from the index"
    );
}

#[test]
fn a_record_signed_by_an_untrusted_key_is_ignored_and_the_sdist_built_here() {
    let test = "a_record_signed_by_an_untrusted_key_is_ignored_and_the_sdist_built_here";
    let scene = scene();
    let Some(s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let (writer, _ci) = writer(&scene, &s3, "ci");
    assert_eq!(build_wheel_hooks(&scene.counter), 2);

    // This runner trusts another key only: the records are not believed.
    let mut runner = home(&scene, &s3, "ci", Access::ReadOnly);
    let mut other = TestContext::new();
    let someone_else = signing_key(&mut other, "someone-else");
    trust(&mut runner, &someone_else);
    runner.write("requirements.txt", &writer.read("requirements.txt"));
    runner.ok(&["venv"]);
    runner.ok(&["sync"]);
    assert_eq!(build_wheel_hooks(&scene.counter), 4, "both sdists built again here");
    assert_eq!(site_files(&runner), site_files(&writer));

    // A record whose wheel was swapped under a trusted name fails its signature too.
    let record_key = s3.keys("ci/builds/").into_iter().next().expect("a build record");
    let mut record: serde_json::Value = serde_json::from_slice(&s3.get(&record_key)).unwrap();
    record["wheel_sha256"] = serde_json::json!("0".repeat(64));
    s3.put(&record_key, serde_json::to_vec(&record).unwrap());
    let mut forged = home(&scene, &s3, "ci", Access::ReadOnly);
    let public = writer.env["AXLE_TEAM_STORE_TRUSTED_KEYS"].clone();
    trust(&mut forged, &public);
    forged.write("requirements.txt", &writer.read("requirements.txt"));
    forged.ok(&["venv"]);
    forged.ok(&["sync"]);
    assert_eq!(
        build_wheel_hooks(&scene.counter),
        5,
        "the forged record's sdist is built"
    );
}

#[test]
fn read_only_credentials_write_nothing_and_say_so_once() {
    let test = "read_only_credentials_write_nothing_and_say_so_once";
    let scene = scene();
    let Some(s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let mut runner = home(&scene, &s3, "pr", Access::ReadOnly);
    signing_key(&mut runner, "pr");
    runner.write("requirements.in", "dep\n");
    runner.ok(&["lock", "--generate-hashes"]);
    runner.ok(&["venv"]);
    runner.ok(&["sync"]);
    let said = |args: &[&str]| {
        let output = runner.axle().args(args).output().unwrap();
        assert_success(&output, &args.join(" "));
        String::from_utf8_lossy(&output.stderr)
            .matches("refused a write")
            .count()
    };
    // The upload the sync queued is refused; waiting for the queue ends it. The next jobs say
    // so, once (whichever job comes first after the refusal).
    let mut told = said(&["store", "push"]);
    assert_eq!(s3.keys("pr"), Vec::<String>::new());
    runner.ok(&["venv", "second"]);
    told += said(&["sync", "--venv", "second"]);
    runner.ok(&["venv", "third"]);
    told += said(&["sync", "--venv", "third"]);
    assert_eq!(told, 1, "{}", runner.log_text());
    assert_eq!(stats(&runner)["mode"], "read-only");
    assert!(runner.log_text().contains("refused a write"));

    // Anonymous reading, as pull-request CI without secrets reads: also no writes, and said.
    let anonymous = home(&scene, &s3, "pr", Access::Anonymous);
    anonymous.write("requirements.txt", &runner.read("requirements.txt"));
    anonymous.ok(&["venv"]);
    let output = anonymous.axle().args(["sync"]).output().unwrap();
    assert_success(&output, "anonymous sync");
    assert!(String::from_utf8_lossy(&output.stderr).contains("read anonymously"));
    assert_eq!(s3.keys("pr"), Vec::<String>::new());
}

#[test]
fn a_team_store_killed_during_a_sync_costs_a_bounded_delay_and_the_index_serves_it() {
    let test = "a_team_store_killed_during_a_sync_costs_a_bounded_delay_and_the_index_serves_it";
    let scene = scene();
    let Some(mut s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let (writer, public) = writer(&scene, &s3, "ci");
    let mut runner = home(&scene, &s3, "ci", Access::ReadOnly);
    trust(&mut runner, &public);
    runner.write("requirements.txt", &writer.read("requirements.txt"));
    runner.ok(&["venv"]);
    // Slow index downloads keep the sync going while the store goes away.
    scene.index.behaviour().delay_ms.store(300, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let sync = runner.axle().arg("sync").spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    s3.kill();
    let output = sync.wait_with_output().unwrap();
    assert_success(&output, "axle sync while the team store dies");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(site_files(&runner), site_files(&writer));
    // And the next job does not wait on a dead store again and again.
    runner.ok(&["venv", "again"]);
    let again = std::time::Instant::now();
    runner.ok(&["sync", "--venv", "again"]);
    assert!(
        again.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        again.elapsed()
    );
}

#[test]
fn four_homes_pushing_one_lock_at_once_write_each_key_once_and_all_of_it_reads_back() {
    let test = "four_homes_pushing_one_lock_at_once_write_each_key_once_and_all_of_it_reads_back";
    let scene = scene();
    let Some(s3) = SeaweedFs::start(test, "axle-team") else {
        return;
    };
    let mut first = home(&scene, &s3, "shared", Access::ReadWrite);
    let public = signing_key(&mut first, "ci");
    let key_file = first.env["AXLE_TEAM_STORE_SIGNING_KEY"].clone();
    first.write("requirements.in", "app\ntool\n");
    // Locked without a team store, so nothing is uploaded before the pushes race.
    let mut plain = TestContext::new();
    plain.use_index(&scene.index);
    plain.write("requirements.in", "app\ntool\n");
    plain.ok(&["lock", "--generate-hashes"]);
    let lock = plain.read("requirements.txt");
    let homes: Vec<TestContext> = (0..4)
        .map(|_| {
            let mut context = TestContext::new();
            context.use_index(&scene.index);
            context.write("requirements.txt", &lock);
            context.ok(&["venv"]);
            context.ok(&["sync"]);
            context.env.extend(s3.env("shared", Access::ReadWrite));
            context
                .env
                .insert("AXLE_TEAM_STORE_SIGNING_KEY".into(), key_file.clone());
            context
        })
        .collect();
    let pushes: Vec<std::process::Child> = homes
        .iter()
        .map(|context| {
            context
                .axle()
                .args(["--json", "store", "push", "requirements.txt"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut uploaded = 0;
    let mut already_there = 0;
    for push in pushes {
        let output = push.wait_with_output().unwrap();
        assert_success(&output, "a racing push");
        let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(document["failed"], 0, "{document}");
        uploaded += document["uploaded"].as_u64().unwrap();
        already_there += document["already_there"].as_u64().unwrap();
    }
    let keys = s3.keys("shared");
    // dep's wheel, one record per sdist (the first signer's stays), and each home's builds of the
    // sdists (the test backend's wheels carry their build time, so homes may differ): every key
    // written by exactly one push, the other offers finding it there.
    let records = keys.iter().filter(|key| key.starts_with("shared/builds/")).count();
    assert_eq!(records, 2, "{keys:?}");
    assert_eq!(
        keys.iter().filter(|key| key.starts_with("shared/wheels/dep/")).count(),
        1
    );
    assert_eq!(uploaded, keys.len() as u64, "{keys:?}");
    assert_eq!(uploaded + already_there, 4 * 5);

    // All of it reads back: a fifth home, no index.
    let mut reader = home(&scene, &s3, "shared", Access::ReadOnly);
    trust(&mut reader, &public);
    scene.index.behaviour().fail_always.store(true, Ordering::SeqCst);
    reader.write("requirements.txt", &lock);
    reader.ok(&["venv"]);
    reader.ok(&["sync"]);
    assert_eq!(site_files(&reader), site_files(&homes[0]));
    assert_eq!(stats(&reader)["hits"], 3);
}
