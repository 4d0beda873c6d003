//! Against the real index the machine is configured for (opt-in: `cargo
//! test -p axle-e2e --test it real_index -- --ignored`). Each compares axle
//! with its peers run at the same moment on the shared benchmark sets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use axle_e2e::{TestContext, assert_success};

/// The benchmark sets and the modules each must make importable.
const SETS: [(&str, &[&str]); 3] = [
    ("black", &["black"]),
    (
        "django",
        &["django", "rest_framework", "celery", "psycopg", "gunicorn", "environ"],
    ),
    ("fastapi", &["fastapi", "uvicorn", "pydantic", "sqlalchemy", "redis"]),
];

fn sets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench-sets")
}

fn peer(name: &str) -> PathBuf {
    let candidates = [PathBuf::from("/opt/peers/bin").join(name)];
    if let Some(found) = candidates.iter().find(|path| path.exists()) {
        return found.clone();
    }
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.exists())
        .unwrap_or_else(|| panic!("{name} is needed for this test: pip install uv pip-tools"))
}

/// A context that uses the machine's index configuration (and no
/// find-links, so every tool sees the same index).
fn real_context() -> TestContext {
    let mut context = TestContext::new();
    context.env.remove("PIP_INDEX_URL");
    context.env.remove("PIP_CONFIG_FILE");
    context.env.insert("AXLE_HTTP_TIMEOUT".into(), "120".into());
    if let Ok(url) = std::env::var("PIP_INDEX_URL") {
        context.env.insert("PIP_INDEX_URL".into(), url);
    }
    context
}

fn pins(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with('-') && line.contains("=="))
        .map(|line| line.split([' ', ';']).next().unwrap().to_lowercase().replace('_', "-"))
        .collect()
}

#[test]
#[ignore = "uses the network: the real configured index"]
fn locks_pin_what_uv_and_pip_compile_pin() {
    for (name, _) in SETS {
        let context = real_context();
        let input = std::fs::read_to_string(sets_dir().join(format!("{name}.in"))).unwrap();
        context.write("requirements.in", &input);
        context.ok(&["lock", "--generate-hashes"]);
        let axle = context.read("requirements.txt");

        let uv = context
            .command(peer("uv"))
            .args(["pip", "compile", "-q", "--generate-hashes", "--python"])
            .arg(axle_e2e::real_python())
            .args(["-o", "uv.txt", "requirements.in"])
            .output()
            .unwrap();
        assert_success(&uv, "uv pip compile");
        let pip_compile = context
            .command(peer("pip-compile"))
            .args([
                "-q",
                "--generate-hashes",
                "--strip-extras",
                "-o",
                "pip.txt",
                "requirements.in",
            ])
            .output()
            .unwrap();
        assert_success(&pip_compile, "pip-compile");
        assert_eq!(pins(&axle), pins(&context.read("uv.txt")), "{name}: axle vs uv");
        assert_eq!(
            pins(&axle),
            pins(&context.read("pip.txt")),
            "{name}: axle vs pip-compile"
        );

        // Every pin is hashed: pip accepts the lock with --require-hashes.
        let mut logical = String::new();
        for line in axle.lines() {
            logical.push_str(line.trim_end_matches('\\'));
            if line.ends_with('\\') {
                continue;
            }
            let entry = std::mem::take(&mut logical);
            if entry.contains("==") && !entry.trim_start().starts_with('#') {
                assert!(entry.contains("--hash=sha256:"), "{name}: unhashed pin {entry}");
            }
        }
        let dry = context
            .command(axle_e2e::real_python())
            .args([
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--require-hashes",
                "-q",
                "-r",
            ])
            .arg(context.path("requirements.txt"))
            .output()
            .unwrap();
        assert_success(&dry, "pip install --dry-run --require-hashes");
    }
}

#[test]
#[ignore = "uses the network: the real configured index"]
fn syncs_give_what_uv_pip_sync_gives() {
    for (name, modules) in SETS {
        let context = real_context();
        let input = std::fs::read_to_string(sets_dir().join(format!("{name}.in"))).unwrap();
        context.write("requirements.in", &input);
        context.ok(&["lock", "--generate-hashes"]);
        context.ok(&["venv"]);
        context.ok(&["sync"]);
        let venv = context.path(".venv");
        let check = Command::new(axle_e2e::real_python())
            .args(["-m", "pip", "--python"])
            .arg(venv.join("bin/python"))
            .arg("check")
            .output()
            .unwrap();
        assert_success(&check, &format!("{name}: pip check"));
        let imports = Command::new(venv.join("bin/python"))
            .args(["-c", &format!("import {}", modules.join(", "))])
            .output()
            .unwrap();
        assert_success(&imports, &format!("{name}: imports"));

        let uv_venv = context.path("uv-venv");
        let made = Command::new(axle_e2e::real_python())
            .args(["-m", "venv", "--without-pip"])
            .arg(&uv_venv)
            .output()
            .unwrap();
        assert_success(&made, "python -m venv");
        let uv = context
            .command(peer("uv"))
            .args(["pip", "sync", "-q", "--python"])
            .arg(uv_venv.join("bin/python"))
            .arg("requirements.txt")
            .output()
            .unwrap();
        assert_success(&uv, "uv pip sync");
        let freeze = |venv: &Path| {
            let output = Command::new(axle_e2e::real_python())
                .args(["-m", "pip", "--python"])
                .arg(venv.join("bin/python"))
                .args(["freeze", "--all"])
                .output()
                .unwrap();
            assert_success(&output, "pip freeze");
            String::from_utf8(output.stdout).unwrap()
        };
        assert_eq!(
            freeze(&venv),
            freeze(&uv_venv),
            "{name}: pip freeze differs from uv pip sync's"
        );
    }
}

/// pip-compile's and uv's lock of `requirements.in` in `context`, pins only.
fn peer_pins(context: &TestContext) -> (BTreeSet<String>, BTreeSet<String>, String) {
    let uv = context
        .command(peer("uv"))
        .args(["pip", "compile", "-q", "--generate-hashes", "--python"])
        .arg(axle_e2e::real_python())
        .args(["-o", "uv.txt", "requirements.in"])
        .output()
        .unwrap();
    assert_success(&uv, "uv pip compile");
    let pip_compile = context
        .command(peer("pip-compile"))
        .args([
            "-q",
            "--generate-hashes",
            "--strip-extras",
            "-o",
            "pip.txt",
            "requirements.in",
        ])
        .output()
        .unwrap();
    assert_success(&pip_compile, "pip-compile");
    let pip_text = context.read("pip.txt");
    (pins(&context.read("uv.txt")), pins(&pip_text), pip_text)
}

#[test]
#[ignore = "uses the network: the real configured index"]
fn source_builds_lock_and_sync_as_the_peers_do() {
    // An sdist-only package, and a local setuptools project with a dynamic version, editable.
    let context = real_context();
    std::fs::create_dir_all(context.path("proj/src/proj")).unwrap();
    context.write(
        "proj/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"proj\"\ndynamic = [\"version\"]\ndependencies = [\"six\"]\n\n[tool.setuptools.dynamic]\nversion = {attr = \"proj.__version__\"}\n",
    );
    context.write("proj/src/proj/__init__.py", "__version__ = \"0.3.1\"\n");
    context.write("requirements.in", "docopt\n-e ./proj\n");
    context.ok(&["lock", "--generate-hashes"]);
    let axle = context.read("requirements.txt");
    let (uv, pip, pip_text) = peer_pins(&context);
    assert_eq!(pins(&axle), uv, "axle vs uv");
    assert_eq!(pins(&axle), pip, "axle vs pip-compile");
    // The editable line as pip-compile writes it, and the sdist's hash as both write it.
    let editable = |text: &str| text.lines().find(|line| line.starts_with("-e ")).map(str::to_string);
    assert_eq!(editable(&axle), editable(&pip_text), "{axle}");
    let docopt_hashes = |text: &str| {
        text.lines()
            .skip_while(|line| !line.starts_with("docopt=="))
            .skip(1)
            .take_while(|line| line.trim_start().starts_with("--hash"))
            .map(|line| line.trim().trim_end_matches('\\').trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(docopt_hashes(&axle), docopt_hashes(&pip_text), "{axle}");

    context.ok(&["venv"]);
    context.ok(&["sync"]);
    let venv = context.path(".venv");
    let check = Command::new(axle_e2e::real_python())
        .args(["-m", "pip", "--python"])
        .arg(venv.join("bin/python"))
        .arg("check")
        .output()
        .unwrap();
    assert_success(&check, "pip check");
    let imports = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import docopt, proj, importlib.metadata as m; assert m.version('proj') == '0.3.1'",
        ])
        .output()
        .unwrap();
    assert_success(&imports, "imports");
}

#[test]
#[ignore = "uses the network: the real configured index; minutes cold"]
fn apache_airflow_all_locks_as_uv_does() {
    let context = real_context();
    context.write("requirements.in", "apache-airflow[all]\n");
    context.ok(&["lock", "--generate-hashes"]);
    let axle = context.read("requirements.txt");
    let uv_run = context
        .command(peer("uv"))
        .args(["pip", "compile", "-q", "--generate-hashes", "--python"])
        .arg(axle_e2e::real_python())
        .args(["-o", "uv.txt", "requirements.in"])
        .output()
        .unwrap();
    assert_success(&uv_run, "uv pip compile");
    // uv pins setuptools and pip where pip-compile (and axle) list them as unsafe.
    let (ours, theirs) = (pins(&axle), without_unsafe(pins(&context.read("uv.txt"))));
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{} pins differ from uv's: axle {only_ours:?}, uv {only_theirs:?}",
        only_ours.len() + only_theirs.len()
    );
}

/// `apache-airflow[all]` beside one lower-bounded requirement on a provider, for each of ten
/// providers (the bound: the major release uv pins the provider at without it, so the variant
/// changes the order of decisions, not what is allowed): each variant locked from scratch by
/// axle and by `uv pip compile` at the same moment. Prints each variant's differences; fails
/// when a variant does not lock, or when more than one pins what uv does not.
#[test]
#[ignore = "uses the network: the real configured index; minutes"]
fn apache_airflow_all_beside_a_bounded_provider_locks_as_uv_does() {
    const PROVIDERS: [&str; 10] = [
        "amazon",
        "google",
        "microsoft-azure",
        "snowflake",
        "databricks",
        "cncf-kubernetes",
        "postgres",
        "openai",
        "http",
        "slack",
    ];
    let context = real_context();
    context.write("requirements.in", "apache-airflow[all]\n");
    let alone = uv_compile(&context, &[], "uv-alone.txt");
    let mut report = Vec::new();
    let mut differing = Vec::new();
    for provider in PROVIDERS {
        let name = format!("apache-airflow-providers-{provider}");
        let Some(major) = alone
            .iter()
            .find_map(|pin| pin.strip_prefix(&format!("{name}==")))
            .and_then(|version| version.split('.').next())
        else {
            report.push(format!("{name}: not in apache-airflow[all]'s lock"));
            differing.push(name);
            continue;
        };
        let requirement = format!("{name}>={major}");
        context.write("requirements.in", &format!("apache-airflow[all]\n{requirement}\n"));
        // No earlier lock to prefer, for either tool.
        let output = format!("axle-{provider}.txt");
        context.ok(&["lock", "-o", &output]);
        let ours = pins(&context.read(&output));
        let theirs = uv_compile(&context, &[], &format!("uv-{provider}.txt"));
        if ours == theirs {
            report.push(format!("{requirement:50} = uv ({} pins)", ours.len()));
        } else {
            report.push(format!("{requirement:50} {}", difference(&ours, &theirs)));
            differing.push(requirement);
        }
    }
    eprintln!("{}", report.join("\n"));
    // One difference is explained in README ("How axle differs"): where a pre-release is the
    // price of a newer release, uv takes it and axle stays on final releases. More is drift.
    assert!(differing.len() <= 1, "variants that differ from uv: {differing:?}");
}

/// What pip-compile (and axle) leave out of a lock as unsafe, and uv pins.
fn without_unsafe(pins: BTreeSet<String>) -> BTreeSet<String> {
    pins.into_iter()
        .filter(|pin| {
            !["setuptools==", "pip==", "distribute=="]
                .iter()
                .any(|name| pin.starts_with(name))
        })
        .collect()
}

/// `uv pip compile` of `requirements.in` in `context` (with `extra` arguments) into `output`.
fn uv_compile(context: &TestContext, extra: &[&str], output: &str) -> BTreeSet<String> {
    let uv = context
        .command(peer("uv"))
        .args(["pip", "compile", "-q", "--python"])
        .arg(axle_e2e::real_python())
        .args(extra)
        .args(["-o", output, "requirements.in"])
        .output()
        .unwrap();
    assert_success(&uv, "uv pip compile");
    without_unsafe(pins(&context.read(output)))
}

/// The pins one side has and the other lacks, for a report line.
fn difference(ours: &BTreeSet<String>, theirs: &BTreeSet<String>) -> String {
    let only_ours: Vec<&String> = ours.difference(theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(ours).collect();
    format!("axle {only_ours:?}, peer {only_theirs:?}")
}

/// Three dozen public requirement sets (`tests/realworld`): each locked by axle and by `uv pip
/// compile` — for this interpreter and `--universal` — and, where axle and uv differ on the
/// former, by pip-compile. Prints the tally the README records; fails when a set does not lock
/// or fewer than nine in ten match a peer.
#[test]
#[ignore = "uses the network: the real configured index; minutes"]
fn real_world_sets_pin_what_uv_or_pip_compile_pins() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("realworld");
    let mut sets: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "in"))
        .collect();
    sets.sort();
    let (mut as_uv, mut as_pip_compile, mut universal_as_uv) = (0, 0, 0);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for set in &sets {
        let name = set.file_stem().unwrap().to_string_lossy().into_owned();
        let context = real_context();
        context.write("requirements.in", &std::fs::read_to_string(set).unwrap());
        let locked = context.axle().arg("lock").output().unwrap();
        if !locked.status.success() {
            failures.push(format!("{name}: {}", String::from_utf8_lossy(&locked.stderr)));
            continue;
        }
        let ours = pins(&context.read("requirements.txt"));
        let uv = uv_compile(&context, &[], "uv.txt");
        let line = if ours == uv {
            as_uv += 1;
            "= uv".to_string()
        } else {
            let (_, pip_compile, _) = peer_pins(&context);
            if ours == pip_compile {
                as_pip_compile += 1;
                format!("= pip-compile, not uv: {}", difference(&ours, &uv))
            } else {
                format!("differs from both: {}", difference(&ours, &uv))
            }
        };

        context.ok(&["lock", "--universal", "-o", "universal.txt"]);
        let ours_universal = pins(&context.read("universal.txt"));
        let uv_universal = uv_compile(&context, &["--universal"], "uv-universal.txt");
        let universal = if ours_universal == uv_universal {
            universal_as_uv += 1;
            "= uv".to_string()
        } else {
            difference(&ours_universal, &uv_universal)
        };
        report.push(format!("{name:20} {line}; universal {universal}"));
    }
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "{} sets: {as_uv} as uv, {as_pip_compile} as pip-compile where uv differs, {} failed; universal: {universal_as_uv} as uv",
        sets.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "sets axle could not lock:\n{}",
        failures.join("\n")
    );
    let enough = sets.len() * 9 / 10;
    assert!(as_uv + as_pip_compile >= enough, "too few sets match a peer");
    assert!(universal_as_uv >= enough, "too few universal locks match uv's");
}

#[test]
#[ignore = "uses the network: the real configured index"]
fn universal_locks_sync_the_venv_a_platform_lock_syncs() {
    for (name, _) in SETS {
        let context = real_context();
        let input = std::fs::read_to_string(sets_dir().join(format!("{name}.in"))).unwrap();
        context.write("requirements.in", &input);
        context.ok(&["lock", "--universal", "--generate-hashes", "-o", "universal.txt"]);
        assert_eq!(
            pins(&context.read("universal.txt")),
            uv_compile(&context, &["--universal"], "uv-universal.txt"),
            "{name}: axle --universal vs uv --universal"
        );
        context.ok(&["lock", "--generate-hashes"]);
        context.ok(&["venv"]);
        let freeze = || {
            let output = Command::new(axle_e2e::real_python())
                .args(["-m", "pip", "--python"])
                .arg(context.path(".venv/bin/python"))
                .args(["freeze", "--all"])
                .output()
                .unwrap();
            assert_success(&output, "pip freeze");
            String::from_utf8(output.stdout).unwrap()
        };
        context.ok(&["sync", "universal.txt"]);
        let from_universal = freeze();
        context.ok(&["sync", "requirements.txt"]);
        assert_eq!(
            from_universal,
            freeze(),
            "{name}: universal and platform locks sync differently"
        );
    }
}
