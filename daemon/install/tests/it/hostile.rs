//! Wheels that must be refused: each refusal names the wheel and the reason (and the entry, when
//! there is one), and leaves no manifest and no staged file behind, so nothing can be installed
//! from it.

use std::io::Write;

use axle_e2e::wheel::{BuiltWheel, WheelBuilder, dist_info_name, record_hash, zip_entries};
use axle_install::{ArchiveError, EntryProblem, Limits, ObjectStore, ObjectStoreError, WheelProblem};

use crate::common::{CRC, Env, UNCOMPRESSED_SIZE, demo_builder, rename_entry, set_field};

const FILENAME: &str = "demo_pkg-1.0-py3-none-any.whl";

/// A wheel from raw entries, with a true RECORD appended for all of them.
fn raw_wheel(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut all: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(path, content)| (path.to_string(), content.to_vec()))
        .collect();
    let mut record: String = all
        .iter()
        .map(|(path, content)| format!("{path},{},{}\n", record_hash(content), content.len()))
        .collect();
    record.push_str("demo_pkg-1.0.dist-info/RECORD,,\n");
    all.push(("demo_pkg-1.0.dist-info/RECORD".to_string(), record.into_bytes()));
    zip_entries(&all)
}

const METADATA: &[u8] = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n";
const WHEEL: &[u8] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n";

/// A wheel written entry by entry with the zip crate, for entry types and extra fields.
fn zip_with(add: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, content) in [
        ("demo_pkg-1.0.dist-info/METADATA", METADATA),
        ("demo_pkg-1.0.dist-info/WHEEL", WHEEL),
    ] {
        writer.start_file(path, options).unwrap();
        writer.write_all(content).unwrap();
    }
    add(&mut writer);
    writer.start_file("demo_pkg-1.0.dist-info/RECORD", options).unwrap();
    writer.finish().unwrap().into_inner()
}

enum Expect {
    Entry(&'static str, fn(&EntryProblem) -> bool),
    Wheel(fn(&WheelProblem) -> bool),
    Message(&'static str),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    filename: &'static str,
    limits: Limits,
    expect: Expect,
}

fn case(name: &'static str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        bytes,
        filename: FILENAME,
        limits: Limits::default(),
        expect,
    }
}

fn built(builder: WheelBuilder) -> Vec<u8> {
    builder.build().bytes
}

fn cases() -> Vec<Case> {
    let demo = || demo_builder("1.0");
    let mut cases = vec![
        case(
            "parent component",
            built(demo().file("demo_pkg/../../evil.py", "x")),
            Expect::Entry("demo_pkg/../../evil.py", |p| *p == EntryProblem::ParentComponent),
        ),
        case(
            "absolute path",
            built(demo().file("/tmp/evil.py", "x")),
            Expect::Entry("/tmp/evil.py", |p| *p == EntryProblem::Absolute),
        ),
        case(
            "drive prefix",
            built(demo().file("C:/evil.py", "x")),
            Expect::Entry("C:/evil.py", |p| *p == EntryProblem::DrivePrefix),
        ),
        case(
            "backslash",
            built(demo().file("demo_pkg\\..\\evil.py", "x")),
            Expect::Entry("demo_pkg\\..\\evil.py", |p| *p == EntryProblem::Backslash),
        ),
        case(
            "control character",
            built(demo().file("demo_pkg/evil\u{1b}.py", "x")),
            Expect::Entry("demo_pkg/evil\u{1b}.py", |p| *p == EntryProblem::ControlCharacter),
        ),
        case(
            "empty component",
            built(demo().file("demo_pkg//evil.py", "x")),
            Expect::Entry("demo_pkg//evil.py", |p| *p == EntryProblem::EmptyComponent),
        ),
        case(
            "RECORD hash mismatch",
            built(demo().record_line(
                "demo_pkg/cli.py",
                "demo_pkg/cli.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,76",
            )),
            Expect::Entry("demo_pkg/cli.py", |p| matches!(p, EntryProblem::HashMismatch { .. })),
        ),
        case(
            "RECORD size mismatch",
            {
                let content = "import sys\n\ndef main():\n    print('demo cli', sys.argv[1:])\n    return 0\n";
                built(demo().record_line(
                    "demo_pkg/cli.py",
                    &format!("demo_pkg/cli.py,{},999", record_hash(content.as_bytes())),
                ))
            },
            Expect::Entry("demo_pkg/cli.py", |p| {
                matches!(p, EntryProblem::RecordSizeMismatch { recorded: 999, .. })
            }),
        ),
        case(
            "RECORD without a hash",
            built(demo().record_line("demo_pkg/cli.py", "demo_pkg/cli.py,,76")),
            Expect::Entry("demo_pkg/cli.py", |p| *p == EntryProblem::NoRecordHash),
        ),
        case(
            "RECORD with a forbidden algorithm",
            built(demo().record_line("demo_pkg/cli.py", "demo_pkg/cli.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,76")),
            Expect::Entry("demo_pkg/cli.py", |p| {
                *p == EntryProblem::UnsupportedHash("md5".to_string())
            }),
        ),
        case(
            "file missing from RECORD",
            built(demo().unrecorded_file("demo_pkg/sneaky.py", "import os\n")),
            Expect::Entry("demo_pkg/sneaky.py", |p| *p == EntryProblem::NotInRecord),
        ),
        case(
            "entry point climbing out of bin",
            built(demo().entry_point("console_scripts", "../../evil", "demo_pkg.cli:main")),
            Expect::Message("script name `../../evil` contains a path separator"),
        ),
        case(
            "entry point named ..",
            built(demo().entry_point("gui_scripts", "..", "demo_pkg.cli:main")),
            Expect::Message("script name `..` contains `..`"),
        ),
        case(
            "entry point injecting code",
            built(demo().entry_point("console_scripts", "x", "os; os.system('id') #:main")),
            Expect::Message("is not `module:attr`"),
        ),
        case(
            "script in a subdirectory",
            built(demo().file("demo_pkg-1.0.data/scripts/a/b", "#!/bin/sh\n")),
            Expect::Entry("demo_pkg-1.0.data/scripts/a/b", |p| {
                *p == EntryProblem::ScriptInSubdirectory
            }),
        ),
        case(
            "unknown .data scheme",
            built(demo().file("demo_pkg-1.0.data/etc/passwd", "x")),
            Expect::Entry("demo_pkg-1.0.data/etc/passwd", |p| {
                *p == EntryProblem::UnknownScheme("etc".to_string())
            }),
        ),
        case(
            "file and directory",
            built(demo().file("demo_pkg/cli.py/x", "x")),
            Expect::Entry("demo_pkg/cli.py", |p| *p == EntryProblem::FileAndDirectory),
        ),
        case(
            "METADATA name differs from the file name",
            built(demo().metadata_identity("other-pkg", "1.0")),
            Expect::Wheel(
                |p| matches!(p, WheelProblem::MetadataMismatch { field: "Name", found, .. } if found == "other-pkg"),
            ),
        ),
        case(
            "METADATA version differs from the file name",
            built(demo().metadata_identity("demo-pkg", "6.6.6")),
            Expect::Wheel(
                |p| matches!(p, WheelProblem::MetadataMismatch { field: "Version", found, .. } if found == "6.6.6"),
            ),
        ),
        case(
            "two .dist-info directories",
            built(demo().file("other-1.0.dist-info/METADATA", "x")),
            Expect::Wheel(|p| matches!(p, WheelProblem::MultipleDistInfo(all) if all.len() == 2)),
        ),
        case(
            ".dist-info of another project",
            zip_entries(&[
                ("other-1.0.dist-info/METADATA".to_string(), METADATA.to_vec()),
                ("other-1.0.dist-info/WHEEL".to_string(), WHEEL.to_vec()),
                ("other-1.0.dist-info/RECORD".to_string(), Vec::new()),
            ]),
            Expect::Wheel(|p| matches!(p, WheelProblem::DistInfoMismatch { .. })),
        ),
        case(
            "no RECORD",
            zip_entries(&[
                ("demo_pkg-1.0.dist-info/METADATA".to_string(), METADATA.to_vec()),
                ("demo_pkg-1.0.dist-info/WHEEL".to_string(), WHEEL.to_vec()),
            ]),
            Expect::Wheel(|p| *p == WheelProblem::MissingFile("demo_pkg-1.0.dist-info/RECORD".to_string())),
        ),
        case(
            "no WHEEL",
            raw_wheel(&[("demo_pkg-1.0.dist-info/METADATA", METADATA)]),
            Expect::Wheel(|p| *p == WheelProblem::MissingFile("demo_pkg-1.0.dist-info/WHEEL".to_string())),
        ),
        case(
            "a wheel format from the future",
            raw_wheel(&[
                ("demo_pkg-1.0.dist-info/METADATA", METADATA),
                (
                    "demo_pkg-1.0.dist-info/WHEEL",
                    b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\n",
                ),
            ]),
            Expect::Message("only version 1.x wheels can be installed"),
        ),
        case(
            "symlink entry",
            zip_with(|writer| {
                writer
                    .add_symlink("demo_pkg/link", "/etc/passwd", zip::write::SimpleFileOptions::default())
                    .unwrap();
            }),
            Expect::Entry("demo_pkg/link", |p| *p == EntryProblem::Symlink),
        ),
        case(
            "FIFO entry",
            zip_with(|writer| {
                let options = zip::write::SimpleFileOptions::default().external_attributes((0o010_644) << 16);
                writer.start_file("demo_pkg/fifo", options).unwrap();
            }),
            Expect::Entry("demo_pkg/fifo", |p| matches!(p, EntryProblem::NotRegularFile { .. })),
        ),
        case(
            "Unicode Path field renaming an entry",
            zip_with(|writer| unicode_path_entry(writer, "demo_pkg/a.py", "demo_pkg/b.py")),
            Expect::Message("UnicodePath"),
        ),
        case(
            "Unicode Path field, even one repeating the name",
            zip_with(|writer| unicode_path_entry(writer, "demo_pkg/a.py", "demo_pkg/a.py")),
            Expect::Entry("demo_pkg/a.py", |p| *p == EntryProblem::UnicodePath),
        ),
        case(
            "a file and a directory entry of one name",
            zip_with(|writer| {
                let options = zip::write::SimpleFileOptions::default();
                writer.add_directory("demo_pkg/x/", options).unwrap();
                writer.start_file("demo_pkg/x", options).unwrap();
            }),
            Expect::Entry("demo_pkg/x", |p| *p == EntryProblem::FileAndDirectory),
        ),
        case(
            "not a zip",
            b"this is not a zip file".to_vec(),
            Expect::Message("is not a zip archive"),
        ),
    ];

    // Byte surgery on an honest wheel.
    let honest = || {
        demo_builder("1.0")
            .file("demo_pkg/dupe_2.py", "two\n")
            .file("demo_pkg/dupe_1.py", "one\n")
            .build()
            .bytes
    };
    let mut duplicate = honest();
    rename_entry(&mut duplicate, "dupe_2.py", "dupe_1.py", false);
    cases.push(case(
        "duplicate entry names",
        duplicate,
        Expect::Entry("demo_pkg/dupe_1.py", |p| *p == EntryProblem::Duplicate),
    ));
    let mut local_name = honest();
    rename_entry(&mut local_name, "demo_pkg/cli.py", "demo_pkg/cl1.py", true);
    cases.push(case(
        "local header name differs from the central directory",
        local_name,
        Expect::Wheel(|p| matches!(p, WheelProblem::Inconsistent(message) if message.contains("mismatch"))),
    ));
    let mut short = honest();
    set_field(&mut short, "demo_pkg/cli.py", UNCOMPRESSED_SIZE, 10);
    cases.push(case(
        "inflates past its declared size",
        short,
        Expect::Entry("demo_pkg/cli.py", |p| {
            *p == EntryProblem::LargerThanDeclared { declared: 10 }
        }),
    ));
    let mut bad_crc = honest();
    set_field(&mut bad_crc, "demo_pkg/cli.py", CRC, 0xdead_beef);
    cases.push(case(
        "CRC mismatch",
        bad_crc,
        Expect::Entry("demo_pkg/cli.py", |p| matches!(p, EntryProblem::Corrupt(_))),
    ));
    let mut prepended = b"#!/bin/sh\nexec something\n".to_vec();
    prepended.extend(honest());
    cases.push(case(
        "data before the archive",
        prepended,
        Expect::Wheel(|p| matches!(p, WheelProblem::PrependedData { .. })),
    ));

    // Bombs, against small limits.
    let big = demo_builder("1.0")
        .file("demo_pkg/big.bin", vec![0u8; 2 << 20])
        .build()
        .bytes;
    cases.push(Case {
        limits: Limits {
            max_entry_size: 1 << 20,
            ..Limits::default()
        },
        ..case(
            "one file over the size limit",
            big.clone(),
            Expect::Entry("demo_pkg/big.bin", |p| {
                *p == EntryProblem::TooLarge {
                    size: 2 << 20,
                    limit: 1 << 20,
                }
            }),
        )
    });
    cases.push(Case {
        limits: Limits {
            max_total_size: 1 << 20,
            ..Limits::default()
        },
        ..case(
            "files over the total size limit",
            big,
            Expect::Wheel(|p| matches!(p, WheelProblem::TooLarge { limit, .. } if *limit == 1 << 20)),
        )
    });
    cases.push(Case {
        limits: Limits {
            max_entries: 3,
            ..Limits::default()
        },
        ..case(
            "too many entries",
            honest(),
            Expect::Wheel(|p| matches!(p, WheelProblem::TooManyEntries { limit: 3, .. })),
        )
    });
    cases.push(Case {
        filename: "demo_pkg-1.0.tar.gz",
        ..case(
            "not a wheel file name",
            honest(),
            Expect::Wheel(|p| matches!(p, WheelProblem::Filename(_))),
        )
    });
    cases
}

#[test]
fn hostile_wheels_are_refused_and_leave_nothing() {
    for case in cases() {
        let env = Env::new();
        let store = ObjectStore::open(env.path().join("store"))
            .unwrap()
            .with_limits(case.limits);
        let path = env.write_raw(case.filename, &case.bytes);
        let sha256 = axle_e2e::wheel::sha256_hex(&case.bytes);
        let err = match store.unpack(&path, &sha256) {
            Ok(manifest) => panic!("{}: accepted, as {manifest:?}", case.name),
            Err(err) => err,
        };
        let message = err.to_string();
        assert!(message.contains(case.filename), "{}: {message}", case.name);
        let ObjectStoreError::Archive(archive) = &err else {
            panic!("{}: not an archive error: {message}", case.name);
        };
        match (&case.expect, archive) {
            (
                Expect::Entry(entry, problem),
                ArchiveError::Entry {
                    entry: found,
                    problem: got,
                    ..
                },
            ) => {
                assert_eq!(found, entry, "{}: {message}", case.name);
                assert!(problem(got), "{}: {message}", case.name);
                assert!(message.contains(entry), "{}: {message}", case.name);
            }
            (Expect::Wheel(problem), ArchiveError::Wheel { problem: got, .. }) => {
                assert!(problem(got), "{}: {message}", case.name);
            }
            (Expect::Message(text), _) => {
                assert!(message.contains(text), "{}: {message}", case.name);
            }
            _ => panic!("{}: unexpected error {message}", case.name),
        }
        assert!(store.manifests().unwrap().is_empty(), "{}", case.name);
        assert_eq!(store.manifest(&sha256).unwrap(), None, "{}", case.name);
        env.assert_no_temp_files();
    }
}

/// Every refusal above happens before the first object is written when the problem is in the
/// archive's structure; RECORD problems are found while streaming, and the staged files go.
#[test]
fn refusals_while_streaming_leave_no_staged_files() {
    let env = Env::new();
    let wheel: BuiltWheel = demo_builder("1.0")
        .file("demo_pkg/zzz_last.py", "late\n")
        .record_line("demo_pkg/zzz_last.py", "demo_pkg/zzz_last.py,sha256=AAAA,5")
        .build();
    let path = env.write(&wheel);
    let err = env.store.unpack(&path, &wheel.sha256).unwrap_err();
    assert!(err.to_string().contains("zzz_last.py"), "{err}");
    env.assert_no_temp_files();
    assert!(env.store.manifests().unwrap().is_empty());
}

#[test]
fn dist_info_name_follows_the_wheel_tools() {
    assert_eq!(dist_info_name("demo-pkg", "1.0"), "demo_pkg-1.0.dist-info");
}

/// An entry `name` whose Info-ZIP Unicode Path field (which the zip crate honours and Python's
/// zipfile ignores) says `unicode_name`.
fn unicode_path_entry(writer: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>, name: &str, unicode_name: &str) {
    let mut options = zip::write::FullFileOptions::default();
    let mut field = vec![1u8];
    field.extend_from_slice(&crc32(name.as_bytes()).to_le_bytes());
    field.extend_from_slice(unicode_name.as_bytes());
    options.add_extra_field(0x7075, field, false).unwrap();
    writer.start_file(name, options).unwrap();
    writer.write_all(b"x").unwrap();
}

/// CRC-32 (IEEE), for crafting the Unicode Path field.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
