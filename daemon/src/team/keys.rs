//! The team store's layout in its bucket, under the configured prefix:
//!
//! ```text
//! wheels/<name>/<version>/<sha256>/<file name>   a wheel file, named by its hash
//! builds/<identity sha256>/<signer>.json         a signed build record (`records`)
//! ```
//!
//! `<name>` is the normalized project name and `<version>` the normalized version, so that a
//! hashed lock finds a pin's wheels with one listing and no index; the wheel's bytes must hash
//! to `<sha256>` before anything reads them (`super::bucket::Bucket::fetch_verified`). Keys
//! are never made from text that could climb out of a prefix: names, versions and file names
//! are checked first.

use axle_standards::{PackageName, Version, WheelFilename};
use sha2::{Digest, Sha256};

/// Whether `text` is a lower-case hexadecimal SHA-256 digest.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// A text safe as one key segment.
fn plain_segment(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '!'))
}

/// Where the wheels of `name` at `version` are listed.
pub fn wheels_of(name: &PackageName, version: &Version) -> Option<String> {
    let (name, version) = (name.to_string(), version.to_string());
    (plain_segment(&name) && plain_segment(&version)).then(|| format!("wheels/{name}/{version}/"))
}

/// The key of the wheel `filename` whose bytes hash to `sha256`.
pub fn wheel(filename: &str, sha256: &str) -> Option<String> {
    let parsed: WheelFilename = filename.parse().ok()?;
    if !is_sha256(sha256) || !plain_segment(filename) {
        return None;
    }
    Some(format!(
        "{}{sha256}/{filename}",
        wheels_of(&parsed.name, &parsed.version)?
    ))
}

/// A listed wheel key back into its hash and file name, when it is one of `wheels_of`'s.
pub fn parse_wheel(key: &str, listed_under: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(listed_under)?;
    let (sha256, filename) = rest.split_once('/')?;
    (is_sha256(sha256) && wheel(filename, sha256).as_deref() == Some(key))
        .then(|| (sha256.to_string(), filename.to_string()))
}

/// Where the records of the build `identity` are listed.
pub fn records_of(identity: &str) -> String {
    format!("builds/{}/", hex::encode(Sha256::digest(identity.as_bytes())))
}

/// The key of `signer`'s record of the build `identity`.
pub fn record(identity: &str, signer: &str) -> String {
    format!("{}{signer}.json", records_of(identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0f343b0931126a20f133d67c2b018a3b5b4aa3c5d4f2a5b3e1b1c0d9e8f7a6b5";

    #[test]
    fn wheel_keys_are_listed_by_normalized_name_and_version_and_read_back() {
        let key = wheel("Demo_Pkg-1.0.0-py3-none-any.whl", SHA).unwrap();
        assert_eq!(
            key,
            format!("wheels/demo-pkg/1.0.0/{SHA}/Demo_Pkg-1.0.0-py3-none-any.whl")
        );
        let listed = wheels_of(&"demo-pkg".parse().unwrap(), &"1.0.0".parse().unwrap()).unwrap();
        assert_eq!(
            parse_wheel(&key, &listed),
            Some((SHA.to_string(), "Demo_Pkg-1.0.0-py3-none-any.whl".to_string()))
        );
    }

    #[test]
    fn nothing_that_could_leave_its_place_becomes_a_key() {
        assert_eq!(wheel("demo-1.0-py3-none-any.whl", "ABC"), None);
        assert_eq!(wheel("demo-1.0.tar.gz", SHA), None);
        assert_eq!(wheel("../demo-1.0-py3-none-any.whl", SHA), None);
        let listed = "wheels/demo/1.0/";
        for key in [
            format!("wheels/demo/1.0/{SHA}/other-1.0-py3-none-any.whl"),
            format!("wheels/demo/1.0/{SHA}/demo-1.0-py3-none-any.whl/x"),
            "wheels/demo/1.0/notahash/demo-1.0-py3-none-any.whl".to_string(),
        ] {
            assert_eq!(parse_wheel(&key, listed), None, "{key}");
        }
    }
}
