//! Image references in skopeo's transport syntax, so that people read them as they read
//! skopeo's: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]` and
//! `docker://HOST/REPO[:TAG|@DIGEST]`.

use std::path::PathBuf;

use super::ImageError;
use crate::context::Invocation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An OCI image layout directory; the tag is its `org.opencontainers.image.ref.name`.
    Layout { dir: PathBuf, tag: Option<String> },
    /// An OCI image layout in a tar file.
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker save`'s format (`docker load`, `podman load`); the tag is a repository tag.
    DockerArchive { file: PathBuf, tag: Option<String> },
    /// A registry (OCI distribution API).
    Registry(oci_client::Reference),
}

impl ImageRef {
    /// Parses `text`, paths made absolute against the client's directory.
    pub fn parse(text: &str, invocation: &Invocation) -> Result<ImageRef, ImageError> {
        let bad = |why: &str| ImageError::Usage(format!("`{text}` is no image reference: {why}"));
        let (transport, rest) = text.split_once(':').ok_or_else(|| {
            bad("write it as skopeo does: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or docker://HOST/REPO:TAG")
        })?;
        if rest.is_empty() {
            return Err(bad("it names nothing after the transport"));
        }
        // As skopeo splits it: the path ends at the first colon, the rest is the tag (for a
        // docker archive, a `name:tag` reference).
        let path_and_tag = |rest: &str| -> (PathBuf, Option<String>) {
            match rest.split_once(':') {
                Some((path, tag)) if !tag.is_empty() && !path.is_empty() => {
                    (invocation.absolute(path), Some(tag.to_string()))
                }
                _ => (invocation.absolute(rest.trim_end_matches(':')), None),
            }
        };
        match transport {
            "oci" => {
                let (dir, tag) = path_and_tag(rest);
                Ok(ImageRef::Layout { dir, tag })
            }
            "oci-archive" => {
                let (file, tag) = path_and_tag(rest);
                Ok(ImageRef::OciArchive { file, tag })
            }
            "docker-archive" => {
                let (file, tag) = path_and_tag(rest);
                Ok(ImageRef::DockerArchive { file, tag })
            }
            "docker" => {
                let name = rest
                    .strip_prefix("//")
                    .ok_or_else(|| bad("write docker://HOST/REPO:TAG"))?;
                let reference: oci_client::Reference = name.parse().map_err(|error| bad(&format!("{error}")))?;
                Ok(ImageRef::Registry(reference))
            }
            other => Err(bad(&format!(
                "axle reads and writes oci:, oci-archive:, docker-archive: and docker://, not `{other}:`"
            ))),
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tagged = |f: &mut std::fmt::Formatter<'_>, transport: &str, path: &PathBuf, tag: &Option<String>| {
            write!(f, "{transport}:{}", path.display())?;
            match tag {
                Some(tag) => write!(f, ":{tag}"),
                None => Ok(()),
            }
        };
        match self {
            ImageRef::Layout { dir, tag } => tagged(f, "oci", dir, tag),
            ImageRef::OciArchive { file, tag } => tagged(f, "oci-archive", file, tag),
            ImageRef::DockerArchive { file, tag } => tagged(f, "docker-archive", file, tag),
            ImageRef::Registry(reference) => write!(f, "docker://{}", reference.whole()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_read_as_skopeo_reads_them() {
        let invocation = Invocation {
            cwd: PathBuf::from("/work"),
            ..Invocation::default()
        };
        let parse = |text: &str| ImageRef::parse(text, &invocation);
        assert_eq!(
            parse("oci:out").unwrap(),
            ImageRef::Layout {
                dir: PathBuf::from("/work/out"),
                tag: None
            }
        );
        assert_eq!(
            parse("oci:/images/app:1.2").unwrap(),
            ImageRef::Layout {
                dir: PathBuf::from("/images/app"),
                tag: Some("1.2".into())
            }
        );
        assert_eq!(
            parse("docker-archive:app.tar:app:1").unwrap(),
            ImageRef::DockerArchive {
                file: PathBuf::from("/work/app.tar"),
                tag: Some("app:1".into())
            }
        );
        assert_eq!(
            parse("oci-archive:build/app.tar").unwrap(),
            ImageRef::OciArchive {
                file: PathBuf::from("/work/build/app.tar"),
                tag: None
            }
        );
        let ImageRef::Registry(reference) = parse("docker://127.0.0.1:5000/app:1").unwrap() else {
            panic!("a registry");
        };
        assert_eq!(reference.registry(), "127.0.0.1:5000");
        assert_eq!(reference.repository(), "app");
        assert_eq!(reference.tag(), Some("1"));
        for bad in ["app:1", "oci:", "docker:app", "http://x/y", "nope"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
