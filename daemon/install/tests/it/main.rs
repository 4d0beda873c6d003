//! Integration tests of axle-install: real wheels (built by `axle_e2e::wheel`) unpacked into a
//! store and installed into environments, hostile archives refused, and — where a `python3` is
//! available — the installed environments actually run.
#![allow(clippy::unwrap_used)]

mod common;
mod hostile;
mod install;
mod python;
mod store;
mod uninstall;
