//! Writing the new image where its reference says: into an OCI layout directory (beside what
//! it holds already), an OCI archive, a `docker save` archive (which `docker load` and
//! `podman load` read), or a registry (each blob looked at first and uploaded only when the
//! registry lacks it). Archives are written reproducibly, as layers are.

use std::io::{Read, Write};
use std::path::Path;

use super::ImageError;
use super::base::ImageLayer;
use super::blobs::{BlobId, Blobs, io_error};
use super::reference::ImageRef;
use super::registry::{OCI_INDEX, OCI_MANIFEST, Registry};
use crate::context::Invocation;
use crate::progress::{Phase, Reporter};

/// A finished image: its manifest and config in the blob cache, and its layers.
pub struct Finished {
    pub manifest: BlobId,
    pub config: BlobId,
    pub layers: Vec<ImageLayer>,
}

/// What writing did.
#[derive(Debug, Default, Clone)]
pub struct Written {
    /// Blobs the destination did not have, which were written or uploaded.
    pub uploaded: Vec<String>,
    /// Blobs it had already.
    pub reused: Vec<String>,
}

pub async fn write(
    destination: &ImageRef,
    image: &Finished,
    blobs: &Blobs,
    invocation: &Invocation,
    tls_verify: bool,
    reporter: &dyn Reporter,
) -> Result<Written, ImageError> {
    match destination {
        ImageRef::Layout { dir, tag } => {
            let (dir, tag, blobs, image) = (dir.clone(), tag.clone(), blobs.clone(), image.clone_ids());
            blocking(move || to_layout(&dir, tag.as_deref(), &image, &blobs)).await
        }
        ImageRef::OciArchive { file, tag } => {
            let (file, tag, blobs, image) = (file.clone(), tag.clone(), blobs.clone(), image.clone_ids());
            blocking(move || to_oci_archive(&file, tag.as_deref(), &image, &blobs)).await
        }
        ImageRef::DockerArchive { file, tag } => {
            let (file, tag, blobs, image) = (file.clone(), tag.clone(), blobs.clone(), image.clone_ids());
            blocking(move || to_docker_archive(&file, tag.as_deref(), &image, &blobs)).await
        }
        ImageRef::Registry(reference) => to_registry(reference, image, blobs, invocation, tls_verify, reporter).await,
    }
}

impl Finished {
    fn clone_ids(&self) -> Finished {
        Finished {
            manifest: self.manifest.clone(),
            config: self.config.clone(),
            layers: self.layers.clone(),
        }
    }

    /// Every blob the image is made of: layers, config, manifest.
    fn blobs(&self) -> Vec<BlobId> {
        let mut all: Vec<BlobId> = self.layers.iter().map(|layer| layer.blob.clone()).collect();
        all.push(self.config.clone());
        all.push(self.manifest.clone());
        all
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ImageError::Invalid(format!("a writing task stopped: {error}")))?
}

/// The descriptor of the manifest in an `index.json`, named `tag`.
fn manifest_descriptor(image: &Finished, tag: Option<&str>) -> serde_json::Value {
    let mut descriptor = serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "digest": image.manifest.digest,
        "size": image.manifest.size,
    });
    if let Some(tag) = tag {
        descriptor["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
    }
    descriptor
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn to_layout(dir: &Path, tag: Option<&str>, image: &Finished, blobs: &Blobs) -> Result<Written, ImageError> {
    let blob_dir = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blob_dir).map_err(|error| io_error(&blob_dir, error))?;
    let layout_file = dir.join("oci-layout");
    if !layout_file.exists() {
        std::fs::write(&layout_file, OCI_LAYOUT).map_err(|error| io_error(&layout_file, error))?;
    }
    let mut written = Written::default();
    for blob in image.blobs() {
        let target = blob_dir.join(blob.hex());
        if std::fs::metadata(&target).is_ok_and(|meta| meta.len() == blob.size) {
            written.reused.push(blob.digest.clone());
            continue;
        }
        let source = blobs.path(&blob.digest)?;
        // A link where the filesystem allows, else a copy: the bytes are the same.
        let partial = blob_dir.join(format!(".{}.partial", blob.hex()));
        let _ = std::fs::remove_file(&partial);
        if std::fs::hard_link(&source, &partial).is_err() {
            std::fs::copy(&source, &partial).map_err(|error| io_error(&partial, error))?;
        }
        std::fs::rename(&partial, &target).map_err(|error| io_error(&target, error))?;
        written.uploaded.push(blob.digest.clone());
    }
    // index.json: this image under its tag, replacing one of the same tag, keeping the rest.
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = match std::fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|error| ImageError::Invalid(format!("{}: {error}", index_path.display())))?,
        Err(_) => serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [] }),
    };
    let name_of = |descriptor: &serde_json::Value| {
        descriptor["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .map(str::to_string)
    };
    let mut manifests: Vec<serde_json::Value> = index["manifests"].as_array().cloned().unwrap_or_default();
    manifests.retain(|descriptor| match tag {
        Some(tag) => name_of(descriptor).as_deref() != Some(tag),
        None => name_of(descriptor).is_some(),
    });
    manifests.push(manifest_descriptor(image, tag));
    index["manifests"] = serde_json::Value::Array(manifests);
    let text = serde_json::to_vec(&index).map_err(|error| ImageError::Invalid(error.to_string()))?;
    let partial = dir.join(".index.json.partial");
    std::fs::write(&partial, text).map_err(|error| io_error(&partial, error))?;
    std::fs::rename(&partial, &index_path).map_err(|error| io_error(&index_path, error))?;
    Ok(written)
}

/// A tar being written reproducibly: entries with fixed owners, modes and time.
struct Archive {
    builder: tar::Builder<std::fs::File>,
}

impl Archive {
    fn create(path: &Path) -> Result<(Archive, tempfile::NamedTempFile), ImageError> {
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|error| io_error(parent, error))?;
        let partial = tempfile::Builder::new()
            .prefix(".axle-image-")
            .tempfile_in(parent)
            .map_err(|error| io_error(parent, error))?;
        let file = partial.reopen().map_err(|error| io_error(path, error))?;
        Ok((
            Archive {
                builder: tar::Builder::new(file),
            },
            partial,
        ))
    }

    fn header(size: u64, directory: bool) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(if directory { 0o755 } else { 0o644 });
        header.set_entry_type(if directory {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header
    }

    fn directory(&mut self, name: &str) -> Result<(), ImageError> {
        let mut header = Archive::header(0, true);
        self.builder
            .append_data(&mut header, name, std::io::empty())
            .map_err(|error| io_error(Path::new(name), error))
    }

    fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let mut header = Archive::header(bytes.len() as u64, false);
        self.builder
            .append_data(&mut header, name, bytes)
            .map_err(|error| io_error(Path::new(name), error))
    }

    fn file(&mut self, name: &str, source: &Path, size: u64) -> Result<(), ImageError> {
        let mut header = Archive::header(size, false);
        let opened = std::fs::File::open(source).map_err(|error| io_error(source, error))?;
        self.builder
            .append_data(&mut header, name, opened.take(size))
            .map_err(|error| io_error(Path::new(name), error))
    }

    fn finish(self, partial: tempfile::NamedTempFile, path: &Path) -> Result<(), ImageError> {
        let mut file = self.builder.into_inner().map_err(|error| io_error(path, error))?;
        file.flush().map_err(|error| io_error(path, error))?;
        partial.persist(path).map_err(|error| io_error(path, error.error))?;
        Ok(())
    }
}

fn to_oci_archive(file: &Path, tag: Option<&str>, image: &Finished, blobs: &Blobs) -> Result<Written, ImageError> {
    let (mut archive, partial) = Archive::create(file)?;
    archive.bytes("oci-layout", OCI_LAYOUT)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [manifest_descriptor(image, tag)],
    });
    archive.bytes(
        "index.json",
        &serde_json::to_vec(&index).map_err(|error| ImageError::Invalid(error.to_string()))?,
    )?;
    archive.directory("blobs/")?;
    archive.directory("blobs/sha256/")?;
    let mut all = image.blobs();
    all.sort_by(|left, right| left.digest.cmp(&right.digest));
    all.dedup();
    let mut written = Written::default();
    for blob in all {
        archive.file(
            &format!("blobs/sha256/{}", blob.hex()),
            &blobs.path(&blob.digest)?,
            blob.size,
        )?;
        written.uploaded.push(blob.digest);
    }
    archive.finish(partial, file)?;
    Ok(written)
}

/// `docker save`'s layout: the config as `<hex>.json`, each layer uncompressed as
/// `<diff id hex>/layer.tar`, and `manifest.json` naming them with the tag.
fn to_docker_archive(file: &Path, tag: Option<&str>, image: &Finished, blobs: &Blobs) -> Result<Written, ImageError> {
    let scratch = blobs.scratch()?;
    let (mut archive, partial) = Archive::create(file)?;
    let config_name = format!("{}.json", image.config.hex());
    archive.file(&config_name, &blobs.path(&image.config.digest)?, image.config.size)?;
    let mut layer_names = Vec::new();
    for layer in &image.layers {
        let hex = layer.diff_id.trim_start_matches("sha256:");
        let name = format!("{hex}/layer.tar");
        if layer_names.contains(&name) {
            continue;
        }
        archive.directory(&format!("{hex}/"))?;
        let source = blobs.path(&layer.blob.digest)?;
        if layer.media_type.ends_with("+gzip") {
            // Uncompressed, as `docker save` writes layers: through a file, for its size.
            let plain = scratch.path().join(hex);
            let mut decoder = flate2::read::GzDecoder::new(std::io::BufReader::new(
                std::fs::File::open(&source).map_err(|error| io_error(&source, error))?,
            ));
            let mut out = std::fs::File::create(&plain).map_err(|error| io_error(&plain, error))?;
            let size = std::io::copy(&mut decoder, &mut out).map_err(|error| io_error(&source, error))?;
            archive.file(&name, &plain, size)?;
            let _ = std::fs::remove_file(&plain);
        } else {
            archive.file(&name, &source, layer.blob.size)?;
        }
        layer_names.push(name);
    }
    let repo_tags: Vec<String> = tag.map(|tag| vec![docker_tag(tag)]).unwrap_or_default();
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": repo_tags,
        "Layers": image.layers.iter().map(|layer| format!("{}/layer.tar", layer.diff_id.trim_start_matches("sha256:"))).collect::<Vec<_>>(),
    }]);
    archive.bytes(
        "manifest.json",
        &serde_json::to_vec(&manifest).map_err(|error| ImageError::Invalid(error.to_string()))?,
    )?;
    archive.finish(partial, file)?;
    Ok(Written {
        uploaded: image.blobs().into_iter().map(|blob| blob.digest).collect(),
        reused: Vec::new(),
    })
}

/// A docker reference with a tag (`app` → `app:latest`).
fn docker_tag(tag: &str) -> String {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') {
        tag.to_string()
    } else {
        format!("{tag}:latest")
    }
}

async fn to_registry(
    reference: &oci_client::Reference,
    image: &Finished,
    blobs: &Blobs,
    invocation: &Invocation,
    tls_verify: bool,
    reporter: &dyn Reporter,
) -> Result<Written, ImageError> {
    let registry = Registry::open(reference, invocation, tls_verify)?;
    registry.authorize_push(reference).await?;
    let mut written = Written::default();
    let mut uploads: Vec<BlobId> = image.layers.iter().map(|layer| layer.blob.clone()).collect();
    uploads.push(image.config.clone());
    let total = uploads.len() as u64;
    for (done, blob) in uploads.iter().enumerate() {
        if registry.has_blob(reference, &blob.digest).await? {
            written.reused.push(blob.digest.clone());
        } else {
            registry.push_blob(reference, blob, blobs).await?;
            written.uploaded.push(blob.digest.clone());
        }
        reporter.progress(Phase::Push, &blob.digest, done as u64 + 1, total);
    }
    registry
        .push_manifest(reference, &blobs.read(&image.manifest.digest)?)
        .await?;
    written.uploaded.push(image.manifest.digest.clone());
    Ok(written)
}
