//! `axle store verify [--repair]`: what an edit through one venv does to every venv that
//! shares the store's files, found and mended.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use axle_e2e::TestContext;
use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;

fn site_file(context: &TestContext, venv: &str, file: &str) -> PathBuf {
    let lib = context.path(venv).join("lib");
    let python = std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|entry| entry.file_name().to_string_lossy().starts_with("python"))
        .unwrap();
    python.path().join("site-packages").join(file)
}

/// A hashed lock of one package, synced into each of `venvs`.
fn synced(venvs: &[&str]) -> (TestIndex, TestContext) {
    let index = TestIndex::start();
    index.add(
        &WheelBuilder::new("shared", "1.0")
            .file("shared_mod.py", "VALUE = 'good'\n")
            .build(),
    );
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "shared\n");
    context.ok(&["lock", "--generate-hashes"]);
    for venv in venvs {
        context.ok(&["venv", venv]);
        context.ok(&["sync", "--venv", venv]);
    }
    (index, context)
}

#[test]
fn verify_finds_an_object_changed_through_one_venv_and_repair_mends_every_venv() {
    let (_index, context) = synced(&[".venv", "other"]);
    let (ok, clean) = context.json(&["store", "verify"]);
    assert!(ok, "{clean}");
    assert_eq!(clean["problems"], serde_json::json!([]));
    assert_eq!(clean["venvs"], 2);

    // An edit through one venv: root, or a chmod, gets past the read-only mode.
    let edited = site_file(&context, ".venv", "shared_mod.py");
    std::fs::set_permissions(&edited, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&edited, "VALUE = 'evil'\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(site_file(&context, "other", "shared_mod.py")).unwrap(),
        "VALUE = 'evil'\n",
        "the venvs share the object"
    );
    // And a file deleted from the other venv.
    std::fs::remove_file(site_file(&context, "other", "shared-1.0.dist-info/METADATA")).unwrap();

    let (ok, damaged) = context.json(&["store", "verify"]);
    assert!(!ok, "verify must fail on damage: {damaged}");
    let kinds: Vec<&str> = damaged["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["object", "venv-file", "venv-file", "venv-file"], "{damaged}");

    // The kept wheel file is gone too: the repair fetches the wheel again, verified.
    for entry in std::fs::read_dir(context.home.join("store/archives"))
        .unwrap()
        .flatten()
    {
        std::fs::remove_file(entry.path()).unwrap();
    }
    let (ok, repaired) = context.json(&["store", "verify", "--repair"]);
    assert!(ok, "{repaired}");
    assert!(
        repaired["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|problem| problem["repaired"] == true),
        "{repaired}"
    );
    for venv in [".venv", "other"] {
        assert_eq!(
            std::fs::read_to_string(site_file(&context, venv, "shared_mod.py")).unwrap(),
            "VALUE = 'good'\n",
            "{venv}"
        );
    }
    assert!(site_file(&context, "other", "shared-1.0.dist-info/METADATA").is_file());
    let (ok, after) = context.json(&["store", "verify"]);
    assert!(ok, "{after}");
    assert_eq!(after["problems"], serde_json::json!([]));
    // And the venvs still sync as a no-op.
    for venv in [".venv", "other"] {
        let (ok, synced) = context.json(&["sync", "--venv", venv]);
        assert!(ok && synced["installed"].as_array().unwrap().is_empty(), "{synced}");
    }
}

#[test]
fn a_venv_file_the_store_cannot_vouch_for_is_reported_and_left_alone() {
    let (_index, context) = synced(&[".venv"]);
    // A RECORD line changed to promise other bytes: no object has them.
    let record = site_file(&context, ".venv", "shared-1.0.dist-info/RECORD");
    let text = std::fs::read_to_string(&record).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("shared_mod.py,"))
        .unwrap()
        .to_string();
    let forged = format!("shared_mod.py,sha256={},15", "A".repeat(43));
    std::fs::write(&record, text.replace(&line, &forged)).unwrap();
    let (ok, report) = context.json(&["store", "verify", "--repair"]);
    assert!(!ok, "{report}");
    let problem = &report["problems"][0];
    assert_eq!(problem["kind"], "venv-file");
    assert_eq!(problem["repaired"], false);
    assert!(
        problem["detail"].as_str().unwrap().contains("no verified copy"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(site_file(&context, ".venv", "shared_mod.py")).unwrap(),
        "VALUE = 'good'\n"
    );
}

/// The database caches what the files hold: deleted or corrupt, it is rebuilt at the next
/// start, every venv still syncs as a no-op, and nothing stored is fetched again.
#[test]
fn a_lost_or_corrupt_database_is_rebuilt_from_the_store_without_fetching_again() {
    for damage in ["deleted", "corrupt"] {
        let (index, context) = synced(&[".venv"]);
        context.ok(&["daemon", "stop"]);
        let db = context.home.join("axle.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        if damage == "corrupt" {
            std::fs::write(&db, b"this is not an SQLite database, but it is where one should be").unwrap();
        }
        index.clear_requests();
        let (ok, synced) = context.json(&["sync"]);
        assert!(ok, "{damage}: {synced}");
        assert!(synced["installed"].as_array().unwrap().is_empty(), "{damage}: {synced}");
        // The venv's records came back with that sync: a gc with the smallest cap keeps the
        // wheel it links.
        let (ok, gc) = context.json(&["store", "gc", "--max-size", "1B"]);
        assert!(ok, "{damage}: {gc}");
        assert_eq!(gc["wheels_removed"], 0, "{damage}: {gc}");
        // A new venv links the stored wheel: the store's rows came back from its files.
        context.ok(&["venv", "second"]);
        let (ok, second) = context.json(&["sync", "--venv", "second"]);
        assert!(ok, "{damage}: {second}");
        assert_eq!(second["installed"], serde_json::json!(["shared==1.0"]), "{damage}");
        assert!(
            index.requests_to(".whl").is_empty(),
            "{damage}: a stored wheel was downloaded again: {:?}",
            index.requests()
        );
        let log = context.log_text();
        if damage == "corrupt" {
            assert!(log.contains("the database is unreadable; starting a new one"), "{log}");
            let kept = std::fs::read_dir(&context.home)
                .unwrap()
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().starts_with("axle.db.corrupt-"));
            assert!(kept, "the damaged file is kept for inspection");
        }
        assert!(
            log.contains("recorded again the stored wheels the database had lost"),
            "{log}"
        );
        let (ok, verified) = context.json(&["store", "verify"]);
        assert!(ok, "{damage}: {verified}");
    }
}

/// A daemon that restarts between the damage and the repair drops the damaged object and the
/// wheel's manifest at start; the venvs' records still name the wheel, and its kept file
/// restores it.
#[test]
fn a_restart_between_damage_and_repair_loses_nothing() {
    let (_index, context) = synced(&[".venv", "other"]);
    let edited = site_file(&context, ".venv", "shared_mod.py");
    std::fs::set_permissions(&edited, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&edited, "VALUE = 'evil'\n").unwrap();
    context.ok(&["daemon", "stop"]);
    let (ok, damaged) = context.json(&["store", "verify"]);
    assert!(!ok, "{damaged}");
    let (ok, repaired) = context.json(&["store", "verify", "--repair"]);
    assert!(ok, "{repaired}");
    for venv in [".venv", "other"] {
        assert_eq!(
            std::fs::read_to_string(site_file(&context, venv, "shared_mod.py")).unwrap(),
            "VALUE = 'good'\n",
            "{venv}"
        );
    }
    let (ok, after) = context.json(&["store", "verify"]);
    assert!(ok, "{after}");
}
