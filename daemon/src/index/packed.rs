//! How the index's facts are kept in SQLite: compactly. A project page's file list is JSON
//! compressed with deflate (its URLs and hashes repeat long prefixes: about a sixth of the
//! text), and a file's METADATA loses its description (the README, often most of it) before
//! it is compressed, since the resolver reads only the headers.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// Most bytes one cached entry may unpack to: a damaged row is refused, not inflated.
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;

/// `bytes`, compressed.
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// `value` as JSON, compressed as it is written: a big project's file list is never held as
/// text in full.
pub fn pack_json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    serde_json::to_writer(&mut encoder, value)?;
    encoder.finish().map_err(serde_json::Error::io)
}

/// What [`pack`] or [`pack_json`] made; `None` for anything else (a damaged row is treated as absent).
pub fn unpack(packed: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(packed.len() * 4);
    DeflateDecoder::new(packed)
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= MAX_UNPACKED).then_some(out)
}

/// METADATA without its description: the header fields up to the first blank line (the body
/// is the description from Metadata-Version 2.1 on), without a `Description` field and its
/// continuation lines (how older versions carry it).
pub fn without_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut in_description = false;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        let continuation = line.starts_with([' ', '\t']);
        if continuation && in_description {
            continue;
        }
        in_description = !continuation
            && line
                .split_once(':')
                .is_some_and(|(field, _)| field.trim().eq_ignore_ascii_case("description"));
        if !in_description {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_left_out_and_the_rest_kept() {
        let cases = [
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b\n\n# A\n\nLong text.\n",
                "Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b\n",
            ),
            (
                "Metadata-Version: 1.2\nName: a\nDescription: first\n        |second\n        |third\nRequires-Python: >=3.8\n",
                "Metadata-Version: 1.2\nName: a\nRequires-Python: >=3.8\n",
            ),
            (
                "Name: a\nSummary: one\n  two\nDescription-Content-Type: text/markdown\n",
                "Name: a\nSummary: one\n  two\nDescription-Content-Type: text/markdown\n",
            ),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(without_description(text), expected, "{text}");
        }
    }

    #[test]
    fn packed_bytes_unpack_to_themselves_and_garbage_to_nothing() {
        let text = "https://127.0.0.1/packages/aa/bb/name-1.0-py3-none-any.whl ".repeat(200);
        let packed = pack(text.as_bytes());
        assert!(packed.len() < text.len() / 10, "{} of {}", packed.len(), text.len());
        assert_eq!(unpack(&packed).as_deref(), Some(text.as_bytes()));
        assert_eq!(unpack(b"not deflate at all \xff\xfe"), None);
        let listed = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            unpack(&pack_json(&listed).unwrap()).as_deref(),
            Some(&b"[\"a\",\"b\"]"[..])
        );
    }
}
