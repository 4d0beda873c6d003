//! The packages PubGrub reasons about.
//!
//! An extra is two packages, as uv models it. `foo[bar]` is a proxy whose
//! version `v` depends on exactly `foo==v` and `foo[bar]`'s requirements
//! at `v` — known without any metadata, so a candidate of the wrong version
//! is refused in memory. The requirements themselves (`ExtraRequirements`)
//! are read from `foo v`'s metadata only once that version is the one. Without
//! the split, a proxy walking down past a decided `foo` would fetch (or build)
//! the metadata of every older release on the way.

use std::fmt;

use axle_standards::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PubPackage {
    /// The requirements being locked.
    Root,
    /// A package (`extra: None`), or the proxy of one of its extras.
    Package {
        name: PackageName,
        extra: Option<ExtraName>,
    },
    /// What an extra adds to its package, at the proxy's version.
    ExtraRequirements { name: PackageName, extra: ExtraName },
}

impl PubPackage {
    pub fn base(name: PackageName) -> PubPackage {
        PubPackage::Package { name, extra: None }
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
            PubPackage::Package { name, extra: None } => write!(f, "{name}"),
            PubPackage::Package {
                name,
                extra: Some(extra),
            }
            | PubPackage::ExtraRequirements { name, extra } => write!(f, "{name}[{extra}]"),
        }
    }
}
