//! The editor API through the CLI and stock gRPC clients: project status through each state
//! change, watching (with re-lock and re-sync), environments, coalesced locks, and the
//! reference clients in examples/clients.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success};
use serde_json::Value;

fn index() -> TestIndex {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("alpha", "1.0").requires("beta").build());
    index.add(&WheelBuilder::new("beta", "1.0").build());
    index.add(&WheelBuilder::new("beta", "2.0").build());
    index.add(&WheelBuilder::new("gamma", "1.0").build());
    index
}

/// A project locked and synced from `index`: requirements.in holds `alpha`.
fn synced_project(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context.ok(&["venv"]);
    context.write("requirements.in", "alpha\n");
    context.ok(&["lock"]);
    context.ok(&["sync"]);
    context
}

fn status(context: &TestContext) -> Value {
    let (ok, document) = context.json(&["status"]);
    assert!(ok, "axle status failed: {document}");
    document
}

fn states(document: &Value) -> (String, String) {
    (
        document["lock"].as_str().unwrap_or_default().to_string(),
        document["venv"].as_str().unwrap_or_default().to_string(),
    )
}

fn site_packages(context: &TestContext) -> PathBuf {
    let (major, minor) = axle_e2e::real_python_version();
    context.path(&format!(".venv/lib/python{major}.{minor}/site-packages"))
}

/// Saves as editors do: a new file renamed over the old one.
fn save(path: &Path, content: &str) {
    let temporary = path.with_extension("swp");
    std::fs::write(&temporary, content).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[test]
fn status_follows_every_change_of_inputs_lock_and_venv() {
    let index = index();
    let context = synced_project(&index);
    let document = status(&context);
    assert_eq!(states(&document), ("fresh".into(), "in-sync".into()));
    assert_eq!(document["details"]["lock"]["remembered"], true);
    assert_eq!(
        document["details"]["venv"]["python"].as_str().unwrap(),
        context.path(".venv/bin/python").to_str().unwrap(),
        "bin/python as it is, not resolved"
    );

    // An input edited through a rename.
    save(&context.path("requirements.in"), "alpha\ngamma\n");
    let document = status(&context);
    assert_eq!(states(&document).0, "stale");
    assert_eq!(
        document["details"]["lock"]["changed"],
        serde_json::json!([context.path("requirements.in").to_str().unwrap()])
    );
    // Re-locked: fresh again; the venv now lacks gamma.
    context.ok(&["lock"]);
    let document = status(&context);
    assert_eq!(states(&document), ("fresh".into(), "drifted".into()));
    assert_eq!(
        document["details"]["venv"]["missing"],
        serde_json::json!(["gamma==1.0"])
    );
    context.ok(&["sync"]);
    assert_eq!(states(&status(&context)), ("fresh".into(), "in-sync".into()));

    // A dist-info deleted by hand: missing.
    let site = site_packages(&context);
    std::fs::remove_dir_all(site.join("beta-2.0.dist-info")).unwrap();
    let document = status(&context);
    assert_eq!(states(&document).1, "drifted");
    assert_eq!(document["details"]["venv"]["missing"], serde_json::json!(["beta==2.0"]));
    context.ok(&["sync"]);
    assert_eq!(states(&status(&context)).1, "in-sync");

    // One added by hand (as `pip install` would): extra.
    let extra = site.join("stray-0.1.dist-info");
    std::fs::create_dir(&extra).unwrap();
    std::fs::write(
        extra.join("METADATA"),
        "Metadata-Version: 2.1\nName: stray\nVersion: 0.1\n",
    )
    .unwrap();
    std::fs::write(extra.join("RECORD"), "stray-0.1.dist-info/METADATA,,\n").unwrap();
    let document = status(&context);
    assert_eq!(document["details"]["venv"]["extra"], serde_json::json!(["stray==0.1"]));
    context.ok(&["sync"]);
    assert_eq!(states(&status(&context)), ("fresh".into(), "in-sync".into()));

    // The lock deleted: missing; the venv cannot be compared.
    std::fs::remove_file(context.path("requirements.txt")).unwrap();
    assert_eq!(states(&status(&context)), ("missing".into(), "unknown".into()));
    // --check says so in the exit code.
    let output = context.axle().args(["status", "--check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn after_a_restart_status_compares_the_venv_the_last_sync_used() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "alpha\n");
    context.ok(&["lock"]);
    context.ok(&["venv", "env"]);
    context.ok(&["sync", "--venv", "env"]);
    context.ok(&["daemon", "stop"]);
    // The daemon now knows the project from its database only.
    let document = status(&context);
    assert_eq!(states(&document), ("fresh".into(), "in-sync".into()), "{document}");
    assert_eq!(
        document["details"]["venv"]["path"].as_str().unwrap(),
        context.path("env").to_str().unwrap()
    );
}

#[test]
fn a_project_never_locked_by_axle_follows_the_conventions() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "alpha\n");
    let document = status(&context);
    assert_eq!(states(&document), ("missing".into(), "missing".into()));
    assert_eq!(document["details"]["lock"]["remembered"], false);
    assert_eq!(
        document["details"]["venv"]["path"].as_str().unwrap(),
        context.path(".venv").to_str().unwrap()
    );
}

#[test]
fn bad_directories_get_errors_that_name_them() {
    let context = TestContext::new();
    let missing = context.path("nowhere");
    let stderr = context.fails(&["status", missing.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("{} does not exist", missing.display())),
        "{stderr}"
    );
    let stderr = context.fails(&["status"]);
    assert!(stderr.contains("holds no project"), "{stderr}");
    let file = context.write("notes.txt", "x");
    let stderr = context.fails(&["status", file.to_str().unwrap()]);
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

/// `axle --json watch …` with its lines arriving on a channel. Events of one change may come
/// in either order (a status can be seen before the job that caused it reports its end), so
/// waits look at what arrived earlier too.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<Value>,
    backlog: std::cell::RefCell<Vec<Value>>,
}

impl Watcher {
    fn start(context: &TestContext, args: &[&str]) -> Watcher {
        let mut child = context
            .axle()
            .args(["--json", "watch"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line)
                    && sender.send(value).is_err()
                {
                    return;
                }
            }
        });
        Watcher {
            child,
            lines,
            backlog: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Forgets what arrived so far: what comes next is caused by what the test does now.
    fn forget(&self) {
        while self.lines.try_recv().is_ok() {}
        self.backlog.borrow_mut().clear();
    }

    /// The first event (already arrived, or arriving within `timeout`) that `want` accepts.
    fn until(&self, timeout: Duration, want: impl Fn(&Value) -> bool) -> Value {
        {
            let mut backlog = self.backlog.borrow_mut();
            if let Some(at) = backlog.iter().position(&want) {
                return backlog.remove(at);
            }
        }
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(event) if want(&event) => return event,
                Ok(event) => self.backlog.borrow_mut().push(event),
                Err(_) => break,
            }
        }
        panic!("no such event within {timeout:?}; saw {:#?}", self.backlog.borrow());
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_status(lock: &'static str, venv: &'static str) -> impl Fn(&Value) -> bool {
    move |event| event["event"] == "status" && event["lock"] == lock && event["venv"] == venv
}

#[test]
fn a_watch_reports_the_first_status_then_each_change_soon_after_the_save() {
    let index = index();
    let context = synced_project(&index);
    let watcher = Watcher::start(&context, &[]);
    watcher.until(Duration::from_secs(20), is_status("fresh", "in-sync"));

    watcher.forget();
    let saved = Instant::now();
    save(&context.path("requirements.in"), "alpha\ngamma\n");
    let event = watcher.until(Duration::from_secs(5), is_status("stale", "in-sync"));
    eprintln!("stale event {:?} after the save", saved.elapsed());
    assert!(
        event["changed_paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|path| path == context.path("requirements.in").to_str().unwrap()),
        "{event}"
    );

    // Another client's lock: its job events and the fresh status reach the watcher.
    watcher.forget();
    context.ok(&["lock"]);
    watcher.until(Duration::from_secs(10), |event| {
        event["event"] == "job" && event["job"] == "lock" && event["step"] == "finished"
    });
    watcher.until(Duration::from_secs(10), is_status("fresh", "drifted"));

    // A dist-info removed by hand is drift.
    watcher.forget();
    context.ok(&["sync"]);
    watcher.until(Duration::from_secs(10), is_status("fresh", "in-sync"));
    watcher.forget();
    std::fs::remove_dir_all(site_packages(&context).join("gamma-1.0.dist-info")).unwrap();
    watcher.until(Duration::from_secs(10), is_status("fresh", "drifted"));
}

#[test]
fn a_watch_with_sync_relocks_and_resyncs_after_an_input_is_edited() {
    let index = index();
    let context = synced_project(&index);
    let watcher = Watcher::start(&context, &["--sync"]);
    watcher.until(Duration::from_secs(20), is_status("fresh", "in-sync"));
    watcher.forget();
    save(&context.path("requirements.in"), "alpha\ngamma\n");
    watcher.until(Duration::from_secs(20), |event| {
        event["event"] == "job" && event["job"] == "sync" && event["step"] == "finished"
    });
    watcher.until(Duration::from_secs(20), is_status("fresh", "in-sync"));
    assert!(context.read("requirements.txt").contains("gamma==1.0"));
    assert!(site_packages(&context).join("gamma-1.0.dist-info").is_dir());
}

#[test]
fn a_client_that_goes_away_releases_its_watches() {
    let index = index();
    let context = synced_project(&index);
    let watcher = Watcher::start(&context, &[]);
    watcher.until(Duration::from_secs(20), is_status("fresh", "in-sync"));
    assert!(context.status()["watched_dirs"].as_u64().unwrap() > 0);
    drop(watcher);
    // Everything it held is released; the daemon keeps answering.
    let deadline = Instant::now() + Duration::from_secs(10);
    while context.status()["watched_dirs"] != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(context.status()["watched_dirs"], 0);
    let watcher = Watcher::start(&context, &[]);
    watcher.until(Duration::from_secs(20), is_status("fresh", "in-sync"));
    // `/` holds no project: refused, not watched.
    let stderr = context.fails(&["watch", "/"]);
    assert!(stderr.contains("/ holds no project"), "{stderr}");
}

#[test]
fn identical_locks_at_once_are_one_job() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "alpha\n");
    context.ok(&["daemon", "start"]);
    index
        .behaviour()
        .delay_ms
        .store(300, std::sync::atomic::Ordering::SeqCst);
    let children: Vec<Child> = (0..2)
        .map(|_| {
            context
                .axle()
                .args(["lock", "--dry-run"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert_success(&output, "axle lock --dry-run");
            String::from_utf8(output.stdout).unwrap()
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0].contains("beta==2.0"), "{}", outputs[0]);
    // The log is written in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !context.log_text().contains("joined the lock already running") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        context.log_text().contains("joined the lock already running"),
        "{}",
        context.log_text()
    );
}

#[test]
fn environments_and_packages_are_listed_for_editors() {
    let index = index();
    let context = synced_project(&index);
    let (ok, document) = context.json(&["env", "list"]);
    assert!(ok, "{document}");
    let venv = context.path(".venv");
    let listed = document["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|env| env["path"] == venv.to_str().unwrap())
        .cloned()
        .unwrap_or_else(|| panic!("{document}"));
    assert_eq!(listed["python"], venv.join("bin/python").to_str().unwrap());
    assert_eq!(listed["project"], context.project.to_str().unwrap());
    assert!(listed["size_bytes"].as_u64().unwrap() > 0);
    assert!(listed["last_sync"].as_i64().unwrap() > 0);

    let (ok, document) = context.json(&["env", "packages", ".venv"]);
    assert!(ok, "{document}");
    let packages = document["packages"].as_array().unwrap();
    let find = |name: &str| {
        packages
            .iter()
            .find(|package| package["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("alpha")["requested"], true);
    assert_eq!(find("beta")["requested"], false);
    assert_eq!(find("beta")["version"], "2.0");
    assert_eq!(find("alpha")["editable"], false);
}

/// Every venv keeps the locks of its own last sync: one synced by hand from a directory whose
/// project later synced another venv is still compared with what it was synced from (it was
/// `unknown` then, "no project has synced it"); only a venv no sync is on record for is
/// `unknown`. The project's own status of that directory is unchanged.
#[test]
fn every_venv_is_compared_with_the_locks_of_its_own_last_sync() {
    let index = index();
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "alpha\n");
    context.ok(&["lock"]);
    context.write("tools.txt", "gamma==1.0\n");
    context.ok(&["venv", "by-hand"]);
    context.ok(&["sync", "--venv", "by-hand", "requirements.txt"]);
    // The project (this directory) then syncs another venv from another lock.
    context.ok(&["venv", "tools"]);
    context.ok(&["sync", "--venv", "tools", "tools.txt"]);
    context.ok(&["venv", "never-synced"]);

    let listed = |context: &TestContext| {
        let (ok, document) = context.json(&["env", "list"]);
        assert!(ok, "{document}");
        let find = |name: &str| {
            let path = context.path(name);
            document["environments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|env| env["path"] == path.to_str().unwrap())
                .cloned()
                .unwrap_or_else(|| panic!("{name} is not listed: {document}"))
        };
        (find("by-hand"), find("tools"), find("never-synced"))
    };
    let (by_hand, tools, never) = listed(&context);
    assert_eq!(by_hand["state"], "in-sync", "{by_hand}");
    assert_eq!(
        by_hand["lock_files"],
        serde_json::json!([context.path("requirements.txt").to_str().unwrap()])
    );
    assert_eq!(tools["state"], "in-sync", "{tools}");
    assert_eq!(never["state"], "unknown", "{never}");
    assert_eq!(never["state_detail"], "no sync by axle on record");
    assert_eq!(never["lock_files"], serde_json::json!([]));

    // The venv synced by hand drifts: said so, with what differs.
    let (major, minor) = axle_e2e::real_python_version();
    let site = context.path(&format!("by-hand/lib/python{major}.{minor}/site-packages"));
    std::fs::remove_dir_all(site.join("beta-2.0.dist-info")).unwrap();
    let (by_hand, tools, _) = listed(&context);
    assert_eq!(by_hand["state"], "drifted", "{by_hand}");
    assert_eq!(by_hand["state_detail"], "missing beta==2.0");
    assert_eq!(tools["state"], "in-sync", "{tools}");

    // As text, one line per venv with its state.
    let text = context.ok(&["env", "list"]);
    let line = |name: &str| {
        let path = context.path(name).display().to_string();
        text.lines()
            .find(|line| line.starts_with(&format!("{path} ")))
            .unwrap_or_else(|| panic!("{name}: {text}"))
            .to_string()
    };
    assert!(line("by-hand").ends_with(": drifted (missing beta==2.0)"), "{text}");
    assert!(line("tools").ends_with(": in-sync"), "{text}");
    assert!(
        line("never-synced").ends_with(": unknown (no sync by axle on record)"),
        "{text}"
    );

    // After a restart the daemon knows it from its database alone.
    context.ok(&["sync", "--venv", "by-hand", "requirements.txt"]);
    context.ok(&["daemon", "stop"]);
    let (by_hand, tools, never) = listed(&context);
    assert_eq!(
        (
            by_hand["state"].as_str(),
            tools["state"].as_str(),
            never["state"].as_str()
        ),
        (Some("in-sync"), Some("in-sync"), Some("unknown"))
    );
}

/// The interpreter with grpcio to run the Python reference client: `AXLE_TEST_GRPC_PYTHON`,
/// else python3 when it has grpcio.
fn grpc_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("AXLE_TEST_GRPC_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let found = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .is_ok_and(|output| output.status.success());
    found.then(|| PathBuf::from("python3"))
}

/// A test that cannot run says so, and fails where CI promises what it needs.
fn cannot_run(test: &str, why: &str) {
    axle_e2e::cannot_run(test, &format!("{why} (.ci/run installs it)"), "AXLE_REQUIRE_CLIENTS");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_client(context: &TestContext, mut command: Command, what: &str) {
    let status = context.status();
    let socket = status["socket"].as_str().unwrap();
    command
        .args(["--socket", socket, "--project", context.project.to_str().unwrap()])
        .envs(&context.env)
        .current_dir(&context.project);
    let output = command.output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    assert_success(&output, what);
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["health"], "SERVING");
    assert_eq!(seen["dry_run_lock"]["written"], false);
    assert_eq!(seen["watch"][0], "fresh");
}

#[test]
fn the_python_reference_client_calls_with_default_channel_options() {
    let Some(python) = grpc_python() else {
        cannot_run("the Python reference client", "no python with grpcio and grpcio-tools");
        return;
    };
    let index = index();
    let context = synced_project(&index);
    let mut command = Command::new(python);
    command.arg(repo().join("examples/clients/python/client.py"));
    run_client(&context, command, "the Python reference client");
}

#[test]
fn the_node_reference_client_calls_as_a_vs_code_extension_would() {
    let client = repo().join("examples/clients/node");
    if !client.join("node_modules/@grpc/grpc-js").is_dir() {
        cannot_run(
            "the Node reference client",
            "examples/clients/node has no node_modules (npm ci)",
        );
        return;
    }
    let index = index();
    let context = synced_project(&index);
    let mut command = Command::new("node");
    command.arg(client.join("client.js"));
    run_client(&context, command, "the Node reference client");
}
