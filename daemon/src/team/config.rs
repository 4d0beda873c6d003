//! Where a request's team store is and how to reach it, read per request as pip's settings
//! are: the client's environment first, then the `[team-store]` table of axle's config file,
//! then (for what AWS's tools read) the AWS shared files.
//!
//! - `AXLE_TEAM_STORE=s3://BUCKET/PREFIX` turns the tier on (file: `url`).
//! - `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (file: `endpoint`; AWS config:
//!   `endpoint_url`): any S3-compatible service, addressed path-style. Plain `http://` only for
//!   a loopback endpoint, or with `AWS_ALLOW_HTTP=true`.
//! - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//!   `AWS_DEFAULT_REGION`; else the profile `AWS_PROFILE` (default `default`) of
//!   `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`) and `AWS_CONFIG_FILE`
//!   (`~/.aws/config`); else what the object store crate finds on its own (instance roles).
//! - `AXLE_TEAM_STORE_ANONYMOUS=1` (file: `anonymous = true`): unsigned reads, no writes — for
//!   pull-request CI that holds no secret.
//! - `AXLE_TEAM_STORE_SIGNING_KEY=FILE` (file: `signing-key`): the secret key build records
//!   are signed with; without one, this machine publishes no build.
//! - `AXLE_TEAM_STORE_TRUSTED_KEYS=name:BASE64,...` (file: `trusted-keys = [...]`): the keys
//!   whose build records are believed.
//! - `AXLE_TEAM_STORE_PUSH=all|built|none` (file: `push`): what a writer uploads — every wheel
//!   it fetched or built (`all`, the default), only what it built, or nothing.
//!
//! The config file is `AXLE_CONFIG_FILE`, else `$XDG_CONFIG_HOME/axle/axle.toml` (`~/.config`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::TeamError;
use super::records::{SigningKey, TrustedKeys};
use crate::context::Invocation;

/// What a writer uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Push {
    /// Every wheel fetched from an index or built here (so runners stop depending on the
    /// index's availability and egress).
    All,
    /// Only built wheels and their records.
    Built,
    /// Nothing: the tier is only read.
    Nothing,
}

/// How to reach one bucket: what identifies a connection (two requests with the same
/// `Remote` share one client, its statistics and its health).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Remote {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub credentials: Credentials,
    pub allow_http: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// Unsigned requests.
    Anonymous,
    Static {
        key_id: String,
        secret: String,
        token: Option<String>,
    },
    /// Whatever the environment of the machine provides (instance or task roles).
    Ambient,
}

impl std::fmt::Debug for Remote {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url())
    }
}

impl Remote {
    /// `s3://bucket/prefix`, as the user wrote it (no credentials).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The full address of the object at `key` (below the prefix), for messages.
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{key}", self.url())
    }

    pub fn anonymous(&self) -> bool {
        self.credentials == Credentials::Anonymous
    }
}

/// A request's team store: where, and what this request may do with it.
pub struct TeamConfig {
    pub remote: Remote,
    pub signing_key: Option<SigningKey>,
    pub trusted: TrustedKeys,
    pub push: Push,
}

/// The `[team-store]` table of axle's config file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileSettings {
    url: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    anonymous: Option<bool>,
    signing_key: Option<PathBuf>,
    #[serde(default)]
    trusted_keys: Vec<String>,
    push: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(rename = "team-store")]
    team_store: Option<FileSettings>,
}

impl TeamConfig {
    /// The request's team store, or `None` when it names none.
    pub fn from_invocation(invocation: &Invocation) -> Result<Option<TeamConfig>, TeamError> {
        let file = read_config_file(invocation)?;
        let url = match invocation
            .var("AXLE_TEAM_STORE")
            .map(str::to_string)
            .or(file.url.clone())
        {
            Some(url) => url,
            None => return Ok(None),
        };
        let (bucket, prefix) = parse_url(&url)?;
        let profile = AwsProfile::read(invocation);
        let endpoint = invocation
            .var("AWS_ENDPOINT_URL_S3")
            .or_else(|| invocation.var("AWS_ENDPOINT_URL"))
            .map(str::to_string)
            .or(file.endpoint.clone())
            .or_else(|| profile.get("endpoint-url"))
            .map(|endpoint| endpoint.trim_end_matches('/').to_string());
        let allow_http = match &endpoint {
            Some(endpoint) if endpoint.starts_with("http://") => {
                let explicit = invocation
                    .var("AWS_ALLOW_HTTP")
                    .is_some_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
                if !explicit && !is_loopback(endpoint) {
                    return Err(TeamError::Config(format!(
                        "the team store's endpoint {endpoint} is plain HTTP on another machine; use https://, \
                         or set AWS_ALLOW_HTTP=true to send the team store's traffic unencrypted"
                    )));
                }
                true
            }
            _ => false,
        };
        let region = invocation
            .var("AWS_REGION")
            .or_else(|| invocation.var("AWS_DEFAULT_REGION"))
            .map(str::to_string)
            .or(file.region.clone())
            .or_else(|| profile.get("region"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let anonymous = match invocation.var("AXLE_TEAM_STORE_ANONYMOUS") {
            Some(value) => truthy(value),
            None => file.anonymous.unwrap_or(false),
        };
        let credentials = if anonymous {
            Credentials::Anonymous
        } else {
            let from_env = (
                invocation.var("AWS_ACCESS_KEY_ID").map(str::to_string),
                invocation.var("AWS_SECRET_ACCESS_KEY").map(str::to_string),
            );
            let (key_id, secret, token) = match from_env {
                (Some(key_id), Some(secret)) => (
                    Some(key_id),
                    Some(secret),
                    invocation.var("AWS_SESSION_TOKEN").map(str::to_string),
                ),
                _ => (
                    profile.get("aws-access-key-id"),
                    profile.get("aws-secret-access-key"),
                    profile.get("aws-session-token"),
                ),
            };
            match (key_id, secret) {
                (Some(key_id), Some(secret)) => Credentials::Static { key_id, secret, token },
                _ => Credentials::Ambient,
            }
        };
        let signing_key = match invocation
            .var("AXLE_TEAM_STORE_SIGNING_KEY")
            .map(|path| invocation.absolute(path))
            .or_else(|| file.signing_key.as_ref().map(|path| expand_home(path, invocation)))
        {
            Some(path) => Some(SigningKey::read(&path)?),
            None => None,
        };
        let trusted = match invocation.var("AXLE_TEAM_STORE_TRUSTED_KEYS") {
            Some(text) => TrustedKeys::parse(text.split(','))?,
            None => TrustedKeys::parse(file.trusted_keys.iter().map(String::as_str))?,
        };
        let push = match invocation
            .var("AXLE_TEAM_STORE_PUSH")
            .map(str::to_string)
            .or(file.push.clone())
        {
            None => Push::All,
            Some(text) => match text.as_str() {
                "all" => Push::All,
                "built" => Push::Built,
                "none" => Push::Nothing,
                other => {
                    return Err(TeamError::Config(format!(
                        "AXLE_TEAM_STORE_PUSH is `{other}`; it is `all`, `built` or `none`"
                    )));
                }
            },
        };
        Ok(Some(TeamConfig {
            remote: Remote {
                bucket,
                prefix,
                endpoint,
                region,
                credentials,
                allow_http,
            },
            signing_key,
            trusted,
            push,
        }))
    }
}

/// `s3://bucket/prefix` into its bucket and prefix.
fn parse_url(url: &str) -> Result<(String, String), TeamError> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        TeamError::Config(format!(
            "the team store `{url}` is no s3:// URL (AXLE_TEAM_STORE=s3://BUCKET/PREFIX)"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'));
    if !valid_bucket {
        return Err(TeamError::Config(format!(
            "the team store `{url}` names no valid bucket (lower-case letters, digits, `-`, `.`)"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|part| part == ".." || part == ".") {
        return Err(TeamError::Config(format!(
            "the team store `{url}` has `.` or `..` in its prefix"
        )));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// Whether `endpoint`'s host is a loopback name or address.
fn is_loopback(endpoint: &str) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

fn home(invocation: &Invocation) -> Option<PathBuf> {
    invocation.var("HOME").map(PathBuf::from)
}

fn expand_home(path: &std::path::Path, invocation: &Invocation) -> PathBuf {
    match (path.strip_prefix("~"), home(invocation)) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => invocation.absolute(path),
    }
}

/// The `[team-store]` table of the request's config file, if there is one.
fn read_config_file(invocation: &Invocation) -> Result<FileSettings, TeamError> {
    let explicit = invocation.var("AXLE_CONFIG_FILE").map(|path| invocation.absolute(path));
    let path = explicit.clone().or_else(|| {
        let config_home = invocation
            .var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home(invocation).map(|home| home.join(".config")))?;
        Some(config_home.join("axle").join("axle.toml"))
    });
    let Some(path) = path else {
        return Ok(FileSettings::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok(FileSettings::default());
        }
        Err(error) => return Err(TeamError::Config(format!("cannot read {}: {error}", path.display()))),
    };
    let parsed: ConfigFile =
        toml::from_str(&text).map_err(|error| TeamError::Config(format!("{}: {error}", path.display())))?;
    Ok(parsed.team_store.unwrap_or_default())
}

/// The AWS shared files' settings for the request's profile: the credentials file's section
/// first, then the config file's (`[default]` or `[profile NAME]`), as AWS's tools read them.
struct AwsProfile {
    values: BTreeMap<String, String>,
}

impl AwsProfile {
    fn read(invocation: &Invocation) -> AwsProfile {
        let profile = invocation.var("AWS_PROFILE").unwrap_or("default").to_string();
        let aws_dir = home(invocation).map(|home| home.join(".aws"));
        let file = |variable: &str, name: &str| {
            invocation
                .var(variable)
                .map(|path| invocation.absolute(path))
                .or_else(|| aws_dir.as_ref().map(|dir| dir.join(name)))
        };
        let mut values = BTreeMap::new();
        let config_section = if profile == "default" {
            profile.clone()
        } else {
            format!("profile {profile}")
        };
        for (path, section) in [
            (file("AWS_CONFIG_FILE", "config"), config_section),
            (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile.clone()),
        ] {
            let Some(text) = path.and_then(|path| std::fs::read_to_string(path).ok()) else {
                continue;
            };
            if let Some(found) = crate::index::parse_ini(&text).remove(&section) {
                // The credentials file, read last, wins.
                values.extend(found);
            }
        }
        AwsProfile { values }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).filter(|value| !value.is_empty()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(home: &std::path::Path, env: &[(&str, &str)]) -> Invocation {
        let mut invocation = Invocation {
            cwd: home.to_path_buf(),
            ..Invocation::default()
        };
        invocation.env.insert("HOME".into(), home.display().to_string());
        for (key, value) in env {
            invocation.env.insert((*key).into(), (*value).into());
        }
        invocation
    }

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        let cases = [
            ("s3://team", Some(("team", ""))),
            ("s3://team/", Some(("team", ""))),
            ("s3://team/ci/cache/", Some(("team", "ci/cache"))),
            ("s3://Team/x", None),
            ("s3:///x", None),
            ("https://team/x", None),
            ("s3://team/../x", None),
        ];
        for (url, expected) in cases {
            let parsed = parse_url(url).ok();
            assert_eq!(
                parsed
                    .as_ref()
                    .map(|(bucket, prefix)| (bucket.as_str(), prefix.as_str())),
                expected,
                "{url}"
            );
        }
    }

    #[test]
    fn no_url_no_team_store_and_plain_http_only_on_loopback() {
        let home = tempfile::tempdir().unwrap();
        assert!(
            TeamConfig::from_invocation(&invocation(home.path(), &[]))
                .unwrap()
                .is_none()
        );
        let local = [
            ("AXLE_TEAM_STORE", "s3://team/x"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
        ];
        let config = TeamConfig::from_invocation(&invocation(home.path(), &local))
            .unwrap()
            .unwrap();
        assert_eq!(config.remote.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(config.remote.allow_http);
        assert_eq!(config.push, Push::All);
        let remote = [
            ("AXLE_TEAM_STORE", "s3://team/x"),
            ("AWS_ENDPOINT_URL", "http://storage.internal:9000"),
        ];
        let error = TeamConfig::from_invocation(&invocation(home.path(), &remote))
            .err()
            .unwrap();
        assert!(error.to_string().contains("AWS_ALLOW_HTTP"), "{error}");
        let allowed = [
            ("AXLE_TEAM_STORE", "s3://team/x"),
            ("AWS_ENDPOINT_URL", "http://storage.internal:9000"),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        assert!(TeamConfig::from_invocation(&invocation(home.path(), &allowed)).is_ok());
    }

    #[test]
    fn credentials_come_from_the_environment_then_the_profile_and_anonymous_uses_none() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = default-secret\n\n\
             [ci]\naws_access_key_id = CIKEY\naws_secret_access_key = ci-secret\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[profile ci]\nregion = eu-west-3\nendpoint_url = https://objects.example.test\n",
        )
        .unwrap();
        let store = ("AXLE_TEAM_STORE", "s3://team");
        let from_profile = TeamConfig::from_invocation(&invocation(home.path(), &[store, ("AWS_PROFILE", "ci")]))
            .unwrap()
            .unwrap();
        assert!(matches!(
            &from_profile.remote.credentials,
            Credentials::Static { key_id, .. } if key_id == "CIKEY"
        ));
        assert_eq!(from_profile.remote.region, "eu-west-3");
        assert_eq!(
            from_profile.remote.endpoint.as_deref(),
            Some("https://objects.example.test")
        );
        let from_env = TeamConfig::from_invocation(&invocation(
            home.path(),
            &[
                store,
                ("AWS_ACCESS_KEY_ID", "ENVKEY"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ],
        ))
        .unwrap()
        .unwrap();
        assert!(matches!(
            &from_env.remote.credentials,
            Credentials::Static { key_id, .. } if key_id == "ENVKEY"
        ));
        let anonymous =
            TeamConfig::from_invocation(&invocation(home.path(), &[store, ("AXLE_TEAM_STORE_ANONYMOUS", "1")]))
                .unwrap()
                .unwrap();
        assert!(anonymous.remote.anonymous());
        assert!(!format!("{:?}", from_env.remote).contains("env-secret"));
    }

    #[test]
    fn the_config_file_supplies_what_the_environment_does_not() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".config/axle")).unwrap();
        std::fs::write(
            home.path().join(".config/axle/axle.toml"),
            "[team-store]\nurl = \"s3://team/shared\"\nendpoint = \"http://localhost:9000\"\npush = \"built\"\n",
        )
        .unwrap();
        let config = TeamConfig::from_invocation(&invocation(home.path(), &[]))
            .unwrap()
            .unwrap();
        assert_eq!(config.remote.url(), "s3://team/shared");
        assert_eq!(config.push, Push::Built);
        let overridden = TeamConfig::from_invocation(&invocation(home.path(), &[("AXLE_TEAM_STORE_PUSH", "none")]))
            .unwrap()
            .unwrap();
        assert_eq!(overridden.push, Push::Nothing);
        std::fs::write(home.path().join(".config/axle/axle.toml"), "[team-store]\nurll = 1\n").unwrap();
        let error = TeamConfig::from_invocation(&invocation(home.path(), &[]))
            .err()
            .unwrap();
        assert!(error.to_string().contains("axle.toml"), "{error}");
    }
}
