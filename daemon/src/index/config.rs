//! Which indexes and find-links locations a request uses, decided the way pip
//! decides: pip's config files, then `PIP_*` variables, then the command line,
//! then options in requirement files; when no index is named anywhere, the
//! default index that the interpreter's own pip reports.
//!
//! Invariant: an [`IndexUrl`] keeps credentials apart from the URL, and its
//! `Display`/`Debug` never show them, so they cannot reach logs, the
//! database or lock files by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use super::auth::{Credentials, origin, redact_text};
use crate::context::Invocation;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("`{url}` is not a valid index URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "no package index is configured and the interpreter's pip does not name a default: pass --index-url, set PIP_INDEX_URL, or configure pip"
    )]
    NoIndex,
    #[error("cannot read pip's configuration {path}: {reason}")]
    PipConfig { path: String, reason: String },
}

/// An index base URL (`.../simple/`), credentials kept apart.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IndexUrl {
    url: Url,
    credentials: Option<Credentials>,
}

impl IndexUrl {
    pub fn parse(text: &str) -> Result<IndexUrl, ConfigError> {
        let bad = |reason: &str| ConfigError::BadUrl {
            url: redact_text(text),
            reason: reason.to_string(),
        };
        let mut url = Url::parse(text.trim()).map_err(|error| bad(&error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(
                "only http and https indexes are supported (use --find-links for directories)",
            ));
        }
        let credentials = Credentials::take_from(&mut url);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(IndexUrl { url, credentials })
    }

    /// The URL without credentials.
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }
}

impl fmt::Display for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexUrl({})", self.url)
    }
}

/// A `--find-links` location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FindLinks {
    /// A directory of wheels and sdists.
    Directory(PathBuf),
    /// An HTML page of links.
    Page(IndexUrl),
}

impl FindLinks {
    /// Interprets `text` (a path, a `file://` URL, or an http(s) URL);
    /// relative paths are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<FindLinks, ConfigError> {
        let text = text.trim();
        if text.starts_with("http://") || text.starts_with("https://") {
            return IndexUrl::parse(text).map(|url| FindLinks::Page(url.without_trailing_slash()));
        }
        if let Some(path) = text.strip_prefix("file://") {
            return Ok(FindLinks::Directory(PathBuf::from(path)));
        }
        Ok(FindLinks::Directory(crate::context::normalize(&base.join(text))))
    }
}

impl IndexUrl {
    /// A find-links page is a document, not a directory: keep its URL as given.
    fn without_trailing_slash(mut self) -> IndexUrl {
        let path = self.url.path().trim_end_matches('/').to_string();
        if !path.is_empty() {
            self.url.set_path(&path);
        }
        self
    }
}

impl fmt::Display for FindLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindLinks::Directory(path) => write!(f, "{}", path.display()),
            FindLinks::Page(url) => write!(f, "{url}"),
        }
    }
}

/// How several indexes combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IndexStrategy {
    /// Take a project from the first index that has it: an extra index
    /// cannot shadow a name of the main one (dependency confusion).
    #[default]
    FirstIndex,
    /// pip's behaviour: every index's files compete.
    UnsafeBestMatch,
}

impl IndexStrategy {
    pub fn parse(text: &str) -> Option<IndexStrategy> {
        match text {
            "" | "first-index" | "first-match" => Some(IndexStrategy::FirstIndex),
            "unsafe-best-match" => Some(IndexStrategy::UnsafeBestMatch),
            _ => None,
        }
    }
}

/// Index settings from one layer (command line, a requirement file, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSettings {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    pub no_index: bool,
}

/// Where a request's packages come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sources {
    /// The main index first, then extra indexes.
    pub indexes: Vec<IndexUrl>,
    pub find_links: Vec<FindLinks>,
    pub strategy: IndexStrategy,
    /// Whether the main index was named by the user (pip-compile writes
    /// `--index-url` in the lock only then).
    pub index_is_default: bool,
    /// Credentials from every URL any layer named, by origin: a lock file
    /// names its index without them, while the environment or pip.conf
    /// holds them for the same host.
    pub credentials: BTreeMap<String, Credentials>,
    /// A CA bundle to trust besides the system's (pip's `cert`: `PIP_CERT` over pip.conf).
    pub cert: Option<PathBuf>,
}

/// The layers that decide the sources, in pip's order of precedence.
pub struct SourceLayers<'a> {
    pub invocation: &'a Invocation,
    /// The command line.
    pub cli: &'a IndexSettings,
    /// Options found in requirement files (already absolute where paths).
    pub files: &'a [IndexSettings],
    pub strategy: IndexStrategy,
    /// What the interpreter's pip uses when nothing is configured.
    pub pip_default: Option<&'a str>,
    /// The prefix of the target environment, for its `pip.conf`.
    pub site_prefix: Option<&'a Path>,
}

impl SourceLayers<'_> {
    pub fn resolve(&self) -> Result<Sources, ConfigError> {
        let invocation = self.invocation;
        let config = pip_config(invocation, self.site_prefix)?;
        let value = |key: &str| config.get(key).cloned();

        // Base: config files < environment < command line.
        let mut index_url = value("index-url");
        let mut extra: Vec<String> = value("extra-index-url").map(split_list).unwrap_or_default();
        let mut find_links: Vec<(String, PathBuf)> = value("find-links")
            .map(split_list)
            .unwrap_or_default()
            .into_iter()
            .map(|entry| (entry, invocation.cwd.clone()))
            .collect();
        let mut no_index = value("no-index").is_some_and(|text| is_true(&text));

        if let Some(url) = invocation.var("PIP_INDEX_URL") {
            index_url = Some(url.to_string());
        }
        if let Some(urls) = invocation.var("PIP_EXTRA_INDEX_URL") {
            extra = split_list(urls.to_string());
        }
        if let Some(links) = invocation.var("PIP_FIND_LINKS") {
            find_links = split_list(links.to_string())
                .into_iter()
                .map(|entry| (entry, invocation.cwd.clone()))
                .collect();
        }
        if let Some(flag) = invocation.var("PIP_NO_INDEX") {
            no_index = is_true(flag);
        }

        let cli = self.cli;
        if let Some(url) = &cli.index_url {
            index_url = Some(url.clone());
        }
        extra.extend(cli.extra_index_urls.iter().cloned());
        find_links.extend(
            cli.find_links
                .iter()
                .map(|entry| (entry.clone(), invocation.cwd.clone())),
        );
        no_index |= cli.no_index;

        // Requirement files: pip applies their options to the same finder.
        for file in self.files {
            if let Some(url) = &file.index_url {
                index_url = Some(url.clone());
            }
            extra.extend(file.extra_index_urls.iter().cloned());
            find_links.extend(
                file.find_links
                    .iter()
                    .map(|entry| (entry.clone(), invocation.cwd.clone())),
            );
            no_index |= file.no_index;
        }

        // Every URL any layer named lends its credentials to its origin.
        let mut credentials = BTreeMap::new();
        let mut named: Vec<String> = Vec::new();
        named.extend(value("index-url"));
        named.extend(value("extra-index-url").map(split_list).unwrap_or_default());
        named.extend(invocation.var("PIP_INDEX_URL").map(str::to_string));
        named.extend(
            invocation
                .var("PIP_EXTRA_INDEX_URL")
                .map(|urls| split_list(urls.to_string()))
                .unwrap_or_default(),
        );
        named.extend(cli.index_url.iter().cloned());
        named.extend(cli.extra_index_urls.iter().cloned());
        for file in self.files {
            named.extend(file.index_url.iter().cloned());
            named.extend(file.extra_index_urls.iter().cloned());
        }
        for text in named.iter().chain(find_links.iter().map(|(entry, _)| entry)) {
            if let Ok(url) = IndexUrl::parse(text)
                && let Some(found) = url.credentials()
            {
                credentials.insert(origin(url.url()), found.clone());
            }
        }

        let mut indexes = Vec::new();
        let mut index_is_default = false;
        if !no_index {
            let main = match index_url {
                Some(url) => url,
                None => {
                    index_is_default = true;
                    self.pip_default.ok_or(ConfigError::NoIndex)?.to_string()
                }
            };
            indexes.push(IndexUrl::parse(&main)?);
            for url in extra {
                let url = IndexUrl::parse(&url)?;
                if !indexes.contains(&url) {
                    indexes.push(url);
                }
            }
        }
        let mut links = Vec::new();
        for (entry, base) in find_links {
            let link = FindLinks::parse(&entry, &base)?;
            if !links.contains(&link) {
                links.push(link);
            }
        }
        let cert = invocation
            .var("PIP_CERT")
            .map(str::to_string)
            .or_else(|| value("cert"))
            .filter(|path| !path.is_empty())
            .map(|path| invocation.absolute(path));
        Ok(Sources {
            indexes,
            find_links: links,
            strategy: self.strategy,
            index_is_default,
            credentials,
            cert,
        })
    }
}

fn split_list(text: String) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn is_true(text: &str) -> bool {
    matches!(text.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// pip's configuration as pip would see it for `pip install`: files in
/// pip's order (global, user, site, `PIP_CONFIG_FILE`), `[global]` then
/// `[install]`, later values winning.
fn pip_config(invocation: &Invocation, site_prefix: Option<&Path>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let config_dirs = invocation.var("XDG_CONFIG_DIRS").unwrap_or("/etc/xdg");
    for dir in config_dirs.split(':').filter(|dir| !dir.is_empty()) {
        files.push(Path::new(dir).join("pip").join("pip.conf"));
    }
    files.push(PathBuf::from("/etc/pip.conf"));
    let env_file = invocation.var("PIP_CONFIG_FILE").map(PathBuf::from);
    // pip skips the user's files when PIP_CONFIG_FILE names an existing file.
    let skip_user = env_file.as_ref().is_some_and(|file| file.exists());
    if !skip_user && let Some(home) = invocation.user_home() {
        files.push(home.join(".pip").join("pip.conf"));
        let config_home = invocation
            .var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        files.push(config_home.join("pip").join("pip.conf"));
    }
    if let Some(prefix) = site_prefix {
        files.push(prefix.join("pip.conf"));
    }
    if let Some(file) = env_file {
        files.push(file);
    }

    let mut merged = BTreeMap::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) if error.kind() == std::io::ErrorKind::IsADirectory => continue,
            Err(error) => {
                return Err(ConfigError::PipConfig {
                    path: file.display().to_string(),
                    reason: error.to_string(),
                });
            }
        };
        let sections = parse_ini(&text);
        for section in ["global", "install"] {
            if let Some(values) = sections.get(section) {
                for (key, value) in values {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Ok(merged)
}

/// The subset of Python's configparser that pip's files use: sections,
/// `key = value` or `key: value`, `#`/`;` comments, and indented
/// continuation lines (how multi-valued options are written).
pub fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    let mut last_key: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let continuation = raw.starts_with([' ', '\t']);
        if continuation && let Some(key) = &last_key {
            if let Some(value) = sections.get_mut(&section).and_then(|values| values.get_mut(key)) {
                value.push('\n');
                value.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            section = name.trim().to_string();
            last_key = None;
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            continue;
        };
        // pip accepts `index_url` for `index-url`.
        let key = trimmed[..split].trim().to_ascii_lowercase().replace('_', "-");
        let value = trimmed[split + 1..].trim().to_string();
        sections.entry(section.clone()).or_default().insert(key.clone(), value);
        last_key = Some(key);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::with_userinfo;

    fn invocation(home: &Path, env: &[(&str, &str)]) -> Invocation {
        let mut invocation = Invocation {
            cwd: home.join("project"),
            ..Invocation::default()
        };
        invocation.env.insert("HOME".into(), home.display().to_string());
        invocation
            .env
            .insert("XDG_CONFIG_DIRS".into(), home.join("xdg").display().to_string());
        for (key, value) in env {
            invocation.env.insert(key.to_string(), value.to_string());
        }
        invocation
    }

    fn resolve(invocation: &Invocation, cli: &IndexSettings, files: &[IndexSettings]) -> Result<Sources, ConfigError> {
        SourceLayers {
            invocation,
            cli,
            files,
            strategy: IndexStrategy::FirstIndex,
            pip_default: Some("http://127.0.0.1:8002/simple/"),
            site_prefix: None,
        }
        .resolve()
    }

    fn urls(sources: &Sources) -> Vec<String> {
        sources.indexes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn credentials_are_kept_apart_and_never_shown() {
        let url = IndexUrl::parse(&with_userinfo("https://127.0.0.1/simple", "user:p%40ss")).unwrap();
        assert_eq!(url.to_string(), "https://127.0.0.1/simple/");
        assert_eq!(format!("{url:?}"), "IndexUrl(https://127.0.0.1/simple/)");
        let credentials = url.credentials().unwrap();
        assert_eq!(credentials.username, "user");
        assert_eq!(credentials.password.as_deref(), Some("p@ss"));
        assert_eq!(format!("{credentials:?}"), "Credentials(****)");
        assert_eq!(
            redact_text(&with_userinfo("https://127.0.0.1/x", "u:secret")),
            "https://127.0.0.1/x"
        );
        let error = IndexUrl::parse("ftp://u:secret@127.0.0.1/").unwrap_err().to_string();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn precedence_follows_pip() {
        let home = tempfile::tempdir().unwrap();
        let pip_dir = home.path().join(".config/pip");
        std::fs::create_dir_all(&pip_dir).unwrap();
        std::fs::write(
            pip_dir.join("pip.conf"),
            "[global]\nindex-url = http://127.0.0.1:8003/simple\nextra-index-url =\n    http://127.0.0.1:8004/simple\n    http://127.0.0.1:8005/simple\n[install]\nfind-links = /wheels\n",
        )
        .unwrap();

        let none = IndexSettings::default();
        let plain = invocation(home.path(), &[]);
        let sources = resolve(&plain, &none, &[]).unwrap();
        assert_eq!(
            urls(&sources),
            [
                "http://127.0.0.1:8003/simple/",
                "http://127.0.0.1:8004/simple/",
                "http://127.0.0.1:8005/simple/"
            ]
        );
        assert_eq!(sources.find_links, [FindLinks::Directory("/wheels".into())]);
        assert!(!sources.index_is_default);

        let with_env = invocation(
            home.path(),
            &[
                ("PIP_INDEX_URL", "http://127.0.0.1:8006/simple/"),
                ("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:8007/simple/"),
                ("PIP_FIND_LINKS", "rel-wheels"),
            ],
        );
        let sources = resolve(&with_env, &none, &[]).unwrap();
        assert_eq!(
            urls(&sources),
            ["http://127.0.0.1:8006/simple/", "http://127.0.0.1:8007/simple/"]
        );
        assert_eq!(
            sources.find_links,
            [FindLinks::Directory(home.path().join("project/rel-wheels"))]
        );

        let cli = IndexSettings {
            index_url: Some("http://127.0.0.1:8008/simple/".into()),
            extra_index_urls: vec!["http://127.0.0.1:8009/simple/".into()],
            ..IndexSettings::default()
        };
        let sources = resolve(&with_env, &cli, &[]).unwrap();
        assert_eq!(
            urls(&sources),
            [
                "http://127.0.0.1:8008/simple/",
                "http://127.0.0.1:8007/simple/",
                "http://127.0.0.1:8009/simple/"
            ]
        );

        let file = IndexSettings {
            index_url: Some("http://127.0.0.1:8010/simple/".into()),
            ..IndexSettings::default()
        };
        let sources = resolve(&with_env, &cli, &[file]).unwrap();
        assert_eq!(sources.indexes[0].to_string(), "http://127.0.0.1:8010/simple/");

        let no_index = IndexSettings {
            no_index: true,
            ..IndexSettings::default()
        };
        let sources = resolve(&with_env, &no_index, &[]).unwrap();
        assert!(sources.indexes.is_empty());
    }

    #[test]
    fn the_interpreters_default_is_the_last_resort() {
        let home = tempfile::tempdir().unwrap();
        let plain = invocation(home.path(), &[]);
        let sources = resolve(&plain, &IndexSettings::default(), &[]).unwrap();
        assert_eq!(urls(&sources), ["http://127.0.0.1:8002/simple/"]);
        assert!(sources.index_is_default);
        let error = SourceLayers {
            invocation: &plain,
            cli: &IndexSettings::default(),
            files: &[],
            strategy: IndexStrategy::FirstIndex,
            pip_default: None,
            site_prefix: None,
        }
        .resolve()
        .unwrap_err();
        assert_eq!(error, ConfigError::NoIndex);
    }

    #[test]
    fn pip_config_file_variable_replaces_user_files() {
        let home = tempfile::tempdir().unwrap();
        let pip_dir = home.path().join(".config/pip");
        std::fs::create_dir_all(&pip_dir).unwrap();
        std::fs::write(
            pip_dir.join("pip.conf"),
            "[global]\nindex-url = http://127.0.0.1:8011/simple\n",
        )
        .unwrap();
        let env_file = home.path().join("env.conf");
        std::fs::write(&env_file, "[global]\nno-index = true\nfind_links = /local\n").unwrap();
        let with_file = invocation(home.path(), &[("PIP_CONFIG_FILE", env_file.to_str().unwrap())]);
        let sources = resolve(&with_file, &IndexSettings::default(), &[]).unwrap();
        assert!(sources.indexes.is_empty());
        assert_eq!(sources.find_links, [FindLinks::Directory("/local".into())]);
    }

    #[test]
    fn the_ca_bundle_comes_from_pip_cert_over_pip_conf_relative_to_the_working_directory() {
        let home = tempfile::tempdir().unwrap();
        let conf = home.path().join("pip.conf");
        std::fs::write(&conf, "[global]\ncert = /etc/conf-bundle.pem\n").unwrap();
        let conf = conf.to_str().unwrap();
        // (No case without either: the machine's /etc/pip.conf may name one.)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[("PIP_CONFIG_FILE", conf)], Some("/etc/conf-bundle.pem")),
            (&[("PIP_CONFIG_FILE", conf), ("PIP_CERT", "/env.pem")], Some("/env.pem")),
            (&[("PIP_CERT", "certs/ca.pem")], Some("certs/ca.pem")),
        ];
        for (vars, expected) in cases {
            let invocation = invocation(home.path(), vars);
            let sources = resolve(&invocation, &IndexSettings::default(), &[]).unwrap();
            let expected = expected.map(|path| invocation.cwd.join(path));
            assert_eq!(sources.cert, expected, "{vars:?}");
        }
    }
}
