//! Registries, through `oci-client` (the OCI distribution API, token auth through
//! `WWW-Authenticate`): a client for a reference, credentials as `docker login` and
//! `podman login` leave them, and blobs and manifests in and out.
//!
//! Credentials come from the request's environment, never the daemon's:
//! `REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` —
//! an `auths` entry (`auth` = base64 `user:password`, or an `identitytoken`), or a credential
//! helper (`credHelpers`, `credsStore`) run as `docker-credential-<name> get`. (The
//! `docker_credential` crate reads the process's own environment, which in a daemon is not the
//! client's, so this is read here.) Plain HTTP only for a loopback registry, or with
//! `--tls-verify=false`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine as _;
use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::ImageError;
use super::blobs::{BlobId, Blobs};
use crate::context::Invocation;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A registry as one request reaches it.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
}

fn failed(reference: &Reference, error: impl std::fmt::Display) -> ImageError {
    ImageError::Registry(format!("{}: {error}", reference.whole()))
}

/// Whether `registry` (`host[:port]`) is this machine.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

impl Registry {
    /// The registry of `reference`, with the request's credentials for it.
    pub fn open(reference: &Reference, invocation: &Invocation, tls_verify: bool) -> Result<Registry, ImageError> {
        let registry = reference.resolve_registry().to_string();
        let protocol = if !tls_verify || is_loopback(&registry) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            read_timeout: Some(std::time::Duration::from_secs(60)),
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            ..ClientConfig::default()
        };
        Ok(Registry {
            client: Client::new(config),
            auth: credentials(&registry, invocation)?,
        })
    }

    /// The manifest (or index) `reference` names: its bytes, digest and media type.
    pub async fn manifest(&self, reference: &Reference) -> Result<(Vec<u8>, String, String), ImageError> {
        self.client
            .auth(reference, &self.auth, RegistryOperation::Pull)
            .await
            .map_err(|error| failed(reference, error))?;
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(
                reference,
                &self.auth,
                &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST],
            )
            .await
            .map_err(|error| failed(reference, error))?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|value| value["mediaType"].as_str().map(str::to_string))
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        Ok((bytes.to_vec(), digest, media_type))
    }

    /// The blob `blob` of `reference`'s repository into the cache (unless it is there).
    pub async fn pull_blob(&self, reference: &Reference, blob: &BlobId, blobs: &Blobs) -> Result<(), ImageError> {
        if blobs.has(blob) {
            return Ok(());
        }
        let file = blobs.temporary()?;
        let mut out = tokio::fs::File::from_std(
            file.reopen()
                .map_err(|error| super::blobs::io_error(file.path(), error))?,
        );
        // oci-client checks the bytes against the digest as they arrive.
        self.client
            .pull_blob(reference, blob.digest.as_str(), &mut out)
            .await
            .map_err(|error| failed(reference, error))?;
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|error| super::blobs::io_error(file.path(), error))?;
        blobs.adopt(file, &blob.digest)?;
        Ok(())
    }

    /// Whether the repository of `reference` has `digest` (a HEAD).
    pub async fn has_blob(&self, reference: &Reference, digest: &str) -> Result<bool, ImageError> {
        self.client
            .blob_exists(reference, digest)
            .await
            .map_err(|error| failed(reference, error))
    }

    /// Signs in to push to `reference`.
    pub async fn authorize_push(&self, reference: &Reference) -> Result<(), ImageError> {
        self.client
            .auth(reference, &self.auth, RegistryOperation::Push)
            .await
            .map_err(|error| failed(reference, error))?;
        Ok(())
    }

    /// Uploads the cached blob `blob` to `reference`'s repository, streamed from its file.
    pub async fn push_blob(&self, reference: &Reference, blob: &BlobId, blobs: &Blobs) -> Result<(), ImageError> {
        let path = blobs.path(&blob.digest)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|error| super::blobs::io_error(&path, error))?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1024 * 1024).map(|chunk| {
            chunk.map_err(|error| oci_client::errors::OciDistributionError::GenericError(Some(error.to_string())))
        });
        self.client
            .push_blob_stream(reference, stream, &blob.digest, Some(blob.size))
            .await
            .map_err(|error| failed(reference, error))?;
        Ok(())
    }

    /// Puts `manifest` (an OCI image manifest's bytes) at `reference`.
    pub async fn push_manifest(&self, reference: &Reference, manifest: &[u8]) -> Result<(), ImageError> {
        self.client
            .push_manifest_raw(
                reference,
                manifest.to_vec(),
                http::HeaderValue::from_static(OCI_MANIFEST),
            )
            .await
            .map_err(|error| failed(reference, error))?;
        Ok(())
    }
}

/// The request's credentials for `registry`, or anonymous access.
fn credentials(registry: &str, invocation: &Invocation) -> Result<RegistryAuth, ImageError> {
    let Some(path) = auth_file(invocation) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(error) => return Err(super::blobs::io_error(&path, error)),
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|error| ImageError::Invalid(format!("{}: {error}", path.display())))?;
    // `auths` keys are written as `host`, `https://host` or `https://host/v1/`.
    let entry = config.auths.iter().find(|(key, _)| {
        let key = key.trim_start_matches("https://").trim_start_matches("http://");
        key.split('/').next() == Some(registry)
    });
    if let Some((_, entry)) = entry {
        if let Some(token) = &entry.identitytoken {
            return Ok(RegistryAuth::Bearer(token.clone()));
        }
        if let Some(encoded) = &entry.auth {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| {
                    ImageError::Invalid(format!("{}: the auth of {registry} is not base64", path.display()))
                })?;
            let decoded = String::from_utf8_lossy(&decoded);
            if let Some((user, password)) = decoded.split_once(':') {
                return Ok(RegistryAuth::Basic(user.to_string(), password.to_string()));
            }
        }
    }
    let helper = config.cred_helpers.get(registry).or(config.creds_store.as_ref());
    match helper {
        Some(helper) => from_helper(helper, registry, invocation),
        None => Ok(RegistryAuth::Anonymous),
    }
}

fn auth_file(invocation: &Invocation) -> Option<PathBuf> {
    if let Some(file) = invocation.var("REGISTRY_AUTH_FILE") {
        return Some(invocation.absolute(file));
    }
    if let Some(dir) = invocation.var("DOCKER_CONFIG") {
        return Some(invocation.absolute(dir).join("config.json"));
    }
    invocation
        .var("HOME")
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// Runs `docker-credential-<helper> get` (found on the client's PATH) for `registry`.
fn from_helper(helper: &str, registry: &str, invocation: &Invocation) -> Result<RegistryAuth, ImageError> {
    let name = format!("docker-credential-{helper}");
    let program = invocation
        .search_path()
        .into_iter()
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ImageError::Registry(format!("the credential helper {name} is not on PATH")))?;
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .env_clear()
        .envs(&invocation.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| ImageError::Registry(format!("{}: {error}", program.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|error| ImageError::Registry(format!("{}: {error}", program.display())))?;
    if !output.status.success() {
        // No credentials for this registry: anonymous, as docker goes on without them.
        return Ok(RegistryAuth::Anonymous);
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|error| ImageError::Registry(format!("{} answered no credentials: {error}", program.display())))?;
    Ok(if answer.username == "<token>" {
        RegistryAuth::Bearer(answer.secret)
    } else {
        RegistryAuth::Basic(answer.username, answer.secret)
    })
}

#[derive(Debug, Default, serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    identitytoken: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_requests_docker_config() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".docker")).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(
            home.path().join(".docker/config.json"),
            format!(r#"{{"auths": {{"https://registry.internal.test": {{"auth": "{encoded}"}}, "tokens.test": {{"identitytoken": "t0k"}}}}}}"#),
        )
        .unwrap();
        let mut invocation = Invocation {
            cwd: home.path().to_path_buf(),
            ..Invocation::default()
        };
        invocation.env.insert("HOME".into(), home.path().display().to_string());
        assert!(matches!(
            credentials("registry.internal.test", &invocation).unwrap(),
            RegistryAuth::Basic(user, password) if user == "ci" && password == "s3cret"
        ));
        assert!(matches!(
            credentials("tokens.test", &invocation).unwrap(),
            RegistryAuth::Bearer(token) if token == "t0k"
        ));
        assert!(matches!(
            credentials("elsewhere.test", &invocation).unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        for (registry, loopback) in [
            ("127.0.0.1:5000", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("registry.internal.test", false),
            ("10.0.0.1:5000", false),
        ] {
            assert_eq!(is_loopback(registry), loopback, "{registry}");
        }
    }
}
