//! End-to-end tests: one binary, one module per area.
#![allow(clippy::unwrap_used)]

mod build;
mod daemon;
mod editor;
mod errors;
mod image;
mod lock;
mod real_index;
mod resolve;
mod serve;
mod store;
mod sync;
mod team;
mod universal;
mod venv;
