//! RECORD (PEP 376 and the wheel spec): the CSV list of a distribution's files with their hashes
//! and sizes. A wheel's RECORD is what every unpacked file is verified against; the RECORD
//! written into an environment says what was installed, so uninstall can remove it.
//!
//! The CSV dialect is Python's `csv` default (`excel`): `,` separated, `"` quoting with `""` for
//! a literal quote, minimal quoting on output. Like pip, output rows are sorted and end in
//! `\r\n` (pip opens the file with `newline=""` and `csv.writer` writes `\r\n`).

use std::collections::HashMap;

use base64::Engine;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::entry::EntryProblem;

/// A RECORD that is not a CSV of `path,hash,size` rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RECORD line {line}: {reason}")]
pub struct RecordError {
    pub line: usize,
    pub reason: String,
}

/// One row of a wheel's RECORD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    pub path: String,
    /// `algorithm=urlsafe-base64-digest`, split at the `=`; `None` when the field is empty.
    pub hash: Option<(String, String)>,
    pub size: Option<u64>,
}

/// A wheel's RECORD, indexed by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    entries: Vec<RecordEntry>,
    by_path: HashMap<String, usize>,
}

impl Record {
    /// Parses a wheel's RECORD strictly: every row has exactly three fields, a non-empty path,
    /// an `algorithm=digest` hash or nothing, and a decimal size or nothing. A path listed twice
    /// with different hashes or sizes is refused, since the two lines cannot both be true.
    pub fn parse(text: &str) -> Result<Record, RecordError> {
        let mut record = Record::default();
        for (line, fields) in parse_csv(text)? {
            let error = |reason: String| RecordError { line, reason };
            let [path, hash, size] = <[String; 3]>::try_from(fields)
                .map_err(|fields| error(format!("expected 3 fields (path, hash, size), found {}", fields.len())))?;
            if path.is_empty() {
                return Err(error("empty path".to_string()));
            }
            let hash = if hash.is_empty() {
                None
            } else {
                let (algorithm, digest) = hash
                    .split_once('=')
                    .ok_or_else(|| error(format!("hash `{hash}` is not `algorithm=digest`")))?;
                Some((algorithm.to_string(), digest.to_string()))
            };
            let size = if size.is_empty() {
                None
            } else {
                Some(
                    size.parse::<u64>()
                        .map_err(|_| error(format!("size `{size}` is not a number")))?,
                )
            };
            let entry = RecordEntry { path, hash, size };
            match record.by_path.get(&entry.path) {
                Some(&index) if record.entries[index] != entry => {
                    return Err(error(format!(
                        "`{}` is listed twice with different hashes or sizes",
                        entry.path
                    )));
                }
                Some(_) => {}
                None => {
                    record.by_path.insert(entry.path.clone(), record.entries.len());
                    record.entries.push(entry);
                }
            }
        }
        Ok(record)
    }

    pub fn get(&self, path: &str) -> Option<&RecordEntry> {
        self.by_path.get(path).map(|&index| &self.entries[index])
    }

    pub fn entries(&self) -> &[RecordEntry] {
        &self.entries
    }
}

/// The first field of every row: what uninstall needs, read leniently because an installed
/// RECORD may come from any tool. Reading stops at the first CSV syntax error.
pub(crate) fn paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut parser = CsvParser::new(text);
    while let Ok(Some((_, fields))) = parser.next_row() {
        if let Some(path) = fields.into_iter().next()
            && !path.is_empty()
        {
            out.push(path);
        }
    }
    out
}

impl RecordEntry {
    /// Checks an unpacked file's digest and size against this row.
    pub(crate) fn verify(&self, digest: &FileDigest, size: u64) -> Result<(), EntryProblem> {
        let Some((algorithm, encoded)) = &self.hash else {
            return Err(EntryProblem::NoRecordHash);
        };
        let expected =
            decode_digest(encoded).ok_or_else(|| EntryProblem::MalformedHash(format!("{algorithm}={encoded}")))?;
        let actual: &[u8] = match HashAlgorithm::parse(algorithm) {
            Some(HashAlgorithm::Sha256) => &digest.sha256,
            Some(other) => match &digest.extra {
                Some((computed, value)) if *computed == other => value,
                // The hasher is set up from this very row, so this does not happen.
                _ => return Err(EntryProblem::UnsupportedHash(algorithm.clone())),
            },
            None => return Err(EntryProblem::UnsupportedHash(algorithm.clone())),
        };
        if actual != expected.as_slice() {
            return Err(EntryProblem::HashMismatch {
                algorithm: algorithm.clone(),
            });
        }
        if let Some(recorded) = self.size
            && recorded != size
        {
            return Err(EntryProblem::RecordSizeMismatch { recorded, actual: size });
        }
        Ok(())
    }

    /// The hex SHA-256 this row promises, if it uses SHA-256 and is well formed: lets the store
    /// skip writing an object it already has (the bytes are still read and verified).
    pub(crate) fn sha256_hex(&self) -> Option<String> {
        let (algorithm, encoded) = self.hash.as_ref()?;
        if HashAlgorithm::parse(algorithm) != Some(HashAlgorithm::Sha256) {
            return None;
        }
        let digest = decode_digest(encoded)?;
        (digest.len() == 32).then(|| hex::encode(digest))
    }

    /// The extra hash algorithm needed to verify this row, beyond the SHA-256 always computed.
    pub(crate) fn extra_algorithm(&self) -> Option<HashAlgorithm> {
        let (algorithm, _) = self.hash.as_ref()?;
        HashAlgorithm::parse(algorithm).filter(|algorithm| *algorithm != HashAlgorithm::Sha256)
    }
}

/// The hash algorithms the wheel spec allows in RECORD (`sha256` or stronger; md5 and sha1 are
/// explicitly not allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn parse(name: &str) -> Option<HashAlgorithm> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// Urlsafe base64, with or without padding: the spec says without, some tools pad.
fn decode_digest(encoded: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
}

/// The RECORD hash field of a SHA-256 digest: `sha256=` and urlsafe base64 without padding.
pub(crate) fn sha256_field(digest: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// Hashes a file as it streams past: SHA-256 always (it names the store object), plus the
/// algorithm its RECORD row uses if that is another one.
pub(crate) struct FileHasher {
    sha256: Sha256,
    extra: Option<ExtraHasher>,
}

enum ExtraHasher {
    Sha384(Sha384),
    Sha512(Sha512),
}

pub(crate) struct FileDigest {
    pub(crate) sha256: [u8; 32],
    pub(crate) extra: Option<(HashAlgorithm, Vec<u8>)>,
}

impl FileHasher {
    pub(crate) fn new(extra: Option<HashAlgorithm>) -> FileHasher {
        FileHasher {
            sha256: Sha256::new(),
            extra: match extra {
                Some(HashAlgorithm::Sha384) => Some(ExtraHasher::Sha384(Sha384::new())),
                Some(HashAlgorithm::Sha512) => Some(ExtraHasher::Sha512(Sha512::new())),
                Some(HashAlgorithm::Sha256) | None => None,
            },
        }
    }

    pub(crate) fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        match &mut self.extra {
            Some(ExtraHasher::Sha384(hasher)) => hasher.update(chunk),
            Some(ExtraHasher::Sha512(hasher)) => hasher.update(chunk),
            None => {}
        }
    }

    pub(crate) fn finish(self) -> FileDigest {
        FileDigest {
            sha256: self.sha256.finalize().into(),
            extra: self.extra.map(|extra| match extra {
                ExtraHasher::Sha384(hasher) => (HashAlgorithm::Sha384, hasher.finalize().to_vec()),
                ExtraHasher::Sha512(hasher) => (HashAlgorithm::Sha512, hasher.finalize().to_vec()),
            }),
        }
    }
}

/// One row of an installed RECORD.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RecordRow {
    pub(crate) path: String,
    pub(crate) hash: String,
    pub(crate) size: String,
}

/// An installed RECORD: rows sorted as pip sorts them, minimal CSV quoting, `\r\n` endings.
pub(crate) fn write(mut rows: Vec<RecordRow>) -> String {
    rows.sort();
    rows.dedup();
    let mut out = String::new();
    for row in rows {
        for (index, field) in [&row.path, &row.hash, &row.size].into_iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            if field.contains([',', '"', '\r', '\n']) {
                out.push('"');
                out.push_str(&field.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(field);
            }
        }
        out.push_str("\r\n");
    }
    out
}

/// Rows of `text` with the line each starts on; empty lines are skipped, as Python's reader
/// yields them as empty rows that pip ignores.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, RecordError> {
    let mut parser = CsvParser::new(text);
    let mut rows = Vec::new();
    while let Some(row) = parser.next_row()? {
        rows.push(row);
    }
    Ok(rows)
}

struct CsvParser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CsvState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl<'a> CsvParser<'a> {
    fn new(text: &'a str) -> Self {
        CsvParser {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    fn next_row(&mut self) -> Result<Option<(usize, Vec<String>)>, RecordError> {
        loop {
            if self.chars.peek().is_none() {
                return Ok(None);
            }
            let start = self.line;
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut state = CsvState::FieldStart;
            loop {
                let Some(c) = self.chars.next() else {
                    if state == CsvState::Quoted {
                        return Err(RecordError {
                            line: start,
                            reason: "unterminated quoted field".to_string(),
                        });
                    }
                    break;
                };
                if (c == '\n' || c == '\r') && state != CsvState::Quoted {
                    if c == '\r' && self.chars.peek() == Some(&'\n') {
                        self.chars.next();
                    }
                    self.line += 1;
                    break;
                }
                state = match (state, c) {
                    (CsvState::FieldStart, '"') => CsvState::Quoted,
                    (CsvState::FieldStart | CsvState::Unquoted | CsvState::QuoteInQuoted, ',') => {
                        fields.push(std::mem::take(&mut field));
                        CsvState::FieldStart
                    }
                    (CsvState::Quoted, '"') => CsvState::QuoteInQuoted,
                    (CsvState::QuoteInQuoted, '"') => {
                        field.push('"');
                        CsvState::Quoted
                    }
                    (CsvState::Quoted, c) => {
                        if c == '\n' {
                            self.line += 1;
                        }
                        field.push(c);
                        CsvState::Quoted
                    }
                    // Text after a closing quote is kept, as Python's non-strict reader does.
                    (CsvState::FieldStart | CsvState::Unquoted | CsvState::QuoteInQuoted, c) => {
                        field.push(c);
                        CsvState::Unquoted
                    }
                };
            }
            if fields.is_empty() && field.is_empty() && state == CsvState::FieldStart {
                continue;
            }
            fields.push(field);
            return Ok(Some((start, fields)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv_like_python() {
        let cases: &[(&str, &[&[&str]])] = &[
            ("a,b,c\n", &[&["a", "b", "c"]]),
            ("a,b,c\r\nd,e,f", &[&["a", "b", "c"], &["d", "e", "f"]]),
            ("\"a,b\",h,1\n", &[&["a,b", "h", "1"]]),
            ("\"a\"\"b\",,\n", &[&["a\"b", "", ""]]),
            ("\n\na,,\n\n", &[&["a", "", ""]]),
            ("\"multi\nline\",,\n", &[&["multi\nline", "", ""]]),
            ("a\"b,,\n", &[&["a\"b", "", ""]]),
        ];
        for (text, expected) in cases {
            let rows: Vec<Vec<String>> = parse_csv(text).unwrap().into_iter().map(|(_, fields)| fields).collect();
            let expected: Vec<Vec<String>> = expected
                .iter()
                .map(|row| row.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(rows, expected, "{text:?}");
        }
        assert!(parse_csv("\"open,,\n").is_err());
    }

    #[test]
    fn parses_rows_strictly() {
        let good = "pkg/a.py,sha256=abc,3\n\"pkg/a,b\",sha256=def,4\npkg-1.0.dist-info/RECORD,,\n";
        let record = Record::parse(good).unwrap();
        assert_eq!(record.entries().len(), 3);
        assert_eq!(record.get("pkg/a,b").unwrap().size, Some(4));
        assert_eq!(record.get("pkg-1.0.dist-info/RECORD").unwrap().hash, None);

        let bad = [
            ("a,sha256=x\n", "expected 3 fields"),
            ("a,sha256=x,3,4\n", "expected 3 fields"),
            (",sha256=x,3\n", "empty path"),
            ("a,nohash,3\n", "not `algorithm=digest`"),
            ("a,sha256=x,three\n", "not a number"),
            ("a,sha256=x,3\na,sha256=y,3\n", "listed twice"),
        ];
        for (text, expected) in bad {
            let err = Record::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        // The same line twice is harmless.
        assert!(Record::parse("a,sha256=x,3\na,sha256=x,3\n").is_ok());
    }

    #[test]
    fn verifies_hashes_and_sizes() {
        let data = b"hello";
        let mut hasher = FileHasher::new(None);
        hasher.update(data);
        let digest = hasher.finish();
        let good = sha256_field(&digest.sha256);
        let entry = |hash: &str, size: &str| Record::parse(&format!("f,{hash},{size}\n")).unwrap().entries()[0].clone();
        assert_eq!(entry(&good, "5").verify(&digest, 5), Ok(()));
        assert_eq!(entry(&good, "").verify(&digest, 5), Ok(()));
        assert_eq!(
            entry(&format!("{good}="), "5").verify(&digest, 5),
            Ok(()),
            "padding is tolerated"
        );
        assert_eq!(
            entry(&good, "6").verify(&digest, 5),
            Err(EntryProblem::RecordSizeMismatch { recorded: 6, actual: 5 })
        );
        assert_eq!(
            entry("sha256=AAAA", "5").verify(&digest, 5),
            Err(EntryProblem::HashMismatch {
                algorithm: "sha256".to_string()
            })
        );
        assert_eq!(entry("", "5").verify(&digest, 5), Err(EntryProblem::NoRecordHash));
        assert_eq!(
            entry("md5=XUFAKrxLKna5cZ2REBfFkg", "5").verify(&digest, 5),
            Err(EntryProblem::UnsupportedHash("md5".to_string()))
        );
        assert!(matches!(
            entry("sha256=!!!", "5").verify(&digest, 5),
            Err(EntryProblem::MalformedHash(_))
        ));

        let sha512 = Sha512::digest(data);
        let line = entry(
            &format!(
                "sha512={}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha512)
            ),
            "5",
        );
        let mut hasher = FileHasher::new(line.extra_algorithm());
        hasher.update(data);
        assert_eq!(line.verify(&hasher.finish(), 5), Ok(()));
    }

    #[test]
    fn writes_sorted_quoted_crlf_rows() {
        let row = |path: &str, hash: &str, size: &str| RecordRow {
            path: path.to_string(),
            hash: hash.to_string(),
            size: size.to_string(),
        };
        let text = write(vec![
            row("pkg/b.py", "sha256=b", "2"),
            row("pkg-1.0.dist-info/RECORD", "", ""),
            row("../../../bin/tool", "sha256=t", "9"),
            row("pkg/a,b.txt", "sha256=c", "1"),
            row("pkg/q\"uote", "sha256=q", "1"),
        ]);
        assert_eq!(
            text,
            "../../../bin/tool,sha256=t,9\r\n\
             pkg-1.0.dist-info/RECORD,,\r\n\
             \"pkg/a,b.txt\",sha256=c,1\r\n\
             pkg/b.py,sha256=b,2\r\n\
             \"pkg/q\"\"uote\",sha256=q,1\r\n"
        );
        assert_eq!(
            paths(&text),
            [
                "../../../bin/tool",
                "pkg-1.0.dist-info/RECORD",
                "pkg/a,b.txt",
                "pkg/b.py",
                "pkg/q\"uote"
            ]
        );
    }
}
