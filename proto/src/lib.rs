//! axle's wire contract, shared by the daemon and every client: the gRPC API
//! generated from `axle/v1/axle.proto`, where the daemon's socket lives, which
//! environment variables travel with a request, and the build handshake that
//! makes a client restart a daemon of another build.
//!
//! This crate must stay small: the CLI links it and its start-up time counts.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod env_vars;
pub mod handshake;
pub mod location;

/// Generated from `axle/v1/axle.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("axle.v1");

    /// The API's encoded `FileDescriptorSet`, served by the daemon's server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/axle_descriptor.bin"));
}
