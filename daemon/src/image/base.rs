//! The base image, from wherever its reference says: an OCI layout directory, an OCI archive,
//! a `docker save` archive or a registry — its config, and its layers in the blob cache
//! (pulled once, copied once). A multi-platform base gives the manifest of the platform asked
//! for (`--platform`, else this machine's).

use std::io::Read;
use std::path::Path;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use super::ImageError;
use super::blobs::{BlobId, Blobs, io_error, valid_digest};
use super::reference::ImageRef;
use super::registry::{self, Registry};
use crate::context::Invocation;

/// A layer of an image: its blob in the cache, its media type (an OCI one) and diff ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    pub blob: BlobId,
    pub media_type: String,
    pub diff_id: String,
}

/// An image read: what a new one is built on.
#[derive(Debug, Clone)]
pub struct Image {
    pub config: ImageConfiguration,
    /// The config's own bytes, in the cache: a new image's config is made from them, keeping
    /// every field the base has (typed or not).
    pub config_blob: BlobId,
    pub layers: Vec<ImageLayer>,
}

/// `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(text: &str) -> Result<Platform, ImageError> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, architecture] => Ok(Platform {
                os: os.to_string(),
                architecture: architecture.to_string(),
                variant: None,
            }),
            [os, architecture, variant] => Ok(Platform {
                os: os.to_string(),
                architecture: architecture.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(ImageError::Usage(format!(
                "`{text}` is no platform: write OS/ARCH, such as linux/amd64 or linux/arm64"
            ))),
        }
    }

    /// This machine's.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            other => other,
        };
        Platform {
            os: "linux".to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// The OCI media type of a layer of `media_type` (Docker's names the same bytes otherwise).
fn oci_layer_type(media_type: &str) -> Result<String, ImageError> {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" | "application/vnd.oci.image.layer.v1.tar+gzip" => {
            Ok("application/vnd.oci.image.layer.v1.tar+gzip".to_string())
        }
        "application/vnd.docker.image.rootfs.diff.tar" | "application/vnd.oci.image.layer.v1.tar" => {
            Ok("application/vnd.oci.image.layer.v1.tar".to_string())
        }
        other => Err(ImageError::Unsupported(format!(
            "a layer of media type {other} (axle reads tar and tar+gzip layers)"
        ))),
    }
}

/// Reads the base image `reference` for `platform`, its blobs into the cache.
pub async fn read(
    reference: &ImageRef,
    platform: &Platform,
    blobs: &Blobs,
    invocation: &Invocation,
    tls_verify: bool,
) -> Result<Image, ImageError> {
    match reference {
        ImageRef::Layout { dir, tag } => {
            let (dir, tag, platform, cache) = (dir.clone(), tag.clone(), platform.clone(), blobs.clone());
            blocking(move || from_layout(&dir, tag.as_deref(), &platform, &cache)).await
        }
        ImageRef::OciArchive { file, tag } => {
            let (file, tag, platform, cache) = (file.clone(), tag.clone(), platform.clone(), blobs.clone());
            blocking(move || {
                let scratch = cache.scratch()?;
                let opened = std::fs::File::open(&file).map_err(|error| io_error(&file, error))?;
                unpack_safely(&mut tar::Archive::new(opened), scratch.path())?;
                from_layout(scratch.path(), tag.as_deref(), &platform, &cache)
            })
            .await
        }
        ImageRef::DockerArchive { file, tag } => {
            let (file, tag, cache) = (file.clone(), tag.clone(), blobs.clone());
            blocking(move || from_docker_archive(&file, tag.as_deref(), &cache)).await
        }
        ImageRef::Registry(reference) => from_registry(reference, platform, blobs, invocation, tls_verify).await,
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ImageError::Invalid(format!("a reading task stopped: {error}")))?
}

/// Unpacks an archive of an image (regular files and directories only, no entry out of
/// `into`).
fn unpack_safely<R: Read>(archive: &mut tar::Archive<R>, into: &Path) -> Result<(), ImageError> {
    for entry in archive.entries().map_err(|error| io_error(into, error))? {
        let mut entry = entry.map_err(|error| io_error(into, error))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        // `unpack_in` refuses paths that climb out.
        entry.unpack_in(into).map_err(|error| io_error(into, error))?;
    }
    Ok(())
}

/// The manifest of `platform` among an index's, or the one manifest.
fn choose_in_index(index: &ImageIndex, platform: &Platform, tag: Option<&str>) -> Option<(String, String)> {
    let manifests = index.manifests();
    let tagged: Vec<_> = manifests
        .iter()
        .filter(|descriptor| {
            tag.is_none_or(|tag| {
                descriptor
                    .annotations()
                    .as_ref()
                    .and_then(|annotations| annotations.get("org.opencontainers.image.ref.name"))
                    .is_some_and(|name| name == tag)
            })
        })
        .collect();
    let fits = |descriptor: &&&oci_spec::image::Descriptor| {
        descriptor.platform().as_ref().is_none_or(|found| {
            found.os().to_string() == platform.os
                && found.architecture().to_string() == platform.architecture
                && platform
                    .variant
                    .as_ref()
                    .is_none_or(|variant| found.variant().as_deref() == Some(variant.as_str()))
        })
    };
    let chosen = tagged
        .iter()
        .find(fits)
        .or(if tagged.len() == 1 { tagged.first() } else { None })?;
    Some((chosen.digest().to_string(), chosen.media_type().to_string()))
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|error| ImageError::Invalid(format!("{what}: {error}")))
}

/// A layout's blob, copied into the cache after its bytes were hashed (unless it is there).
fn import(dir: &Path, digest: &str, size: u64, blobs: &Blobs) -> Result<BlobId, ImageError> {
    if !valid_digest(digest) {
        return Err(ImageError::Invalid(format!("`{digest}` is no sha256 digest")));
    }
    let blob = BlobId {
        digest: digest.to_string(),
        size,
    };
    if blobs.has(&blob) {
        return Ok(blob);
    }
    let path = dir.join("blobs").join("sha256").join(&digest["sha256:".len()..]);
    let file = std::fs::File::open(&path).map_err(|error| io_error(&path, error))?;
    blobs.put_reader(file, Some(digest))
}

fn from_layout(dir: &Path, tag: Option<&str>, platform: &Platform, blobs: &Blobs) -> Result<Image, ImageError> {
    let index_path = dir.join("index.json");
    let index_bytes = std::fs::read(&index_path).map_err(|error| io_error(&index_path, error))?;
    let index: ImageIndex = parse_json(&index_bytes, &index_path.display().to_string())?;
    let (mut digest, mut media_type) = choose_in_index(&index, platform, tag).ok_or_else(|| {
        ImageError::Invalid(format!(
            "{} has no image{} for {platform}",
            dir.display(),
            tag.map(|tag| format!(" tagged `{tag}`")).unwrap_or_default()
        ))
    })?;
    // An index inside the layout (a multi-platform image under one tag).
    if media_type == registry::OCI_INDEX {
        let inner = import(dir, &digest, 0, blobs).or_else(|_| {
            let path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
            blobs.put_reader(
                std::fs::File::open(&path).map_err(|error| io_error(&path, error))?,
                Some(&digest),
            )
        })?;
        let inner: ImageIndex = parse_json(&blobs.read(&inner.digest)?, "an image index")?;
        (digest, media_type) = choose_in_index(&inner, platform, None)
            .ok_or_else(|| ImageError::Invalid(format!("{} has no image for {platform}", dir.display())))?;
    }
    let manifest_path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|error| io_error(&manifest_path, error))?;
    let _ = media_type;
    image_from_manifest(&manifest_bytes, blobs, |digest, size| import(dir, digest, size, blobs))
}

/// An image from its manifest's bytes, each blob fetched into the cache by `fetch`.
fn image_from_manifest(
    manifest_bytes: &[u8],
    blobs: &Blobs,
    mut fetch: impl FnMut(&str, u64) -> Result<BlobId, ImageError>,
) -> Result<Image, ImageError> {
    let manifest: ImageManifest = parse_json(manifest_bytes, "an image manifest")?;
    let config_descriptor = manifest.config();
    let config_blob = fetch(config_descriptor.digest().as_ref(), config_descriptor.size())?;
    let config: ImageConfiguration = parse_json(&blobs.read(&config_blob.digest)?, "an image config")?;
    let diff_ids = config.rootfs().diff_ids().clone();
    if diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::Invalid(format!(
            "the image's config lists {} layers and its manifest {}",
            diff_ids.len(),
            manifest.layers().len()
        )));
    }
    let mut layers = Vec::new();
    for (descriptor, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let blob = fetch(descriptor.digest().as_ref(), descriptor.size())?;
        layers.push(ImageLayer {
            blob,
            media_type: oci_layer_type(descriptor.media_type().as_ref())?,
            diff_id,
        });
    }
    Ok(Image {
        config,
        config_blob,
        layers,
    })
}

async fn from_registry(
    reference: &oci_client::Reference,
    platform: &Platform,
    blobs: &Blobs,
    invocation: &Invocation,
    tls_verify: bool,
) -> Result<Image, ImageError> {
    let registry = Registry::open(reference, invocation, tls_verify)?;
    let (mut bytes, _digest, media_type) = registry.manifest(reference).await?;
    if media_type == registry::OCI_INDEX || media_type == registry::DOCKER_LIST {
        let index: ImageIndex = parse_json(&bytes, "an image index")?;
        let (digest, _) = choose_in_index(&index, platform, None)
            .ok_or_else(|| ImageError::Invalid(format!("{} has no image for {platform}", reference.whole())))?;
        let by_digest = oci_client::Reference::with_digest(
            reference.registry().to_string(),
            reference.repository().to_string(),
            digest,
        );
        bytes = registry.manifest(&by_digest).await?.0;
    }
    // Blobs first (pulled concurrently would be faster; a base is pulled once, then cached).
    let manifest: ImageManifest = parse_json(&bytes, "an image manifest")?;
    let mut wanted = vec![BlobId {
        digest: manifest.config().digest().to_string(),
        size: manifest.config().size(),
    }];
    wanted.extend(manifest.layers().iter().map(|layer| BlobId {
        digest: layer.digest().to_string(),
        size: layer.size(),
    }));
    for blob in &wanted {
        if !valid_digest(&blob.digest) {
            return Err(ImageError::Invalid(format!("`{}` is no sha256 digest", blob.digest)));
        }
        registry.pull_blob(reference, blob, blobs).await?;
    }
    image_from_manifest(&bytes, blobs, |digest, size| {
        Ok(BlobId {
            digest: digest.to_string(),
            size,
        })
    })
}

/// `docker save`'s format: `manifest.json` naming the config and the layer files.
fn from_docker_archive(file: &Path, tag: Option<&str>, blobs: &Blobs) -> Result<Image, ImageError> {
    let scratch = blobs.scratch()?;
    let opened = std::fs::File::open(file).map_err(|error| io_error(file, error))?;
    unpack_safely(&mut tar::Archive::new(opened), scratch.path())?;
    let manifest_path = scratch.path().join("manifest.json");
    let entries: Vec<DockerArchiveEntry> = parse_json(
        &std::fs::read(&manifest_path).map_err(|error| io_error(&manifest_path, error))?,
        "manifest.json",
    )?;
    let entry = entries
        .iter()
        .find(|entry| {
            tag.is_none_or(|tag| {
                entry
                    .repo_tags
                    .iter()
                    .any(|known| known == tag || known.ends_with(&format!("/{tag}")))
            })
        })
        .ok_or_else(|| {
            ImageError::Invalid(format!(
                "{} holds no image{}",
                file.display(),
                tag.map(|tag| format!(" tagged `{tag}`")).unwrap_or_default()
            ))
        })?;
    let inside = |name: &str| -> Result<std::path::PathBuf, ImageError> {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(ImageError::Invalid(format!(
                "{}: `{name}` is no path inside it",
                file.display()
            )));
        }
        Ok(scratch.path().join(name))
    };
    let config_path = inside(&entry.config)?;
    let config_blob = blobs.put_reader(
        std::fs::File::open(&config_path).map_err(|error| io_error(&config_path, error))?,
        None,
    )?;
    let config: ImageConfiguration = parse_json(&blobs.read(&config_blob.digest)?, "an image config")?;
    let mut layers = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(config.rootfs().diff_ids()) {
        let path = inside(name)?;
        let mut head = [0u8; 2];
        let gzipped = std::fs::File::open(&path)
            .and_then(|mut opened| opened.read_exact(&mut head))
            .is_ok()
            && head == [0x1f, 0x8b];
        let blob = blobs.put_reader(
            std::fs::File::open(&path).map_err(|error| io_error(&path, error))?,
            None,
        )?;
        layers.push(ImageLayer {
            blob,
            media_type: if gzipped {
                "application/vnd.oci.image.layer.v1.tar+gzip".to_string()
            } else {
                "application/vnd.oci.image.layer.v1.tar".to_string()
            },
            diff_id: diff_id.clone(),
        });
    }
    if layers.len() != entry.layers.len() {
        return Err(ImageError::Invalid(format!(
            "{}: its config lists fewer layers than its manifest",
            file.display()
        )));
    }
    Ok(Image {
        config,
        config_blob,
        layers,
    })
}

#[derive(Debug, serde::Deserialize)]
struct DockerArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}
