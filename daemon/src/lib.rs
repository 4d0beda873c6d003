//! axled's library: the daemon's state and the domain logic it serves.
//!
//! Read in this order: `context` (what a request knows about its client),
//! the domain (`interpreter`, `venv`, `target`, `index`, `resolve`,
//! `lockfile`, `lock`, `wheels`, `sync`, `serve`), `engine` (state and
//! operations), `rpc` and `http` (the wires), `server` and `lifecycle`
//! (running it).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cache;
pub mod context;
#[macro_use]
pub mod crash;
pub mod db;
pub mod error;
pub mod fingerprint;
pub mod flights;
pub mod progress;

pub mod build;
pub mod dist;
pub mod export;
pub mod index;
pub mod integrity;
pub mod interpreter;
pub mod jobs;
pub mod lock;
pub mod lockfile;
pub mod memory;
pub mod project;
pub mod resolve;
pub mod serve;
pub mod sync;
pub mod target;
pub mod upkeep;
pub mod venv;
pub mod watch;
pub mod wheels;

pub mod engine;
pub mod http;
pub mod rpc;

pub mod lifecycle;
pub mod server;
