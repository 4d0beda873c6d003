//! METADATA out of a remote wheel without downloading it: fetch the end of
//! the file (the central directory), then the one member, with HTTP range
//! requests. The ZIP format is read by the `zip` crate over a sparse file
//! that knows only the fetched ranges; a read outside them names the range
//! to fetch next.

use axle_standards::WheelFilename;
use std::io::{self, Read, Seek, SeekFrom};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
use url::Url;

use super::http::{Counters, Http, HttpError, RequestSettings};

/// First fetch: the tail, usually holding the whole central directory.
const TAIL: u64 = 64 * 1024;
/// Most fetches before giving up on ranges.
const MAX_ROUNDS: usize = 8;
/// A gap between fetched ranges up to this size is fetched whole when a read falls in it: the
/// central directory lies between its start and the tail, and a wheel of tens of thousands of
/// files (torch) has megabytes of it.
const MAX_GAP: u64 = 32 * 1024 * 1024;
/// A METADATA file larger than this is not plausible.
const MAX_METADATA: u64 = 16 * 1024 * 1024;

pub enum RangeOutcome {
    /// The METADATA text.
    Metadata(String),
    /// The server ignored the range and sent the whole file.
    WholeFile(Vec<u8>),
    /// The server does not do ranges; download instead.
    Unsupported,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url} is not a readable wheel: {reason}")]
    BadArchive { url: String, reason: String },
}

pub async fn metadata_by_ranges(
    http: &Http,
    url: &Url,
    wheel: &WheelFilename,
    settings: &RequestSettings,
    counters: &Counters,
) -> Result<RangeOutcome, RangeError> {
    let tail = fetch(http, url, &format!("bytes=-{TAIL}"), settings, counters).await?;
    let answer = match tail {
        Fetched::Partial { start, bytes, total } => (start, bytes, total),
        Fetched::Whole(bytes) => return Ok(RangeOutcome::WholeFile(bytes)),
        Fetched::Unsupported => return Ok(RangeOutcome::Unsupported),
    };
    let (start, bytes, total) = answer;
    let mut file = SparseFile::new(total);
    file.insert(start, bytes);
    for _ in 0..MAX_ROUNDS {
        match read_metadata(&mut file, wheel) {
            Ok(text) => return Ok(RangeOutcome::Metadata(text)),
            Err(ReadFailure::Missing { offset, length }) => {
                // Reads walk forward (the central directory, from its start to the tail already
                // here): one request for the whole gap, not one per 64 KiB, which past
                // MAX_ROUNDS would mean downloading the wheel.
                let gap = file.next_known(offset) - offset;
                let wanted = if gap <= MAX_GAP { gap } else { TAIL };
                let length = length.max(wanted).min(total - offset);
                let range = format!("bytes={offset}-{}", offset + length - 1);
                match fetch(http, url, &range, settings, counters).await? {
                    Fetched::Partial { start, bytes, .. } => file.insert(start, bytes),
                    Fetched::Whole(bytes) => return Ok(RangeOutcome::WholeFile(bytes)),
                    Fetched::Unsupported => return Ok(RangeOutcome::Unsupported),
                }
            }
            Err(ReadFailure::Invalid(reason)) => {
                return Err(RangeError::BadArchive {
                    url: url.to_string(),
                    reason,
                });
            }
        }
    }
    Ok(RangeOutcome::Unsupported)
}

/// Reads `<prefix>.dist-info/METADATA` from a complete wheel in memory.
pub fn metadata_from_bytes(bytes: &[u8], wheel: &WheelFilename, url: &str) -> Result<String, RangeError> {
    let mut file = SparseFile::new(bytes.len() as u64);
    file.insert(0, bytes.to_vec());
    read_metadata(&mut file, wheel).map_err(|failure| RangeError::BadArchive {
        url: url.to_string(),
        reason: match failure {
            ReadFailure::Invalid(reason) => reason,
            ReadFailure::Missing { .. } => "truncated".to_string(),
        },
    })
}

enum Fetched {
    Partial { start: u64, bytes: Vec<u8>, total: u64 },
    Whole(Vec<u8>),
    Unsupported,
}

async fn fetch(
    http: &Http,
    url: &Url,
    range: &str,
    settings: &RequestSettings,
    counters: &Counters,
) -> Result<Fetched, HttpError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(range) {
        headers.insert(RANGE, value);
    }
    // A wheel's bytes may be many megabytes; a 200 answer means the server
    // ignored the range and the body is the whole file.
    let answer = http
        .get(url, headers, 2 * 1024 * 1024 * 1024, settings, counters)
        .await?;
    match answer.status {
        StatusCode::PARTIAL_CONTENT => {
            let content_range = answer
                .headers
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            match parse_content_range(content_range) {
                Some((start, total)) => Ok(Fetched::Partial {
                    start,
                    bytes: answer.body,
                    total,
                }),
                None => Ok(Fetched::Unsupported),
            }
        }
        StatusCode::OK => Ok(Fetched::Whole(answer.body)),
        StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
            Ok(Fetched::Unsupported)
        }
        status => Err(HttpError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        }),
    }
}

/// `bytes 100-199/1000` → (100, 1000).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

enum ReadFailure {
    Missing { offset: u64, length: u64 },
    Invalid(String),
}

fn read_metadata(file: &mut SparseFile, wheel: &WheelFilename) -> Result<String, ReadFailure> {
    file.position = 0;
    file.miss = None;
    let classify = |file: &SparseFile, error: zip::result::ZipError| match file.miss {
        Some((offset, length)) => ReadFailure::Missing { offset, length },
        None => ReadFailure::Invalid(error.to_string()),
    };
    let mut archive = match zip::ZipArchive::new(&mut *file) {
        Ok(archive) => archive,
        Err(error) => {
            let miss = file.miss;
            return Err(match miss {
                Some((offset, length)) => ReadFailure::Missing { offset, length },
                None => ReadFailure::Invalid(error.to_string()),
            });
        }
    };
    // The one top-level `.dist-info/METADATA` whose directory names this wheel, compared as
    // pip compares it (old wheels spell the directory `proxy.py-2.4.10.dist-info`).
    let candidates: Vec<(usize, String)> = (0..archive.len())
        .filter_map(|index| {
            let name = archive.name_for_index(index)?.ok()?;
            let (top, rest) = name.split_once('/')?;
            let stem = top.strip_suffix(".dist-info")?;
            (rest == "METADATA" && wheel.names_dist_info(stem)).then(|| (index, top.to_string()))
        })
        .collect();
    let index = match candidates.as_slice() {
        [(index, _)] => *index,
        [] => {
            return Err(ReadFailure::Invalid(format!(
                "it has no {}-{}.dist-info/METADATA",
                wheel.name.as_dist_info_name(),
                wheel.version
            )));
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(_, top)| top.as_str()).collect();
            return Err(ReadFailure::Invalid(format!(
                "it has several .dist-info directories for itself: {}",
                names.join(", ")
            )));
        }
    };
    let result = (|| {
        let entry = archive.by_index(index)?;
        if entry.size() > MAX_METADATA {
            return Err(zip::result::ZipError::InvalidArchive(
                "METADATA is implausibly large".into(),
            ));
        }
        let mut text = String::new();
        entry.take(MAX_METADATA).read_to_string(&mut text)?;
        Ok(text)
    })();
    drop(archive);
    result.map_err(|error| classify(file, error))
}

/// A file of known length of which only some ranges are present.
struct SparseFile {
    length: u64,
    chunks: Vec<(u64, Vec<u8>)>,
    position: u64,
    /// The range a failed read needed.
    miss: Option<(u64, u64)>,
}

impl SparseFile {
    fn new(length: u64) -> SparseFile {
        SparseFile {
            length,
            chunks: Vec::new(),
            position: 0,
            miss: None,
        }
    }

    fn insert(&mut self, start: u64, bytes: Vec<u8>) {
        self.chunks.push((start, bytes));
    }

    /// Where the first fetched range after `offset` starts (the file's end when none does).
    fn next_known(&self, offset: u64) -> u64 {
        self.chunks
            .iter()
            .map(|(start, _)| *start)
            .filter(|start| *start > offset)
            .min()
            .unwrap_or(self.length)
    }
}

impl Read for SparseFile {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.length || buffer.is_empty() {
            return Ok(0);
        }
        for (start, bytes) in &self.chunks {
            let end = start + bytes.len() as u64;
            if (*start..end).contains(&self.position) {
                let offset = (self.position - start) as usize;
                let count = buffer.len().min(bytes.len() - offset);
                buffer[..count].copy_from_slice(&bytes[offset..offset + count]);
                self.position += count as u64;
                return Ok(count);
            }
        }
        self.miss = Some((self.position, buffer.len() as u64));
        Err(io::Error::other("range not fetched yet"))
    }
}

impl Seek for SparseFile {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        let target = match position {
            SeekFrom::Start(offset) => offset as i128,
            SeekFrom::End(offset) => self.length as i128 + offset as i128,
            SeekFrom::Current(offset) => self.position as i128 + offset as i128,
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"));
        }
        self.position = target as u64;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((100, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), None);
    }
}
