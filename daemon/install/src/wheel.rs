//! The wheel format's own rules (PEP 427/491): the `{name}-{version}.dist-info` and `.data`
//! directories, the WHEEL file, and which install scheme each archive path belongs to.

use crate::entry::EntryProblem;

/// What the WHEEL file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelInfo {
    /// `Wheel-Version` as (major, minor); only major 1 is accepted.
    pub wheel_version: (u64, u64),
    /// Whether the archive's root belongs in purelib (else platlib).
    pub root_is_purelib: bool,
}

impl WheelInfo {
    /// Parses WHEEL (RFC 822 style headers). Like pip: a missing `Wheel-Version` or a major
    /// version other than 1 is refused (a later major version means a format we cannot read);
    /// `Root-Is-Purelib` is true only when it says `true` (any case).
    pub fn parse(text: &str) -> Result<WheelInfo, String> {
        let mut wheel_version = None;
        let mut root_is_purelib = None;
        for line in text.lines() {
            if line.trim().is_empty() {
                break;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if key.eq_ignore_ascii_case("Wheel-Version") && wheel_version.is_none() {
                wheel_version = Some(value.to_string());
            } else if key.eq_ignore_ascii_case("Root-Is-Purelib") && root_is_purelib.is_none() {
                root_is_purelib = Some(value.eq_ignore_ascii_case("true"));
            }
        }
        let raw = wheel_version.ok_or("no `Wheel-Version` field")?;
        let parsed = raw
            .split_once('.')
            .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
        let Some((major, minor)) = parsed else {
            return Err(format!("`Wheel-Version: {raw}` is not `major.minor`"));
        };
        if major != 1 {
            return Err(format!(
                "`Wheel-Version: {raw}` is not supported: only version 1.x wheels can be installed"
            ));
        }
        if minor > 0 {
            tracing::warn!("installing a wheel of newer format version {raw}, as pip does");
        }
        Ok(WheelInfo {
            wheel_version: (major, minor),
            root_is_purelib: root_is_purelib.unwrap_or(false),
        })
    }
}

/// Where a file of a wheel is installed: one of the install schemes of the wheel spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Purelib,
    Platlib,
    Scripts,
    Headers,
    Data,
}

/// A wheel path's scheme and its path inside that scheme's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Destination<'a> {
    pub(crate) scheme: Scheme,
    pub(crate) path: &'a str,
}

/// Which scheme the (already validated) archive path `path` installs to.
///
/// Files under `{data_dir}/<scheme>/` go to that scheme; everything else goes to purelib or
/// platlib as `Root-Is-Purelib` says. A file directly in `{data_dir}`, an unknown scheme, and a
/// script in a subdirectory of `scripts/` are refused, as pip and uv refuse them: the first two
/// have nowhere defined to go, the last would name a path inside the scripts directory, not a
/// script.
pub(crate) fn destination<'a>(
    path: &'a str,
    data_dir: &str,
    root_is_purelib: bool,
) -> Result<Destination<'a>, EntryProblem> {
    let Some(inside) = path.strip_prefix(data_dir).and_then(|rest| rest.strip_prefix('/')) else {
        let scheme = if root_is_purelib {
            Scheme::Purelib
        } else {
            Scheme::Platlib
        };
        return Ok(Destination { scheme, path });
    };
    let (scheme, rest) = inside.split_once('/').ok_or(EntryProblem::NotInScheme)?;
    let scheme = match scheme {
        "purelib" => Scheme::Purelib,
        "platlib" => Scheme::Platlib,
        "scripts" => Scheme::Scripts,
        "headers" => Scheme::Headers,
        "data" => Scheme::Data,
        other => return Err(EntryProblem::UnknownScheme(other.to_string())),
    };
    if rest.is_empty() {
        return Err(EntryProblem::NotInScheme);
    }
    if scheme == Scheme::Scripts && rest.contains('/') {
        return Err(EntryProblem::ScriptInSubdirectory);
    }
    Ok(Destination { scheme, path: rest })
}

/// Whether an archive path is one of the signature files the spec exempts from RECORD hashes.
pub(crate) fn is_record_or_signature(path: &str, dist_info: &str) -> bool {
    path.strip_prefix(dist_info)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|file| matches!(file, "RECORD" | "RECORD.jws" | "RECORD.p7s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wheel_file() {
        let ok =
            WheelInfo::parse("Wheel-Version: 1.0\nGenerator: bdist_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
                .unwrap();
        assert_eq!(ok.wheel_version, (1, 0));
        assert!(ok.root_is_purelib);
        let cases = [
            ("Wheel-Version: 1.9\nRoot-Is-Purelib: TRUE\n", Ok(true)),
            ("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n", Ok(false)),
            ("Wheel-Version: 1.0\n", Ok(false)),
            ("Wheel-Version: 1.0\n\nRoot-Is-Purelib: true\n", Ok(false)),
            ("Root-Is-Purelib: true\n", Err("no `Wheel-Version`")),
            ("Wheel-Version: 2.0\n", Err("only version 1.x")),
            ("Wheel-Version: 0.9\n", Err("only version 1.x")),
            ("Wheel-Version: one\n", Err("not `major.minor`")),
        ];
        for (text, expected) in cases {
            match (WheelInfo::parse(text), expected) {
                (Ok(info), Ok(purelib)) => assert_eq!(info.root_is_purelib, purelib, "{text}"),
                (Err(err), Err(wanted)) => assert!(err.contains(wanted), "{text}: {err}"),
                (got, wanted) => panic!("{text}: got {got:?}, wanted {wanted:?}"),
            }
        }
    }

    #[test]
    fn classifies_paths_into_schemes() {
        let data = "pkg-1.0.data";
        type Expected = Result<(Scheme, &'static str), EntryProblem>;
        let cases: &[(&str, bool, Expected)] = &[
            ("pkg/__init__.py", true, Ok((Scheme::Purelib, "pkg/__init__.py"))),
            ("pkg/_x.so", false, Ok((Scheme::Platlib, "pkg/_x.so"))),
            (
                "pkg-1.0.dist-info/METADATA",
                true,
                Ok((Scheme::Purelib, "pkg-1.0.dist-info/METADATA")),
            ),
            ("pkg-1.0.data/scripts/tool", true, Ok((Scheme::Scripts, "tool"))),
            ("pkg-1.0.data/headers/a/b.h", true, Ok((Scheme::Headers, "a/b.h"))),
            ("pkg-1.0.data/data/share/x", true, Ok((Scheme::Data, "share/x"))),
            ("pkg-1.0.data/purelib/m.py", false, Ok((Scheme::Purelib, "m.py"))),
            ("pkg-1.0.data/platlib/m.so", true, Ok((Scheme::Platlib, "m.so"))),
            (
                "pkg-1.0.data/scripts/a/b",
                true,
                Err(EntryProblem::ScriptInSubdirectory),
            ),
            (
                "pkg-1.0.data/etc/x",
                true,
                Err(EntryProblem::UnknownScheme("etc".to_string())),
            ),
            ("pkg-1.0.data/loose", true, Err(EntryProblem::NotInScheme)),
            // Another project's `.data` directory is an ordinary directory, as in pip.
            (
                "other-1.0.data/scripts/x",
                true,
                Ok((Scheme::Purelib, "other-1.0.data/scripts/x")),
            ),
        ];
        for (path, purelib, expected) in cases {
            let got = destination(path, data, *purelib).map(|d| (d.scheme, d.path));
            assert_eq!(&got, expected, "{path}");
        }
    }
}
