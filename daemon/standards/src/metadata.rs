//! Core metadata (`METADATA` in wheels, `PKG-INFO` in sdists): the fields a resolver needs.
//!
//! The format is RFC 822 headers: `Field: value` lines, field names case-insensitive, lines
//! starting with whitespace continuing the previous field, and the first empty line ending the
//! headers (what follows is the description, ignored here).
//!
//! Policy on bad values, since the file was published by someone else and cannot be fixed:
//! - `Name` and `Version` identify the distribution; without valid ones nothing else can be
//!   trusted, so they are errors (as is a missing `Metadata-Version`).
//! - A `Requires-Dist`, `Requires-Python` or `Provides-Extra` value that does not parse is
//!   skipped and recorded in [`Metadata::warnings`] instead of failing the whole file. Old
//!   releases carry entries such as `pytz>dev` that pip's own parser has since stopped accepting;
//!   refusing the file would make those releases uninstallable for no safety gain. The caller
//!   decides whether to show the warnings.

use std::fmt;
use std::str::FromStr;

use crate::requirement::{ExtraName, PackageName, Requirement, extra_name, package_name, parse_requirement};
use crate::version::{Version, VersionSpecifiers, specifiers_message};

/// Metadata that cannot describe a distribution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("core metadata has no `{0}` field")]
    Missing(&'static str),
    #[error("core metadata `Name: {value}` is not a valid package name")]
    InvalidName { value: String },
    #[error("core metadata `Version: {value}` is not a PEP 440 version: {message}")]
    InvalidVersion { value: String, message: String },
}

/// A value that was skipped under the lenient policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataWarning {
    /// The field as spelled in the file, or `None` for a line that is not a field at all.
    pub field: Option<String>,
    pub value: String,
    pub message: String,
}

impl fmt::Display for MetadataWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "skipped `{field}: {}`: {}", self.value, self.message),
            None => write!(f, "skipped `{}`: {}", self.value, self.message),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub metadata_version: String,
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    /// Normalised.
    pub provides_extra: Vec<ExtraName>,
    /// PEP 643 `Dynamic` fields, lower-cased: what a build may still change.
    pub dynamic: Vec<String>,
    pub warnings: Vec<MetadataWarning>,
}

impl Metadata {
    /// Parse raw bytes; invalid UTF-8 is replaced rather than refused (old sdists use Latin-1 in
    /// fields we do not read).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, MetadataError> {
        Self::parse(&String::from_utf8_lossy(bytes))
    }

    pub fn parse(content: &str) -> Result<Self, MetadataError> {
        let mut warnings = Vec::new();
        let fields = headers(content, &mut warnings);
        let first = |wanted: &str| {
            fields
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(_, value)| value.as_str())
        };
        let all = |wanted: &'static str| fields.iter().filter(move |(name, _)| name.eq_ignore_ascii_case(wanted));

        let metadata_version = first("Metadata-Version")
            .ok_or(MetadataError::Missing("Metadata-Version"))?
            .to_string();
        let name = first("Name").ok_or(MetadataError::Missing("Name"))?;
        let name = package_name(name).map_err(|_| MetadataError::InvalidName {
            value: name.to_string(),
        })?;
        let version = first("Version").ok_or(MetadataError::Missing("Version"))?;
        let version = Version::from_str(version).map_err(|err| MetadataError::InvalidVersion {
            value: version.to_string(),
            message: err.to_string(),
        })?;

        let mut skip = |field: &str, value: &str, message: String| {
            warnings.push(MetadataWarning {
                field: Some(field.to_string()),
                value: value.to_string(),
                message,
            });
        };
        let mut requires_dist = Vec::new();
        for (field, value) in all("Requires-Dist") {
            match parse_requirement(value) {
                Ok(requirement) => requires_dist.push(requirement),
                Err(err) => skip(field, value, err.to_string()),
            }
        }
        let mut requires_python = None;
        if let Some((field, value)) = all("Requires-Python").next() {
            match VersionSpecifiers::from_str(value) {
                Ok(specifiers) => requires_python = Some(specifiers),
                Err(err) => skip(field, value, specifiers_message(&err)),
            }
        }
        let mut provides_extra = Vec::new();
        for (field, value) in all("Provides-Extra") {
            match extra_name(value) {
                Ok(extra) if !provides_extra.contains(&extra) => provides_extra.push(extra),
                Ok(_) => {}
                Err(err) => skip(field, value, err.to_string()),
            }
        }

        let dynamic = all("Dynamic").map(|(_, value)| value.to_ascii_lowercase()).collect();

        Ok(Self {
            metadata_version,
            name,
            version,
            requires_dist,
            requires_python,
            provides_extra,
            dynamic,
            warnings,
        })
    }

    /// Whether what a resolver reads (dependencies, `Requires-Python`, extras) is final: PEP 643
    /// metadata (version 2.2 or later) that does not mark any of it `Dynamic`. An sdist's
    /// `PKG-INFO` of this kind is as good as its wheel's METADATA.
    pub fn is_static_for_resolution(&self) -> bool {
        let version: Vec<u32> = self
            .metadata_version
            .split('.')
            .map(|part| part.trim().parse().unwrap_or(0))
            .collect();
        let at_least_2_2 = version.first().copied().unwrap_or(0) > 2
            || (version.first() == Some(&2) && version.get(1).copied().unwrap_or(0) >= 2);
        at_least_2_2
            && !self
                .dynamic
                .iter()
                .any(|field| matches!(field.as_str(), "requires-dist" | "requires-python" | "provides-extra"))
    }
}

/// The header fields in order, continuation lines folded in, values trimmed.
fn headers(content: &str, warnings: &mut Vec<MetadataWarning>) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in content.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                let continued = line.trim();
                if !continued.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(continued);
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                fields.push((name.to_string(), value.trim().to_string()));
            }
            // Python's email parser takes a line that is not a field as the start of the body.
            _ => {
                warnings.push(MetadataWarning {
                    field: None,
                    value: line.to_string(),
                    message: "not a `Field: value` line; the rest is taken as the description".to_string(),
                });
                break;
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep_643_metadata_is_static_unless_marked_dynamic() {
        let cases = [
            ("Metadata-Version: 2.2\nName: a\nVersion: 1\n", true),
            ("Metadata-Version: 2.1\nName: a\nVersion: 1\n", false),
            (
                "Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: Requires-Dist\n",
                false,
            ),
            ("Metadata-Version: 2.3\nName: a\nVersion: 1\nDynamic: license\n", true),
            (
                "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Provides-Extra\n",
                false,
            ),
            ("Metadata-Version: 3.0\nName: a\nVersion: 1\n", true),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Metadata::parse(text).unwrap().is_static_for_resolution(),
                expected,
                "{text}"
            );
        }
    }
    use crate::requirement::VersionOrUrl;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/metadata/{name}.METADATA", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    /// Headers of real wheels' METADATA (URL lines removed): name, version, number of
    /// `Requires-Dist`, and a few entries, compared as parsed requirements.
    #[test]
    fn real_wheels() {
        let table: &[(&str, &str, &str, usize, &[&str])] = &[
            (
                "Django-5.1",
                "django",
                "5.1",
                5,
                &["asgiref>=3.8.1,<4", "argon2-cffi>=19.1.0 ; extra == 'argon2'"],
            ),
            (
                "SQLAlchemy-2.0.35",
                "sqlalchemy",
                "2.0.35",
                32,
                &["typing-extensions>=4.6.0"],
            ),
            (
                "celery-5.4.0",
                "celery",
                "5.4.0",
                49,
                &[
                    "billiard<5.0,>=4.2.0",
                    "brotli>=1.0.0 ; platform_python_implementation == 'CPython' and extra == 'brotli'",
                ],
            ),
            (
                "fastapi-0.115.0",
                "fastapi",
                "0.115.0",
                21,
                &["starlette<0.39.0,>=0.37.2", "httpx>=0.23.0 ; extra == 'standard'"],
            ),
            (
                "pydantic-2.9.2",
                "pydantic",
                "2.9.2",
                6,
                &[
                    "pydantic-core==2.23.4",
                    "typing-extensions>=4.12.2 ; python_full_version >= '3.13'",
                ],
            ),
            ("redis-5.0.8", "redis", "5.0.8", 7, &[]),
            (
                "requests-2.32.3",
                "requests",
                "2.32.3",
                6,
                &[
                    "charset-normalizer<4,>=2",
                    "pysocks!=1.5.7,>=1.5.6 ; extra == 'socks'",
                    "chardet<6,>=3.0.2 ; extra == 'use-chardet-on-py3'",
                ],
            ),
            ("uvicorn-0.30.6", "uvicorn", "0.30.6", 10, &["click>=7.0"]),
        ];
        for (file, name, version, requires, entries) in table {
            let metadata = Metadata::parse(&fixture(file)).unwrap();
            assert_eq!(metadata.name.as_ref(), *name, "{file}");
            assert_eq!(metadata.version.to_string(), *version, "{file}");
            assert_eq!(metadata.requires_dist.len(), *requires, "{file}");
            assert!(metadata.warnings.is_empty(), "{file}: {:?}", metadata.warnings);
            for entry in *entries {
                let expected = parse_requirement(entry).unwrap();
                assert!(
                    metadata.requires_dist.contains(&expected),
                    "{file}: no `{entry}` in {:#?}",
                    metadata
                        .requires_dist
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                );
            }
        }

        let requests = Metadata::parse(&fixture("requests-2.32.3")).unwrap();
        assert_eq!(requests.metadata_version, "2.1");
        assert_eq!(requests.requires_python.unwrap().to_string(), ">=3.8");
        assert_eq!(
            requests
                .provides_extra
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["security", "socks", "use-chardet-on-py3"]
        );
    }

    #[test]
    fn odd_but_real_headers() {
        let content = "Metadata-Version: 2.1\r\n\
            NAME: Foo_Bar\r\n\
            version: 1.0.POST1\r\n\
            Summary: A summary that\r\n\
            \x20  goes on\r\n\
            Requires-Dist: foo (>=1.0) ; extra == 'bar'   \r\n\
            requires-dist: pytz>dev\r\n\
            Requires-Dist: baz\r\n\
            \t>=2 ; python_version < \"3.12\"\r\n\
            Requires-Dist: qux @ https://${HOST}/qux.whl\r\n\
            Requires-Python: >=3.8,\r\n\
            Provides-Extra: Bar_Baz\r\n\
            Provides-Extra: bar-baz\r\n\
            Provides-Extra: -nope\r\n\
            \r\n\
            Requires-Dist: in-the-body\r\n";
        let metadata = Metadata::parse(content).unwrap();
        assert_eq!(metadata.name.as_ref(), "foo-bar");
        assert_eq!(metadata.version.to_string(), "1.0.post1");
        let printed: Vec<String> = metadata.requires_dist.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            ["foo>=1.0 ; extra == 'bar'", "baz>=2 ; python_full_version < '3.12'"]
        );
        assert!(matches!(
            &metadata.requires_dist[0].version_or_url,
            Some(VersionOrUrl::VersionSpecifier(_))
        ));
        assert_eq!(metadata.requires_python, None);
        assert_eq!(
            metadata
                .provides_extra
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["bar-baz"]
        );
        let skipped: Vec<String> = metadata.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(skipped.len(), 4, "{skipped:#?}");
        assert!(skipped[0].starts_with("skipped `requires-dist: pytz>dev`: invalid requirement `pytz>dev`: "));
        assert!(skipped[1].starts_with("skipped `Requires-Dist: qux @ https://${HOST}/qux.whl`: "));
        assert!(skipped[2].starts_with("skipped `Requires-Python: >=3.8,`: "));
        assert!(skipped[3].starts_with("skipped `Provides-Extra: -nope`: "));
    }

    #[test]
    fn identity_fields_are_required() {
        for (content, expected) in [
            ("Name: foo\nVersion: 1.0\n", MetadataError::Missing("Metadata-Version")),
            ("Metadata-Version: 2.1\nVersion: 1.0\n", MetadataError::Missing("Name")),
            ("Metadata-Version: 2.1\nName: foo\n", MetadataError::Missing("Version")),
            (
                "Metadata-Version: 2.1\nName: foo\n\nVersion: 1.0\n",
                MetadataError::Missing("Version"),
            ),
            (
                "Metadata-Version: 2.1\nName: -foo\nVersion: 1.0\n",
                MetadataError::InvalidName {
                    value: "-foo".to_string(),
                },
            ),
        ] {
            assert_eq!(Metadata::parse(content).unwrap_err(), expected, "{content:?}");
        }
        let err = Metadata::parse("Metadata-Version: 2.1\nName: foo\nVersion: one\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("core metadata `Version: one` is not a PEP 440 version: "),
            "{err}"
        );
    }

    #[test]
    fn a_line_that_is_not_a_field_ends_the_headers() {
        let metadata =
            Metadata::parse_bytes(b"Metadata-Version: 1.0\nName: foo\nVersion: 1\nthis is prose\nRequires-Dist: bar\n")
                .unwrap();
        assert!(metadata.requires_dist.is_empty());
        assert_eq!(metadata.warnings.len(), 1);
        assert_eq!(metadata.warnings[0].field, None);
    }
}
