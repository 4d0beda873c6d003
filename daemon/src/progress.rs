//! How long operations report progress, without knowing who listens.
//!
//! The rpc layer turns reports into streamed gRPC events; tests collect them;
//! the domain code only sees this trait.

/// Receives progress of one operation. Implementations must be cheap: they
/// are called from hot loops.
pub trait Reporter: Send + Sync {
    /// A step of `phase` about `subject`; `total` is 0 when unknown.
    fn progress(&self, phase: Phase, subject: &str, done: u64, total: u64);
    /// Something the user should read.
    fn notice(&self, level: NoticeLevel, message: &str);
}

/// The steps of long operations, as clients see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A version was chosen for a package (lock).
    Resolve,
    /// A file is in the store (sync: downloaded and unpacked, or found).
    Download,
    /// A distribution was linked into the environment (sync).
    Install,
    /// A step of a source build (subject: the source and the step).
    Build,
    /// The environment's files are being compiled to bytecode (sync).
    Compile,
    /// Files are being checked against their hashes (`store verify`).
    Verify,
    /// A base image's blobs are being read or pulled (`image`).
    Pull,
    /// An image's layer is being written (`image`).
    Layer,
    /// An image's blobs are being uploaded (`image`).
    Push,
}

impl Phase {
    /// The stable name clients see (the `phase` field of progress events).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Download => "download",
            Phase::Install => "install",
            Phase::Build => "build",
            Phase::Compile => "compile",
            Phase::Verify => "verify",
            Phase::Pull => "pull",
            Phase::Layer => "layer",
            Phase::Push => "push",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warning,
}

/// A reporter that drops everything.
pub struct Silent;

impl Reporter for Silent {
    fn progress(&self, _phase: Phase, _subject: &str, _done: u64, _total: u64) {}
    fn notice(&self, _level: NoticeLevel, _message: &str) {}
}
