//! Wheels into environments: safe unpacking into a content-addressed store,
//! and linking, scripts and RECORD into virtual environments.
#![cfg_attr(test, allow(clippy::unwrap_used))]
