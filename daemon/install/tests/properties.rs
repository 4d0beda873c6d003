//! Property tests (bounded): a wheel archive of arbitrary bytes, or a zip of arbitrary entries,
//! is refused or read, never a panic; RECORD text likewise.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use axle_install::{Limits, Record, WheelArchive, WheelSource};
use proptest::prelude::*;

fn open(bytes: Vec<u8>) {
    let source = WheelSource::from_bytes(bytes);
    let _ = WheelArchive::from_source(source, Path::new("demo-1.0-py3-none-any.whl"), Limits::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_refused_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        open(bytes);
    }

    #[test]
    fn zips_of_arbitrary_entries_are_read_or_refused(
        entries in prop::collection::vec(
            (prop_oneof![
                "demo-1\\.0\\.dist-info/(METADATA|WHEEL|RECORD|entry_points\\.txt)",
                "[a-z./]{1,20}",
                "\\.\\./[a-z]{1,5}",
                "/[a-z]{1,5}",
                "demo-1\\.0\\.data/(scripts|purelib|headers)/[a-z]{1,5}",
            ], prop::collection::vec(any::<u8>(), 0..64)),
            0..8,
        )
    ) {
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut buffer);
            let options = zip::write::SimpleFileOptions::default();
            for (name, content) in &entries {
                if writer.start_file(name.as_str(), options).is_ok() {
                    writer.write_all(content).unwrap();
                }
            }
            let _ = writer.finish();
        }
        open(buffer.into_inner());
    }

    #[test]
    fn record_text_never_panics(text in "([ -~]{0,40}\n){0,10}") {
        let _ = Record::parse(&text);
    }

    #[test]
    fn a_zip_truncated_anywhere_is_refused_not_a_panic(cut in 0usize..2000) {
        let wheel = axle_e2e::wheel::WheelBuilder::new("demo", "1.0").file("demo/x.py", "X = 1\n").build();
        let bytes = wheel.bytes[..cut.min(wheel.bytes.len())].to_vec();
        open(bytes);
    }
}
