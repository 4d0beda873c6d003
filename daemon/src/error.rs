//! The error of a daemon operation, and how it is classified for clients.
//!
//! Each module has its own `thiserror` enum whose messages name the thing
//! that failed; this one only gathers them. The rpc layer maps [`ErrorKind`]
//! to a gRPC status code and sends the message as is.

use crate::db::DbError;
use crate::dist::BuildError;
use crate::index::IndexError;
use crate::interpreter::InterpreterError;
use crate::lock::LockError;
use crate::lockfile::LockfileError;
use crate::resolve::ResolveError;
use crate::sync::SyncError;
use crate::venv::VenvError;
use crate::wheels::WheelStoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Lock(Box<LockError>),
    #[error(transparent)]
    Sync(Box<SyncError>),
    #[error(transparent)]
    Store(#[from] WheelStoreError),
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error(transparent)]
    Image(Box<crate::image::ImageError>),
    /// The error of a job that several callers attached to.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
    #[error("{0}")]
    InvalidInput(String),
    #[error("axled hit an internal error: {0}")]
    Internal(String),
}

impl From<LockError> for Error {
    fn from(error: LockError) -> Error {
        Error::Lock(Box::new(error))
    }
}

impl From<crate::image::ImageError> for Error {
    fn from(error: crate::image::ImageError) -> Error {
        match error {
            crate::image::ImageError::Sync(error) => Error::Sync(Box::new(error)),
            other => Error::Image(Box::new(other)),
        }
    }
}

impl From<SyncError> for Error {
    fn from(error: SyncError) -> Error {
        Error::Sync(Box::new(error))
    }
}

/// What kind of failure, for clients that react to it (exit codes, gRPC codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request or its files are wrong; retrying will not help.
    InvalidInput,
    /// Something the request names does not exist.
    NotFound,
    /// The request conflicts with what is on disk.
    Conflict,
    /// A network or index problem; retrying may help.
    Unavailable,
    /// The requirements cannot all be satisfied together.
    Unsatisfiable,
    /// Something axle does not support (yet), such as a source build.
    Unsupported,
    /// Downloaded bytes do not match their expected hash.
    Integrity,
    /// A source build failed (the backend's output says why).
    BuildFailed,
    /// A bug or a broken installation.
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Interpreter(InterpreterError::NotFound { .. }) => ErrorKind::NotFound,
            Error::Interpreter(InterpreterError::BadRequest { .. } | InterpreterError::Unusable { .. }) => {
                ErrorKind::InvalidInput
            }
            Error::Interpreter(InterpreterError::Db(_)) | Error::Db(_) | Error::Internal(_) => ErrorKind::Internal,
            Error::Venv(VenvError::Io { .. }) => ErrorKind::InvalidInput,
            Error::Venv(_) => ErrorKind::Conflict,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Lock(error) => lock_kind(error),
            Error::Sync(error) => sync_kind(error),
            Error::Store(_) => ErrorKind::Internal,
            Error::Project(error) => project_kind(error),
            Error::Image(error) => image_kind(error),
            Error::Shared(error) => error.kind(),
        }
    }
}

fn image_kind(error: &crate::image::ImageError) -> ErrorKind {
    use crate::image::ImageError;
    match error {
        ImageError::Usage(_) | ImageError::Target(_) | ImageError::Io { .. } => ErrorKind::InvalidInput,
        ImageError::Invalid(_) => ErrorKind::Integrity,
        ImageError::Unsupported(_) => ErrorKind::Unsupported,
        ImageError::Registry(_) => ErrorKind::Unavailable,
        ImageError::Sync(error) => sync_kind(error),
    }
}

fn project_kind(error: &crate::project::ProjectError) -> ErrorKind {
    use crate::project::ProjectError;
    match error {
        ProjectError::Missing(_) | ProjectError::NoProject(_) => ErrorKind::NotFound,
        ProjectError::NotADirectory(_) | ProjectError::Unreadable { .. } => ErrorKind::InvalidInput,
        ProjectError::Db(_) | ProjectError::Task(_) => ErrorKind::Internal,
    }
}

fn lock_kind(error: &LockError) -> ErrorKind {
    match error {
        LockError::Requirements(_) | LockError::PyProject(_) | LockError::Usage(_) | LockError::Target(_) => {
            ErrorKind::InvalidInput
        }
        LockError::Config(_) | LockError::Team(_) => ErrorKind::InvalidInput,
        LockError::Unsupported(_) => ErrorKind::Unsupported,
        LockError::Interpreter(InterpreterError::NotFound { .. }) => ErrorKind::NotFound,
        LockError::Interpreter(_) => ErrorKind::InvalidInput,
        LockError::Resolve(ResolveError::NoSolution(_)) => ErrorKind::Unsatisfiable,
        LockError::Resolve(ResolveError::Invalid(_)) => ErrorKind::InvalidInput,
        LockError::Resolve(ResolveError::Fork) => ErrorKind::Internal,
        LockError::Resolve(ResolveError::Index(error)) | LockError::Index(error) => index_kind(error),
        LockError::Resolve(ResolveError::Build(error)) | LockError::Build(error) => build_kind(error),
        LockError::Write { .. } => ErrorKind::InvalidInput,
        LockError::Memo(_) => ErrorKind::Internal,
    }
}

fn sync_kind(error: &SyncError) -> ErrorKind {
    match error {
        SyncError::NotAVenv(_) => ErrorKind::NotFound,
        SyncError::Usage(_) | SyncError::Config(_) | SyncError::Team(_) => ErrorKind::InvalidInput,
        SyncError::Lockfile(error) => lockfile_kind(error),
        SyncError::Unsupported(_) | SyncError::NoWheel { .. } => ErrorKind::Unsupported,
        SyncError::Index(error) => index_kind(error),
        SyncError::Install { source, .. } if matches!(**source, axle_install::InstallError::Store(_)) => {
            ErrorKind::Integrity
        }
        SyncError::Store(WheelStoreError::Store(_)) => ErrorKind::Integrity,
        SyncError::Interpreter { .. } | SyncError::Discovery(_) => ErrorKind::InvalidInput,
        SyncError::Io { .. } | SyncError::Install { .. } | SyncError::Uninstall { .. } | SyncError::Site(_) => {
            ErrorKind::InvalidInput
        }
        SyncError::Store(_) | SyncError::Task(_) | SyncError::Db(_) => ErrorKind::Internal,
        SyncError::Build(error) => build_kind(error),
    }
}

fn lockfile_kind(error: &LockfileError) -> ErrorKind {
    match error {
        LockfileError::Conflict { .. } => ErrorKind::Unsatisfiable,
        LockfileError::Unsupported(_) => ErrorKind::Unsupported,
        LockfileError::NotALock(_)
        | LockfileError::NotPinned { .. }
        | LockfileError::Invalid { .. }
        | LockfileError::Requirements(_)
        | LockfileError::Pylock(_)
        | LockfileError::Io { .. }
        | LockfileError::Target(_) => ErrorKind::InvalidInput,
    }
}

fn build_kind(error: &BuildError) -> ErrorKind {
    match error {
        BuildError::Refused { .. } => ErrorKind::Unsupported,
        BuildError::Failed { .. } | BuildError::Hook { .. } | BuildError::Environment { .. } => ErrorKind::BuildFailed,
        BuildError::Index(error) => index_kind(error),
        BuildError::Source(_) | BuildError::Cycle { .. } => ErrorKind::InvalidInput,
    }
}

pub fn index_kind(error: &IndexError) -> ErrorKind {
    match error {
        IndexError::NeedsBuild { .. } => ErrorKind::Unsupported,
        IndexError::HashMismatch { .. } => ErrorKind::Integrity,
        IndexError::Config(_) => ErrorKind::InvalidInput,
        IndexError::Db(_) | IndexError::Task(_) => ErrorKind::Internal,
        _ => ErrorKind::Unavailable,
    }
}

impl ErrorKind {
    /// The stable name clients see (`--json`, the `axle-error-kind` header).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unsatisfiable => "unsatisfiable",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Integrity => "integrity",
            ErrorKind::BuildFailed => "build-failed",
            ErrorKind::Internal => "internal",
        }
    }
}
