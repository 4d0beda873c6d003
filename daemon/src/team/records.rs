//! Build records: which wheel a build produced, signed.
//!
//! A wheel is self-verifying (its key is its hash), so a wrong one is a miss, never an
//! install. A record is not: it says "building THIS source for THAT interpreter gives the wheel
//! with hash H", and a record from anyone who can write to the bucket could send every reader
//! a wheel of their making. So records are signed with ed25519, as Nix binary caches sign
//! their narinfo files, and a reader believes a record only when a key it trusts signed it;
//! anything else (unsigned, another key, a forged or altered record) is ignored and the
//! source is built locally.
//!
//! What is signed is the record's text form (`signed_text`): a fixed first line, the build's
//! identity, the wheel's hash and file name. Keys are written as `NAME:BASE64` — the secret key
//! file holds the 32-byte seed, the public key line the 32-byte public key — and a signature
//! names its key, so several teams' records can sit side by side under one build.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::TeamError;

const SIGNED_HEADER: &str = "axle build record 1";

/// A key's name: what a signature and a trusted-key line are known by.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The secret key a writer signs build records with.
pub struct SigningKey {
    pub name: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.name)
    }
}

impl SigningKey {
    /// Reads a secret key file (`NAME:BASE64` of the 32-byte seed).
    pub fn read(path: &Path) -> Result<SigningKey, TeamError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| TeamError::Config(format!("cannot read the signing key {}: {error}", path.display())))?;
        let bad = |why: &str| TeamError::Config(format!("the signing key {} {why}", path.display()));
        let (name, encoded) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("is not NAME:BASE64 (made by `axle store keygen`)"))?;
        if !valid_name(name) {
            return Err(bad("has no valid name (letters, digits, `-`, `_`, `.`)"));
        }
        let seed = STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("is not valid base64"))?;
        if seed.len() != 32 {
            return Err(bad("does not hold a 32-byte ed25519 seed"));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| bad("is no ed25519 key"))?;
        Ok(SigningKey {
            name: name.to_string(),
            pair,
        })
    }

    /// The public key line readers trust (`NAME:BASE64`).
    pub fn public_line(&self) -> String {
        format!("{}:{}", self.name, STANDARD.encode(self.pair.public_key().as_ref()))
    }

    fn sign(&self, text: &str) -> String {
        STANDARD.encode(self.pair.sign(text.as_bytes()).as_ref())
    }
}

/// Makes a new key named `name`: writes its secret to `secret_file` (mode 0600, never over an
/// existing file) and returns the public key line.
pub fn keygen(name: &str, secret_file: &Path) -> Result<String, TeamError> {
    if !valid_name(name) {
        return Err(TeamError::Config(format!(
            "`{name}` is no key name: use letters, digits, `-`, `_` and `.` (at most 64)"
        )));
    }
    let mut seed = [0u8; 32];
    aws_lc_rs::rand::fill(&mut seed).map_err(|_| TeamError::Config("no random bytes for a new key".to_string()))?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| TeamError::Config("could not make an ed25519 key".to_string()))?;
    let line = format!("{name}:{}\n", STANDARD.encode(seed));
    seed.fill(0);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret_file)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => TeamError::Config(format!(
                "{} exists; a secret key is never overwritten (remove it first if you mean to)",
                secret_file.display()
            )),
            _ => TeamError::Config(format!("cannot create {}: {error}", secret_file.display())),
        })?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| TeamError::Config(format!("cannot write {}: {error}", secret_file.display())))?;
    Ok(format!("{name}:{}", STANDARD.encode(pair.public_key().as_ref())))
}

/// The public keys whose records a reader believes.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<String, Vec<u8>>,
}

impl TrustedKeys {
    /// `NAME:BASE64` lines (blank ones skipped).
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<TrustedKeys, TeamError> {
        let mut keys = BTreeMap::new();
        for line in lines.into_iter().map(str::trim).filter(|line| !line.is_empty()) {
            let bad = |why: &str| TeamError::Config(format!("the trusted key `{line}` {why}"));
            let (name, encoded) = line.split_once(':').ok_or_else(|| bad("is not NAME:BASE64"))?;
            if !valid_name(name) {
                return Err(bad("has no valid name"));
            }
            let key = STANDARD.decode(encoded).map_err(|_| bad("is not valid base64"))?;
            if key.len() != 32 {
                return Err(bad("is not a 32-byte ed25519 public key"));
            }
            keys.insert(name.to_string(), key);
        }
        Ok(TrustedKeys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `signer` is trusted and signed `text` with `signature`.
    fn verifies(&self, signer: &str, text: &str, signature: &str) -> bool {
        let Some(key) = self.keys.get(signer) else {
            return false;
        };
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, key)
            .verify(text.as_bytes(), &signature)
            .is_ok()
    }
}

/// What a build produced, as stored in the team store (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// The build's identity (see `BuildIdentity::text`).
    pub identity: String,
    pub wheel_sha256: String,
    pub wheel_filename: String,
    /// The name of the key that signed it.
    pub signer: String,
    pub signature: String,
}

impl BuildRecord {
    /// A record of `identity` building `wheel_filename` (`wheel_sha256`), signed by `key`.
    pub fn signed(identity: &str, wheel_sha256: &str, wheel_filename: &str, key: &SigningKey) -> BuildRecord {
        let text = signed_text(identity, wheel_sha256, wheel_filename);
        BuildRecord {
            identity: identity.to_string(),
            wheel_sha256: wheel_sha256.to_string(),
            wheel_filename: wheel_filename.to_string(),
            signer: key.name.clone(),
            signature: key.sign(&text),
        }
    }

    /// Whether this is a record of `identity` that a trusted key signed, unaltered.
    pub fn trusted_for(&self, identity: &str, trusted: &TrustedKeys) -> bool {
        self.identity == identity
            && super::keys::is_sha256(&self.wheel_sha256)
            && trusted.verifies(
                &self.signer,
                &signed_text(&self.identity, &self.wheel_sha256, &self.wheel_filename),
                &self.signature,
            )
    }
}

fn signed_text(identity: &str, wheel_sha256: &str, wheel_filename: &str) -> String {
    format!("{SIGNED_HEADER}\n{identity}\n{wheel_sha256}\n{wheel_filename}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0f343b0931126a20f133d67c2b018a3b5b4aa3c5d4f2a5b3e1b1c0d9e8f7a6b5";

    fn key(dir: &Path, name: &str) -> (SigningKey, TrustedKeys) {
        let path = dir.join(format!("{name}.key"));
        let public = keygen(name, &path).unwrap();
        (
            SigningKey::read(&path).unwrap(),
            TrustedKeys::parse([public.as_str()]).unwrap(),
        )
    }

    #[test]
    fn keygen_writes_a_private_file_once_and_its_public_line_verifies_what_it_signs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (signing, trusted) = key(dir.path(), "ci");
        let mode = std::fs::metadata(dir.path().join("ci.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(signing.public_line().starts_with("ci:"));
        let error = keygen("ci", &dir.path().join("ci.key")).unwrap_err();
        assert!(error.to_string().contains("never overwritten"), "{error}");
        let record = BuildRecord::signed("sdist:abc|cpython-3.12", SHA, "demo-1.0-py3-none-any.whl", &signing);
        assert!(record.trusted_for("sdist:abc|cpython-3.12", &trusted));
    }

    #[test]
    fn unsigned_untrusted_altered_or_misplaced_records_are_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_trusted) = key(dir.path(), "ci");
        let (other, _) = key(dir.path(), "other");
        let identity = "sdist:abc|cpython-3.12";
        let good = BuildRecord::signed(identity, SHA, "demo-1.0-py3-none-any.whl", &ci);
        let cases: Vec<(&str, BuildRecord)> = vec![
            (
                "signed by a key nobody trusts",
                BuildRecord::signed(identity, SHA, "demo-1.0-py3-none-any.whl", &other),
            ),
            (
                "another key's signature under a trusted name",
                BuildRecord {
                    signer: "ci".to_string(),
                    ..BuildRecord::signed(identity, SHA, "demo-1.0-py3-none-any.whl", &other)
                },
            ),
            (
                "its wheel swapped",
                BuildRecord {
                    wheel_sha256: SHA.replace('0', "1"),
                    ..good.clone()
                },
            ),
            (
                "its file name swapped",
                BuildRecord {
                    wheel_filename: "evil-1.0-py3-none-any.whl".to_string(),
                    ..good.clone()
                },
            ),
            (
                "unsigned",
                BuildRecord {
                    signature: String::new(),
                    ..good.clone()
                },
            ),
        ];
        for (what, record) in cases {
            assert!(!record.trusted_for(identity, &ci_trusted), "{what}");
        }
        // A faithful record of another build is no record of this one.
        assert!(!good.trusted_for("sdist:def|cpython-3.12", &ci_trusted));
        assert!(good.trusted_for(identity, &ci_trusted));
    }

    #[test]
    fn key_lines_are_checked() {
        for bad in ["ci", "ci:not base64!", "ci:AAAA", ":AAAA", "a b:AAAA"] {
            assert!(TrustedKeys::parse([bad]).is_err(), "{bad}");
        }
        assert!(TrustedKeys::parse(["", " "]).unwrap().is_empty());
    }
}
