//! The packages PubGrub reasons about.
//!
//! An extra is its own package (`foo[bar]`) that depends on `foo` at exactly
//! the same version plus the extra's requirements; this keeps PubGrub's
//! model (one version per package) while letting extras add dependencies.

use std::fmt;

use axle_standards::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PubPackage {
    /// The requirements being locked.
    Root,
    Package {
        name: PackageName,
        extra: Option<ExtraName>,
    },
}

impl PubPackage {
    pub fn base(name: PackageName) -> PubPackage {
        PubPackage::Package { name, extra: None }
    }

    pub fn name(&self) -> Option<&PackageName> {
        match self {
            PubPackage::Root => None,
            PubPackage::Package { name, .. } => Some(name),
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
            } => write!(f, "{name}[{extra}]"),
        }
    }
}
