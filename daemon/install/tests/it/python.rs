//! The environments run: a real `python3 -m venv`, wheels installed by this crate, and Python
//! importing them, reading their metadata and running their scripts. Skipped (with a note) where
//! no `python3` is available.

use std::fs;

use axle_e2e::wheel::WheelBuilder;
use axle_install::{InstallOptions, LinkMode, install, uninstall};

use crate::common::{Env, demo_builder, demo_wheel, python3, real_venv, run, tree};

#[test]
fn python_imports_and_runs_what_was_installed() {
    let Some(python) = python3() else {
        return;
    };
    let env = Env::new();
    let root = env.path().join("venv");
    let layout = real_venv(&python, &root, false).unwrap();
    let fresh = tree(&root);
    let venv_python = root.join("bin/python");

    let demo = env.unpack(&demo_builder("1.0").build());
    let ns_a = env.unpack(
        &WheelBuilder::new("ns-a", "1.0")
            .file("ns/a/__init__.py", "A = 'a'\n")
            .build(),
    );
    let ns_b = env.unpack(
        &WheelBuilder::new("ns-b", "1.0")
            .file("ns/b/__init__.py", "B = 'b'\n")
            .build(),
    );
    let options = InstallOptions {
        requested: true,
        ..InstallOptions::default()
    };
    let installed: Vec<_> = [&demo, &ns_a, &ns_b]
        .into_iter()
        .map(|manifest| install(manifest, &env.store, &layout, &options).unwrap())
        .collect();

    assert_eq!(
        run(&venv_python, &["-c", "import demo_pkg; print(demo_pkg.__version__)"]),
        "1.0\n"
    );
    assert_eq!(
        run(
            &venv_python,
            &["-c", "import importlib.metadata as m; print(m.version('demo-pkg'))"]
        ),
        "1.0\n"
    );
    assert_eq!(
        run(
            &venv_python,
            &[
                "-c",
                "import importlib.metadata as m; d = m.distribution('demo-pkg'); \
                 print(d.read_text('INSTALLER').strip(), len(d.files), \
                 sorted(e.name for e in d.entry_points))"
            ]
        ),
        format!("axle {} ['demo', 'demo-gui']\n", installed[0].files.len())
    );
    assert_eq!(
        run(
            &venv_python,
            &[
                "-c",
                "import ns.a, ns.b, demo_extra, demo_plat; print(ns.a.A, ns.b.B, demo_extra.EXTRA, demo_plat.PLAT)"
            ]
        ),
        "a b 1 2\n"
    );
    assert_eq!(run(&root.join("bin/demo"), &["x", "y"]), "demo cli ['x', 'y']\n");
    assert_eq!(run(&root.join("bin/demo-gui"), &[]), "demo cli []\n");
    assert_eq!(run(&root.join("bin/tool"), &[]), "tool 1.0\n");
    assert_eq!(run(&root.join("bin/sh-tool"), &[]), "sh-tool\n");
    // Every file importlib.metadata lists exists and hashes as RECORD says.
    let check = r#"
import importlib.metadata as m, hashlib, base64
bad = []
for name in ('demo-pkg', 'ns-a', 'ns-b'):
    for f in m.distribution(name).files:
        if f.hash is None:
            continue
        data = f.locate().read_bytes()
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        if h != f.hash.value or len(data) != f.size:
            bad.append(str(f))
print(bad)
"#;
    assert_eq!(run(&venv_python, &["-c", check]), "[]\n");

    // Python wrote bytecode next to the modules while importing them; uninstall takes it too.
    assert!(layout.purelib.join("demo_pkg/__pycache__").is_dir());
    for dist in &installed {
        let removed = uninstall(&layout.purelib, &root, &dist.dist_info_path).unwrap();
        assert!(removed.skipped.is_empty(), "{:?}", removed.skipped);
    }
    assert_eq!(tree(&root), fresh);
    assert!(fs::read_dir(&layout.purelib).unwrap().next().is_none());
}

#[test]
fn an_upgrade_runs_the_new_version() {
    let Some(python) = python3() else {
        return;
    };
    let env = Env::new();
    let root = env.path().join("venv");
    let layout = real_venv(&python, &root, false).unwrap();
    let venv_python = root.join("bin/python");
    let old = env.unpack(&demo_builder("1.0").file("demo_pkg/gone.py", "").build());
    let new = env.unpack(&demo_builder("2.0").build());
    let first = install(&old, &env.store, &layout, &InstallOptions::default()).unwrap();
    assert_eq!(run(&root.join("bin/tool"), &[]), "tool 1.0\n");
    uninstall(&layout.purelib, &root, &first.dist_info_path).unwrap();
    install(&new, &env.store, &layout, &InstallOptions::default()).unwrap();
    assert_eq!(run(&root.join("bin/tool"), &[]), "tool 2.0\n");
    assert_eq!(
        run(
            &venv_python,
            &[
                "-c",
                "import importlib.metadata as m, importlib.util as u; print(m.version('demo-pkg'), u.find_spec('demo_pkg.gone'))"
            ]
        ),
        "2.0 None\n"
    );
}

/// pip installs the same wheel into the same environment; with the same installer name and
/// direct_url.json, the RECORD, launchers and rewritten scripts must be byte for byte pip's.
#[test]
fn record_and_scripts_match_pips() {
    let Some(python) = python3() else {
        return;
    };
    let env = Env::new();
    let root = env.path().join("venv");
    let Some(layout) = real_venv(&python, &root, true) else {
        return;
    };
    let venv_python = root.join("bin/python");
    let wheel = demo_wheel("1.0");
    let path = env.write(&wheel);
    let path = path.to_str().unwrap();
    run(
        &venv_python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
            path,
        ],
    );
    let dist_info = layout.purelib.join("demo_pkg-1.0.dist-info");
    let read = |path: &std::path::Path| fs::read(path).unwrap();
    let pip_record = String::from_utf8(read(&dist_info.join("RECORD"))).unwrap();
    let pip_direct_url = String::from_utf8(read(&dist_info.join("direct_url.json"))).unwrap();
    let scripts = ["demo", "demo-gui", "tool", "sh-tool"];
    let pip_scripts: Vec<Vec<u8>> = scripts.iter().map(|s| read(&root.join("bin").join(s))).collect();
    run(
        &venv_python,
        &[
            "-m",
            "pip",
            "uninstall",
            "--yes",
            "--quiet",
            "--disable-pip-version-check",
            "demo-pkg",
        ],
    );
    assert!(!dist_info.exists());

    let manifest = env.unpack(&wheel);
    let options = InstallOptions {
        link_mode: LinkMode::Copy,
        installer: "pip".to_string(),
        requested: true,
        direct_url: Some(pip_direct_url),
        ..InstallOptions::default()
    };
    install(&manifest, &env.store, &layout, &options).unwrap();
    let ours = String::from_utf8(read(&dist_info.join("RECORD"))).unwrap();
    assert_eq!(ours, pip_record);
    for (script, pip) in scripts.iter().zip(&pip_scripts) {
        assert_eq!(&read(&root.join("bin").join(script)), pip, "{script}");
    }
}

/// A real, large wheel: the pip that ships inside CPython (`ensurepip`'s bundle), unpacked,
/// installed, run, and uninstalled without a trace.
#[test]
fn the_pip_wheel_bundled_with_python_installs_and_runs() {
    let Some(python) = python3() else {
        return;
    };
    let bundled = run(
        &python,
        &[
            "-c",
            "import ensurepip, glob, os; \
             print(*glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))",
        ],
    );
    let Some(wheel) = bundled.split_whitespace().next().map(std::path::PathBuf::from) else {
        eprintln!("no bundled pip wheel: skipping");
        return;
    };
    let env = Env::new();
    let root = env.path().join("venv");
    let layout = real_venv(&python, &root, false).unwrap();
    let fresh = tree(&root);
    let sha256 = axle_e2e::wheel::sha256_hex(&fs::read(&wheel).unwrap());
    let manifest = env.store.unpack(&wheel, &sha256).unwrap();
    assert!(manifest.files.len() > 100);
    let installed = install(&manifest, &env.store, &layout, &InstallOptions::default()).unwrap();
    let version = run(&root.join("bin/python"), &["-m", "pip", "--version"]);
    assert!(version.starts_with("pip "), "{version}");
    let version = run(&root.join("bin/pip"), &["--version"]);
    assert!(version.contains(&root.display().to_string()), "{version}");
    let removed = uninstall(&layout.purelib, &root, &installed.dist_info_path).unwrap();
    assert!(removed.skipped.is_empty() && removed.missing.is_empty());
    assert_eq!(tree(&root), fresh);
}
