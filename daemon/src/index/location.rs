//! Where an index's file is, kept compactly. Most of a big lock's memory is its index pages'
//! file lists, and most of a file's bytes are its URL: hosts that address files by content
//! spell each as a base, a 256-bit digest in hex split `aa/bb/<60 digits>`, and the file's
//! own name, which the file already carries. Such a URL is kept as the shared base and the
//! digest's 32 bytes (about 50 bytes instead of some 200); any other URL as it is given.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// `{base}{aa}/{bb}/{60 more digits}/{filename}`.
    ContentPath { base: Arc<str>, digest: [u8; 32] },
    /// Any other URL, as given.
    Plain(Box<str>),
}

impl Location {
    /// `url`, the location of the file named `filename`, kept compact if it has the content
    /// path's shape. Only a URL it rebuilds exactly is made compact.
    pub fn new(url: String, filename: &str, texts: &mut SharedTexts) -> Location {
        match content_path(&url, filename) {
            Some((base, digest)) => Location::ContentPath {
                base: texts.share(base),
                digest,
            },
            None => Location::Plain(url.into_boxed_str()),
        }
    }

    /// The URL of the file named `filename` (the name it was made with).
    pub fn url(&self, filename: &str) -> Cow<'_, str> {
        match self {
            Location::Plain(url) => Cow::Borrowed(url),
            Location::ContentPath { base, digest } => {
                let mut url = String::with_capacity(base.len() + 67 + filename.len());
                url.push_str(base);
                for (index, byte) in digest.iter().enumerate() {
                    if index == 1 || index == 2 {
                        url.push('/');
                    }
                    let _ = write!(url, "{byte:02x}");
                }
                url.push('/');
                url.push_str(filename);
                Cow::Owned(url)
            }
        }
    }

    /// Heap bytes held by this location alone (a shared base is counted once elsewhere).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Location::Plain(url) => url.len(),
            Location::ContentPath { .. } => 0,
        }
    }

    /// Shares this location's base with equal ones `texts` has seen.
    pub fn share_base(&mut self, texts: &mut SharedTexts) {
        if let Location::ContentPath { base, .. } = self {
            *base = texts.share(base);
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Plain(url) => write!(formatter, "{url:?}"),
            Location::ContentPath { base, digest } => write!(formatter, "{base:?}+{}", hex::encode(digest)),
        }
    }
}

/// One shared copy of each text a page repeats (its URLs' bases, its `Requires-Python` values).
#[derive(Default)]
pub struct SharedTexts(HashSet<Arc<str>>);

impl SharedTexts {
    pub fn share(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(shared.clone());
        shared
    }
}

/// The base and digest of `url` if it is `{base}{aa}/{bb}/{60 digits}/{filename}` in
/// lower-case hex, the base ending in `/`.
fn content_path<'u>(url: &'u str, filename: &str) -> Option<(&'u str, [u8; 32])> {
    let rest = url.strip_suffix(filename)?.strip_suffix('/')?;
    // `aa/bb/` and 60 digits: 66 bytes before the file name's slash.
    let start = rest.len().checked_sub(66)?;
    let (base, path) = (rest.get(..start)?, rest.get(start..)?);
    if !base.ends_with('/') || !base.contains("://") {
        return None;
    }
    let bytes = path.as_bytes();
    if bytes[2] != b'/' || bytes[5] != b'/' {
        return None;
    }
    let digits: String = [&path[..2], &path[3..5], &path[6..]].concat();
    if !digits.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&digits, &mut digest).ok()?;
    Some((base, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_paths_are_kept_compact_and_everything_else_as_given() {
        let digits = "0123456789abcdef".repeat(4);
        let (a, b, rest) = (&digits[..2], &digits[2..4], &digits[4..]);
        let name = "demo-1.0-py3-none-any.whl";
        let hashed = format!("https://127.0.0.1/packages/{a}/{b}/{rest}/{name}");
        let cases = [
            (hashed.clone(), name, true),
            // Anything it could not rebuild byte for byte stays as given.
            (
                format!("https://127.0.0.1/packages/{a}/{b}/{}/{name}", rest.to_uppercase()),
                name,
                false,
            ),
            (
                format!("https://127.0.0.1/packages/{a}/{b}/{rest}/other.whl"),
                name,
                false,
            ),
            (format!("https://127.0.0.1/packages/{a}{b}/{rest}/{name}"), name, false),
            (
                format!("https://127.0.0.1/packages/{a}/{b}/{}/{name}", &rest[1..]),
                name,
                false,
            ),
            (
                format!("https://127.0.0.1/packages/{a}/{b}/{}g/{name}", &rest[1..]),
                name,
                false,
            ),
            (format!("{a}/{b}/{rest}/{name}"), name, false),
            (
                "http://127.0.0.1/files/demo-1.0.tar.gz".to_string(),
                "demo-1.0.tar.gz",
                false,
            ),
            ("file:///tmp/demo-1.0.tar.gz".to_string(), "demo-1.0.tar.gz", false),
        ];
        let mut texts = SharedTexts::default();
        for (url, filename, compact) in cases {
            let location = Location::new(url.clone(), filename, &mut texts);
            assert_eq!(matches!(location, Location::ContentPath { .. }), compact, "{url}");
            assert_eq!(location.url(filename), url);
        }
        let first = Location::new(hashed.clone(), name, &mut texts);
        let second = Location::new(hashed, name, &mut texts);
        match (first, second) {
            (Location::ContentPath { base: x, .. }, Location::ContentPath { base: y, .. }) => {
                assert!(Arc::ptr_eq(&x, &y));
            }
            other => panic!("{other:?}"),
        }
    }
}
