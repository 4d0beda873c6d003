//! The packages PubGrub reasons about.
//!
//! An extra is two packages, as uv models it. `foo[bar]` is a proxy whose
//! version `v` depends on exactly `foo==v` and `foo[bar]`'s requirements
//! at `v` — known without any metadata, so a candidate of the wrong version
//! is refused in memory. The requirements themselves (`ExtraRequirements`)
//! are read from `foo v`'s metadata only once that version is the one. Without
//! the split, a proxy walking down past a decided `foo` would fetch (or build)
//! the metadata of every older release on the way.
//!
//! A requirement with a marker (`foo; python_version < "3.12"`) is on a proxy of its own too,
//! one per marker, whose version `v` depends on exactly `foo==v`: uv's marker packages. They
//! decide nothing of their own, but they are where uv counts conflicts and how it orders
//! decisions, so axle has them to decide as uv does.

use std::fmt;
use std::sync::Arc;

use axle_standards::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PubPackage {
    /// The requirements being locked.
    Root,
    /// A package (`extra` and `marker` both `None`), or a proxy of it: for one of its extras,
    /// for a requirement's marker (as written, normalised), or both.
    Package {
        name: PackageName,
        extra: Option<ExtraName>,
        marker: Option<Arc<str>>,
    },
    /// What an extra adds to its package, at the proxy's version.
    ExtraRequirements { name: PackageName, extra: ExtraName },
}

impl PubPackage {
    pub fn base(name: PackageName) -> PubPackage {
        PubPackage::Package {
            name,
            extra: None,
            marker: None,
        }
    }

    /// The package itself, not a proxy of it (nor the root).
    pub fn is_base(&self) -> bool {
        matches!(
            self,
            PubPackage::Package {
                extra: None,
                marker: None,
                ..
            }
        )
    }

    /// The package this one is a proxy of (each version of it depending on exactly that
    /// version of the package), if it is one.
    pub fn proxied(&self) -> Option<PubPackage> {
        match self {
            PubPackage::Package { name, .. } if !self.is_base() => Some(PubPackage::base(name.clone())),
            _ => None,
        }
    }

    pub fn name(&self) -> Option<&PackageName> {
        match self {
            PubPackage::Root => None,
            PubPackage::Package { name, .. } | PubPackage::ExtraRequirements { name, .. } => Some(name),
        }
    }
}

impl fmt::Display for PubPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PubPackage::Root => f.write_str("your requirements"),
            // A marker proxy reads as its package: the marker is how uv counts, not news to a
            // reader.
            PubPackage::Package { name, extra: None, .. } => write!(f, "{name}"),
            PubPackage::Package {
                name,
                extra: Some(extra),
                ..
            }
            | PubPackage::ExtraRequirements { name, extra } => write!(f, "{name}[{extra}]"),
        }
    }
}
