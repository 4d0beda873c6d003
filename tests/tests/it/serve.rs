//! `axle serve`: the store as a PEP 503/691 index for a stock pip, the proxy and offline
//! modes, the Host check, and the status page in a real browser.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success, real_python};

fn index() -> TestIndex {
    let index = TestIndex::start();
    index.add(
        &WheelBuilder::new("app", "1.0")
            .requires("helper")
            .requires_python(">=3.8")
            .file("app/about.py", "VERSION = 'app 1.0'\n")
            .build(),
    );
    index.add(
        &WheelBuilder::new("helper", "1.0")
            .file("helper_mod.py", "NAME = 'helper'\n")
            .build(),
    );
    index.add(
        &WheelBuilder::new("helper", "2.0")
            .file("helper_mod.py", "NAME = 'helper 2'\n")
            .build(),
    );
    index
}

/// `axle serve` with `args`, returning the base URL.
fn serve(context: &TestContext, args: &[&str]) -> String {
    let (ok, document) = context.json(&[&["serve"], args].concat());
    assert!(ok, "axle serve failed: {document}");
    document["url"].as_str().unwrap().to_string()
}

/// A GET with a chosen `Host` header and `Accept`, answered as (status, body).
fn get(base: &str, path: &str, host: Option<&str>, accept: Option<&str>) -> (u16, String) {
    let authority = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    request.push_str(&format!("Host: {}\r\n", host.unwrap_or(authority)));
    if let Some(accept) = accept {
        request.push_str(&format!("Accept: {accept}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A stock pip (the interpreter's own, from `ensurepip`) in a new venv, with no index
/// configured but what it is told.
fn fresh_pip_venv(context: &TestContext, name: &str) -> std::path::PathBuf {
    let venv = context.path(name);
    let output = Command::new(real_python())
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert_success(&output, "python -m venv");
    venv
}

fn pip(context: &TestContext, venv: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(venv.join("bin/pip"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PIP_") {
            command.env_remove(name);
        }
    }
    command
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_NO_INPUT", "1")
        .current_dir(&context.project)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_stock_pip_installs_a_synced_lock_from_the_store_with_no_other_index() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "app\n");
    // As for an image: the lock does not name the index it was made from (pip would go there
    // instead of where it is told).
    context.ok(&["lock", "--generate-hashes", "--no-emit-index-url"]);
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    // The index goes away: everything pip gets must come from the store.
    index
        .behaviour()
        .fail_always
        .store(true, std::sync::atomic::Ordering::SeqCst);
    index.clear_requests();
    let url = serve(&context, &["--offline"]);

    let venv = fresh_pip_venv(&context, "image");
    let output = pip(
        &context,
        &venv,
        &[
            "install",
            "--index-url",
            &format!("{url}/simple/"),
            "--require-hashes",
            "-r",
            "requirements.txt",
        ],
    );
    assert_success(&output, "pip install --require-hashes from axle serve");
    let check = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import app.about, helper_mod; print(app.about.VERSION, helper_mod.NAME)",
        ])
        .output()
        .unwrap();
    assert_success(&check, "the installed packages import");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "app 1.0 helper 2");
    assert!(
        index.requests().is_empty(),
        "the index was asked: {:?}",
        index.requests()
    );

    // What pip was told, in both formats.
    let (status, json) = get(&url, "/simple/app/", None, Some("application/vnd.pypi.simple.v1+json"));
    assert_eq!(status, 200, "{json}");
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(page["name"], "app");
    assert_eq!(page["versions"], serde_json::json!(["1.0"]));
    assert_eq!(page["files"][0]["requires-python"], ">=3.8");
    let metadata_sha = page["files"][0]["core-metadata"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let file_url = page["files"][0]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("../..")
        .to_string();
    let (status, metadata) = get(&url, &format!("{file_url}.metadata"), None, None);
    assert_eq!(status, 200);
    assert!(metadata.contains("Name: app"), "{metadata}");
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(metadata.as_bytes())), metadata_sha);
    let (status, html) = get(&url, "/simple/app/", None, None);
    assert_eq!(status, 200);
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
    // PEP 503: other spellings redirect to the normalised name.
    assert_eq!(get(&url, "/simple/App/", None, None).0, 308);
    // Offline, a project the store lacks is not there.
    assert_eq!(get(&url, "/simple/missing/", None, None).0, 404);
}

#[test]
fn the_proxy_fetches_a_file_once_and_the_store_keeps_it() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    let url = serve(&context, &[]);
    let (status, html) = get(&url, "/simple/helper/", None, None);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("helper-2.0-py3-none-any.whl"), "{html}");
    assert!(html.contains("helper-1.0-py3-none-any.whl"), "{html}");

    for attempt in 0..2 {
        let venv = fresh_pip_venv(&context, &format!("v{attempt}"));
        let output = pip(
            &context,
            &venv,
            &["install", "--index-url", &format!("{url}/simple/"), "helper==1.0"],
        );
        assert_success(&output, "pip install through the proxy");
    }
    let downloads = index.requests_to("helper-1.0-py3-none-any.whl");
    assert_eq!(downloads.len(), 1, "the file was fetched more than once: {downloads:?}");

    // Restarted offline, the server lists what the store holds and nothing else.
    context.ok(&["serve", "--stop"]);
    let url = serve(&context, &["--offline"]);
    let (status, html) = get(&url, "/simple/helper/", None, None);
    assert_eq!(status, 200);
    assert!(html.contains("helper-1.0-py3-none-any.whl"), "{html}");
    assert!(!html.contains("helper-2.0"), "{html}");
    assert_eq!(get(&url, "/simple/app/", None, None).0, 404);
}

#[test]
fn only_loopback_hosts_and_paths_inside_the_index_are_served() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    let url = serve(&context, &["--offline"]);
    let port = url.rsplit(':').next().unwrap();
    // DNS rebinding: a page of another site whose name now points at 127.0.0.1.
    for host in ["evil.example", &format!("evil.example:{port}"), "127.0.0.1.nip.io", ""] {
        let (status, body) = get(&url, "/", Some(host), None);
        assert_eq!(status, 421, "Host {host:?}: {body}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(get(&url, "/simple/", Some(&host), None).0, 200, "Host {host:?}");
    }
    for path in [
        "/files/../../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        &format!("/files/{}/..%2F..%2Faxle.db", "a".repeat(64)),
        &format!("/files/{}/x.whl", "A".repeat(64)),
        "/simple/..%2F..%2F/",
        "/nothing",
    ] {
        let (status, body) = get(&url, path, None, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Not served beyond loopback: the listener is bound to 127.0.0.1 only.
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // One server at a time; a second `serve` says where the first is.
    let (ok, again) = context.json(&["serve", "--port", "0"]);
    assert!(ok);
    assert_eq!(again["url"], url.as_str());
    assert_eq!(again["already_running"], true);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let context = TestContext::new();
    let error = context.fails(&["serve", "--port", &port]);
    assert!(
        error.contains(&format!("port {port} on 127.0.0.1 is in use")),
        "{error}"
    );
}

/// Each venv's row says where it stands against the locks of its own last sync, even when
/// its directory's project has since synced another venv; a venv with no sync on record is
/// `unknown` in grey, not in the colour of an error.
#[test]
fn the_status_page_compares_every_venv_with_its_last_sync_and_greys_the_unknown() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "app\n");
    context.ok(&["lock"]);
    context.write("helper.txt", "helper==1.0\n");
    context.ok(&["venv", "by-hand"]);
    context.ok(&["sync", "--venv", "by-hand", "requirements.txt"]);
    context.ok(&["venv", "other"]);
    context.ok(&["sync", "--venv", "other", "helper.txt"]);
    context.ok(&["venv", "never"]);
    let url = serve(&context, &["--offline"]);
    let (status, page) = get(&url, "/", None, None);
    assert_eq!(status, 200, "{page}");
    let row = |name: &str| {
        let cell = format!("<tr><td><code>{}</code></td>", context.path(name).display());
        page.lines()
            .find(|line| line.starts_with(&cell))
            .unwrap_or_else(|| panic!("no row for {name}:\n{page}"))
            .to_string()
    };
    assert!(
        row("by-hand").contains("<td class=\"state ok\">in sync"),
        "{}",
        row("by-hand")
    );
    assert!(
        row("by-hand").contains(&format!("<code>{}</code>", context.path("requirements.txt").display())),
        "{}",
        row("by-hand")
    );
    assert!(
        row("other").contains("<td class=\"state ok\">in sync"),
        "{}",
        row("other")
    );
    let never = row("never");
    assert!(never.contains("<td class=\"state muted\">unknown"), "{never}");
    assert!(never.contains("no sync by axle on record"), "{never}");
}

/// The status page rendered by a real browser: Debian's chromium, headless.
#[test]
fn the_status_page_reads_well_in_a_browser() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|path| path.exists())
    else {
        axle_e2e::cannot_run(
            "the_status_page_reads_well_in_a_browser",
            "no chromium in /usr/bin (apt-get install chromium)",
            "AXLE_REQUIRE_BROWSER",
        );
        return;
    };
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "app\n");
    context.ok(&["lock"]);
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    let url = serve(&context, &["--offline"]);
    let profile = context.root.path().join("chromium-profile");
    let output = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("{url}/"))
        .output()
        .unwrap();
    assert_success(&output, "chromium --dump-dom");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("<h1>axle status</h1>"), "{dom}");
    let venv = context.path(".venv");
    assert!(
        dom.contains(&venv.display().to_string()),
        "the venv is not listed:\n{dom}"
    );
    assert!(dom.contains("in sync"), "{dom}");
    assert!(dom.contains("requirements.txt"), "{dom}");
    assert!(dom.contains("<td>sync</td>"), "the sync job is not listed:\n{dom}");
    // The store's row counts the two wheels the sync stored.
    assert!(dom.contains("<dd id=\"store-wheels\">2</dd>"), "{dom}");

    // And as text, the way a reader sees it.
    let text = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!(
            "--screenshot={}",
            context.root.path().join("page.png").display()
        ))
        .arg("--window-size=1200,800")
        .arg(format!("{url}/"))
        .output()
        .unwrap();
    assert_success(&text, "chromium --screenshot");
    let png = std::fs::read(context.root.path().join("page.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot");
}

/// An index with wheels for several targets, a pure wheel and an sdist-only project.
fn multi_target_index() -> TestIndex {
    let index = TestIndex::start();
    for tag in [
        "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-cp312-macosx_11_0_arm64",
        "cp312-cp312-win_amd64",
    ] {
        index.add(
            &WheelBuilder::new("native", "1.0")
                .tag(tag)
                .requires("pure")
                .file("native_mod.py", "X = 1\n")
                .build(),
        );
    }
    index.add(&WheelBuilder::new("pure", "2.0").file("pure_mod.py", "Y = 2\n").build());
    index
}

#[test]
fn export_fills_a_wheelhouse_for_another_target_that_pip_installs_without_an_index() {
    let index = multi_target_index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "native\n");
    let target = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"];
    context.ok(&[&["lock", "--generate-hashes", "--no-emit-index-url"][..], &target].concat());
    // A file of the user's in the wheelhouse stays as it is.
    context.write("house/notes.txt", "mine\n");
    let (ok, exported) = context.json(&[&["export", "--wheelhouse", "house"][..], &target].concat());
    assert!(ok, "{exported}");
    assert_eq!(
        exported["files"],
        serde_json::json!([
            "native-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pure-2.0-py3-none-any.whl"
        ])
    );
    assert_eq!(exported["downloaded"], 2);
    assert_eq!(context.read("house/notes.txt"), "mine\n");

    // What the image would do, checked without Docker: pip for CPython 3.12 on manylinux,
    // from the wheelhouse alone, with the lock's hashes.
    let venv = fresh_pip_venv(&context, "pip-venv");
    let output = pip(
        &context,
        &venv,
        &[
            "install",
            "--dry-run",
            "--ignore-installed",
            "--target",
            "target-dir",
            // pip's --platform takes exact tags (the image's pip knows its own glibc).
            "--platform",
            "manylinux_2_17_x86_64",
            "--python-version",
            "3.12",
            "--only-binary=:all:",
            "--no-index",
            "--find-links",
            "house",
            "--require-hashes",
            "-r",
            "requirements.txt",
        ],
    );
    assert_success(&output, "pip install --dry-run --no-index from the wheelhouse");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Would install native-1.0 pure-2.0"), "{said}");

    // Again: nothing new is fetched, and the files already there are kept.
    index.clear_requests();
    let (ok, again) = context.json(&[&["export", "--wheelhouse", "house"][..], &target].concat());
    assert!(ok, "{again}");
    assert_eq!(again["downloaded"], 0);
    assert!(index.requests_to(".whl").is_empty());
}

/// A lock made for another target is exported for that target without its flags repeated
/// (they were exported for this interpreter, silently); a flag or an interpreter that is not
/// what the lock was made for is refused, naming both, before anything is fetched; a lock
/// without a header exports for the interpreter, as before.
#[test]
fn export_takes_the_target_a_lock_was_made_for_from_its_header() {
    let (major, minor) = axle_e2e::real_python_version();
    let here = format!("cp{major}{minor}");
    let index = TestIndex::start();
    for python in ["cp312".to_string(), "cp313".to_string(), here.clone()] {
        index.add(
            &WheelBuilder::new("native", "1.0")
                .tag(&format!("{python}-{python}-manylinux_2_17_x86_64.manylinux2014_x86_64"))
                .file("native_mod.py", "X = 1\n")
                .build(),
        );
    }
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "native\n");
    let docker = ["--python-version", "3.13", "--python-platform", "x86_64-manylinux_2_28"];
    context.ok(&[&["lock", "--generate-hashes", "--no-emit-index-url"][..], &docker].concat());
    let cp313 = "native-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";

    // No flags: the lock's target.
    let output = context
        .axle()
        .args(["export", "--wheelhouse", "house"])
        .output()
        .unwrap();
    assert_success(&output, "axle export");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("exporting for Python 3.13 on manylinux_2_28_x86_64, the target requirements.txt was locked for"),
        "{said}"
    );
    let (ok, exported) = context.json(&["export", "--wheelhouse", "house"]);
    assert!(ok, "{exported}");
    assert_eq!(exported["files"], serde_json::json!([cp313]));

    // Flags that name another target: refused, both named, nothing fetched or placed.
    index.clear_requests();
    let error = context.fails(&["export", "--wheelhouse", "elsewhere", "--python-version", "3.12"]);
    assert!(
        error.contains(
            "requirements.txt was locked for Python 3.13 on x86_64-manylinux_2_28; --python-version 3.12 asks for Python 3.12"
        ),
        "{error}"
    );
    let error = context.fails(&["export", "--wheelhouse", "elsewhere", "--python-platform", "macos"]);
    assert!(error.contains("--python-platform macos asks for macos"), "{error}");
    assert!(!context.path("elsewhere").exists());
    assert!(index.requests_to(".whl").is_empty());
    // The same target spelled out is no disagreement.
    let (ok, again) = context.json(&[&["export", "--wheelhouse", "house"][..], &docker].concat());
    assert!(ok, "{again}");

    // A universal lock for Pythons newer than this interpreter: the interpreter is refused.
    let newer = format!("{major}.{}", minor + 1);
    context.ok(&["lock", "--universal", "--python-version", &newer, "-o", "universal.txt"]);
    let error = context.fails(&["export", "--wheelhouse", "elsewhere", "universal.txt"]);
    assert!(
        error.contains(&format!(
            "universal.txt was locked for every platform, Python {newer} and later (--universal); the interpreter"
        )) && error.contains(&format!("is Python {major}.{minor}.")),
        "{error}"
    );

    // Without a header nothing says what it was made for: this interpreter, as before.
    context.ok(&[
        &["lock", "--generate-hashes", "--no-header", "-o", "bare.txt"][..],
        &docker,
    ]
    .concat());
    let (ok, exported) = context.json(&["export", "--wheelhouse", "bare", "bare.txt"]);
    assert!(ok, "{exported}");
    assert_eq!(
        exported["files"],
        serde_json::json!([format!(
            "native-1.0-{here}-{here}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        )])
    );
}

#[test]
fn export_keeps_sdists_refuses_to_replace_files_and_names_what_it_cannot_carry() {
    let index = TestIndex::start();
    let sdist = axle_e2e::sdist::ProjectBuilder::new("sourceonly", "1.0").sdist();
    index.add_sdist(&sdist);
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write(
        "requirements.txt",
        &format!("sourceonly==1.0 --hash=sha256:{}\n", sdist.sha256),
    );
    let (ok, exported) = context.json(&["export", "--wheelhouse", "house"]);
    assert!(ok, "{exported}");
    assert_eq!(exported["sdists"], serde_json::json!([sdist.filename]));
    assert_eq!(
        std::fs::read(context.path("house").join(&sdist.filename)).unwrap(),
        sdist.bytes
    );

    // A different file under the same name is the user's: named, not replaced.
    std::fs::write(context.path("house").join(&sdist.filename), b"something else").unwrap();
    let error = context.fails(&["export", "--wheelhouse", "house"]);
    assert!(error.contains("already exists with other content"), "{error}");
    assert_eq!(
        std::fs::read(context.path("house").join(&sdist.filename)).unwrap(),
        b"something else"
    );

    // A pin by location cannot travel in a wheelhouse.
    context.write("local.txt", "mylib @ file:///somewhere/mylib\n");
    let error = context.fails(&["export", "--wheelhouse", "other", "local.txt"]);
    assert!(
        error.contains("mylib") && error.contains("named by its location"),
        "{error}"
    );

    // A lock naming a file the index no longer has.
    context.write(
        "gone.txt",
        &format!("sourceonly==1.0 --hash=sha256:{}\n", "0".repeat(64)),
    );
    let error = context.fails(&["export", "--wheelhouse", "third", "gone.txt"]);
    assert!(error.contains("sourceonly"), "{error}");
}

#[test]
fn no_daemon_mode_gives_the_same_results_and_leaves_nothing_running() {
    let index = index();
    let with_daemon = {
        let mut context = TestContext::new();
        context.use_index(&index);
        context.write("requirements.in", "app\n");
        context.ok(&["lock", "--generate-hashes", "--no-emit-index-url"]);
        context.read("requirements.txt")
    };

    let mut context = TestContext::new();
    context.use_index(&index);
    context.env.insert("AXLE_NO_DAEMON".to_string(), "1".to_string());
    context.write("requirements.in", "app\n");
    context.ok(&["lock", "--generate-hashes", "--no-emit-index-url"]);
    assert_eq!(context.read("requirements.txt"), with_daemon);
    context.ok(&["venv"]);
    let (ok, synced) = context.json(&["sync"]);
    assert!(ok, "{synced}");
    assert_eq!(synced["installed"], serde_json::json!(["app==1.0", "helper==2.0"]));
    let (ok, again) = context.json(&["sync"]);
    assert!(ok && again["installed"].as_array().unwrap().is_empty(), "{again}");
    let check = Command::new(context.path(".venv/bin/python"))
        .args(["-c", "import app.about; print(app.about.VERSION)"])
        .output()
        .unwrap();
    assert_success(&check, "the synced venv imports app");

    // Nothing was started, nothing is left: no daemon note, no socket, no process.
    assert!(!context.home.join("daemon.json").exists());
    context.env.remove("AXLE_NO_DAEMON");
    assert_eq!(context.status()["running"], false, "a daemon is running");

    // A home a daemon serves is not shared with an in-process job.
    context.ok(&["status"]);
    let error = context.fails(&["--no-daemon", "sync"]);
    assert!(error.contains("a daemon already serves"), "{error}");
}

#[test]
fn completions_come_from_clap_and_parse_in_bash() {
    let context = TestContext::new();
    let script = context.ok(&["completions", "bash"]);
    assert!(script.contains("serve") && script.contains("export") && script.contains("--wheelhouse"));
    let path = context.write("axle.bash", &script);
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert_success(&check, "bash -n on the completion script");
    // No daemon for that.
    assert!(!context.home.join("daemon.json").exists());
}

#[test]
fn a_serving_daemon_outlives_its_idle_timeout_until_the_server_stops() {
    let mut context = TestContext::new();
    context.env.insert("AXLE_IDLE_TIMEOUT".to_string(), "1".to_string());
    serve(&context, &["--offline"]);
    let pid = context.daemon_pid().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(axle_e2e::process_alive(pid), "the daemon stopped while serving");
    context.ok(&["serve", "--stop"]);
    assert!(
        axle_e2e::wait_for_exit(pid, std::time::Duration::from_secs(10)),
        "the daemon did not idle out after the server stopped"
    );
}
