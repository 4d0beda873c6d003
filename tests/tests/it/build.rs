//! Source builds end to end: sdists from the index, local projects and editables, Git
//! repositories and sdist URLs, locked and synced with the harness's in-tree backend.

use std::path::Path;
use std::time::Duration;

use axle_e2e::index::TestIndex;
use axle_e2e::sdist::ProjectBuilder;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success};

fn context_with(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context
}

/// What the environment's python prints for `code`.
fn venv_python(context: &TestContext, code: &str) -> String {
    let output = context
        .command(context.path(".venv/bin/python"))
        .args(["-c", code])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The hooks the backend ran, one per line of its counter file.
fn hooks_run(counter: &Path) -> Vec<String> {
    std::fs::read_to_string(counter)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_sdist_from_the_index_locks_by_its_hash_and_syncs_built() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let counter_dir = tempfile::tempdir().unwrap();
    let counter = counter_dir.path().join("hooks.txt");
    let app = ProjectBuilder::new("app", "1.0")
        .requires("dep>=1")
        .setting("counter", counter.display().to_string().into())
        .sdist();
    index.add_sdist(&app);
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    context.ok(&["lock", "--generate-hashes"]);
    let lock = context.read("requirements.txt");
    assert!(
        lock.contains(&format!(
            "app==1.0 \\\n    --hash=sha256:{}\n    # via -r requirements.in",
            app.sha256
        )),
        "{lock}"
    );
    assert!(lock.contains("dep==1.0"), "{lock}");
    // The wheel is built ahead, in the background, for the sync that usually follows.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !hooks_run(&counter).contains(&"build_wheel".to_string()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        hooks_run(&counter),
        [
            "get_requires_for_build_wheel",
            "prepare_metadata_for_build_wheel",
            "get_requires_for_build_wheel",
            "build_wheel"
        ]
    );

    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert_eq!(venv_python(&context, "import app; print(app.__version__)"), "1.0");

    // Built once: another environment, a relock after a restart, take what was built.
    context.ok(&["daemon", "stop"]);
    context.ok(&["lock", "--generate-hashes", "--upgrade"]);
    context.ok(&["venv", "other"]);
    context.ok(&["sync", "--venv", "other"]);
    assert_eq!(hooks_run(&counter).len(), 4, "{:?}", hooks_run(&counter));
}

#[test]
fn static_metadata_is_read_without_running_the_backend() {
    let index = TestIndex::start();
    let counter_dir = tempfile::tempdir().unwrap();
    let counter = counter_dir.path().join("hooks.txt");
    // An sdist whose PKG-INFO is PEP 643 metadata, and a project whose [project] is static.
    let pkg_info = "Metadata-Version: 2.2\nName: fixed\nVersion: 2.0\nRequires-Dist: dep\n";
    let fixed = ProjectBuilder::new("fixed", "2.0")
        .setting("counter", counter.display().to_string().into())
        .file("PKG-INFO", pkg_info)
        .sdist();
    index.add_sdist(&fixed);
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let context = context_with(&index);
    ProjectBuilder::new("local", "0.5")
        .setting("counter", counter.display().to_string().into())
        .project_table("name = \"local\"\nversion = \"0.5\"\ndependencies = [\"dep\"]")
        .write_to(&context.path("local"));
    context.write("requirements.in", "fixed\n-e ./local\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("fixed==2.0"), "{lock}");
    assert!(lock.contains("-e ./local\n    # via -r requirements.in"), "{lock}");
    assert!(
        lock.contains("dep==1.0\n    # via\n    #   fixed\n    #   local"),
        "{lock}"
    );
    assert!(hooks_run(&counter).is_empty(), "{:?}", hooks_run(&counter));
}

#[test]
fn editables_follow_edits_and_carry_dynamic_metadata() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let context = context_with(&index);
    ProjectBuilder::new("proj", "0.1.0")
        .requires("dep")
        .setting("version_from", "proj/__init__.py".into())
        .write_to(&context.path("proj"));
    context.write("requirements.in", "-e ./proj\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("-e ./proj\n    # via -r requirements.in\n"), "{lock}");
    assert!(lock.contains("dep==1.0\n    # via proj\n"), "{lock}");

    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert_eq!(venv_python(&context, "import proj; print(proj.__version__)"), "0.1.0");
    let version = venv_python(&context, "import importlib.metadata as m; print(m.version('proj'))");
    assert_eq!(version, "0.1.0");
    let direct_url = venv_python(
        &context,
        "import importlib.metadata as m; print(m.distribution('proj').read_text('direct_url.json'))",
    );
    let direct_url: serde_json::Value = serde_json::from_str(&direct_url).unwrap();
    assert_eq!(direct_url["dir_info"]["editable"], true, "{direct_url}");

    // An edit shows at once; a second sync has nothing to do.
    context.write("proj/proj/extra.py", "VALUE = 42\n");
    assert_eq!(
        venv_python(&context, "import proj.extra; print(proj.extra.VALUE)"),
        "42"
    );
    let (_, answer) = context.json(&["sync"]);
    assert_eq!(answer["installed"], serde_json::json!([]), "{answer}");

    // A new version (dynamic, from __init__.py) is installed by the next sync.
    context.write("proj/proj/__init__.py", "__version__ = \"0.2.0\"\n");
    let (_, answer) = context.json(&["sync"]);
    assert_eq!(answer["installed"].as_array().map(Vec::len), Some(1), "{answer}");
    let version = venv_python(&context, "import importlib.metadata as m; print(m.version('proj'))");
    assert_eq!(version, "0.2.0");
}

#[test]
fn local_directories_lock_as_file_urls_and_install_as_copies() {
    let index = TestIndex::start();
    let context = context_with(&index);
    let project = context.path("lib");
    ProjectBuilder::new("lib", "3.0").write_to(&project);
    context.write("requirements.in", "./lib\n");
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    let url = format!("lib @ file://{}\n", project.display());
    assert!(lock.contains(&url), "{lock}");
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    let location = venv_python(&context, "import lib; print(lib.__file__)");
    assert!(location.contains("site-packages"), "{location}");
}

#[test]
fn dynamic_dependencies_of_a_pyproject_input_are_read_from_its_backend() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    index.add(&WheelBuilder::new("cli-extra", "1.0").build());
    let context = context_with(&index);
    ProjectBuilder::new("service", "1.0")
        .requires("dep")
        .extra("cli", &["cli-extra"])
        .project_table("name = \"service\"\ndynamic = [\"version\", \"dependencies\", \"optional-dependencies\"]")
        .write_to(&context.path(""));
    context.ok(&["lock", "pyproject.toml", "--extra", "cli"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("dep==1.0\n    # via service (pyproject.toml)"), "{lock}");
    assert!(
        lock.contains("cli-extra==1.0\n    # via service (pyproject.toml)"),
        "{lock}"
    );
}

#[test]
fn git_requirements_lock_to_the_commit() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let context = context_with(&index);
    let repository = context.path("repo");
    ProjectBuilder::new("gitpkg", "1.5")
        .requires("dep")
        .write_to(&repository);
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "user.email=t@127.0.0.1",
                "-c",
                "user.name=t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&repository)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "one"]);
    let commit = git(&["rev-parse", "HEAD"]);
    let url = format!("git+file://{}", repository.display());

    context.write("requirements.in", &format!("gitpkg @ {url}@main\n"));
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains(&format!("gitpkg @ {url}@{commit}\n")), "{lock}");
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert_eq!(venv_python(&context, "import gitpkg; print(gitpkg.__version__)"), "1.5");

    // A new commit on the branch changes nothing until the lock is made again.
    std::fs::write(repository.join("gitpkg/__init__.py"), "__version__ = \"1.6\"\n").unwrap();
    git(&["commit", "-qam", "two"]);
    let newer = git(&["rev-parse", "HEAD"]);
    context.ok(&["lock", "--upgrade"]);
    assert!(
        context.read("requirements.txt").contains(&newer),
        "the lock follows the branch"
    );

    // Editable: cloned where pip clones it, at the locked commit.
    context.write("requirements.in", &format!("-e {url}#egg=gitpkg\n"));
    context.ok(&["lock"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains(&format!("-e {url}@{newer}#egg=gitpkg\n")), "{lock}");
    context.ok(&["sync"]);
    assert!(context.path(".venv/src/gitpkg/.git").exists());
    let location = venv_python(&context, "import gitpkg; print(gitpkg.__file__)");
    assert!(location.contains(".venv/src/gitpkg"), "{location}");
}

#[test]
fn sdist_urls_are_checked_against_their_hash() {
    let index = TestIndex::start();
    let app = ProjectBuilder::new("urlapp", "1.0").sdist();
    index.add_sdist(&app);
    let context = context_with(&index);
    let url = format!("{}/files/{}", index.base(), app.filename);
    context.write("requirements.in", &format!("urlapp @ {url}#sha256={}\n", app.sha256));
    context.ok(&["lock", "--generate-hashes"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains(&format!("--hash=sha256:{}", app.sha256)), "{lock}");
    context.ok(&["venv"]);
    context.ok(&["sync"]);
    assert_eq!(venv_python(&context, "import urlapp; print(urlapp.__version__)"), "1.0");

    let wrong = "0".repeat(64);
    context.write("requirements.in", &format!("urlapp @ {url}#sha256={wrong}\n"));
    let error = context.fails(&["lock", "--refresh"]);
    assert!(error.contains("does not match its expected hash"), "{error}");
}

#[test]
fn build_options_reach_the_backend() {
    let index = TestIndex::start();
    // A build requirement the backend imports: installed in the isolated environment only.
    index.add(
        &WheelBuilder::new("helper-module", "1.0")
            .file("helper_module.py", "VALUE = 1\n")
            .build(),
    );
    let app = ProjectBuilder::new("configured", "1.0")
        .build_requires("helper-module")
        .setting("import", "helper_module".into())
        .setting("config_file", "configured/settings.json".into())
        .sdist();
    index.add_sdist(&app);
    let context = context_with(&index);
    context.write("requirements.in", "configured\n");
    context.ok(&["lock"]);
    context.ok(&["venv"]);
    context.ok(&["sync", "-C", "mode=fast", "-C", "flag=a", "-C", "flag=b"]);
    let settings = venv_python(
        &context,
        "import importlib.resources as r; print(r.files('configured').joinpath('settings.json').read_text())",
    );
    assert_eq!(settings, r#"{"flag": ["a", "b"], "mode": "fast"}"#);

    // Without isolation the environment itself must hold what the build imports; pip's
    // `PIP_NO_BUILD_ISOLATION=0` means the same (its double negative).
    context.ok(&["venv", "bare"]);
    let error = context.fails(&["sync", "--venv", "bare", "--no-build-isolation", "-C", "x=1"]);
    assert!(error.contains("No module named 'helper_module'"), "{error}");
    let mut context = context;
    context.env.insert("PIP_NO_BUILD_ISOLATION".into(), "0".into());
    let error = context.fails(&["sync", "--venv", "bare", "-C", "x=2"]);
    assert!(error.contains("No module named 'helper_module'"), "{error}");
}

#[test]
fn no_build_and_only_binary_refuse_sources() {
    let index = TestIndex::start();
    index.add_sdist(&ProjectBuilder::new("srconly", "1.0").sdist());
    let context = context_with(&index);
    context.write("requirements.in", "srconly\n");
    let error = context.fails(&["lock", "--no-build"]);
    assert!(
        error.contains("srconly-1.0.tar.gz needs a source build, and --no-build forbids building"),
        "{error}"
    );
    let error = context.fails(&["lock", "--only-binary", ":all:"]);
    assert!(error.contains("srconly"), "{error}");
    assert!(!context.path("requirements.txt").exists());
}

#[test]
fn concurrent_clients_share_one_build() {
    let index = TestIndex::start();
    let counter_dir = tempfile::tempdir().unwrap();
    let counter = counter_dir.path().join("hooks.txt");
    let slow = ProjectBuilder::new("slow", "1.0")
        .setting("counter", counter.display().to_string().into())
        .setting("sleep", 1.0.into())
        .sdist();
    index.add_sdist(&slow);
    let context = context_with(&index);
    context.ok(&["daemon", "start"]);
    let projects: Vec<std::path::PathBuf> = (0..3)
        .map(|n| {
            let dir = context.path(&format!("project{n}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("requirements.in"), "slow\n").unwrap();
            dir
        })
        .collect();
    let children: Vec<std::process::Child> = projects
        .iter()
        .map(|dir| {
            context
                .axle()
                .args(["lock"])
                .current_dir(dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(
        hooks_run(&counter),
        ["get_requires_for_build_wheel", "prepare_metadata_for_build_wheel"]
    );
    for dir in &projects {
        assert!(
            std::fs::read_to_string(dir.join("requirements.txt"))
                .unwrap()
                .contains("slow==1.0")
        );
    }
}

#[test]
fn failing_builds_name_the_package_the_hook_and_the_log() {
    let index = TestIndex::start();
    index.add_sdist(
        &ProjectBuilder::new("broken", "1.0")
            .setting("fail", "prepare_metadata_for_build_wheel".into())
            .sdist(),
    );
    index.add_sdist(
        &ProjectBuilder::new("hangs", "1.0")
            .setting("hang", "get_requires_for_build_wheel".into())
            .sdist(),
    );
    index.add_sdist(
        &ProjectBuilder::new("nobackend", "1.0")
            .pyproject("[build-system]\nrequires = []\nbuild-backend = \"missing_backend\"\n")
            .sdist(),
    );
    let mut context = context_with(&index);

    context.write("requirements.in", "broken\n");
    let (ok, answer) = context.json(&["lock"]);
    assert!(!ok);
    let message = answer["error"]["message"].as_str().unwrap_or_default().to_string();
    assert_eq!(answer["error"]["code"], "build-failed", "{answer}");
    assert!(message.contains("cannot build broken-1.0.tar.gz"), "{message}");
    assert!(
        message.contains("`prepare_metadata_for_build_wheel` hook failed"),
        "{message}"
    );
    assert!(message.contains("failing on purpose"), "{message}");
    assert!(message.contains("logs/builds/"), "{message}");

    context.write("requirements.in", "nobackend\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("`missing_backend` cannot be imported"), "{error}");

    context.env.insert("AXLE_BUILD_TIMEOUT".into(), "2".into());
    context.write("requirements.in", "hangs\n");
    let started = std::time::Instant::now();
    let error = context.fails(&["lock"]);
    assert!(error.contains("did not finish within 2 seconds"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn sdists_that_are_not_projects_or_escape_are_refused() {
    use tar::EntryType::Regular;
    let index = TestIndex::start();
    let not_a_project = axle_e2e::sdist::tar_gz(&[("empty-1.0/README".to_string(), b"nothing".to_vec())]);
    let escaping = axle_e2e::sdist::raw_tar_gz(&[("escape-1.0/../../../escaped.txt", Regular, "", b"x")]);
    for (project, filename, bytes) in [
        ("empty", "empty-1.0.tar.gz", not_a_project),
        ("escape", "escape-1.0.tar.gz", escaping),
    ] {
        index.add_file(
            project,
            axle_e2e::index::IndexFile {
                filename: filename.to_string(),
                sha256: axle_e2e::wheel::sha256_hex(&bytes),
                bytes: std::sync::Arc::new(bytes),
                metadata: None,
                requires_python: None,
                yanked: None,
                upload_time: None,
            },
        );
    }
    let context = context_with(&index);
    context.write("requirements.in", "empty\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("neither pyproject.toml nor setup.py"), "{error}");
    context.write("requirements.in", "escape\n");
    let error = context.fails(&["lock"]);
    assert!(error.contains("`..` component"), "{error}");
    assert!(!context.root.path().parent().unwrap().join("escaped.txt").exists());
}

#[test]
fn stopping_the_daemon_does_not_wait_for_builds() {
    let index = TestIndex::start();
    let mut context = context_with(&index);
    context.env.insert("AXLE_BUILD_TIMEOUT".into(), "600".into());
    ProjectBuilder::new("forever", "1.0")
        .setting("hang", "get_requires_for_build_editable".into())
        .write_to(&context.path("forever"));
    context.write("requirements.in", "-e ./forever\n");
    let mut lock = context.spawn_quiet(&["lock"]);
    // The hook is running once its log says so.
    let logs = context.home.join("logs").join("builds");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&logs).map(|entries| entries.count()).unwrap_or(0) == 0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = std::time::Instant::now();
    context.ok(&["daemon", "stop"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The client would start a new daemon and ask again; it is not the subject here.
    let _ = lock.kill();
    let _ = lock.wait();
    context.ok(&["daemon", "stop"]);
    // No process still runs a hook of this test's home.
    let home = context.home.display().to_string();
    let hanging: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&home) && cmdline.contains("get_requires_for_build"))
        .collect();
    assert!(hanging.is_empty(), "a hook outlived its daemon: {hanging:?}");
}

#[test]
fn a_lock_without_a_daemon_builds_nothing_ahead_and_ends_with_its_job() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("helper", "1.0").build());
    let counter_dir = tempfile::tempdir().unwrap();
    let counter = counter_dir.path().join("hooks.txt");
    // Static metadata (PEP 643): the lock runs no hook and never asks for `helper`, which a
    // build of `app` would install first (slowly: every answer of the index is late).
    let app = ProjectBuilder::new("app", "1.0")
        .setting("counter", counter.display().to_string().into())
        .pyproject(
            "[build-system]\nrequires = [\"helper\"]\nbuild-backend = \"axle_test_backend\"\nbackend-path = [\".\"]\n",
        )
        .file("PKG-INFO", "Metadata-Version: 2.2\nName: app\nVersion: 1.0\n")
        .sdist();
    index.add_sdist(&app);
    index
        .behaviour()
        .delay_ms
        .store(1_500, std::sync::atomic::Ordering::SeqCst);
    let context = context_with(&index);
    context.write("requirements.in", "app\n");
    let mut lock = context
        .axle()
        .args(["--no-daemon", "lock"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if !axle_e2e::wait_for_exit(lock.id(), Duration::from_secs(60)) {
        let _ = lock.kill();
        panic!("a lock without a daemon did not end with its job");
    }
    let output = lock.wait_with_output().unwrap();
    assert_success(&output, "axle --no-daemon lock");
    assert!(context.read("requirements.txt").contains("app==1.0"));
    // A daemon builds ahead for the sync that follows; a process about to end does not.
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    assert_eq!(hooks_run(&counter), Vec::<String>::new());
}

#[test]
fn setup_py_and_setup_cfg_inputs_lock_the_projects_dependencies() {
    // setuptools itself needs the `wheel` package, which no interpreter bundles: a setup.py
    // project is built here by the in-tree backend (the setuptools path is in the opt-in
    // real-index tests); what is tested is `axle lock setup.py` reading the project.
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("dep", "1.0").build());
    let context = context_with(&index);
    ProjectBuilder::new("legacy-app", "2.1")
        .requires("dep")
        .file(
            "setup.py",
            "raise SystemExit('the backend reads axle_test_backend.json')\n",
        )
        .write_to(&context.path(""));
    context.ok(&["lock", "setup.py", "-o", "requirements.txt"]);
    let lock = context.read("requirements.txt");
    assert!(lock.contains("dep==1.0\n    # via legacy-app (setup.py)"), "{lock}");
    assert!(
        lock.contains("axle lock --output-file=requirements.txt --strip-extras setup.py"),
        "{lock}"
    );
}
