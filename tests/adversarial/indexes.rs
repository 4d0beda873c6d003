//! Hostile or broken indexes: lying hashes, broken transfers, bad pages,
//! redirects, dependency confusion.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axle_e2e::TestContext;
use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;

use crate::{Scene, tree};

fn locked_scene() -> Scene {
    let wheel = WheelBuilder::new("lib", "1.0").build();
    Scene::serving(&wheel.filename, wheel.bytes)
}

#[test]
fn bytes_that_do_not_match_the_index_hash_are_never_stored() {
    // No hash in the lock: the index's own hash is what the bytes must match.
    let scene = locked_scene();
    scene.context.write("requirements.txt", "lib==1.0\n");
    scene.index.behaviour().corrupt_files.store(true, Ordering::SeqCst);
    scene.assert_refused("lib-1.0", &["hash"]);
}

#[test]
fn truncated_downloads_and_resets_fail_naming_the_url() {
    let scene = locked_scene();
    scene.index.behaviour().truncate_files.store(true, Ordering::SeqCst);
    let error = scene.assert_refused("lib-1.0", &["broke off", "connection", "error"]);
    assert!(error.contains("/files/lib-1.0-py3-none-any.whl"), "{error}");
}

#[test]
fn server_error_storms_are_retried_then_reported() {
    let scene = locked_scene();
    scene.index.behaviour().fail_next.store(2, Ordering::SeqCst);
    scene.context.ok(&["sync"]);

    let scene = locked_scene();
    scene.index.behaviour().fail_always.store(true, Ordering::SeqCst);
    let error = scene.context.fails(&["sync"]);
    assert!(error.contains("500") && error.contains("127.0.0.1"), "{error}");
}

#[test]
fn a_server_that_never_answers_is_given_up_on_in_bounded_time() {
    let mut scene = locked_scene();
    scene.context.env.insert("AXLE_HTTP_TIMEOUT".into(), "1".into());
    scene.index.behaviour().delay_ms.store(30_000, Ordering::SeqCst);
    let started = Instant::now();
    let error = scene.context.fails(&["sync"]);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(
        error.contains("did not answer") && error.contains("127.0.0.1"),
        "{error}"
    );
}

#[test]
fn malformed_pages_are_clear_errors() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").build());
    index.behaviour().malformed_pages.store(true, Ordering::SeqCst);
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "lib\n");
    let error = context.fails(&["lock"]);
    assert!(
        error.contains("/simple/lib/") && error.contains("not a valid"),
        "{error}"
    );
}

#[test]
fn absurdly_large_pages_are_cut_off() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").build());
    index.behaviour().huge_pages_mib.store(200, Ordering::SeqCst);
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "lib\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("more than") && error.contains("/simple/lib/"), "{error}");
    // The daemon read at most its limit, and stays small.
    let rss_kib = axle_e2e::rss_kib(context.daemon_pid().unwrap());
    assert!(rss_kib < 400 * 1024, "daemon RSS {rss_kib} KiB after a huge page");
}

#[test]
fn credentials_are_not_forwarded_on_redirects_to_other_hosts() {
    let private = TestIndex::start();
    let elsewhere = TestIndex::start();
    let wheel = WheelBuilder::new("lib", "1.0").build();
    private.add(&wheel);
    elsewhere.add(&wheel);
    private.require_credentials("alice", "hunter2-secret");
    *private.behaviour().redirect_files_to.lock().unwrap() = Some(elsewhere.base());

    let mut context = TestContext::new();
    context.env.insert(
        "PIP_INDEX_URL".into(),
        private.url_with_credentials("alice", "hunter2-secret"),
    );
    context.ok(&["venv"]);
    context.write(
        "requirements.txt",
        &format!("lib==1.0 \\\n    --hash=sha256:{}\n", wheel.sha256),
    );
    context.ok(&["sync"]);
    let downloads = elsewhere.requests_to("/files/lib-1.0");
    assert!(!downloads.is_empty(), "the redirect was not followed");
    assert!(
        downloads.iter().all(|request| request.authorization.is_none()),
        "credentials crossed to another host: {downloads:?}"
    );
}

#[test]
fn an_extra_index_cannot_shadow_the_main_one() {
    let main = TestIndex::start();
    main.add(&WheelBuilder::new("internal-tool", "1.0").build());
    let extra = TestIndex::start();
    extra.add(&WheelBuilder::new("internal-tool", "99.0").build());
    let mut context = TestContext::new();
    context.use_index(&main);
    context.env.insert("PIP_EXTRA_INDEX_URL".into(), extra.url());
    context.write("requirements.in", "internal-tool\n");
    let lock = context.ok(&["lock", "--dry-run"]);
    assert!(lock.contains("internal-tool==1.0"), "{lock}");
    assert!(
        extra.requests_to("internal-tool").is_empty(),
        "the extra index was asked"
    );
}

#[test]
fn file_names_from_urls_cannot_build_paths() {
    // An HTML page whose link names climb out once decoded.
    let index = TestIndex::start();
    let wheel = WheelBuilder::new("lib", "1.0").build();
    for filename in ["..%2F..%2Flib-1.0-py3-none-any.whl", "..%252Flib-1.0-py3-none-any.whl"] {
        index.add_file(
            "lib",
            axle_e2e::index::IndexFile {
                filename: filename.to_string(),
                bytes: std::sync::Arc::new(wheel.bytes.clone()),
                sha256: wheel.sha256.clone(),
                metadata: None,
                requires_python: None,
                yanked: None,
                upload_time: None,
            },
        );
    }
    index.behaviour().html_only.store(true, Ordering::SeqCst);
    let mut context = TestContext::new();
    context.use_index(&index);
    context.ok(&["venv"]);
    context.write(
        "requirements.txt",
        &format!("lib==1.0 \\\n    --hash=sha256:{}\n", wheel.sha256),
    );
    let before = tree(context.root.path());
    let error = context.fails(&["sync"]);
    assert!(error.contains("lib"), "{error}");
    let after = tree(context.root.path());
    let new: Vec<&String> = after.iter().filter(|path| !before.contains(path)).collect();
    assert!(
        new.iter().all(|path| path.starts_with("home")),
        "files appeared outside axle's home: {new:?}"
    );
}
