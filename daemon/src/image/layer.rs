//! Layers written reproducibly: the same entries give the same bytes on any machine — entries
//! sorted by path with their parent directories, owner 0:0 with no names, one fixed mtime
//! (`SOURCE_DATE_EPOCH`, else 0), modes 0755/0644 (0755 for executables), and gzip with a
//! fixed level, no file name and no timestamp, deflated on every core in fixed chunks
//! (`gzip`). A layer's digest (of the gzip) and diff ID (of the tar) are computed as it is
//! written, straight into the blob cache.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ImageError;
use super::blobs::{BlobId, Blobs, io_error};
use super::gzip::ParallelGzip;

/// The gzip level of every layer: a change of it changes every digest.
const GZIP_LEVEL: u32 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Content {
    Directory,
    File { from: FileFrom, executable: bool },
    Symlink(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileFrom {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// A layer being described; nothing is written before [`LayerWriter::write`].
#[derive(Default)]
pub struct LayerWriter {
    /// By path in the image, relative (`opt/venv/bin/python`).
    entries: BTreeMap<String, Content>,
}

/// A layer written to the blob cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The gzip's digest and size (what a manifest lists).
    pub blob: BlobId,
    /// The uncompressed tar's digest (what the config's `rootfs.diff_ids` lists).
    pub diff_id: String,
    /// Bytes of the files in it, uncompressed.
    pub content_bytes: u64,
    pub entries: usize,
}

/// `path` (absolute in the image) as a tar entry name, refused when it could leave the root.
fn entry_name(path: &Path) -> Result<String, ImageError> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| ImageError::Invalid(format!("{} is not UTF-8", path.display())))?,
            ),
            _ => {
                return Err(ImageError::Invalid(format!(
                    "{} has `.` or `..` in it: no layer entry climbs",
                    path.display()
                )));
            }
        }
    }
    if parts.is_empty() {
        return Err(ImageError::Invalid("an entry for the image's root".to_string()));
    }
    Ok(parts.join("/"))
}

impl LayerWriter {
    pub fn directory(&mut self, path: &Path) -> Result<(), ImageError> {
        let name = entry_name(path)?;
        self.entries.entry(name).or_insert(Content::Directory);
        Ok(())
    }

    /// A file whose bytes are read from `source` when the layer is written.
    pub fn file_from(&mut self, path: &Path, source: &Path, executable: bool) -> Result<(), ImageError> {
        self.entries.insert(
            entry_name(path)?,
            Content::File {
                from: FileFrom::Path(source.to_path_buf()),
                executable,
            },
        );
        Ok(())
    }

    pub fn file_bytes(&mut self, path: &Path, bytes: Vec<u8>, executable: bool) -> Result<(), ImageError> {
        self.entries.insert(
            entry_name(path)?,
            Content::File {
                from: FileFrom::Bytes(bytes),
                executable,
            },
        );
        Ok(())
    }

    pub fn symlink(&mut self, path: &Path, target: &Path) -> Result<(), ImageError> {
        self.entries
            .insert(entry_name(path)?, Content::Symlink(target.to_path_buf()));
        Ok(())
    }

    /// Writes the `.py` files below `under` (a path in the image) into `into`, at the same
    /// paths relative to it (linked from the store where it can, else copied): what a bytecode
    /// compiler on this machine reads. Returns how many.
    pub fn stage_python(&self, under: &Path, into: &Path) -> Result<usize, ImageError> {
        let prefix = format!("{}/", entry_name(under)?);
        let mut staged = 0;
        for (name, content) in self.entries.range(prefix.clone()..) {
            let Some(relative) = name.strip_prefix(&prefix) else {
                break;
            };
            let Content::File { from, .. } = content else {
                continue;
            };
            if !relative.ends_with(".py") {
                continue;
            }
            let target = into.join(relative);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|error| io_error(parent, error))?;
            }
            match from {
                FileFrom::Path(source) => {
                    if std::fs::hard_link(source, &target).is_err() {
                        std::fs::copy(source, &target).map_err(|error| io_error(&target, error))?;
                    }
                }
                FileFrom::Bytes(bytes) => std::fs::write(&target, bytes).map_err(|error| io_error(&target, error))?,
            }
            staged += 1;
        }
        Ok(staged)
    }

    /// Writes the layer into the blob cache, every entry's time `mtime`.
    pub fn write(mut self, blobs: &Blobs, mtime: u64) -> Result<Layer, ImageError> {
        // Every parent directory has its own entry, before its children (sorted order puts
        // `a` before `a/b`).
        let names: Vec<String> = self.entries.keys().cloned().collect();
        for name in names {
            let mut parent = Path::new(&name).parent();
            while let Some(directory) = parent.filter(|directory| !directory.as_os_str().is_empty()) {
                self.entries
                    .entry(directory.to_string_lossy().into_owned())
                    .or_insert(Content::Directory);
                parent = directory.parent();
            }
        }
        let file = blobs.temporary()?;
        let compressed = Hashing::new(file.reopen().map_err(|error| io_error(file.path(), error))?);
        let gzip = ParallelGzip::new(compressed, flate2::Compression::new(GZIP_LEVEL));
        let mut tar = tar::Builder::new(Hashing::new(gzip));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut content_bytes = 0u64;
        let count = self.entries.len();
        for (name, content) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            let _ = header.set_username("");
            let _ = header.set_groupname("");
            let result = match content {
                Content::Directory => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{name}/"), io::empty())
                }
                Content::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, name, target)
                }
                Content::File { from, executable } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    match from {
                        FileFrom::Bytes(bytes) => {
                            header.set_size(bytes.len() as u64);
                            content_bytes += bytes.len() as u64;
                            tar.append_data(&mut header, name, bytes.as_slice())
                        }
                        FileFrom::Path(source) => {
                            let opened = std::fs::File::open(source).map_err(|error| io_error(source, error))?;
                            let size = opened.metadata().map_err(|error| io_error(source, error))?.len();
                            header.set_size(size);
                            content_bytes += size;
                            // Exactly the size the header says, whatever the file does meanwhile.
                            tar.append_data(&mut header, name, opened.take(size))
                        }
                    }
                }
            };
            result.map_err(|error| io_error(Path::new(name), error))?;
        }
        let tar_hashing = tar.into_inner().map_err(|error| io_error(file.path(), error))?;
        let (gzip, diff_id) = tar_hashing.finish();
        let compressed = gzip.finish().map_err(|error| io_error(file.path(), error))?;
        let (mut written, digest) = compressed.finish();
        written.flush().map_err(|error| io_error(file.path(), error))?;
        let size = written.metadata().map_err(|error| io_error(file.path(), error))?.len();
        let digest = format!("sha256:{digest}");
        let blob = BlobId { digest, size };
        if !blobs.has(&blob) {
            blobs.adopt(file, &blob.digest)?;
        }
        Ok(Layer {
            blob,
            diff_id: format!("sha256:{diff_id}"),
            content_bytes,
            entries: count,
        })
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(blobs: &Blobs, source: &Path, order: &[&str], mtime: u64) -> Layer {
        let mut writer = LayerWriter::default();
        for name in order {
            match *name {
                "bin" => writer.symlink(Path::new("/opt/venv/bin/python"), Path::new("/usr/bin/python3")),
                "data" => writer.file_bytes(Path::new("/opt/venv/data.txt"), b"data\n".to_vec(), false),
                "tool" => writer.file_from(Path::new("/opt/venv/bin/tool"), source, true),
                _ => writer.directory(Path::new("/opt/venv/empty")),
            }
            .unwrap();
        }
        writer.write(blobs, mtime).unwrap()
    }

    #[test]
    fn the_same_entries_in_any_order_give_the_same_layer_and_its_tar_reads_back() {
        let home = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(home.path()).unwrap();
        let source = home.path().join("tool");
        std::fs::write(&source, "#!/opt/venv/bin/python\n").unwrap();
        let first = layer(&blobs, &source, &["bin", "data", "tool", "empty"], 0);
        let second = layer(&blobs, &source, &["empty", "tool", "data", "bin"], 0);
        assert_eq!(first, second);
        let later = layer(&blobs, &source, &["bin", "data", "tool", "empty"], 1_700_000_000);
        assert_ne!(first.blob.digest, later.blob.digest);

        let bytes = blobs.read(&first.blob.digest).unwrap();
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
            first.blob.digest
        );
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&tar_bytes))),
            first.diff_id
        );
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let listed: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.uid().unwrap() + header.gid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("opt/".to_string(), 0o755, 0),
                ("opt/venv/".to_string(), 0o755, 0),
                ("opt/venv/bin/".to_string(), 0o755, 0),
                ("opt/venv/bin/python".to_string(), 0o777, 0),
                ("opt/venv/bin/tool".to_string(), 0o755, 0),
                ("opt/venv/data.txt".to_string(), 0o644, 0),
                ("opt/venv/empty/".to_string(), 0o755, 0),
            ]
        );
    }

    #[test]
    fn no_entry_climbs_out_of_the_root() {
        let mut writer = LayerWriter::default();
        assert!(
            writer
                .file_bytes(Path::new("/opt/../etc/passwd"), Vec::new(), false)
                .is_err()
        );
        assert!(writer.directory(Path::new("/")).is_err());
    }
}
