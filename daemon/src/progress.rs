//! How long operations report progress, without knowing who listens.
//!
//! The rpc layer turns reports into streamed gRPC events; tests collect them;
//! the domain code only sees this trait.

/// Receives progress of one operation. Implementations must be cheap: they
/// are called from hot loops.
pub trait Reporter: Send + Sync {
    /// A step of `phase` ("download", "resolve", ...) about `subject`;
    /// `total` is 0 when unknown.
    fn progress(&self, phase: &str, subject: &str, done: u64, total: u64);
    /// Something the user should read.
    fn notice(&self, level: NoticeLevel, message: &str);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warning,
}

/// A reporter that drops everything.
pub struct Silent;

impl Reporter for Silent {
    fn progress(&self, _phase: &str, _subject: &str, _done: u64, _total: u64) {}
    fn notice(&self, _level: NoticeLevel, _message: &str) {}
}
