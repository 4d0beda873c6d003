//! The Python packaging standards axle reads, behind one typed API.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod filename;
pub mod metadata;
pub mod pyproject;
pub mod requirement;
pub mod requirements_txt;
pub mod tags;
pub mod version;

pub use filename::{BuildTag, DistFilename, FilenameError, SourceDistExtension, SourceDistFilename, WheelFilename};
pub use metadata::{Metadata, MetadataError, MetadataWarning};
pub use pyproject::{ExtrasSelection, GroupItem, GroupName, Project, PyProject, PyProjectError};
pub use requirement::{
    ExtraName, InvalidName, MarkerEnvironment, MarkerTree, MarkerValues, MarkerValuesError, PackageName, Requirement,
    RequirementError, VerbatimUrl, VersionOrUrl, environment_part, evaluate, extra_name, lowest_python, marker_text,
    package_name, parse_requirement,
};
pub use requirements_txt::{
    BinarySet, Editable, Entry, IndexOptions, LineProblem, Location, Origin, RequirementsTxt, RequirementsTxtError,
    Unnamed, ViaKind, apply_binary_option,
};
pub use tags::{
    Arch, Implementation, Os, Platform, PlatformParseError, Tag, TagPriority, TagTarget, Tags, WheelRank,
    abi_from_soabi, usable_at_or_above,
};
pub use version::{
    Operator, Version, VersionSpecifier, VersionSpecifiers, allows_prerelease, contains_respecting_prereleases,
    requires_python_allows,
};
