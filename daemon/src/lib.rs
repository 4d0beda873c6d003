//! axled's library: the daemon's state and the domain logic it serves.
//!
//! Read in this order: `context` (what a request knows about its client),
//! the domain (`interpreter`, `venv`, `index`, `resolve`, `lock`, `store`,
//! `sync`), `daemon`
//! (state and operations), `rpc` (the wire), `server` and `lifecycle`
//! (running it).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod context;
pub mod db;
pub mod error;
pub mod progress;

pub mod index;
pub mod interpreter;
pub mod lock;
pub mod resolve;
pub mod store;
pub mod sync;
pub mod venv;

pub mod daemon;
pub mod rpc;

pub mod lifecycle;
pub mod server;
