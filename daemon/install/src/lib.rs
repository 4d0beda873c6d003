//! Wheels into environments: safe unpacking into a content-addressed store,
//! and linking, scripts and RECORD into virtual environments.
//!
//! The pieces, in the order a wheel meets them:
//! - [`archive`] opens a downloaded wheel the way Python's `zipfile` would, or refuses it;
//! - [`objects`] unpacks it into content-addressed objects, verifying every file against RECORD,
//!   and keeps a [`Manifest`] per wheel ([`ObjectStore`]);
//! - [`install`] links a manifest's objects into an environment's [`Layout`], writing scripts,
//!   launchers, `INSTALLER`, `REQUESTED`, `direct_url.json` and RECORD;
//! - [`uninstall`] removes what a RECORD lists, and nothing outside the environment;
//! - [`site`] lists what a `site-packages` holds.
//!
//! Everything is synchronous filesystem work: no network, no database, no async runtime.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod archive;
mod durable;
pub mod entry;
pub mod entry_points;
pub mod install;
pub mod layout;
mod link;
pub mod objects;
mod paths;
pub mod record;
pub mod site;
pub mod uninstall;
pub mod verify;
pub mod wheel;

pub use archive::{ArchiveError, Entry, Limits, WheelArchive, WheelProblem, WheelSource};
pub use entry::{EntryProblem, check_entry_name};
pub use entry_points::{EntryPoint, EntryPointError, EntryPoints};
pub use install::{
    InstallError, InstallOptions, InstalledDist, PlacedContent, PlacedFile, cleanup_partial, install, placed_files,
};
pub use layout::Layout;
pub use link::{LinkFallback, LinkMode};
pub use objects::{GcReport, Manifest, ManifestFile, ObjectStore, ObjectStoreError, Objects, StoredObject};
pub use record::{Record, RecordEntry, RecordError};
pub use site::{BrokenDistribution, InstalledDistribution, InstalledKind, SiteError, SitePackages, installed};
pub use uninstall::{Removed, SkipReason, Skipped, UninstallError, uninstall};
pub use wheel::{Scheme, WheelInfo};
