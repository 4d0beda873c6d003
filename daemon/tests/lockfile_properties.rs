//! Property tests (bounded): lock files of any content — pip-compile's requirements.txt and
//! PEP 751 pylock.toml — are read or refused with an error, never a panic.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use axle_daemon::lockfile;
use axle_daemon::target::target_without_interpreter;
use proptest::prelude::*;

fn read(name: &str, text: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let target = target_without_interpreter("3.12", "linux").unwrap();
    let _ = lockfile::read(&[path], &HashMap::new(), &target.markers);
}

/// The only host these lines name (the generators build URLs from it rather than spell it in
/// their patterns).
const LOOPBACK: &str = "https://127.0.0.1";

fn pinned_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}==[0-9]{1,2}(\\.[0-9]{1,2}){0,2}",
        "[a-z]{1,6}==[0-9]\\.[0-9] \\\\\n    --hash=sha256:[0-9a-f]{64}",
        "[a-z]{1,6} @ file:///tmp/[a-z]{1,5}\\.whl",
        ("[a-z]{1,6}", "[a-z]{1,5}").prop_map(|(name, file)| format!("{name} @ {LOOPBACK}/{file}.tar.gz")),
        "-e \\./[a-z]{1,5}",
        "[0-9a-f]{7}".prop_map(|commit| format!("-e git+{LOOPBACK}/x.git@{commit}")),
        Just(format!("--index-url {LOOPBACK}/simple/")),
        Just("    # via something".to_string()),
        "[a-z]{1,6}==[0-9] ; python_version (<|>=) '3\\.[0-9]{1,2}'",
        "[ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requirements_locks_never_panic(lines in prop::collection::vec(pinned_line(), 0..10)) {
        read("requirements.txt", lines.join("\n").as_bytes());
    }

    #[test]
    fn lock_files_of_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read("requirements.txt", &bytes);
        read("pylock.toml", &bytes);
    }

    #[test]
    fn pylock_shaped_toml_never_panics(
        version in "[0-9.]{0,5}",
        name in "[a-z]{0,6}",
        package_version in "[0-9a-z.]{0,6}",
        marker in "[ -~]{0,20}",
        hash in "[0-9a-f]{0,64}",
    ) {
        let text = format!(
            "lock-version = \"{version}\"\ncreated-by = \"x\"\n\n[[packages]]\nname = \"{name}\"\nversion = \"{package_version}\"\nmarker = \"{}\"\n\n[[packages.wheels]]\nname = \"{name}-{package_version}-py3-none-any.whl\"\nurl = \"{LOOPBACK}/x.whl\"\nhashes = {{ sha256 = \"{hash}\" }}\n",
            marker.replace(['"', '\\'], "")
        );
        read("pylock.toml", text.as_bytes());
    }
}

/// One pin of a generated resolution, before it is made a `Pin`.
#[derive(Debug, Clone)]
struct PinSpec {
    name: String,
    version: String,
    extras: Vec<String>,
    /// 0: none; 1: holds here (Linux, 3.12); 2: does not.
    marker: u8,
    /// 0: an index; 1: an archive URL; 2: a Git commit; 3: an editable Git checkout; 4: a
    /// directory.
    source: u8,
    hashes: Vec<String>,
}

fn pin_spec() -> impl Strategy<Value = PinSpec> {
    (
        "[a-z][a-z0-9]{0,6}",
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}((a|b|rc)[0-9]|\\.post[0-9]|\\.dev[0-9])?",
        prop::collection::vec("[a-z]{1,5}", 0..3),
        0u8..3,
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 1 => Just(4u8)],
        prop::collection::vec("[0-9a-f]{64}", 1..4),
    )
        .prop_map(|(name, version, extras, marker, source, hashes)| PinSpec {
            name,
            version,
            extras,
            marker,
            source,
            hashes,
        })
}

/// Where an archive pin's file is.
fn archive_url(spec: &PinSpec) -> String {
    format!("{LOOPBACK}/files/{}-{}.tar.gz", spec.name, spec.version)
}

/// A Git pin's repository at a commit (made of the first hash's digits).
fn git_url(spec: &PinSpec) -> String {
    format!("git+{LOOPBACK}/{}.git@{}", spec.name, &spec.hashes[0][..40])
}

const MARKERS: [Option<&str>; 3] = [
    None,
    Some("python_version >= \"3.8\" and sys_platform == \"linux\""),
    Some("sys_platform == \"win32\" or python_version < \"3.9\""),
];

/// Files of a registry pin, one per hash: wheels for two tags, then the sdist.
fn files_of(spec: &PinSpec, url_of: impl Fn(&str) -> String) -> Vec<axle_daemon::index::IndexedFile> {
    let names = [
        format!("{}-{}-py3-none-any.whl", spec.name, spec.version),
        format!("{}-{}-cp312-cp312-manylinux_2_17_x86_64.whl", spec.name, spec.version),
        format!("{}-{}.tar.gz", spec.name, spec.version),
    ];
    names
        .iter()
        .zip(&spec.hashes)
        .map(|(filename, hash)| axle_daemon::index::IndexedFile {
            file: std::sync::Arc::new(axle_daemon::index::DistFile::direct(
                filename.clone(),
                url_of(filename),
                axle_daemon::index::Sha256Digest::from_hex(hash),
            )),
            filename: axle_standards::DistFilename::try_from_filename(filename, None).unwrap(),
            source: std::sync::Arc::from(format!("{LOOPBACK}/simple/")),
        })
        .collect()
}

fn resolution_of(specs: &[PinSpec], project: &std::path::Path) -> axle_daemon::resolve::Resolution {
    use axle_daemon::resolve::{Pin, PinSource};
    let pins = specs
        .iter()
        .map(|spec| {
            let source = match spec.source {
                0 => PinSource::Registry,
                1 => PinSource::Url(archive_url(spec)),
                2 | 3 => PinSource::Git {
                    url: git_url(spec),
                    editable: spec.source == 3,
                },
                _ => {
                    // A reader tells a directory from an archive by looking.
                    std::fs::create_dir_all(project.join(&spec.name)).unwrap();
                    PinSource::Directory {
                        given: project.join(&spec.name).display().to_string(),
                        path: project.join(&spec.name),
                        editable: false,
                    }
                }
            };
            let files = match &source {
                PinSource::Registry => files_of(spec, |filename| format!("{LOOPBACK}/files/{filename}")),
                PinSource::Url(url) => {
                    let mut one = files_of(spec, |_| url.clone());
                    one.truncate(1);
                    one
                }
                _ => Vec::new(),
            };
            Pin {
                name: spec.name.parse().unwrap(),
                version: spec.version.parse().unwrap(),
                extras: spec.extras.iter().map(|extra| extra.parse().unwrap()).collect(),
                files,
                source,
                required_by: Default::default(),
                root_marker: MARKERS[spec.marker as usize].map(str::to_string),
            }
        })
        .collect();
    axle_daemon::resolve::Resolution { pins }
}

/// What a lock says of one pin: name, version, where from, hashes.
type Said = (String, Option<String>, String, Vec<String>);

fn said(set: &lockfile::LockedSet) -> Vec<Said> {
    set.dists
        .values()
        .map(|locked| {
            (
                locked.name.to_string(),
                locked.version.as_ref().map(ToString::to_string),
                format!("{:?}", locked.source),
                locked.hashes.iter().cloned().collect(),
            )
        })
        .collect()
}

/// What the generated pins say, for the environment here (Linux, CPython 3.12). PEP 751 has
/// no editable repository (`packages.vcs` has no such key): in pylock.toml it is a plain one.
fn expected(specs: &[PinSpec], project: &std::path::Path, hashes: bool, pylock: bool) -> Vec<Said> {
    use axle_daemon::lockfile::LockedSource;
    let mut said: Vec<Said> = specs
        .iter()
        .filter(|spec| spec.marker != 2)
        .map(|spec| {
            let (version, source) = match spec.source {
                0 => (Some(spec.version.clone()), LockedSource::Registry),
                1 => (None, LockedSource::Url(archive_url(spec))),
                2 | 3 => (
                    None,
                    LockedSource::Git {
                        url: git_url(spec),
                        editable: spec.source == 3 && !pylock,
                    },
                ),
                _ => (
                    None,
                    LockedSource::Directory {
                        path: project.join(&spec.name),
                        editable: false,
                    },
                ),
            };
            let version = version.map(|text| text.parse::<axle_standards::Version>().unwrap().to_string());
            let hashes = match (hashes, spec.source) {
                (true, 0) => spec.hashes.iter().cloned().collect::<std::collections::BTreeSet<_>>(),
                (true, 1) => spec.hashes[..1].iter().cloned().collect(),
                _ => Default::default(),
            };
            (
                spec.name.clone(),
                version,
                format!("{source:?}"),
                hashes.into_iter().collect(),
            )
        })
        .collect();
    said.sort();
    said
}

/// Distinct names (a resolution pins each package once), none of the packages pip-compile
/// leaves out as unsafe.
fn distinct(specs: Vec<PinSpec>) -> Vec<PinSpec> {
    let mut seen = std::collections::BTreeSet::new();
    let mut specs: Vec<PinSpec> = specs
        .into_iter()
        .filter(|spec| !["pip", "setuptools", "distribute"].contains(&spec.name.as_str()))
        .filter(|spec| seen.insert(spec.name.clone()))
        .collect();
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
}

fn read_back(name: &str, text: &str, dir: &std::path::Path) -> Result<lockfile::LockedSet, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let target = target_without_interpreter("3.12", "linux").unwrap();
    lockfile::read(&[path], &HashMap::new(), &target.markers).map_err(|error| format!("{error}\n{text}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// What axle writes, axle reads back as the same pins: pip-compile's format with and
    /// without hashes and annotations, and pylock.toml.
    #[test]
    fn rendered_locks_read_back_as_the_same_pins(
        specs in prop::collection::vec(pin_spec(), 0..8),
        generate_hashes: bool,
        annotate: bool,
        header: bool,
    ) {
        use axle_daemon::lockfile::{pylock, requirements_txt};
        let dir = tempfile::tempdir().unwrap();
        let specs = distinct(specs);
        let resolution = resolution_of(&specs, dir.path());
        let options = requirements_txt::WriteOptions {
            header,
            command: "axle lock".to_string(),
            python_version: "3.12".to_string(),
            annotate,
            generate_hashes,
            allow_unsafe: true,
            ..Default::default()
        };
        let text = requirements_txt::render(&resolution, &options);
        let set = read_back("requirements.txt", &text, dir.path()).unwrap();
        prop_assert_eq!(said(&set), expected(&specs, dir.path(), generate_hashes, false), "{}", text);

        let text = pylock::render(&resolution, Some(">=3.9"), "axle lock --format pylock");
        let set = read_back("pylock.toml", &text, dir.path()).unwrap();
        prop_assert_eq!(said(&set), expected(&specs, dir.path(), true, true), "{}", text);
    }
}
