//! Hostile archives: each refused with an error naming the wheel and the
//! reason, nothing written to the venv or the store.

use std::io::Write;

use axle_e2e::wheel::{WheelBuilder, record_hash};

use crate::Scene;

const WHEEL: &str = "evil-1.0-py3-none-any.whl";

/// A wheel of `evil` 1.0 with `extra` entries, RECORD listing them all
/// (so RECORD is never the reason for a refusal unless a test says so).
fn evil_wheel(extra: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(extra, |_| {})
}

fn base_entries(extra: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("evil/__init__.py".into(), b"VALUE = 1\n".to_vec()),
        (
            "evil-1.0.dist-info/METADATA".into(),
            b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n".to_vec(),
        ),
        (
            "evil-1.0.dist-info/WHEEL".into(),
            b"Wheel-Version: 1.0\nGenerator: axle-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
        ),
    ];
    entries.extend(extra.iter().map(|(name, data)| (name.to_string(), data.to_vec())));
    let mut record = String::new();
    for (name, data) in &entries {
        record.push_str(&format!("{name},{},{}\n", record_hash(data), data.len()));
    }
    record.push_str("evil-1.0.dist-info/RECORD,,\n");
    entries.push(("evil-1.0.dist-info/RECORD".into(), record.into_bytes()));
    entries
}

/// Builds the zip, letting `customise` add to the writer (symlinks, comments).
fn zip_with(
    extra: &[(&str, &[u8])],
    customise: impl FnOnce(&mut zip::ZipWriter<&mut std::io::Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for (name, data) in base_entries(extra) {
            writer.start_file(name.as_str(), options).unwrap();
            writer.write_all(&data).unwrap();
        }
        customise(&mut writer);
        writer.finish().unwrap();
    }
    buffer.into_inner()
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut count = 0;
    let mut index = 0;
    while index + from.len() <= bytes.len() {
        if &bytes[index..index + from.len()] == from {
            bytes[index..index + from.len()].copy_from_slice(to);
            count += 1;
            index += from.len();
        } else {
            index += 1;
        }
    }
    count
}

fn find(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes.windows(needle.len()).position(|window| window == needle)
}

fn rfind(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes.windows(needle.len()).rposition(|window| window == needle)
}

/// The central-directory header of the entry named `name`.
fn central_header(bytes: &[u8], name: &[u8]) -> usize {
    let mut index = 0;
    while let Some(offset) = find(&bytes[index..], &[0x50, 0x4b, 0x01, 0x02]) {
        let header = index + offset;
        let name_length = u16::from_le_bytes([bytes[header + 28], bytes[header + 29]]) as usize;
        if &bytes[header + 46..header + 46 + name_length] == name {
            return header;
        }
        index = header + 4;
    }
    panic!("no central header for {}", String::from_utf8_lossy(name));
}

fn local_header(bytes: &[u8], central: usize) -> usize {
    u32::from_le_bytes(bytes[central + 42..central + 46].try_into().unwrap()) as usize
}

#[test]
fn parent_directory_entries() {
    let scene = Scene::serving(WHEEL, evil_wheel(&[("evil/../../../escaped.py", b"owned = True\n")]));
    scene.assert_refused(WHEEL, &["..", "outside", "parent"]);
    assert!(!scene.context.root.path().join("escaped.py").exists());
}

#[test]
fn absolute_paths() {
    let scene = Scene::serving(WHEEL, evil_wheel(&[("/tmp/axle-evil-absolute.py", b"owned = True\n")]));
    scene.assert_refused(WHEEL, &["absolute"]);
    assert!(!std::path::Path::new("/tmp/axle-evil-absolute.py").exists());
}

#[test]
fn drive_prefixes_and_backslashes() {
    for name in ["C:/evil.py", "evil\\..\\..\\escaped.py", "C:evil.py"] {
        let scene = Scene::serving(WHEEL, evil_wheel(&[(name, b"owned = True\n")]));
        scene.assert_refused(WHEEL, &["drive", "backslash", "separator", "absolute"]);
    }
}

#[test]
fn symlink_entries() {
    let bytes = zip_with(&[], |writer| {
        let options = zip::write::SimpleFileOptions::default();
        writer.add_symlink("evil/link", "/etc/passwd", options).unwrap();
    });
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["link", "not a regular file"]);
}

#[test]
fn duplicate_entry_names() {
    let mut bytes = evil_wheel(&[("evil/aa.py", b"A = 1\n"), ("evil/bb.py", b"B = 2\n")]);
    // The local header and the central directory (RECORD is compressed).
    assert_eq!(replace_all(&mut bytes, b"evil/bb.py", b"evil/aa.py"), 2);
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["duplicate", "twice", "more than once"]);
}

#[test]
fn local_header_names_disagreeing_with_the_directory() {
    let mut bytes = evil_wheel(&[("evil/aa.py", b"A = 1\n")]);
    let local = find(&bytes, b"evil/aa.py").unwrap();
    bytes[local..local + 10].copy_from_slice(b"evil/zz.py");
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["local header", "disagree", "differ", "mismatch"]);
}

#[test]
fn crc_mismatches() {
    let mut bytes = evil_wheel(&[]);
    let central = central_header(&bytes, b"evil/__init__.py");
    bytes[central + 16] ^= 0xff;
    let local = local_header(&bytes, central);
    bytes[local + 14] ^= 0xff;
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["crc", "checksum", "corrupt", "invalid"]);
}

#[test]
fn sizes_disagreeing_between_headers() {
    let mut bytes = evil_wheel(&[]);
    let central = central_header(&bytes, b"evil/__init__.py");
    let local = local_header(&bytes, central);
    // The local header claims one more byte than the directory.
    let size = u32::from_le_bytes(bytes[local + 22..local + 26].try_into().unwrap()) + 1;
    bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["size", "local header", "disagree", "corrupt", "mismatch"]);
}

/// Data outside the archive proper: Python's zipfile tolerates some of it,
/// so axle must refuse, or install exactly what zipfile would read.
fn refused_or_read_like_zipfile(bytes: Vec<u8>) {
    let scene = Scene::serving(WHEEL, bytes.clone());
    let wheel_path = scene.context.root.path().join(WHEEL);
    std::fs::write(&wheel_path, &bytes).unwrap();
    let zipfile_view = std::process::Command::new(axle_e2e::real_python())
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(sorted(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if not n.startswith('evil-1.0.dist-info'))))",
            wheel_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let output = scene.context.axle().args(["sync"]).output().unwrap();
    if !output.status.success() {
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains(WHEEL), "{error}");
        return;
    }
    assert!(
        zipfile_view.status.success(),
        "axle installed a wheel zipfile cannot read"
    );
    let site = scene.context.path(".venv").join(format!(
        "lib/python{}.{}/site-packages/evil",
        axle_e2e::real_python_version().0,
        axle_e2e::real_python_version().1
    ));
    let mut installed: Vec<String> = std::fs::read_dir(&site)
        .unwrap()
        .map(|entry| format!("evil/{}", entry.unwrap().file_name().to_string_lossy()))
        .collect();
    installed.sort();
    let expected: Vec<String> = String::from_utf8(zipfile_view.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(installed, expected, "axle and zipfile read different archives");
}

/// zipfile reads past data glued in front; axle refuses it (where a second archive could
/// hide), and this test fails if that refusal is removed.
#[test]
fn prepended_data() {
    let mut bytes = b"#!/bin/sh\necho not a zip\n".to_vec();
    bytes.extend(evil_wheel(&[]));
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["before the first zip entry"]);
}

#[test]
fn trailing_data() {
    let mut bytes = evil_wheel(&[]);
    bytes.extend_from_slice(b"trailing bytes after the end record");
    refused_or_read_like_zipfile(bytes);
}

/// A second, different archive appended to a wheel: Python's zipfile reads the last end record
/// and so the appended archive, taking the first as prepended data. axle refuses the wheel —
/// two readers (or a reader and a hash-checking reviewer) must never see different files.
/// Without the refusal of data before the first entry this test fails: axle would install the
/// appended archive's `smuggled.py`.
#[test]
fn an_archive_appended_after_the_wheel_is_refused() {
    let mut bytes = evil_wheel(&[("evil/innocent.py", b"X = 1\n")]);
    bytes.extend(evil_wheel(&[("evil/smuggled.py", b"owned = True\n")]));
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["before the first zip entry"]);
}

#[test]
fn a_zip_hidden_in_the_comment() {
    let inner = evil_wheel(&[("evil/hidden.py", b"HIDDEN = True\n")]);
    let bytes = zip_with(&[], |writer| {
        writer.set_raw_comment(inner.clone().into_boxed_slice()).unwrap();
    });
    refused_or_read_like_zipfile(bytes);
}

#[test]
fn a_bad_central_directory_offset() {
    let mut bytes = evil_wheel(&[]);
    let end = rfind(&bytes, &[0x50, 0x4b, 0x05, 0x06]).unwrap();
    let offset = u32::from_le_bytes(bytes[end + 16..end + 20].try_into().unwrap()) + 7;
    bytes[end + 16..end + 20].copy_from_slice(&offset.to_le_bytes());
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["central directory", "invalid", "corrupt", "zip"]);
}

#[test]
fn names_with_nul_or_control_characters() {
    for name in ["evil/a\u{0}b.py", "evil/bell\u{7}.py", "evil/new\nline.py"] {
        let scene = Scene::serving(WHEEL, evil_wheel(&[(name, b"X = 1\n")]));
        scene.assert_refused(WHEEL, &["control", "nul", "character"]);
    }
}

#[test]
fn declared_size_bombs() {
    let mut bytes = evil_wheel(&[("evil/big.bin", &[0u8; 4096])]);
    let central = central_header(&bytes, b"evil/big.bin");
    let local = local_header(&bytes, central);
    let huge = 0xF000_0000u32.to_le_bytes();
    bytes[central + 24..central + 28].copy_from_slice(&huge);
    bytes[local + 22..local + 26].copy_from_slice(&huge);
    let mut scene = Scene::serving(WHEEL, bytes);
    scene.restart_with("AXLE_MAX_WHEEL_SIZE", &(64 * 1024 * 1024).to_string());
    scene.assert_refused(WHEEL, &["size", "large", "limit", "bomb"]);
}

#[test]
fn entries_inflating_past_their_declared_size() {
    let zeros = vec![0u8; 1024 * 1024];
    let mut bytes = evil_wheel(&[("evil/zeros.bin", &zeros)]);
    let central = central_header(&bytes, b"evil/zeros.bin");
    let local = local_header(&bytes, central);
    let small = 100u32.to_le_bytes();
    bytes[central + 24..central + 28].copy_from_slice(&small);
    bytes[local + 22..local + 26].copy_from_slice(&small);
    let scene = Scene::serving(WHEEL, bytes);
    scene.assert_refused(WHEEL, &["larger than", "declared", "size"]);
}

#[test]
fn wheels_beyond_the_configured_cap() {
    let big = vec![7u8; 2 * 1024 * 1024];
    let mut scene = Scene::serving(WHEEL, evil_wheel(&[("evil/big.bin", &big)]));
    scene.restart_with("AXLE_MAX_WHEEL_SIZE", &(1024 * 1024).to_string());
    scene.assert_refused(WHEEL, &["size", "large", "limit", "bomb"]);
}

#[test]
fn files_missing_from_record() {
    let wheel = WheelBuilder::new("evil", "1.0")
        .unrecorded_file("evil/sneaky.py", "SNEAKY = 1\n")
        .build();
    let scene = Scene::serving(WHEEL, wheel.bytes);
    scene.assert_refused(WHEEL, &["record"]);
}

#[test]
fn record_hashes_that_lie() {
    let wheel = WheelBuilder::new("evil", "1.0")
        .record_line(
            "evil/__init__.py",
            "evil/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,20",
        )
        .build();
    let scene = Scene::serving(WHEEL, wheel.bytes);
    scene.assert_refused(WHEEL, &["record", "hash"]);
}

#[test]
fn entry_points_that_climb_out_of_bin() {
    for name in ["../../evil", "a/b", "..", ""] {
        let wheel = WheelBuilder::new("evil", "1.0")
            .entry_point("console_scripts", name, "evil:VALUE")
            .build();
        let scene = Scene::serving(WHEEL, wheel.bytes);
        scene.assert_refused(WHEEL, &["script", "entry point", "name"]);
    }
}

#[test]
fn data_scripts_with_separators() {
    let wheel = WheelBuilder::new("evil", "1.0")
        .file("evil-1.0.data/scripts/sub/tool", "#!python\nprint('x')\n")
        .build();
    let scene = Scene::serving(WHEEL, wheel.bytes);
    scene.assert_refused(WHEEL, &["script", "separator", "directory"]);
}

#[test]
fn metadata_disagreeing_with_the_file_name() {
    for (name, version) in [("other", "1.0"), ("evil", "2.0")] {
        let wheel = WheelBuilder::new("evil", "1.0")
            .metadata_identity(name, version)
            .build();
        let scene = Scene::serving(WHEEL, wheel.bytes);
        scene.assert_refused(WHEEL, &["metadata", "name", "version"]);
    }
}

#[test]
fn record_entries_outside_the_venv_are_never_deleted() {
    let wheel = WheelBuilder::new("evil", "1.0").build();
    let scene = Scene::serving(WHEEL, wheel.bytes);
    scene.context.ok(&["sync"]);
    let sentinel = scene.context.root.path().join("sentinel.txt");
    std::fs::write(&sentinel, "keep me").unwrap();
    let (major, minor) = axle_e2e::real_python_version();
    let site = scene
        .context
        .path(&format!(".venv/lib/python{major}.{minor}/site-packages"));
    let record = site.join("evil-1.0.dist-info/RECORD");
    let mut text = std::fs::read_to_string(&record).unwrap();
    // Relative climbing, absolute, and through a symlinked directory.
    text.push_str("../../../../../sentinel.txt,,\n");
    text.push_str(&format!("{},,\n", sentinel.display()));
    std::os::unix::fs::symlink(scene.context.root.path(), site.join("escape")).unwrap();
    text.push_str("escape/sentinel.txt,,\n");
    std::fs::write(&record, text).unwrap();

    scene.context.write("requirements.txt", "");
    let (ok, result) = scene.context.json(&["sync"]);
    assert!(ok, "{result}");
    assert_eq!(result["removed"], serde_json::json!(["evil==1.0"]));
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "keep me");
    assert!(!site.join("evil").exists());
}
