//! One entry of a wheel: whether its name is safe to extract, and what can
//! be wrong with it. Shared by the archive reader, RECORD checks and the
//! `.data` scheme mapping, which depend on this module and not on each
//! other.

/// What is wrong with one archive entry. The messages complete "entry `name` ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("has a `..` component")]
    ParentComponent,
    #[error("has a `.` component")]
    CurrentComponent,
    #[error("has an empty path component")]
    EmptyComponent,
    #[error("is an absolute path")]
    Absolute,
    #[error("starts with a drive letter")]
    DrivePrefix,
    #[error("contains a backslash")]
    Backslash,
    #[error("contains a NUL or other control character")]
    ControlCharacter,
    #[error("has a name that is not valid text")]
    BadName,
    #[error("is a symbolic link")]
    Symlink,
    #[error("is not a regular file (mode {mode:o})")]
    NotRegularFile { mode: u32 },
    #[error("appears more than once in the archive")]
    Duplicate,
    #[error("is both a file and a directory")]
    FileAndDirectory,
    #[error("is encrypted")]
    Encrypted,
    #[error("has an Info-ZIP Unicode Path field, which would make its name differ from the one Python reads")]
    UnicodePath,
    #[error("declares {size} bytes, over the limit of {limit} for one file")]
    TooLarge { size: u64, limit: u64 },
    #[error("decompresses to more than its declared {declared} bytes")]
    LargerThanDeclared { declared: u64 },
    #[error("decompresses to {actual} bytes, not its declared {declared}")]
    SizeMismatch { declared: u64, actual: u64 },
    #[error("is corrupt: {0}")]
    Corrupt(String),
    #[error("is not listed in RECORD")]
    NotInRecord,
    #[error("has no hash in RECORD")]
    NoRecordHash,
    #[error("has a RECORD hash of algorithm `{0}`; only sha256, sha384 and sha512 are accepted")]
    UnsupportedHash(String),
    #[error("has a malformed RECORD hash `{0}`")]
    MalformedHash(String),
    #[error("does not match its {algorithm} hash in RECORD")]
    HashMismatch { algorithm: String },
    #[error("is {actual} bytes, but RECORD says {recorded}")]
    RecordSizeMismatch { recorded: u64, actual: u64 },
    #[error("is in `.data/{0}/`, which is not an install scheme (purelib, platlib, scripts, headers, data)")]
    UnknownScheme(String),
    #[error("is directly in the `.data` directory, not in a scheme subdirectory")]
    NotInScheme,
    #[error("is in a subdirectory of `.data/scripts/`, where only plain scripts may be")]
    ScriptInSubdirectory,
}

/// Why an archive path (without a directory's trailing `/`) cannot be extracted, if it cannot.
///
/// Only plain relative `/`-separated paths are accepted. Anything another reader could take for
/// a different path is refused, not repaired: a backslash is a separator on Windows, `C:` a
/// drive, and `.`, `..` and empty components make two spellings for one file or climb out of
/// the target.
pub fn check_entry_name(path: &str) -> Result<(), EntryProblem> {
    if path.chars().any(|c| c.is_control()) {
        return Err(EntryProblem::ControlCharacter);
    }
    if path.contains('\\') {
        return Err(EntryProblem::Backslash);
    }
    if path.starts_with('/') {
        return Err(EntryProblem::Absolute);
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(EntryProblem::DrivePrefix);
    }
    for component in path.split('/') {
        match component {
            "" => return Err(EntryProblem::EmptyComponent),
            "." => return Err(EntryProblem::CurrentComponent),
            ".." => return Err(EntryProblem::ParentComponent),
            _ => {}
        }
    }
    Ok(())
}
