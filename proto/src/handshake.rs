//! The build handshake.
//!
//! Every request carries, in gRPC metadata, the build id of the daemon
//! executable the client would start. A daemon whose own build id differs
//! answers `FAILED_PRECONDITION` with [`MISMATCH_MARKER`] before decoding the
//! request, so a client never misreads a reply from another build: it stops
//! that daemon and starts its own. `Status` and `Shutdown` are exempt so any
//! client can inspect and stop any daemon.
//!
//! A build id is derived from the executable file itself (path, inode, size,
//! modification time): rebuilding or reinstalling `axled` changes it, and
//! computing it costs one `stat`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Metadata key holding the client's expected build id.
pub const BUILD_ID_HEADER: &str = "axle-build-id";

/// Metadata key of an error status naming the kind of failure
/// (`invalid-input`, `unsatisfiable`, `unavailable`, ...), stable for
/// clients that react to it.
pub const ERROR_KIND_HEADER: &str = "axle-error-kind";

/// Text included in the status message of a build mismatch.
pub const MISMATCH_MARKER: &str = "axle-build-mismatch";

/// Build id of the executable at `path`.
pub fn build_id_of(path: &Path) -> io::Result<String> {
    let canonical = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&canonical)?;
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(canonical.as_os_str().as_encoded_bytes());
    for number in [
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
    ] {
        hasher.update(number.to_le_bytes());
    }
    Ok(hex::encode(&hasher.finalize()[..12]))
}
