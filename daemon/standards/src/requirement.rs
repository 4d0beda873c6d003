//! PEP 508 requirements, names and environment markers, and the environment they are evaluated in.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use pep508_rs::{
    ExtraName, InvalidNameError, MarkerEnvironment, MarkerEnvironmentBuilder, MarkerExpression, MarkerTree,
    PackageName, Pep508Error, Pep508ErrorSource, RequirementOrigin, StringVersion, VerbatimUrl, VersionOrUrl,
};

/// A dependency specifier; URLs keep the text they were written as.
pub type Requirement = pep508_rs::Requirement<VerbatimUrl>;

/// A string that is not a valid package, extra or group name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a valid name: names start and end with a letter or digit and contain only letters, digits, `-`, `_` and `.`"
)]
pub struct InvalidName(pub String);

/// Parse and normalise a package name.
///
/// Prefer this to `PackageName::from_str`, which accepts the empty string.
pub fn package_name(s: &str) -> Result<PackageName, InvalidName> {
    if s.is_empty() {
        return Err(InvalidName(String::new()));
    }
    PackageName::from_str(s).map_err(|_| InvalidName(s.to_string()))
}

/// Parse and normalise an extra name; like [`package_name`], refuses the empty string.
pub fn extra_name(s: &str) -> Result<ExtraName, InvalidName> {
    if s.is_empty() {
        return Err(InvalidName(String::new()));
    }
    ExtraName::from_str(s).map_err(|_| InvalidName(s.to_string()))
}

/// Why a requirement string was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequirementError {
    #[error("invalid requirement `{input}`: {message}")]
    Invalid { input: String, message: String },
    #[error(
        "invalid requirement `{input}`: `${{{variable}}}` is an environment variable, which only requirement files expand"
    )]
    Variable { input: String, variable: String },
}

/// Parse a PEP 508 requirement.
///
/// pep508_rs expands `${VAR}` in URLs from the process environment; a dependency declared in
/// metadata or pyproject.toml must not change meaning with the shell it is read in, so such
/// strings are refused here rather than silently expanded.
pub fn parse_requirement(input: &str) -> Result<Requirement, RequirementError> {
    if let Some(variable) = first_variable(input) {
        return Err(RequirementError::Variable {
            input: input.to_string(),
            variable: variable.to_string(),
        });
    }
    if let Some(message) = bad_name_end(input) {
        return Err(RequirementError::Invalid {
            input: input.to_string(),
            message,
        });
    }
    Requirement::from_str(input).map_err(|err| RequirementError::Invalid {
        input: input.to_string(),
        message: pep508_message(&err),
    })
}

/// Refuses a name that ends in `.`, `_` or `-` before pep508_rs sees it: followed by a version,
/// extras or a marker (`foo.==1`), such a name makes pep508_rs 0.9 panic (its parser accepts
/// what its `PackageName` then refuses) instead of returning an error.
pub(crate) fn bad_name_end(input: &str) -> Option<String> {
    let text = input.trim_start();
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(text.len());
    let last = text[..name_end].chars().last()?;
    matches!(last, '.' | '_' | '-')
        .then(|| format!("Package name must end with an alphanumeric character, not '{last}'"))
}

/// The one-line message of a pep508_rs error.
///
/// Its `Display` draws a caret under the input and asserts on the span while doing so; the
/// message alone is what belongs in our one-line errors.
pub(crate) fn pep508_message<T: pep508_rs::Pep508Url>(err: &Pep508Error<T>) -> String {
    err.message.to_string()
}

/// The first `${NAME}` (pip's variable syntax: upper-case letters, digits, `_`) in `s`.
pub(crate) fn first_variable(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find('}') {
            let name = &after[..end];
            if is_variable_name(name) {
                return Some(name);
            }
        }
        rest = after;
    }
    None
}

pub(crate) fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The marker variables of one environment, as plain strings.
///
/// This is the serialisable form (what an interpreter probe reports, or what is computed for a
/// target platform); [`MarkerValues::to_environment`] turns it into pep508_rs's evaluator input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerValues {
    pub implementation_name: String,
    pub implementation_version: String,
    pub os_name: String,
    pub platform_machine: String,
    pub platform_python_implementation: String,
    pub platform_release: String,
    pub platform_system: String,
    pub platform_version: String,
    pub python_full_version: String,
    pub python_version: String,
    pub sys_platform: String,
}

/// A marker variable that has to be a version and is not.
#[derive(Debug, thiserror::Error)]
#[error("marker variable `{field}` is `{value}`, which is not a PEP 440 version: {source}")]
pub struct MarkerValuesError {
    pub field: &'static str,
    pub value: String,
    #[source]
    pub source: pep440_rs::VersionParseError,
}

impl MarkerValues {
    pub fn to_environment(&self) -> Result<MarkerEnvironment, MarkerValuesError> {
        // Checked one by one so the error names the field; the builder only says "bad version".
        for (field, value) in [
            ("implementation_version", &self.implementation_version),
            ("python_full_version", &self.python_full_version),
            ("python_version", &self.python_version),
        ] {
            if let Err(source) = pep440_rs::Version::from_str(value) {
                return Err(MarkerValuesError {
                    field,
                    value: value.clone(),
                    source,
                });
            }
        }
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &self.implementation_name,
            implementation_version: &self.implementation_version,
            os_name: &self.os_name,
            platform_machine: &self.platform_machine,
            platform_python_implementation: &self.platform_python_implementation,
            platform_release: &self.platform_release,
            platform_system: &self.platform_system,
            platform_version: &self.platform_version,
            python_full_version: &self.python_full_version,
            python_version: &self.python_version,
            sys_platform: &self.sys_platform,
        })
        .map_err(|source| MarkerValuesError {
            field: "python_full_version",
            value: self.python_full_version.clone(),
            source,
        })
    }
}

impl TryFrom<&MarkerValues> for MarkerEnvironment {
    type Error = MarkerValuesError;

    fn try_from(values: &MarkerValues) -> Result<Self, Self::Error> {
        values.to_environment()
    }
}

/// Whether `marker` holds in `env` with the given extras requested.
pub fn evaluate(marker: &MarkerTree, env: &MarkerEnvironment, extras: &[ExtraName]) -> bool {
    marker.evaluate(env, extras)
}

/// The part of `marker` about the environment, with the `extras` given requested and every other
/// extra not: `sys_platform == "win32" and extra == "x"` is `sys_platform == "win32"` for `x` and
/// never otherwise. A universal lock reasons about the rest of the marker, not about extras.
pub fn environment_part(marker: &MarkerTree, extras: &[ExtraName]) -> MarkerTree {
    use pep508_rs::{ExtraOperator, MarkerValueExtra};
    if marker.is_true() || marker.is_false() {
        return marker.clone();
    }
    let mut out = MarkerTree::FALSE;
    for conjunction in marker.to_dnf() {
        let mut term = MarkerTree::TRUE;
        let mut holds = true;
        for expression in conjunction {
            if let MarkerExpression::Extra { operator, name } = &expression {
                let requested = matches!(name, MarkerValueExtra::Extra(extra) if extras.contains(extra));
                holds &= requested == (*operator == ExtraOperator::Equal);
            } else {
                term.and(MarkerTree::expression(expression));
            }
        }
        if holds {
            out.or(term);
        }
    }
    out
}

/// The lowest Python version `marker` allows (`0` when it sets no lower bound), or `None` when
/// it allows none: the version a universal lock checks `Requires-Python` against.
pub fn lowest_python(marker: &MarkerTree) -> Option<crate::Version> {
    use pep508_rs::{MarkerTreeKind, MarkerValueVersion};
    use std::ops::Bound;
    let lowest_of =
        |children: &mut dyn Iterator<Item = MarkerTree>| children.filter_map(|child| lowest_python(&child)).min();
    match marker.kind() {
        MarkerTreeKind::True => Some(crate::Version::new([0])),
        MarkerTreeKind::False => None,
        MarkerTreeKind::Version(node) if *node.key() == MarkerValueVersion::PythonFullVersion => node
            .edges()
            .filter(|(_, child)| lowest_python(child).is_some())
            .filter_map(|(range, _)| match range.bounding_range()?.0 {
                Bound::Included(version) | Bound::Excluded(version) => Some(version.clone()),
                Bound::Unbounded => Some(crate::Version::new([0])),
            })
            .min(),
        MarkerTreeKind::Version(node) => lowest_of(&mut node.edges().map(|(_, child)| child)),
        MarkerTreeKind::String(node) => lowest_of(&mut node.children().map(|(_, child)| child)),
        MarkerTreeKind::In(node) => lowest_of(&mut node.children().map(|(_, child)| child)),
        MarkerTreeKind::Contains(node) => lowest_of(&mut node.children().map(|(_, child)| child)),
        MarkerTreeKind::Extra(node) => lowest_of(&mut node.children().map(|(_, child)| child)),
    }
}

/// `marker` as a lock writes it: `None` when it always holds, otherwise simplified on the
/// assumption that Python is at least `lowest` (what the lock is for).
pub fn marker_text(marker: &MarkerTree, lowest: &crate::Version) -> Option<String> {
    use std::ops::Bound;
    marker
        .clone()
        .simplify_python_versions(Bound::Included(lowest), Bound::Unbounded)
        .try_to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ending_in_punctuation_are_errors_not_panics() {
        // pep508_rs 0.9 panics on these (found by the property tests).
        for input in [
            "A_==0",
            "b.[x]",
            "b. ; python_version < '3'",
            "c- @ file:///x.whl",
            "d.",
        ] {
            let error = parse_requirement(input).unwrap_err().to_string();
            assert!(
                error.contains("must end with an alphanumeric character"),
                "{input}: {error}"
            );
        }
        for input in ["a==1", "a.b-c_d[x]>=2", "  spaced"] {
            assert!(parse_requirement(input).is_ok(), "{input}");
        }
    }

    #[test]
    fn the_environment_part_of_a_marker_given_the_extras_requested() {
        let cases = [
            (
                "sys_platform == 'win32' and extra == 'x'",
                &["x"][..],
                Some("sys_platform == 'win32'"),
            ),
            (
                "sys_platform == 'win32' and extra == 'x'",
                &[][..],
                Some("python_version < '0'"),
            ),
            (
                "extra == 'x' or python_version < '3.12'",
                &[][..],
                Some("python_full_version < '3.12'"),
            ),
            ("extra == 'x' or python_version < '3.12'", &["x"][..], None),
            ("os_name == 'nt'", &["y"][..], Some("os_name == 'nt'")),
            ("os_name == 'nt' or os_name != 'nt'", &[][..], None),
        ];
        for (text, extras, expected) in cases {
            let extras: Vec<ExtraName> = extras.iter().map(|extra| ExtraName::from_str(extra).unwrap()).collect();
            let part = environment_part(&marker(text), &extras);
            assert_eq!(part.try_to_string().as_deref(), expected, "{text} with {extras:?}");
        }
    }

    #[test]
    fn the_lowest_python_a_marker_allows() {
        let cases = [
            ("python_full_version >= '3.11'", Some("3.11")),
            ("python_version >= '3.9' and sys_platform == 'linux'", Some("3.9")),
            (
                "python_full_version >= '3.13.2' or (python_version >= '3.12' and os_name == 'nt')",
                Some("3.12"),
            ),
            (
                "(python_version < '3.8' or python_full_version >= '3.13') and python_full_version >= '3.11'",
                Some("3.13"),
            ),
            ("python_version < '3.8'", Some("0")),
            ("python_version >= '3.12' and python_version < '3.11'", None),
            ("os_name == 'nt'", Some("0")),
        ];
        for (text, expected) in cases {
            let expected = expected.map(|text| crate::Version::from_str(text).unwrap());
            assert_eq!(lowest_python(&marker(text)), expected, "{text}");
        }
    }

    #[test]
    fn markers_as_a_universal_lock_writes_them() {
        let cases = [
            (
                "python_full_version >= '3.11' and sys_platform == 'win32'",
                Some("sys_platform == 'win32'"),
            ),
            ("python_full_version >= '3.11'", None),
            ("python_version >= '3.12'", Some("python_full_version >= '3.12'")),
        ];
        for (text, expected) in cases {
            let lowest = crate::Version::new([3, 11]);
            assert_eq!(marker_text(&marker(text), &lowest).as_deref(), expected, "{text}");
        }
    }

    fn linux_cp311() -> MarkerValues {
        MarkerValues {
            implementation_name: "cpython".into(),
            implementation_version: "3.11.7".into(),
            os_name: "posix".into(),
            platform_machine: "x86_64".into(),
            platform_python_implementation: "CPython".into(),
            platform_release: "6.1.0".into(),
            platform_system: "Linux".into(),
            platform_version: "#1 SMP".into(),
            python_full_version: "3.11.7".into(),
            python_version: "3.11".into(),
            sys_platform: "linux".into(),
        }
    }

    fn marker(s: &str) -> MarkerTree {
        MarkerTree::from_str(s).unwrap()
    }

    #[test]
    fn markers_evaluate_like_pip() {
        let env = linux_cp311().to_environment().unwrap();
        let socks = [ExtraName::from_str("socks").unwrap()];
        // (marker, extras requested, expected)
        let table: &[(&str, &[ExtraName], bool)] = &[
            (r#"python_full_version >= "3.8.1""#, &[], true),
            (r#"python_full_version < "3.11.7""#, &[], false),
            (r#"python_version < "3.12""#, &[], true),
            (r#"platform_machine == "x86_64""#, &[], true),
            (r#"platform_machine == "aarch64""#, &[], false),
            (r#""linux" in sys_platform"#, &[], true),
            (r#"sys_platform not in "win32 cygwin""#, &[], true),
            (r#"sys_platform in "win32 cygwin""#, &[], false),
            (r#"os_name == "nt" or implementation_name == "cpython""#, &[], true),
            (r#"extra == "socks""#, &[], false),
            (r#"extra == "socks""#, &socks, true),
            (r#"extra == "Socks""#, &socks, true),
            (r#"python_version >= "3.8" and extra == "socks""#, &socks, true),
        ];
        for (text, extras, expected) in table {
            assert_eq!(
                evaluate(&marker(text), &env, extras),
                *expected,
                "{text} with {extras:?}"
            );
        }
    }

    #[test]
    fn bad_version_field_is_named() {
        let mut values = linux_cp311();
        values.python_full_version = "three".into();
        let err = values.to_environment().unwrap_err();
        assert_eq!(err.field, "python_full_version");
        assert!(err.to_string().contains("`three`"), "{err}");
    }

    #[test]
    fn marker_values_round_trip_through_serde() {
        let values = linux_cp311();
        let json = toml::to_string(&values).unwrap();
        let back: MarkerValues = toml::from_str(&json).unwrap();
        assert_eq!(values, back);
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(
            PackageName::from_str("Foo.Bar_baz").unwrap(),
            PackageName::from_str("foo-bar-baz").unwrap()
        );
        assert_eq!(PackageName::from_str("Foo.Bar_baz").unwrap().to_string(), "foo-bar-baz");
        assert_eq!(ExtraName::from_str("Dev_Tools").unwrap().to_string(), "dev-tools");
        assert!(package_name("-foo").is_err());
        assert!(package_name("foo_").is_err());
        // pep508_rs takes the empty string as a name; we do not.
        assert!(PackageName::from_str("").is_ok());
        assert!(package_name("").is_err());
        assert!(extra_name("").is_err());
    }

    #[test]
    fn requirements_parse() {
        let req = parse_requirement(r#"name[extra1,extra2]>=1; python_version<"3.12""#).unwrap();
        assert_eq!(req.name.as_ref(), "name");
        assert_eq!(req.extras.len(), 2);
        let Some(VersionOrUrl::VersionSpecifier(specs)) = &req.version_or_url else {
            panic!("expected specifiers: {req:?}");
        };
        assert_eq!(specs.to_string(), ">=1");
        assert!(evaluate(&req.marker, &linux_cp311().to_environment().unwrap(), &[]));

        let req = parse_requirement("name @ https://127.0.0.1/x-1.0-py3-none-any.whl").unwrap();
        let Some(VersionOrUrl::Url(url)) = &req.version_or_url else {
            panic!("expected a URL: {req:?}");
        };
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert_eq!(url.path(), "/x-1.0-py3-none-any.whl");

        let req = parse_requirement("foo (>=1.0,<2)").unwrap();
        let Some(VersionOrUrl::VersionSpecifier(specs)) = &req.version_or_url else {
            panic!("expected specifiers: {req:?}");
        };
        assert_eq!(specs.to_string(), ">=1.0, <2");
    }

    #[test]
    fn invalid_requirements_name_the_input() {
        let err = parse_requirement("foo==").unwrap_err();
        assert!(err.to_string().starts_with("invalid requirement `foo==`: "), "{err}");
        let err = parse_requirement("foo @ https://${HOST}/foo.whl").unwrap_err();
        assert!(matches!(err, RequirementError::Variable { ref variable, .. } if variable == "HOST"));
    }

    #[test]
    fn variables_are_found() {
        assert_eq!(first_variable("a ${B_1} ${c}"), Some("B_1"));
        assert_eq!(first_variable("a ${b} $C {D}"), None);
        assert_eq!(first_variable("${} ${X}"), Some("X"));
    }
}
