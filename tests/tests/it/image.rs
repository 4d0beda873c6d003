//! `axle image` against real tools (Debian's mmdebstrap, umoci, skopeo, docker-registry; see
//! `axle_e2e::images`): images built from locks on a Debian base, run in a chroot, pushed and
//! copied back, rebuilt.

use std::path::Path;
use std::process::Command;

use axle_e2e::images::{self, Registry};
use axle_e2e::index::TestIndex;
use axle_e2e::sdist::ProjectBuilder;
use axle_e2e::wheel::WheelBuilder;
use axle_e2e::{TestContext, assert_success};

/// A project with a wheel (with a console script), an sdist-only package and a local
/// project, locked with hashes; and an application directory with a `.dockerignore`.
struct Scene {
    index: TestIndex,
    context: TestContext,
    _projects: tempfile::TempDir,
}

fn scene() -> Scene {
    let index = TestIndex::start();
    index.add(
        &WheelBuilder::new("greet", "1.0")
            .file("greet/cli.py", "def main():\n    print('hello from greet')\n")
            .entry_point("console_scripts", "greet", "greet.cli:main")
            .build(),
    );
    index.add_sdist(&ProjectBuilder::new("shout", "2.0").sdist());
    let projects = tempfile::tempdir().unwrap();
    let local = ProjectBuilder::new("localapp", "0.1").write_to(projects.path());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write(
        "requirements.in",
        &format!("greet\nshout\nlocalapp @ file://{}\n", local.display()),
    );
    context.ok(&["lock", "--generate-hashes"]);
    context.write("app/main.py", "import greet, shout, localapp\nprint('app ok')\n");
    context.write("app/secret.txt", "not for the image\n");
    context.write("app/.dockerignore", "secret.txt\n");
    Scene {
        index,
        context,
        _projects: projects,
    }
}

/// `axle --json image ARGS`, asserting success; its document.
fn image(context: &TestContext, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["image"];
    full.extend_from_slice(args);
    let (ok, document) = context.json(&full);
    assert!(ok, "axle image {args:?}: {document}");
    document
}

fn base_ref(base: &Path) -> String {
    format!("oci:{}:base", base.display())
}

/// The layer that holds the venv.
fn venv_layer(document: &serde_json::Value) -> String {
    document["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|layer| layer["made_by"].as_str().unwrap().starts_with("venv "))
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_image_from_a_lock_runs_its_packages_its_scripts_and_its_app_in_a_chroot() {
    let test = "an_image_from_a_lock_runs_its_packages_its_scripts_and_its_app_in_a_chroot";
    let Some(base) = images::debian_base(test) else {
        return;
    };
    let scene = scene();
    let out = scene.context.root.path().join("out");
    let document = image(
        &scene.context,
        &[
            "requirements.txt",
            "--from",
            &base_ref(&base),
            "--to",
            &format!("oci:{}:app", out.display()),
            "--add",
            "app:/srv/app",
            "--workdir",
            "/srv/app",
            "--cmd",
            r#"["python", "main.py"]"#,
            "--label",
            "org.opencontainers.image.title=demo",
            "--compile-bytecode",
        ],
    );
    assert_eq!(document["packages"], 3, "{document}");
    assert!(
        document["platform"].as_str().unwrap().ends_with("manylinux_2_36"),
        "{document}"
    );
    let rootfs = images::unpack(
        &format!("{}:app", out.display()),
        &scene.context.root.path().join("bundle"),
    );
    assert!(rootfs.join("srv/app/main.py").is_file());
    // Bytecode, compiled here for the image's paths (the host's Python is the image's version).
    let pycache = rootfs.join("opt/venv/lib/python3.11/site-packages/greet/__pycache__");
    let compiled: Vec<_> = std::fs::read_dir(&pycache).unwrap().flatten().collect();
    assert!(
        compiled
            .iter()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("cli.cpython-311")),
        "{compiled:?}"
    );
    assert!(
        !rootfs.join("srv/app/secret.txt").exists(),
        "the .dockerignore is honoured"
    );
    let chroot = |args: &[&str]| {
        let output = Command::new("chroot").arg(&rootfs).args(args).output().unwrap();
        assert_success(&output, &format!("chroot {args:?}"));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    assert_eq!(
        chroot(&[
            "/opt/venv/bin/python",
            "-c",
            "import greet, shout, localapp, sys; print(sys.prefix)"
        ]),
        "/opt/venv"
    );
    assert_eq!(chroot(&["/opt/venv/bin/greet"]), "hello from greet");
    assert_eq!(
        chroot(&["/bin/sh", "-c", "cd /srv/app && /opt/venv/bin/python main.py"]),
        "app ok"
    );
    // The config runs in the venv.
    let config: serde_json::Value = serde_json::from_str(&images::skopeo(&[
        "inspect",
        "--config",
        &format!("oci:{}:app", out.display()),
    ]))
    .unwrap();
    let env: Vec<&str> = config["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    assert!(
        env.iter().any(|variable| variable.starts_with("PATH=/opt/venv/bin:")),
        "{env:?}"
    );
    assert!(env.contains(&"VIRTUAL_ENV=/opt/venv"), "{env:?}");
    assert_eq!(config["config"]["WorkingDir"], "/srv/app");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["python", "main.py"]));
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.title"], "demo");
}

#[test]
fn the_same_inputs_give_the_same_digests_on_any_home() {
    let test = "the_same_inputs_give_the_same_digests_on_any_home";
    let Some(base) = images::debian_base(test) else {
        return;
    };
    let scene = scene();
    let build = |context: &TestContext, epoch: Option<&str>| -> serde_json::Value {
        let out = context.root.path().join(format!("out-{}", epoch.unwrap_or("0")));
        let mut command = context.axle();
        command.args(["--json", "image", "requirements.txt", "--from", &base_ref(&base)]);
        command.args(["--to", &format!("oci:{}:app", out.display()), "--add", "app:/srv/app"]);
        if let Some(epoch) = epoch {
            command.env("SOURCE_DATE_EPOCH", epoch);
        }
        let output = command.output().unwrap();
        assert_success(&output, "axle image");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let first = build(&scene.context, None);
    // Another home (another store, another project path), the same lock and app.
    let mut other = TestContext::new();
    other.use_index(&scene.index);
    std::fs::copy(scene.context.path("requirements.txt"), other.path("requirements.txt")).unwrap();
    for file in ["main.py", "secret.txt", ".dockerignore"] {
        other.write(&format!("app/{file}"), &scene.context.read(&format!("app/{file}")));
    }
    let second = build(&other, None);
    assert_eq!(first["layers"], second["layers"]);
    assert_eq!(first["manifest"], second["manifest"]);
    let dated = build(&scene.context, Some("1700000000"));
    assert_ne!(dated["manifest"], first["manifest"]);
    assert_eq!(build(&other, Some("1700000000"))["manifest"], dated["manifest"]);
}

#[test]
fn pushed_copied_back_and_rebuilt_after_an_app_change_an_image_keeps_its_digests() {
    let test = "pushed_copied_back_and_rebuilt_after_an_app_change_an_image_keeps_its_digests";
    let Some(base) = images::debian_base(test) else {
        return;
    };
    if !images::tools(test, &["skopeo", "docker-registry"]) {
        return;
    }
    let scene = scene();
    let registry = Registry::start();
    // The base from the registry too.
    let pushed_base = registry.reference("base:1");
    images::skopeo(&["copy", "--dest-tls-verify=false", &base_ref(&base), &pushed_base]);
    let target = registry.reference("app:1");
    let args = |to: &str| -> Vec<String> {
        [
            "requirements.txt",
            "--from",
            &pushed_base,
            "--to",
            to,
            "--add",
            "app:/srv/app",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect()
    };
    let first = image(
        &scene.context,
        &args(&target).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let manifest = first["manifest"]["digest"].as_str().unwrap().to_string();
    let inspected: serde_json::Value =
        serde_json::from_str(&images::skopeo(&["inspect", "--tls-verify=false", &target])).unwrap();
    assert_eq!(inspected["Digest"], manifest);
    let copy = scene.context.root.path().join("copy");
    images::skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &target,
        &format!("oci:{}:copy", copy.display()),
    ]);
    let copied: serde_json::Value =
        serde_json::from_str(&images::skopeo(&["inspect", &format!("oci:{}:copy", copy.display())])).unwrap();
    assert_eq!(copied["Digest"], manifest);

    // The app changes: the dependency layer is the same, and only the app's layer (with the
    // new config and manifest) goes up.
    scene.context.write("app/main.py", "print('app v2')\n");
    let second = image(
        &scene.context,
        &args(&target).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(venv_layer(&first), venv_layer(&second));
    assert_ne!(first["manifest"], second["manifest"]);
    assert_eq!(
        second["uploaded"], 3,
        "the app layer, the config, the manifest: {second}"
    );

    // The archives read back too.
    let archive = scene.context.root.path().join("app-oci.tar");
    let from_archive = image(
        &scene.context,
        &args(&format!("oci-archive:{}:app", archive.display()))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(from_archive["manifest"], second["manifest"]);
    let inspected: serde_json::Value = serde_json::from_str(&images::skopeo(&[
        "inspect",
        &format!("oci-archive:{}:app", archive.display()),
    ]))
    .unwrap();
    assert_eq!(inspected["Digest"], second["manifest"]["digest"]);
    let saved = scene.context.root.path().join("app-docker.tar");
    image(
        &scene.context,
        &args(&format!("docker-archive:{}:app:1", saved.display()))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let loaded: serde_json::Value = serde_json::from_str(&images::skopeo(&[
        "inspect",
        &format!("docker-archive:{}", saved.display()),
    ]))
    .unwrap();
    assert_eq!(
        loaded["Layers"].as_array().unwrap().len(),
        second["layers"].as_array().unwrap().len()
    );
}

#[test]
fn a_lock_made_for_another_target_is_refused_naming_both() {
    let test = "a_lock_made_for_another_target_is_refused_naming_both";
    let Some(base) = images::debian_base(test) else {
        return;
    };
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("greet", "1.0").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "greet\n");
    // Debian bookworm's Python is 3.11: a lock for a 3.12 image does not go into it.
    context.ok(&[
        "lock",
        "--python-version",
        "3.12",
        "--python-platform",
        "x86_64-manylinux_2_28",
    ]);
    let out = context.root.path().join("out");
    let stderr = context.fails(&[
        "image",
        "requirements.txt",
        "--from",
        &base_ref(&base),
        "--to",
        &format!("oci:{}:app", out.display()),
    ]);
    assert!(
        stderr.contains("requirements.txt was locked for Python 3.12 on x86_64-manylinux_2_28"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the base image") && stderr.contains("has Python 3.11"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written for a refused lock");
    // The same lock made for the base's Python goes in.
    context.ok(&[
        "lock",
        "--python-version",
        "3.11",
        "--python-platform",
        "x86_64-manylinux_2_28",
    ]);
    image(
        &context,
        &[
            "requirements.txt",
            "--from",
            &base_ref(&base),
            "--to",
            &format!("oci:{}:app", out.display()),
        ],
    );
}
