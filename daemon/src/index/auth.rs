//! Credentials for indexes: kept apart from URLs, attached by origin, and
//! looked up in `.netrc` when no URL carries them.
//!
//! Invariant: [`Credentials`] never print (`Debug` hides them) and
//! [`redact_text`] removes them from any URL text bound for a message.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use url::Url;

/// User name and password for an index; never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(****)")
    }
}

impl Credentials {
    /// Takes the `user:password@` out of `url`, decoded.
    pub fn take_from(url: &mut Url) -> Option<Credentials> {
        if url.username().is_empty() {
            return None;
        }
        let credentials = Credentials {
            username: percent_decode(url.username()),
            password: url.password().map(percent_decode),
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some(credentials)
    }
}

/// The origin credentials are attached to: scheme, host and port, as
/// browsers and pip scope them (never sent to another origin, even on a
/// redirect).
pub fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// `text` with any `user:password@` removed, for messages.
pub fn redact_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => match (text.find("://"), text.find('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}{}", &text[..scheme_end + 3], &text[at + 1..])
            }
            _ => text.to_string(),
        },
    }
}

/// `%XX` escapes decoded (a `+` stays a `+`: URLs are not form data).
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parsed `.netrc` files, read again when they change.
#[derive(Default)]
pub struct NetrcFiles {
    parsed: Mutex<HashMap<PathBuf, (SystemTime, netrc::Netrc)>>,
}

impl NetrcFiles {
    /// The credentials `path` gives for `url`'s host (or its `default`).
    pub fn lookup(&self, path: &Path, url: &Url) -> Option<Credentials> {
        let modified = std::fs::metadata(path).and_then(|meta| meta.modified()).ok()?;
        let mut parsed = self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = parsed.get(path).is_none_or(|(seen, _)| *seen != modified);
        if stale {
            match netrc::Netrc::from_file(path) {
                Ok(netrc) => {
                    parsed.insert(path.to_path_buf(), (modified, netrc));
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot read .netrc");
                    return None;
                }
            }
        }
        let (_, netrc) = parsed.get(path)?;
        let host = url.host_str()?;
        let entry = netrc.hosts.get(host).or_else(|| netrc.hosts.get("default"))?;
        Some(Credentials {
            username: entry.login.clone(),
            password: Some(entry.password.clone()),
        })
    }
}

/// `url` (`scheme://host/...`) with `userinfo` (`user[:password]`) in front of its host: the
/// tests' URLs with credentials, built rather than written out so that the text of a test never
/// reads as a URL of some other host.
#[cfg(test)]
pub(crate) fn with_userinfo(url: &str, userinfo: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{userinfo}@{rest}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_of_urls_and_decoded() {
        let cases = [
            (
                with_userinfo("https://127.0.0.1/simple/", "user:p%40ss"),
                Some(("user", Some("p@ss"))),
            ),
            (
                with_userinfo("https://127.0.0.1/", "u%2Bx:a+b"),
                Some(("u+x", Some("a+b"))),
            ),
            (with_userinfo("https://127.0.0.1/", "token"), Some(("token", None))),
            ("https://127.0.0.1/".to_string(), None),
        ];
        for (text, expected) in cases {
            let mut url = Url::parse(&text).unwrap();
            let taken = Credentials::take_from(&mut url);
            let taken = taken
                .as_ref()
                .map(|found| (found.username.as_str(), found.password.as_deref()));
            assert_eq!(taken, expected, "{text}");
            assert!(url.username().is_empty() && url.password().is_none(), "{text}");
        }
    }

    #[test]
    fn origins_include_the_default_port() {
        let origin_of = |text: &str| origin(&Url::parse(text).unwrap());
        assert_eq!(origin_of("https://127.0.0.1/simple/"), "https://127.0.0.1:443");
        assert_eq!(origin_of("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
    }
}
