//! Reading a wheel safely: it is opened the way Python's `zipfile` (and so pip) would read it,
//! or refused.
//!
//! A wheel comes from someone else, so before a single byte is extracted [`WheelArchive::open`]
//! checks the whole archive: entry names (no `..`, absolute paths, drive prefixes, backslashes,
//! control characters, empty components), entry types (regular files and directories only),
//! duplicate names, local headers that disagree with the central directory, data hidden before
//! or between entries, declared sizes against [`Limits`], and the wheel's own layout: one
//! `.dist-info` directory named for the file name's project and version, METADATA agreeing
//! with the file name, a WHEEL of format 1.x, a RECORD, and valid script entry points.
//! [`WheelArchive::read_entry`] then streams one file, refusing more bytes than declared and a
//! bad CRC-32.
//!
//! Where the zip crate and Python could read different names from the same bytes (the Info-ZIP
//! Unicode Path field, which Python ignores and the zip crate honours), the entry is refused
//! rather than guessed at.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use axle_standards::{FilenameError, Metadata, MetadataError, WheelFilename};
use zip::ZipArchive;
use zip::result::ZipError;

use crate::entry::{EntryProblem, check_entry_name};
use crate::entry_points::{EntryPointError, EntryPoints};
use crate::record::{Record, RecordError};
use crate::wheel::{self, WheelInfo};

/// Caps on what one wheel may extract to: a zip bomb is refused from its declared sizes before
/// anything is written, and an entry that inflates past its declared size is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the declared uncompressed sizes of all files.
    pub max_total_size: u64,
    /// Declared uncompressed size of any one file.
    pub max_entry_size: u64,
    /// Number of entries (files and directories) in the archive.
    pub max_entries: usize,
    /// Size of each metadata file read into memory (METADATA, WHEEL, RECORD, entry_points.txt).
    pub max_metadata_size: u64,
}

impl Default for Limits {
    /// Generous enough for the largest real wheels (CUDA builds of deep learning libraries hold
    /// single libraries of over a gigabyte), small enough to stop a bomb long before the disk
    /// fills.
    fn default() -> Self {
        Limits {
            max_total_size: 8 << 30,
            max_entry_size: 4 << 30,
            max_entries: 500_000,
            max_metadata_size: 64 << 20,
        }
    }
}

/// A wheel that cannot be read, or must not be.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read wheel `{}`: {source}", wheel.display())]
    Io {
        wheel: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("wheel `{}` is not a zip archive that can be read safely: {source}", wheel.display())]
    Zip {
        wheel: PathBuf,
        #[source]
        source: ZipError,
    },
    #[error("wheel `{}`: entry `{entry}` {problem}", wheel.display())]
    Entry {
        wheel: PathBuf,
        entry: String,
        problem: EntryProblem,
    },
    #[error("wheel `{}`: {problem}", wheel.display())]
    Wheel { wheel: PathBuf, problem: WheelProblem },
}

impl ArchiveError {
    /// The wheel file the error is about.
    pub fn wheel(&self) -> &Path {
        match self {
            ArchiveError::Io { wheel, .. }
            | ArchiveError::Zip { wheel, .. }
            | ArchiveError::Entry { wheel, .. }
            | ArchiveError::Wheel { wheel, .. } => wheel,
        }
    }

    /// The archive entry the error is about, if it is about one.
    pub fn entry(&self) -> Option<&str> {
        match self {
            ArchiveError::Entry { entry, .. } => Some(entry),
            _ => None,
        }
    }
}

/// What is wrong with the wheel as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WheelProblem {
    #[error("{0}")]
    Filename(FilenameError),
    #[error("the file name is not valid text")]
    FilenameNotText,
    #[error("{offset} bytes of other data come before the first zip entry")]
    PrependedData { offset: u64 },
    #[error("{0}")]
    Inconsistent(String),
    #[error("has {count} entries, over the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("declares {size} bytes of files, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("has no top-level `.dist-info` directory")]
    NoDistInfo,
    #[error("has more than one top-level `.dist-info` directory: {}", .0.join(", "))]
    MultipleDistInfo(Vec<String>),
    #[error("`{found}` does not match the file name's project and version")]
    DistInfoMismatch { found: String },
    #[error("has no `{0}`")]
    MissingFile(String),
    #[error("`{file}`: {source}")]
    Metadata { file: String, source: MetadataError },
    #[error("METADATA says {field} `{found}`, but the file name says `{expected}`")]
    MetadataMismatch {
        field: &'static str,
        found: String,
        expected: String,
    },
    #[error("`{file}`: {reason}")]
    WheelFile { file: String, reason: String },
    #[error("`{file}`: {source}")]
    Record { file: String, source: RecordError },
    #[error("`{file}`: {source}")]
    EntryPoints { file: String, source: EntryPointError },
    #[error("`{0}` is not UTF-8")]
    NotUtf8(String),
}

/// One regular file of the archive (directory entries are checked, then dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index in the zip's central directory.
    pub index: usize,
    /// The archive path, validated (see [`check_entry_name`]).
    pub path: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// Whether the zip marks it as an executable regular file (pip's rule: a Unix mode with
    /// `S_IFREG` and any execute bit).
    pub executable: bool,
}

/// Wheels up to this size (most wheels: a few hundred KiB) are read into memory whole: the zip
/// reader's many small reads and seeks per entry then never reach the kernel. Larger ones are
/// read through a window of the file ([`WindowedFile`]): a 35 MB wheel of 36,000 files then
/// costs a window per unpacking thread, not its size (and, while it was copied into a shared
/// buffer, twice its size) for as long as it unpacks.
const IN_MEMORY_LIMIT: u64 = 4 * 1024 * 1024;

/// How much of a large wheel one reader holds at a time.
const WINDOW: usize = 256 * 1024;

/// A wheel's bytes in memory, shared by every reader of one wheel (without the copy that
/// turning a `Vec` into an `Arc<[u8]>` makes).
#[derive(Debug, Clone)]
pub struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// A wheel's bytes: in memory, or for large wheels the file, read through a window. Cloning
/// gives another reader of the same bytes (for another thread), sharing what is in memory.
#[derive(Debug, Clone)]
pub enum WheelSource {
    Memory(Cursor<SharedBytes>),
    File(WindowedFile),
}

impl WheelSource {
    /// Reads `path` (into memory unless it is large).
    pub fn open(path: &Path) -> std::io::Result<WheelSource> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if size > IN_MEMORY_LIMIT {
            return Ok(WheelSource::File(WindowedFile::new(file, size)));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes)?;
        Ok(WheelSource::from_bytes(bytes))
    }

    /// Bytes already read.
    pub fn from_bytes(bytes: Vec<u8>) -> WheelSource {
        WheelSource::Memory(Cursor::new(SharedBytes(Arc::new(bytes))))
    }

    /// The bytes, when they are in memory.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match self {
            WheelSource::Memory(cursor) => Some(cursor.get_ref().as_ref()),
            WheelSource::File(_) => None,
        }
    }
}

impl Read for WheelSource {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            WheelSource::Memory(cursor) => cursor.read(buffer),
            WheelSource::File(file) => file.read(buffer),
        }
    }
}

impl Seek for WheelSource {
    fn seek(&mut self, position: SeekFrom) -> std::io::Result<u64> {
        match self {
            WheelSource::Memory(cursor) => cursor.seek(position),
            WheelSource::File(file) => file.seek(position),
        }
    }
}

/// An open file read at positions (`pread`) through a window of its own, so that readers on
/// several threads share one file, each with its own position, and a seek costs no call.
#[derive(Debug)]
pub struct WindowedFile {
    file: Arc<File>,
    len: u64,
    position: u64,
    /// The bytes from `window_start`.
    window: Vec<u8>,
    window_start: u64,
}

impl WindowedFile {
    fn new(file: File, len: u64) -> WindowedFile {
        WindowedFile {
            file: Arc::new(file),
            len,
            position: 0,
            window: Vec::new(),
            window_start: 0,
        }
    }
}

impl Clone for WindowedFile {
    /// Another reader of the file at the same position, with a window of its own.
    fn clone(&self) -> WindowedFile {
        WindowedFile {
            file: self.file.clone(),
            len: self.len,
            position: self.position,
            window: Vec::new(),
            window_start: 0,
        }
    }
}

impl Read for WindowedFile {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if buffer.is_empty() || self.position >= self.len {
            return Ok(0);
        }
        let in_window =
            self.position >= self.window_start && self.position < self.window_start + self.window.len() as u64;
        if !in_window {
            // A read as large as the window goes straight to the caller (hashing the file).
            if buffer.len() >= WINDOW {
                let read = self.file.read_at(buffer, self.position)?;
                self.position += read as u64;
                return Ok(read);
            }
            self.window.resize(WINDOW, 0);
            let read = self.file.read_at(&mut self.window, self.position)?;
            self.window.truncate(read);
            self.window_start = self.position;
            if read == 0 {
                return Ok(0);
            }
        }
        let offset = (self.position - self.window_start) as usize;
        let available = &self.window[offset..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.position += count as u64;
        Ok(count)
    }
}

impl Seek for WindowedFile {
    fn seek(&mut self, position: SeekFrom) -> std::io::Result<u64> {
        let target = match position {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let Some(target) = target else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a seek before the start of the wheel",
            ));
        };
        self.position = target;
        Ok(target)
    }
}

/// An opened, fully validated wheel.
pub struct WheelArchive {
    path: PathBuf,
    zip: ZipArchive<WheelSource>,
    /// What validation read, shared by every reader of the wheel ([`WheelArchive::reader`]):
    /// a wheel of 36,000 files holds megabytes of it.
    parsed: Arc<Parsed>,
    /// Reused by every [`WheelArchive::read_entry`]: wheels hold thousands of small files.
    buffer: Vec<u8>,
}

/// A validated wheel's layout and metadata.
struct Parsed {
    filename: WheelFilename,
    entries: Vec<Entry>,
    dist_info: String,
    data_dir: String,
    metadata: Metadata,
    wheel_info: WheelInfo,
    record: Record,
    entry_points: EntryPoints,
}

impl std::fmt::Debug for WheelArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WheelArchive")
            .field("path", &self.path)
            .field("entries", &self.parsed.entries.len())
            .field("dist_info", &self.parsed.dist_info)
            .finish_non_exhaustive()
    }
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

impl WheelArchive {
    /// Opens and validates the wheel at `path` (whose file name must be a wheel file name).
    pub fn open(path: &Path, limits: Limits) -> Result<WheelArchive, ArchiveError> {
        let source = WheelSource::open(path).map_err(|source| ArchiveError::Io {
            wheel: path.to_path_buf(),
            source,
        })?;
        WheelArchive::from_source(source, path, limits)
    }

    /// Like [`WheelArchive::open`], on bytes already read; `path` names it in errors and
    /// gives the wheel file name.
    pub fn from_source(mut file: WheelSource, path: &Path, limits: Limits) -> Result<WheelArchive, ArchiveError> {
        let wheel = path.to_path_buf();
        let whole = |problem| ArchiveError::Wheel {
            wheel: wheel.clone(),
            problem,
        };
        let filename = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| whole(WheelProblem::FilenameNotText))?;
        let filename = WheelFilename::from_str(filename).map_err(|err| whole(WheelProblem::Filename(err)))?;

        file.seek(SeekFrom::Start(0)).map_err(|source| ArchiveError::Io {
            wheel: wheel.clone(),
            source,
        })?;
        let mut zip = ZipArchive::new(file).map_err(|err| zip_error(&wheel, err))?;
        if zip.offset() != 0 {
            return Err(whole(WheelProblem::PrependedData { offset: zip.offset() }));
        }
        if zip.has_duplicate_names() {
            let central_directory = zip.central_directory_start();
            let name = duplicate_name(zip.into_inner(), central_directory).unwrap_or_default();
            return Err(ArchiveError::Entry {
                wheel: wheel.clone(),
                entry: name,
                problem: EntryProblem::Duplicate,
            });
        }
        if zip.len() > limits.max_entries {
            return Err(whole(WheelProblem::TooManyEntries {
                count: zip.len(),
                limit: limits.max_entries,
            }));
        }
        // Local headers must agree with the central directory (names, sizes, CRC, method), no
        // entry may overlap another, and no local header may hide outside the directory: Python
        // reads names from the directory and checks them against the local header, and a
        // reader that trusted only one of the two could be shown a different archive.
        zip.validate_header_consistency().map_err(|err| match err {
            ZipError::Io(source) => ArchiveError::Io {
                wheel: wheel.clone(),
                source,
            },
            other => whole(WheelProblem::Inconsistent(other.to_string())),
        })?;

        let (entries, directories) = scan_entries(&mut zip, &wheel, &limits)?;
        check_file_directory_clashes(&entries, &directories, &wheel)?;

        let dist_info = find_dist_info(&entries, &directories, &filename).map_err(whole)?;
        let stem = dist_info.trim_end_matches(".dist-info");
        let data_dir = format!("{stem}.data");

        let mut reader = MetadataReader {
            zip: &mut zip,
            wheel: &wheel,
            entries: &entries,
            limit: limits.max_metadata_size,
        };
        let metadata_path = format!("{dist_info}/METADATA");
        let bytes = reader.read(&metadata_path)?;
        let metadata = Metadata::parse_bytes(&bytes).map_err(|source| {
            whole(WheelProblem::Metadata {
                file: metadata_path.clone(),
                source,
            })
        })?;
        if metadata.name != filename.name {
            return Err(whole(WheelProblem::MetadataMismatch {
                field: "Name",
                found: metadata.name.to_string(),
                expected: filename.name.to_string(),
            }));
        }
        if metadata.version != filename.version {
            return Err(whole(WheelProblem::MetadataMismatch {
                field: "Version",
                found: metadata.version.to_string(),
                expected: filename.version.to_string(),
            }));
        }

        let wheel_path = format!("{dist_info}/WHEEL");
        let wheel_info = WheelInfo::parse(&reader.read_text(&wheel_path)?).map_err(|reason| {
            whole(WheelProblem::WheelFile {
                file: wheel_path.clone(),
                reason,
            })
        })?;

        let record_path = format!("{dist_info}/RECORD");
        let record = Record::parse(&reader.read_text(&record_path)?).map_err(|source| {
            whole(WheelProblem::Record {
                file: record_path.clone(),
                source,
            })
        })?;

        let entry_points_path = format!("{dist_info}/entry_points.txt");
        let entry_points = if entries.iter().any(|entry| entry.path == entry_points_path) {
            EntryPoints::parse(&reader.read_text(&entry_points_path)?).map_err(|source| {
                whole(WheelProblem::EntryPoints {
                    file: entry_points_path.clone(),
                    source,
                })
            })?
        } else {
            EntryPoints::default()
        };

        // Every file must have somewhere to go: unknown `.data` schemes and nested scripts are
        // refused before anything is extracted.
        for entry in &entries {
            wheel::destination(&entry.path, &data_dir, wheel_info.root_is_purelib).map_err(|problem| {
                ArchiveError::Entry {
                    wheel: wheel.clone(),
                    entry: entry.path.clone(),
                    problem,
                }
            })?;
        }

        Ok(WheelArchive {
            path: wheel.clone(),
            zip,
            parsed: Arc::new(Parsed {
                filename,
                entries,
                dist_info,
                data_dir,
                metadata,
                wheel_info,
                record,
                entry_points,
            }),
            buffer: vec![0u8; 256 * 1024],
        })
    }

    /// Streams one file's bytes to `sink`, refusing more bytes than declared, fewer, and a
    /// CRC-32 mismatch (the zip reader checks it when the stream ends, which this always
    /// reads to). Returns the number of bytes.
    pub fn read_entry<E: From<ArchiveError>>(
        &mut self,
        entry: &Entry,
        sink: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        read_zip_entry(&mut self.zip, &self.path, &mut self.buffer, entry, sink)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another reader of this validated wheel, for another thread: its own position in the
    /// bytes and its own buffer; the central directory, the entries and the metadata shared,
    /// not read and checked again.
    pub fn reader(&self) -> WheelArchive {
        WheelArchive {
            path: self.path.clone(),
            zip: self.zip.clone(),
            parsed: self.parsed.clone(),
            buffer: vec![0u8; 256 * 1024],
        }
    }

    pub fn filename(&self) -> &WheelFilename {
        &self.parsed.filename
    }

    /// The regular files, in central directory order.
    pub fn entries(&self) -> &[Entry] {
        &self.parsed.entries
    }

    /// `{name}-{version}.dist-info`, as spelled in the archive.
    pub fn dist_info(&self) -> &str {
        &self.parsed.dist_info
    }

    /// `{name}-{version}.data`, as the dist-info directory's stem spells it.
    pub fn data_dir(&self) -> &str {
        &self.parsed.data_dir
    }

    pub fn metadata(&self) -> &Metadata {
        &self.parsed.metadata
    }

    pub fn wheel_info(&self) -> &WheelInfo {
        &self.parsed.wheel_info
    }

    pub fn record(&self) -> &Record {
        &self.parsed.record
    }

    pub fn entry_points(&self) -> &EntryPoints {
        &self.parsed.entry_points
    }

    /// An error about entry `path` of this wheel.
    pub(crate) fn entry_error(&self, path: &str, problem: EntryProblem) -> ArchiveError {
        ArchiveError::Entry {
            wheel: self.path.clone(),
            entry: path.to_string(),
            problem,
        }
    }
}

/// Reads the small metadata files into memory, each within `limit` bytes.
struct MetadataReader<'a> {
    zip: &'a mut ZipArchive<WheelSource>,
    wheel: &'a Path,
    entries: &'a [Entry],
    limit: u64,
}

impl MetadataReader<'_> {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, ArchiveError> {
        let entry = self
            .entries
            .iter()
            .find(|entry| entry.path == path)
            .ok_or_else(|| ArchiveError::Wheel {
                wheel: self.wheel.to_path_buf(),
                problem: WheelProblem::MissingFile(path.to_string()),
            })?;
        if entry.size > self.limit {
            return Err(ArchiveError::Entry {
                wheel: self.wheel.to_path_buf(),
                entry: path.to_string(),
                problem: EntryProblem::TooLarge {
                    size: entry.size,
                    limit: self.limit,
                },
            });
        }
        let mut bytes = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        read_zip_entry(self.zip, self.wheel, &mut buffer, entry, |chunk| {
            bytes.extend_from_slice(chunk);
            Ok::<(), ArchiveError>(())
        })?;
        Ok(bytes)
    }

    fn read_text(&mut self, path: &str) -> Result<String, ArchiveError> {
        String::from_utf8(self.read(path)?).map_err(|_| ArchiveError::Wheel {
            wheel: self.wheel.to_path_buf(),
            problem: WheelProblem::NotUtf8(path.to_string()),
        })
    }
}

/// Streams one entry (see [`WheelArchive::read_entry`]).
fn read_zip_entry<E: From<ArchiveError>>(
    zip: &mut ZipArchive<WheelSource>,
    wheel: &Path,
    buffer: &mut [u8],
    entry: &Entry,
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    let fail = |problem| ArchiveError::Entry {
        wheel: wheel.to_path_buf(),
        entry: entry.path.clone(),
        problem,
    };
    let mut file = zip
        .by_index(entry.index)
        .map_err(|err| fail(EntryProblem::Corrupt(err.to_string())))?;
    let mut total: u64 = 0;
    loop {
        let read = match file.read(buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // The zip reader stops an entry at its declared size; say so in our words.
            Err(err) if err.to_string().contains("larger than its declared") => {
                return Err(fail(EntryProblem::LargerThanDeclared { declared: entry.size }).into());
            }
            Err(err) => return Err(fail(EntryProblem::Corrupt(err.to_string())).into()),
        };
        total += read as u64;
        if total > entry.size {
            return Err(fail(EntryProblem::LargerThanDeclared { declared: entry.size }).into());
        }
        sink(&buffer[..read])?;
    }
    if total != entry.size {
        return Err(fail(EntryProblem::SizeMismatch {
            declared: entry.size,
            actual: total,
        })
        .into());
    }
    Ok(total)
}

fn zip_error(wheel: &Path, err: ZipError) -> ArchiveError {
    match err {
        ZipError::Io(source) => ArchiveError::Io {
            wheel: wheel.to_path_buf(),
            source,
        },
        source => ArchiveError::Zip {
            wheel: wheel.to_path_buf(),
            source,
        },
    }
}

/// Checks every entry's name, type and declared size; returns the files and the directories.
fn scan_entries(
    zip: &mut ZipArchive<WheelSource>,
    wheel: &Path,
    limits: &Limits,
) -> Result<(Vec<Entry>, HashSet<String>), ArchiveError> {
    let mut entries = Vec::new();
    let mut directories = HashSet::new();
    let mut names = HashMap::new();
    let mut declared_total: u64 = 0;
    let mut first_header = u64::MAX;
    for index in 0..zip.len() {
        let file = zip.by_index_raw(index).map_err(|err| zip_error(wheel, err))?;
        let fail = |entry: &str, problem| ArchiveError::Entry {
            wheel: wheel.to_path_buf(),
            entry: entry.to_string(),
            problem,
        };
        let raw_name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let name = file
            .name()
            .map_err(|_| fail(&raw_name, EntryProblem::BadName))?
            .into_owned();
        first_header = first_header.min(file.header_start());
        if file
            .extra_data_fields()
            .any(|field| matches!(field, zip::ExtraField::UnicodePath(_)))
        {
            return Err(fail(&name, EntryProblem::UnicodePath));
        }
        if file.encrypted() {
            return Err(fail(&name, EntryProblem::Encrypted));
        }
        let is_directory = name.ends_with('/');
        let path = name.strip_suffix('/').unwrap_or(&name);
        check_entry_name(path).map_err(|problem| fail(&name, problem))?;
        // Two raw names can decode to one (and `a` and `a/` are one path).
        if let Some(was_directory) = names.insert(path.to_string(), is_directory) {
            let problem = if was_directory == is_directory {
                EntryProblem::Duplicate
            } else {
                EntryProblem::FileAndDirectory
            };
            return Err(fail(path, problem));
        }

        let mode = file.external_attributes() >> 16;
        let kind = mode & S_IFMT;
        if kind == S_IFLNK || file.is_symlink() {
            return Err(fail(&name, EntryProblem::Symlink));
        }
        let expected_kind = if is_directory { S_IFDIR } else { S_IFREG };
        if kind != 0 && kind != expected_kind {
            return Err(fail(&name, EntryProblem::NotRegularFile { mode }));
        }
        if is_directory {
            directories.insert(path.to_string());
            continue;
        }

        let size = file.size();
        if size > limits.max_entry_size {
            return Err(fail(
                &name,
                EntryProblem::TooLarge {
                    size,
                    limit: limits.max_entry_size,
                },
            ));
        }
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.max_total_size {
            return Err(ArchiveError::Wheel {
                wheel: wheel.to_path_buf(),
                problem: WheelProblem::TooLarge {
                    size: declared_total,
                    limit: limits.max_total_size,
                },
            });
        }
        entries.push(Entry {
            index,
            path: path.to_string(),
            size,
            executable: kind == S_IFREG && mode & 0o111 != 0,
        });
    }
    // Python reads an archive whose first entry starts later (data glued in front) without
    // complaint; no wheel tool writes one, and the bytes in front are where a second, different
    // archive could hide, so it is refused.
    if first_header != u64::MAX && first_header != 0 {
        return Err(ArchiveError::Wheel {
            wheel: wheel.to_path_buf(),
            problem: WheelProblem::PrependedData { offset: first_header },
        });
    }
    Ok((entries, directories))
}

/// Refuses a path that is both a file and a directory (`a` and `a/b`): the second could only
/// be written by replacing the first.
fn check_file_directory_clashes(
    entries: &[Entry],
    directories: &HashSet<String>,
    wheel: &Path,
) -> Result<(), ArchiveError> {
    let files: HashSet<&str> = entries.iter().map(|entry| entry.path.as_str()).collect();
    let clash = |entry: &str| ArchiveError::Entry {
        wheel: wheel.to_path_buf(),
        entry: entry.to_string(),
        problem: EntryProblem::FileAndDirectory,
    };
    for entry in entries {
        for (at, _) in entry.path.match_indices('/') {
            let ancestor = &entry.path[..at];
            if files.contains(ancestor) {
                return Err(clash(ancestor));
            }
        }
    }
    for directory in directories {
        for (at, _) in directory.match_indices('/') {
            if files.contains(&directory[..at]) {
                return Err(clash(&directory[..at]));
            }
        }
    }
    Ok(())
}

/// The one top-level `.dist-info` directory, which must name the file name's project and
/// version.
fn find_dist_info(
    entries: &[Entry],
    directories: &HashSet<String>,
    filename: &WheelFilename,
) -> Result<String, WheelProblem> {
    let tops: BTreeSet<&str> = entries
        .iter()
        .filter_map(|entry| entry.path.split_once('/').map(|(top, _)| top))
        .chain(
            directories
                .iter()
                .map(|dir| dir.split_once('/').map_or(dir.as_str(), |(top, _)| top)),
        )
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let mut tops = tops.into_iter();
    let (Some(dist_info), None) = (tops.next(), tops.next()) else {
        let all: Vec<String> = entries
            .iter()
            .filter_map(|entry| entry.path.split_once('/').map(|(top, _)| top.to_string()))
            .chain(directories.iter().cloned())
            .filter(|top| top.ends_with(".dist-info"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(if all.is_empty() {
            WheelProblem::NoDistInfo
        } else {
            WheelProblem::MultipleDistInfo(all)
        });
    };
    let stem = dist_info.trim_end_matches(".dist-info");
    if !filename.names_dist_info(stem) {
        return Err(WheelProblem::DistInfoMismatch {
            found: format!("{dist_info}/"),
        });
    }
    Ok(dist_info.to_string())
}

/// The first name the central directory lists twice, read straight from the directory: the
/// zip crate keeps only one entry per name, so it cannot say which.
fn duplicate_name(mut file: WheelSource, central_directory: u64) -> Option<String> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    file.seek(SeekFrom::Start(central_directory)).ok()?;
    let mut seen = HashSet::new();
    loop {
        let mut header = [0u8; 46];
        file.read_exact(&mut header).ok()?;
        if header[..4] != SIGNATURE {
            return None;
        }
        let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
        let (name_length, extra_length, comment_length) = (field(28), field(30), field(32));
        let mut name = vec![0u8; name_length];
        file.read_exact(&mut name).ok()?;
        file.seek(SeekFrom::Current((extra_length + comment_length) as i64))
            .ok()?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A windowed reader reads what the file holds wherever it seeks, across its window's
    /// edges, and a clone reads on its own.
    #[test]
    fn a_windowed_file_reads_the_file_at_any_position() {
        let bytes: Vec<u8> = (0..(3 * WINDOW + 1234)).map(|at| (at % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes");
        std::fs::write(&path, &bytes).unwrap();
        let mut reader = WindowedFile::new(File::open(&path).unwrap(), bytes.len() as u64);
        let mut all = Vec::new();
        let mut chunk = [0u8; 1000];
        loop {
            let read = reader.read(&mut chunk).unwrap();
            if read == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..read]);
        }
        assert_eq!(all, bytes);
        for (seek, at) in [
            (SeekFrom::Start(WINDOW as u64 - 3), WINDOW - 3),
            (SeekFrom::End(-10), bytes.len() - 10),
            (SeekFrom::Start(5), 5),
            // From where the read before left it.
            (SeekFrom::Current(2 * WINDOW as i64), 11 + 2 * WINDOW),
        ] {
            assert_eq!(reader.seek(seek).unwrap(), at as u64);
            let mut six = [0u8; 6];
            let read = reader.read(&mut six).unwrap();
            assert_eq!(&six[..read], &bytes[at..(at + 6).min(bytes.len())], "at {at}");
        }
        let mut other = reader.clone();
        other.seek(SeekFrom::Start(0)).unwrap();
        let mut large = vec![0u8; 2 * WINDOW];
        other.read_exact(&mut large).unwrap();
        assert_eq!(large, bytes[..2 * WINDOW]);
        assert!(reader.seek(SeekFrom::Current(-(bytes.len() as i64) - 1)).is_err());
    }

    #[test]
    fn checks_entry_names() {
        let cases: &[(&str, Result<(), EntryProblem>)] = &[
            ("pkg/__init__.py", Ok(())),
            ("pkg-1.0.dist-info/METADATA", Ok(())),
            ("ab:c/d", Ok(())),
            ("pkg/../../etc/passwd", Err(EntryProblem::ParentComponent)),
            ("..", Err(EntryProblem::ParentComponent)),
            ("pkg/./a", Err(EntryProblem::CurrentComponent)),
            ("pkg//a", Err(EntryProblem::EmptyComponent)),
            ("", Err(EntryProblem::EmptyComponent)),
            ("/etc/passwd", Err(EntryProblem::Absolute)),
            ("C:/windows/x", Err(EntryProblem::DrivePrefix)),
            ("c:x", Err(EntryProblem::DrivePrefix)),
            ("pkg\\..\\x", Err(EntryProblem::Backslash)),
            ("pkg/a\0b", Err(EntryProblem::ControlCharacter)),
            ("pkg/a\nb", Err(EntryProblem::ControlCharacter)),
            ("pkg/a\u{7f}", Err(EntryProblem::ControlCharacter)),
        ];
        for (name, expected) in cases {
            assert_eq!(&check_entry_name(name), expected, "{name:?}");
        }
    }
}
