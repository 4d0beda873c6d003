//! The error of a daemon operation, and how it is classified for clients.
//!
//! Each module has its own `thiserror` enum whose messages name the thing
//! that failed; this one only gathers them. The rpc layer maps [`ErrorKind`]
//! to a gRPC status code and sends the message as is.

use crate::db::DbError;
use crate::interpreter::InterpreterError;
use crate::venv::VenvError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    InvalidInput(String),
    #[error("axled hit an internal error: {0}")]
    Internal(String),
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
    /// A bug or a broken installation.
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Interpreter(InterpreterError::NotFound { .. }) => ErrorKind::NotFound,
            Error::Interpreter(
                InterpreterError::BadRequest { .. } | InterpreterError::Unusable { .. },
            ) => ErrorKind::InvalidInput,
            Error::Interpreter(InterpreterError::Db(_)) | Error::Db(_) | Error::Internal(_) => {
                ErrorKind::Internal
            }
            Error::Venv(VenvError::Io { .. }) => ErrorKind::InvalidInput,
            Error::Venv(_) => ErrorKind::Conflict,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }
}
