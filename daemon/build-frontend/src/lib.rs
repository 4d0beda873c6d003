//! Source distributions and source trees into wheels and metadata.
//!
//! The pieces, in the order a source meets them:
//! - [`sdist`] unpacks a `.tar.gz` or `.zip` source distribution with the semantics of Python's
//!   `tarfile` "data" filter (PEP 706): nothing is written outside the target;
//! - [`tree`] reads a source tree: its build system (PEP 517/518, with setuptools' legacy
//!   fallback), its metadata when the standards let it be read without a build (PEP 643
//!   `PKG-INFO`, a static PEP 621 `[project]` table), and a fingerprint of what decides it;
//! - [`hooks`] runs PEP 517/660 hooks in a subprocess of a given interpreter, with a timeout,
//!   its output in a log file, and errors that name the hook and show the log's tail.
//!
//! Making the build environment (resolving `build-system.requires`, installing wheels) is the
//! caller's business: this crate is handed an interpreter to run hooks with.
//!
//! Everything is synchronous: no network, no database, no async runtime. Building runs
//! untrusted code; what [`hooks`] confines is listed there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod hooks;
pub mod sdist;
pub mod tree;

pub use hooks::{BuildKind, Cancel, ConfigSettings, HookError, HookRunner};
pub use sdist::{UnpackError, UnpackLimits, unpack};
pub use tree::{Backend, BuildSystem, SourceTree, TreeError};
