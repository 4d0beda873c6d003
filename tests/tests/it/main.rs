//! End-to-end tests: one binary, one module per area.
#![allow(clippy::unwrap_used)]

mod build;
mod daemon;
mod editor;
mod errors;
mod lock;
mod real_index;
mod resolve;
mod serve;
mod store;
mod sync;
mod universal;
mod venv;
