//! axled's library: the daemon's state and the domain logic it serves.
//!
//! Read in this order, group by group (a module imports only from its own group and the
//! groups before it; `daemon/tests/structure.rs` checks it): the groundwork (`context`, what a request
//! knows about its client; `db`, `progress`, ...), the domain (`interpreter`, `venv`,
//! `target`, `index`, `resolve`, `lockfile`, `lock`, `wheels`, `sync`, `serve`, ...,
//! and `services`, the parts they share), what gathers the domain for the engine (`error`,
//! `watch`), `engine` (state and operations), `rpc` and `http` (the wires), `server`,
//! `lifecycle` and `upkeep` (running it).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cache;
pub mod context;
#[macro_use]
pub mod crash;
pub mod db;
pub mod fingerprint;
pub mod flights;
pub mod progress;

pub mod builds;
pub mod dist;
pub mod export;
pub mod image;
pub mod index;
pub mod integrity;
pub mod interpreter;
pub mod jobs;
pub mod lock;
pub mod lockfile;
pub mod memory;
pub mod project;
pub mod push;
pub mod resolve;
pub mod serve;
pub mod services;
pub mod sync;
pub mod target;
pub mod team;
pub mod venv;
pub mod wheels;

pub mod error;
pub mod watch;

pub mod engine;
pub mod http;
pub mod rpc;

pub mod lifecycle;
pub mod server;
pub mod upkeep;
