//! The Python packaging standards axle reads, behind one typed API.
#![cfg_attr(test, allow(clippy::unwrap_used))]
