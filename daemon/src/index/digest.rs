//! A file's SHA-256 as an index lists it, kept as its 32 bytes: a big lock holds a hundred
//! thousand of them (and as many metadata digests), and as hex text each cost a heap
//! allocation of 64 bytes plus a 24-byte string beside it.

use std::fmt;

/// A SHA-256 digest. Written and read as lower-case hex (the form pages, locks and the store
/// use), so anything serialized holding one is unchanged by its being bytes in memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The digest `text` spells in hex (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Sha256Digest> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Sha256Digest(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Sha256Digest {
        Sha256Digest(bytes)
    }

    /// Lower-case hex, the form compared with locks' `--hash=sha256:` values.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 64];
        // The buffer is exactly twice the digest's length, so encoding cannot fail.
        if hex::encode_to_slice(self.0, &mut text).is_err() {
            return Err(fmt::Error);
        }
        formatter.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "sha256:{self}")
    }
}

impl serde::Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sha256Digest::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a SHA-256 digest in hex")))
    }
}

/// The digest `text` spells, around whitespace and in either case as indexes write them;
/// `None` for anything else (what then happens is the reader's choice).
pub fn lenient(text: &str) -> Option<Sha256Digest> {
    Sha256Digest::from_hex(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_and_write_as_lower_case_hex() {
        let lower = "a".repeat(60) + "0f9e";
        let cases = [
            (lower.clone(), Some(lower.clone())),
            (lower.to_ascii_uppercase(), Some(lower.clone())),
            (format!(" {lower} "), Some(lower.clone())),
            ("abc".to_string(), None),
            ("g".repeat(64), None),
            (lower.clone() + "00", None),
        ];
        for (text, expected) in cases {
            assert_eq!(lenient(&text).map(|digest| digest.to_string()), expected, "{text:?}");
        }
    }

    #[test]
    fn serialized_digests_are_the_hex_text() {
        let text = "0123456789abcdef".repeat(4);
        let digest = Sha256Digest::from_hex(&text).unwrap();
        assert_eq!(serde_json::to_string(&digest).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<Sha256Digest>(&format!("\"{text}\"")).unwrap(),
            digest
        );
        assert!(serde_json::from_str::<Sha256Digest>("\"zz\"").is_err());
        assert_eq!(digest.to_hex(), text);
    }
}
