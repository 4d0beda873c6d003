//! PEP 440 versions and specifiers, plus the pre-release rule pip applies on top of them.

pub use pep440_rs::{
    Operator, Version, VersionParseError, VersionSpecifier, VersionSpecifiers, VersionSpecifiersParseError,
    release_specifier_to_range, release_specifiers_to_ranges,
};

/// The one-line reason a specifier set did not parse.
///
/// pep440_rs's `Display` spans three lines (message, input, caret); our errors are one line and
/// quote the input themselves.
pub(crate) fn specifiers_message(err: &VersionSpecifiersParseError) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_end_matches(':').to_string()
}

/// Whether the specifiers themselves opt in to pre-releases.
///
/// As in `packaging`, only the inclusive operators (`==`, `===`, `>=`, `<=`, `~=`) count: `>=1.0b1`
/// and `==2.0rc1` name a pre-release someone asked for, while `<2.0b1` or `!=1.0b1` only exclude
/// one and so do not make other pre-releases acceptable. A dev release counts as a pre-release.
pub fn allows_prerelease(specifiers: &VersionSpecifiers) -> bool {
    specifiers.iter().any(|specifier| {
        matches!(
            specifier.operator(),
            Operator::Equal
                | Operator::EqualStar
                | Operator::ExactEqual
                | Operator::GreaterThanEqual
                | Operator::LessThanEqual
                | Operator::TildeEqual
        ) && specifier.version().any_prerelease()
    })
}

/// Whether `version` satisfies `specifiers` under pip's pre-release rule.
///
/// A pre-release (or dev release) satisfies only when pre-releases are allowed, either by
/// `allow_pre` (pip's `--pre`) or because a specifier names one (see [`allows_prerelease`]).
/// `allow_pre = false` means "defer to the specifiers", never "forbid".
///
/// PEP 440 also says that when the only available versions are pre-releases they may be
/// selected; that needs the list of candidates, so it is the resolver's call, not this helper's.
pub fn contains_respecting_prereleases(specifiers: &VersionSpecifiers, version: &Version, allow_pre: bool) -> bool {
    if version.any_prerelease() && !allow_pre && !allows_prerelease(specifiers) {
        return false;
    }
    specifiers.contains(version)
}

/// Whether a file's or a release's `Requires-Python` admits `python`.
///
/// One that cannot be read admits everything, as pip treats it: an index's typo must not hide
/// every file of a project.
pub fn requires_python_allows(requires_python: &str, python: &Version) -> bool {
    use std::str::FromStr;
    VersionSpecifiers::from_str(requires_python).map_or(true, |specifiers| specifiers.contains(python))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn specs(s: &str) -> VersionSpecifiers {
        VersionSpecifiers::from_str(s).unwrap()
    }

    fn version(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    /// (specifiers, version, --pre, expected); expectations are `packaging`'s
    /// `SpecifierSet(s).contains(v, prereleases=True if pre else None)`.
    const CONTAINS: &[(&str, &str, bool, bool)] = &[
        (">=1.0", "1.1rc1", false, false),
        (">=1.0", "1.1rc1", true, true),
        (">=1.0b1", "1.1rc1", false, true),
        ("==2.0rc1", "2.0rc1", false, true),
        ("<2.0b1", "1.0b1", false, false),
        (">1.0b1", "1.1b1", false, false),
        ("!=1.0b1", "1.1b1", false, false),
        ("", "1.0a1", false, false),
        ("", "1.0", false, true),
        (">=1.0", "1.1.dev1", false, false),
        (">=1.0.dev1", "1.1.dev1", false, true),
        ("==1.*", "1.5", false, true),
        ("==1.*", "2.0", false, false),
        ("==1.*", "1.0a1", true, true),
        ("!=1.*", "1.5", false, false),
        ("!=1.*", "2.0", false, true),
        ("~=2.2", "2.3", false, true),
        ("~=2.2", "2.2", false, true),
        ("~=2.2", "3.0", false, false),
        ("~=1.4.5", "1.4.9", false, true),
        ("~=1.4.5", "1.5.0", false, false),
        ("~=1.0b1", "1.0b2", false, true),
        // Local versions: ignored by a specifier without one, compared when it has one.
        ("==1.0", "1.0+abc.1", false, true),
        ("==1.0+other", "1.0+abc.1", false, false),
        ("==1.0+abc.1", "1.0+abc.1", false, true),
        // Epochs dominate the release.
        (">=1!1.0", "2.0", false, false),
        (">=1!1.0", "1!1.0", false, true),
        ("<1!0", "5.0", false, true),
        // Post releases of the named version do not satisfy `>`.
        (">1.0", "1.0.post1", false, false),
        (">=1.0", "1.0.post1.dev2", false, false),
        (">=1.0", "1.0.post1.dev2", true, true),
        (">1.0.post1", "1.0.post1.dev2", false, false),
        ("<1.0", "1.0rc1", true, false),
        ("<=1.0", "1.0rc1", false, false),
        ("<=1.0rc1", "1.0b1", false, true),
        // Arbitrary equality compares the strings.
        ("===1.0", "1.0", false, true),
        ("===1.0", "1.0.0", false, false),
    ];

    #[test]
    fn contains_matches_packaging() {
        for &(spec, v, pre, expected) in CONTAINS {
            assert_eq!(
                contains_respecting_prereleases(&specs(spec), &version(v), pre),
                expected,
                "{spec:?} contains {v:?} (pre={pre})"
            );
        }
    }

    #[test]
    fn prerelease_opt_in() {
        for (spec, expected) in [
            (">=1.0b1", true),
            ("==2.0rc1", true),
            ("==2.*", false),
            ("<=1.0.dev0", true),
            ("~=1.0a1", true),
            ("<2.0b1", false),
            (">1.0b1", false),
            ("!=1.0b1", false),
            (">=1.0,<2", false),
            ("", false),
        ] {
            assert_eq!(allows_prerelease(&specs(spec)), expected, "{spec:?}");
        }
    }

    /// PEP 440's ordering: dev < pre (a < b < rc) < final < local < post, epochs above all.
    #[test]
    fn ordering() {
        let ordered = [
            "0.9",
            "1.0.dev1",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1.dev1",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(version(pair[0]) < version(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn normalisation_and_parts() {
        let v = version("1.0.post1.dev2");
        assert_eq!(v.post(), Some(1));
        assert_eq!(v.dev(), Some(2));
        assert!(v.any_prerelease());
        assert_eq!(version("1!1.0").epoch(), 1);
        assert_eq!(version("1.0-1"), version("1.0.post1"));
        assert_eq!(version("1.0RC1").to_string(), "1.0rc1");
        assert_eq!(version("v1.0"), version("1.0"));
    }

    /// pip accepts `===foobar` and matches it against the string `foobar`; pep440_rs needs the
    /// operand to parse as a version. A non-PEP 440 version can never be a `Version` here, so the
    /// specifier could match nothing axle handles; rejecting it up front is the honest outcome.
    #[test]
    fn arbitrary_equality_with_a_non_version_is_rejected() {
        let err = VersionSpecifiers::from_str("===foobar").unwrap_err();
        assert!(
            specifiers_message(&err).starts_with("Failed to parse version: "),
            "{err}"
        );
        assert!(!specifiers_message(&err).contains('\n'));
        assert!(VersionSpecifiers::from_str("===1.0").is_ok());
    }
}
