//! Reading project pages: PEP 691 JSON and PEP 503 HTML, with the PEP 592
//! (yanked), PEP 658/714 (core metadata), PEP 700 (upload time, size) and
//! `data-requires-python` attributes, into one list of [`DistFile`]s.

use std::borrow::Cow;
use std::sync::Arc;

use url::Url;

use super::digest::{self, Sha256Digest};
use super::location::{Location, SharedTexts};

/// A file an index offers, as the index describes it. Held for every file of every project a
/// lock reads (a hundred thousand for a big one), so kept compact: the URL as a
/// [`Location`], digests as bytes, the upload time as a timestamp, the texts a page repeats
/// shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absolute, without credentials; see [`DistFile::url`].
    location: Location,
    /// The SHA-256 the index gives, if it gives one.
    pub sha256: Option<Sha256Digest>,
    pub requires_python: Option<Arc<str>>,
    /// `Some("")` when yanked without a reason.
    pub yanked: Option<String>,
    /// The upload time (PEP 700); one an index spells wrongly is left out.
    pub upload_time: Option<jiff::Timestamp>,
    pub size: Option<u64>,
    /// Whether `<url>.metadata` exists (PEP 658), and its SHA-256 if given.
    pub core_metadata: Option<MetadataFile>,
}

impl DistFile {
    /// A file known only by where it is (a direct URL, a local file, a
    /// file a lock names): none of the facts an index page adds.
    pub fn direct(filename: String, url: String, sha256: Option<Sha256Digest>) -> DistFile {
        DistFile {
            location: Location::new(url, &filename, &mut SharedTexts::default()),
            filename,
            sha256,
            requires_python: None,
            yanked: None,
            upload_time: None,
            size: None,
            core_metadata: None,
        }
    }

    /// Where the file is: absolute, without credentials.
    pub fn url(&self) -> Cow<'_, str> {
        self.location.url(&self.filename)
    }

    /// Heap bytes this file holds beyond its struct, by estimate (shared texts not counted).
    pub fn heap_bytes(&self) -> usize {
        self.filename.len() + self.location.heap_bytes() + self.yanked.as_ref().map_or(0, String::len)
    }
}

/// A file as it is written to the cache: its URL spelled out, digests in hex.
#[derive(serde::Serialize)]
struct StoredRef<'a> {
    filename: &'a str,
    url: Cow<'a, str>,
    sha256: Option<Sha256Digest>,
    requires_python: Option<&'a str>,
    yanked: Option<&'a str>,
    upload_time: Option<jiff::Timestamp>,
    size: Option<u64>,
    core_metadata: Option<&'a MetadataFile>,
}

/// A file as it is read back from the cache.
#[derive(serde::Deserialize)]
struct Stored {
    filename: String,
    url: String,
    sha256: Option<Sha256Digest>,
    requires_python: Option<String>,
    yanked: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    upload_time: Option<jiff::Timestamp>,
    size: Option<u64>,
    core_metadata: Option<MetadataFile>,
}

impl serde::Serialize for DistFile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredRef {
            filename: &self.filename,
            url: self.url(),
            sha256: self.sha256,
            requires_python: self.requires_python.as_deref(),
            yanked: self.yanked.as_deref(),
            upload_time: self.upload_time,
            size: self.size,
            core_metadata: self.core_metadata.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for DistFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        // Texts are shared page by page afterwards (see `share_texts`).
        let mut texts = SharedTexts::default();
        Ok(DistFile {
            location: Location::new(stored.url, &stored.filename, &mut texts),
            filename: stored.filename,
            sha256: stored.sha256,
            requires_python: stored.requires_python.map(Arc::from),
            yanked: stored.yanked,
            upload_time: stored.upload_time,
            size: stored.size,
            core_metadata: stored.core_metadata,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetadataFile {
    pub sha256: Option<Sha256Digest>,
}

fn lenient_time<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<jiff::Timestamp>, D::Error> {
    let text = <Option<Cow<'de, str>> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(text.and_then(|text| text.parse().ok()))
}

/// A `Requires-Python` text worth keeping, shared.
fn requires_python(text: Option<&str>, texts: &mut SharedTexts) -> Option<Arc<str>> {
    text.filter(|text| !text.trim().is_empty())
        .map(|text| texts.share(text))
}

/// Makes the files of a page read back from the cache share the texts they repeat, as a parsed
/// page's do.
pub fn share_texts(files: &mut [Arc<DistFile>]) {
    let mut texts = SharedTexts::default();
    for file in files {
        if let Some(file) = Arc::get_mut(file) {
            file.requires_python = requires_python(file.requires_python.as_deref(), &mut texts);
            file.location.share_base(&mut texts);
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the page {url} is not a valid project page: {reason}")]
pub struct PageError {
    pub url: String,
    pub reason: String,
}

/// Parses a PEP 691 JSON project page fetched from `page_url`. Files are made as they are
/// read: a big project's page is never held as a second list of what the JSON says.
pub fn parse_json(body: &[u8], page_url: &Url) -> Result<Vec<Arc<DistFile>>, PageError> {
    parse_json_with(serde_json::Deserializer::from_slice(body), page_url)
}

/// [`parse_json`] for a page read as it arrives.
pub fn parse_json_from(body: impl std::io::Read, page_url: &Url) -> Result<Vec<Arc<DistFile>>, PageError> {
    parse_json_with(serde_json::Deserializer::from_reader(body), page_url)
}

fn parse_json_with<'de, R: serde_json::de::Read<'de>>(
    mut reader: serde_json::Deserializer<R>,
    page_url: &Url,
) -> Result<Vec<Arc<DistFile>>, PageError> {
    use serde::de::DeserializeSeed as _;
    let mut files = Vec::new();
    let page = PageSeed {
        page_url,
        files: &mut files,
    };
    page.deserialize(&mut reader)
        .and_then(|()| reader.end())
        .map_err(|error| PageError {
            url: page_url.to_string(),
            reason: error.to_string(),
        })?;
    Ok(files)
}

/// One file as PEP 691 gives it.
#[derive(serde::Deserialize)]
struct JsonFile<'a> {
    filename: String,
    #[serde(borrow)]
    url: std::borrow::Cow<'a, str>,
    #[serde(rename = "hashes", default, deserialize_with = "sha256_of")]
    sha256: Option<String>,
    #[serde(rename = "requires-python", borrow)]
    requires_python: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, deserialize_with = "yanked")]
    yanked: Option<String>,
    #[serde(rename = "upload-time", default, deserialize_with = "lenient_time")]
    upload_time: Option<jiff::Timestamp>,
    size: Option<u64>,
    #[serde(rename = "core-metadata", default, deserialize_with = "core_metadata")]
    core_metadata: Option<Option<MetadataFile>>,
    #[serde(rename = "dist-info-metadata", default, deserialize_with = "core_metadata")]
    dist_info_metadata: Option<Option<MetadataFile>>,
}

/// The page object: its `files` read one at a time into the list, the rest skipped.
struct PageSeed<'p> {
    page_url: &'p Url,
    files: &'p mut Vec<Arc<DistFile>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for PageSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PageSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a project page")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "files" && !seen {
                seen = true;
                map.next_value_seed(FilesSeed {
                    page_url: self.page_url,
                    files: &mut *self.files,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        if !seen {
            return Err(serde::de::Error::missing_field("files"));
        }
        Ok(())
    }
}

struct FilesSeed<'p> {
    page_url: &'p Url,
    files: &'p mut Vec<Arc<DistFile>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for FilesSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FilesSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of files")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut texts = SharedTexts::default();
        while let Some(file) = seq.next_element::<JsonFile<'de>>()? {
            let Some(url) = absolute(self.page_url, &file.url) else {
                continue;
            };
            let Ok(sha256) = readable(file.sha256.as_deref()) else {
                continue;
            };
            // PEP 714 renamed the key; older servers still send the old one.
            let core_metadata = file.core_metadata.or(file.dist_info_metadata).flatten();
            self.files.push(Arc::new(DistFile {
                location: Location::new(url, &file.filename, &mut texts),
                filename: file.filename,
                sha256,
                requires_python: requires_python(file.requires_python.as_deref(), &mut texts),
                yanked: file.yanked,
                upload_time: file.upload_time,
                size: file.size,
                core_metadata,
            }));
        }
        Ok(())
    }
}

/// The SHA-256 an index gives for a file, `Err` when it gives one that is no digest: such a
/// file cannot be checked, so it is left off the list (pip would refuse its download as a hash
/// mismatch) rather than offered as a file without a hash.
fn readable(sha256: Option<&str>) -> Result<Option<Sha256Digest>, ()> {
    sha256.map(|text| digest::lenient(text).ok_or(())).transpose()
}

/// The `sha256` of a file's `hashes` map, the one hash axle checks.
fn sha256_of<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a map of hashes")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut sha256 = None;
            while let Some(algorithm) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if algorithm == "sha256" {
                    sha256 = Some(map.next_value::<String>()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(sha256)
        }
    }
    deserializer.deserialize_map(Visitor)
}

/// `yanked`: `false`, `true` (yanked without a reason, `Some("")`) or the
/// reason. Read by a visitor rather than an untagged enum, which builds an
/// error for every variant it rules out: thousands of files per page.
fn yanked<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a boolean or a reason")
        }
        fn visit_bool<E: serde::de::Error>(self, yanked: bool) -> Result<Self::Value, E> {
            Ok(yanked.then(String::new))
        }
        fn visit_str<E: serde::de::Error>(self, reason: &str) -> Result<Self::Value, E> {
            Ok(Some(reason.to_string()))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// `core-metadata` (PEP 714) or `dist-info-metadata` (PEP 658): `false`,
/// `true`, or a map of hashes. `Some(None)` when the file has none.
fn core_metadata<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<MetadataFile>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<Option<MetadataFile>>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a boolean or a map of hashes")
        }
        fn visit_bool<E: serde::de::Error>(self, present: bool) -> Result<Self::Value, E> {
            Ok(Some(present.then_some(MetadataFile { sha256: None })))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut sha256 = None;
            while let Some((algorithm, digest)) = map.next_entry::<String, String>()? {
                if algorithm == "sha256" {
                    sha256 = digest::lenient(&digest);
                }
            }
            Ok(Some(Some(MetadataFile { sha256 })))
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// Parses a PEP 503 HTML page (or a find-links page) fetched from `page_url`.
pub fn parse_html(body: &str, page_url: &Url) -> Result<Vec<Arc<DistFile>>, PageError> {
    let dom = tl::parse(body, tl::ParserOptions::default()).map_err(|error| PageError {
        url: page_url.to_string(),
        reason: error.to_string(),
    })?;
    let parser = dom.parser();
    let attribute = |tag: &tl::HTMLTag, name: &str| -> Option<String> {
        tag.attributes()
            .get(name)
            .flatten()
            .map(|value| html_escape::decode_html_entities(&value.as_utf8_str()).into_owned())
    };
    // A <base href> changes what relative links mean.
    let base = dom
        .query_selector("base")
        .and_then(|mut found| found.next())
        .and_then(|handle| handle.get(parser))
        .and_then(|node| node.as_tag())
        .and_then(|tag| attribute(tag, "href"))
        .and_then(|href| page_url.join(&href).ok())
        .unwrap_or_else(|| page_url.clone());

    let mut files = Vec::new();
    let mut texts = SharedTexts::default();
    let Some(anchors) = dom.query_selector("a") else {
        return Ok(files);
    };
    for handle in anchors {
        let Some(tag) = handle.get(parser).and_then(|node| node.as_tag()) else {
            continue;
        };
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let Some(url) = absolute(&base, &href) else {
            continue;
        };
        let Ok(parsed) = Url::parse(&url) else {
            continue;
        };
        let (parsed, filename, sha256) = file_link(parsed);
        if filename.is_empty() {
            continue;
        }
        let Ok(sha256) = readable(sha256.as_deref()) else {
            continue;
        };
        let metadata = attribute(tag, "data-core-metadata").or_else(|| attribute(tag, "data-dist-info-metadata"));
        let core_metadata = match metadata.as_deref() {
            None | Some("false") => None,
            Some("true") | Some("") => Some(MetadataFile { sha256: None }),
            Some(value) => Some(MetadataFile {
                sha256: value
                    .split_once('=')
                    .filter(|(algorithm, _)| *algorithm == "sha256")
                    .and_then(|(_, hash)| digest::lenient(hash)),
            }),
        };
        files.push(Arc::new(DistFile {
            location: Location::new(parsed.to_string(), &filename, &mut texts),
            filename,
            sha256,
            requires_python: requires_python(attribute(tag, "data-requires-python").as_deref(), &mut texts),
            yanked: attribute(tag, "data-yanked"),
            upload_time: None,
            size: None,
            core_metadata,
        }));
    }
    Ok(files)
}

/// A link to a file: the URL without its fragment, the file name (decoded),
/// and the `#sha256=` the fragment gives.
pub fn file_link(mut url: Url) -> (Url, String, Option<String>) {
    let sha256 = url.fragment().and_then(|fragment| {
        let (algorithm, value) = fragment.split_once('=')?;
        (algorithm == "sha256").then(|| value.to_ascii_lowercase())
    });
    url.set_fragment(None);
    let filename = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(super::auth::percent_decode)
        .unwrap_or_default();
    (url, filename, sha256)
}

/// `href` resolved against `base`, with any credentials removed.
fn absolute(base: &Url, href: &str) -> Option<String> {
    // Big projects list thousands of files; most indexes give each as an
    // absolute URL already in the form the URL parser would produce.
    if is_canonical_absolute(href) {
        return Some(href.to_string());
    }
    let mut url = base.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return None;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(url.to_string())
}

/// Whether `href` is an `http(s)` URL that parsing would leave unchanged and
/// that carries no credentials: a lower-case host without a port, a
/// non-empty path without dot segments or empty segments, and only
/// characters that need no escaping (no `%`, so no escaped dots either).
fn is_canonical_absolute(href: &str) -> bool {
    let Some(rest) = href.strip_prefix("https://").or_else(|| href.strip_prefix("http://")) else {
        return false;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !host.contains("..")
        && host
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'));
    let chars_ok = path
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-._~/:#=+?&".contains(&byte));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    // Only the last segment may be empty (a trailing slash).
    let segments_ok =
        !path.starts_with('/') && !path.contains("//") && !path.split('/').any(|segment| matches!(segment, "." | ".."));
    host_ok && chars_ok && segments_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_absolute_urls_are_taken_as_they_are_and_others_are_parsed() {
        let base = Url::parse(&crate::index::with_userinfo(
            "https://127.0.0.1:8000/simple/pkg/",
            "user:secret",
        ))
        .expect("base");
        let with_credentials = crate::index::with_userinfo("https://127.0.0.1/pkg.whl", "u:p");
        for href in [
            "https://127.0.0.1/packages/ab/cd/pkg-1.0-py3-none-any.whl#sha256=00ff",
            "http://127.0.0.1/pkg-1.0.tar.gz",
            "HTTPS://127.0.0.1/pkg-1.0.tar.gz",
            "https://127.0.0.1:443/pkg-1.0.tar.gz",
            "https://127.0.0.1",
            "https://127.0.0.1/a/../pkg.whl",
            "https://127.0.0.1/a/./pkg.whl",
            "https://127.0.0.1//pkg.whl",
            "https://127.0.0.1/a/%2e%2e/pkg.whl",
            "https://127.0.0.1/pkg%201.whl",
            "https://127.0.0.1/pkg 1.whl",
            with_credentials.as_str(),
            "../../packages/pkg-1.0-py3-none-any.whl",
            "/packages/pkg.whl",
        ] {
            let mut parsed = base.join(href).expect(href);
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            assert_eq!(absolute(&base, href).as_deref(), Some(parsed.as_str()), "{href}");
        }
        assert!(is_canonical_absolute(
            "https://127.0.0.1/packages/ab/pkg-1.0-py3-none-any.whl"
        ));
        assert!(!is_canonical_absolute(&with_credentials));
    }

    fn page() -> Url {
        Url::parse("http://127.0.0.1:8000/simple/demo/").unwrap()
    }

    #[test]
    fn json_and_html_say_the_same_thing() {
        let json = r#"{
          "meta": {"api-version": "1.1"},
          "name": "demo",
          "files": [
            {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
             "hashes": {"sha256": "AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12"}, "requires-python": ">=3.8", "yanked": "broken",
             "core-metadata": {"sha256": "CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34CD34"}, "upload-time": "2024-01-02T03:04:05.000000Z", "size": 10},
            {"filename": "demo-1.0.tar.gz", "url": "http://127.0.0.1:8000/files/demo-1.0.tar.gz",
             "hashes": {}, "yanked": false, "dist-info-metadata": true}
          ]
        }"#;
        let sdist = crate::index::with_userinfo("http://127.0.0.1:8000/files/demo-1.0.tar.gz", "user:pw");
        let html = format!(
            r#"<!DOCTYPE html><html><body>
          <a href="../../files/demo-1.0-py3-none-any.whl#sha256=ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12" data-requires-python="&gt;=3.8" data-yanked="broken" data-core-metadata="sha256=cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34">demo-1.0-py3-none-any.whl</a>
          <a href="{sdist}" data-dist-info-metadata="true">demo-1.0.tar.gz</a>
        </body></html>"#
        );
        let from_json = parse_json(json.as_bytes(), &page()).unwrap();
        let from_html = parse_html(&html, &page()).unwrap();
        assert_eq!(from_json.len(), 2);
        for (json, html) in from_json.iter().zip(&from_html) {
            assert_eq!(json.filename, html.filename);
            assert_eq!(json.url(), html.url());
            assert_eq!(json.sha256, html.sha256);
            assert_eq!(json.requires_python, html.requires_python);
            assert_eq!(json.yanked, html.yanked);
            assert_eq!(json.core_metadata, html.core_metadata);
        }
        let wheel = &from_json[0];
        assert_eq!(wheel.url(), "http://127.0.0.1:8000/files/demo-1.0-py3-none-any.whl");
        assert_eq!(wheel.sha256.map(|sha| sha.to_hex()), Some("ab12".repeat(16)));
        assert_eq!(wheel.yanked.as_deref(), Some("broken"));
        assert_eq!(
            wheel.upload_time.map(|time| time.to_string()).as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            wheel
                .core_metadata
                .as_ref()
                .and_then(|metadata| metadata.sha256)
                .map(|sha| sha.to_hex()),
            Some("cd34".repeat(16))
        );
        // Credentials in links never survive parsing.
        assert!(!from_html[1].url().contains("pw"));
    }

    #[test]
    fn html_base_and_quoted_names() {
        let html = r##"<html><head><base href="http://127.0.0.1:9/pkgs/"></head>
            <a href="a%2Bb-1.0.tar.gz">x</a><a href="#frag-only">y</a><a>no href</a></html>"##;
        let files = parse_html(html, &page()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].url(), "http://127.0.0.1:9/pkgs/a%2Bb-1.0.tar.gz");
        assert_eq!(files[0].filename, "a+b-1.0.tar.gz");
    }

    #[test]
    fn malformed_json_is_a_clear_error() {
        let error = parse_json(b"{\"files\": 3}", &page()).unwrap_err();
        assert!(error.to_string().contains("/simple/demo/"), "{error}");
    }

    #[test]
    fn a_file_whose_hash_is_no_digest_is_left_off_and_texts_are_shared() {
        let good = "ab".repeat(32);
        let json = format!(
            r#"{{"files": [
              {{"filename": "demo-1.0-py3-none-any.whl", "url": "a.whl", "hashes": {{"sha256": "{good}"}},
                "requires-python": ">=3.9", "upload-time": "not a time"}},
              {{"filename": "demo-1.0.tar.gz", "url": "a.tar.gz", "hashes": {{"sha256": "abc"}}}},
              {{"filename": "demo-1.1-py3-none-any.whl", "url": "b.whl", "requires-python": ">=3.9"}}
            ]}}"#
        );
        let html = format!(
            r#"<a href="a.whl#sha256={good}" data-requires-python="&gt;=3.9">a</a>
               <a href="a.tar.gz#sha256=xyz">b</a>
               <a href="b.whl#md5=abc" data-requires-python="&gt;=3.9">c</a>"#
        );
        let from_json = parse_json(json.as_bytes(), &page()).unwrap();
        let from_html = parse_html(&html, &page()).unwrap();
        for files in [&from_json, &from_html] {
            let names: Vec<&str> = files.iter().map(|file| file.filename.as_str()).collect();
            assert_eq!(names.len(), 2, "{names:?}");
            assert_eq!(files[0].sha256.map(|sha| sha.to_hex()), Some(good.clone()));
            assert_eq!(files[1].sha256, None);
            let (first, second) = (files[0].requires_python.clone(), files[1].requires_python.clone());
            assert!(first.zip(second).is_some_and(|(a, b)| Arc::ptr_eq(&a, &b)));
        }
        assert_eq!(from_json[0].upload_time, None);

        // A page read back from the cache shares them too.
        let mut stored: Vec<Arc<DistFile>> = serde_json::from_slice(&serde_json::to_vec(&from_json).unwrap()).unwrap();
        assert_eq!(stored, from_json);
        share_texts(&mut stored);
        let (first, second) = (stored[0].requires_python.clone(), stored[1].requires_python.clone());
        assert!(first.zip(second).is_some_and(|(a, b)| Arc::ptr_eq(&a, &b)));
    }
}
