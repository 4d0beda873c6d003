//! What a resolution is for: the one environment of a target (its markers are evaluated), or —
//! for a universal lock — every environment a marker allows, as uv models it. A universal
//! resolution starts with the Pythons the lock supports and *forks* where a package's
//! requirements on one dependency differ by marker (`numpy>=2; python_version >= "3.12"` and
//! `numpy<2; python_version < "3.12"`): each fork is solved on its own, within its marker.

use axle_standards::{
    ExtraName, MarkerEnvironment, MarkerTree, PackageName, Version, VersionSpecifiers, environment_part, evaluate,
    lowest_python,
};

/// The environments one solve is for.
#[derive(Clone, Debug)]
pub enum Environment {
    /// One interpreter on one platform.
    Specific {
        markers: MarkerEnvironment,
        python_full_version: Version,
    },
    /// Every environment the fork's marker allows.
    Universal(Fork),
}

/// A part of the space of environments: a marker, and the lowest Python it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    pub marker: MarkerTree,
    /// `Requires-Python` is checked against it, ignoring upper bounds, as uv checks it in a
    /// universal resolution (no upper bound can hold for every Python a lock supports).
    pub python: Version,
}

impl Fork {
    /// Every environment with Python `lowest` or later.
    pub fn at_least(lowest: &Version) -> Fork {
        Fork {
            marker: python_at_least(lowest),
            python: lowest.clone(),
        }
    }

    /// The fork narrowed to where `marker` holds, unless that is nowhere.
    pub fn narrowed(&self, marker: &MarkerTree) -> Option<Fork> {
        let mut narrowed = self.marker.clone();
        narrowed.and(marker.clone());
        let python = lowest_python(&narrowed)?;
        (!narrowed.is_false()).then_some(Fork {
            marker: narrowed,
            python,
        })
    }

    /// The two forks on either side of Python `version`, when the fork has Pythons on both.
    pub fn split_at_python(&self, version: &Version) -> Option<[Fork; 2]> {
        let above = python_at_least(version);
        Some([self.narrowed(&above.negate())?, self.narrowed(&above)?])
    }
}

/// `python_full_version >= 'version'`.
fn python_at_least(version: &Version) -> MarkerTree {
    let text = format!("python_full_version >= '{version}'");
    <MarkerTree as std::str::FromStr>::from_str(&text).expect("a well-formed marker")
}

impl Environment {
    /// Where a requirement with `marker`, read from a package with `extra` requested (`None`:
    /// the package itself), applies in this environment: `None` when nowhere, otherwise the
    /// environment part of its marker (always true for a specific environment). An extra's
    /// requirement counts only where the package without the extra would not already have it.
    pub fn applies(&self, marker: &MarkerTree, extra: Option<&ExtraName>) -> Option<MarkerTree> {
        match self {
            Environment::Specific { markers, .. } => {
                let holds = match extra {
                    None => evaluate(marker, markers, &[]),
                    Some(extra) => {
                        evaluate(marker, markers, std::slice::from_ref(extra)) && !evaluate(marker, markers, &[])
                    }
                };
                holds.then_some(MarkerTree::TRUE)
            }
            Environment::Universal(fork) => {
                let mut part = environment_part(marker, &[]);
                if let Some(extra) = extra {
                    let without = part.negate();
                    part = environment_part(marker, std::slice::from_ref(extra));
                    part.and(without);
                }
                (!part.is_false() && !part.is_disjoint(&fork.marker)).then_some(part)
            }
        }
    }

    /// Whether a release declaring `requires_python` can be chosen here: for one interpreter,
    /// whether it allows that interpreter's version (as pip checks it); in a universal
    /// resolution, whether its lower bound admits the fork's lowest Python — upper bounds are
    /// ignored, as uv ignores them there (no upper bound holds for every Python a lock covers).
    pub fn allows_python(&self, requires_python: &VersionSpecifiers) -> bool {
        match self {
            Environment::Specific {
                python_full_version, ..
            } => requires_python.contains(python_full_version),
            Environment::Universal(fork) => python_floor(requires_python).is_none_or(|floor| floor <= fork.python),
        }
    }

    /// The Python version `Requires-Python` is checked against.
    pub fn python_checked(&self) -> Version {
        match self {
            Environment::Specific {
                python_full_version, ..
            } => python_full_version.clone(),
            Environment::Universal(fork) => fork.python.clone(),
        }
    }

    /// The lowest Python of a universal resolution (`None` for a specific one): files are
    /// grouped for it rather than for the target's tags.
    pub fn universal_python(&self) -> Option<Version> {
        match self {
            Environment::Specific { .. } => None,
            Environment::Universal(fork) => Some(fork.python.clone()),
        }
    }

    /// The fork's marker; always true for a specific environment.
    pub fn marker(&self) -> MarkerTree {
        match self {
            Environment::Specific { .. } => MarkerTree::TRUE,
            Environment::Universal(fork) => fork.marker.clone(),
        }
    }
}

/// The lowest Python `requires_python` allows, if it sets a lower bound.
pub fn python_floor(requires_python: &VersionSpecifiers) -> Option<Version> {
    match pubgrub::Ranges::from(requires_python.clone()).bounding_range()?.0 {
        std::ops::Bound::Included(version) | std::ops::Bound::Excluded(version) => Some(version.clone()),
        std::ops::Bound::Unbounded => None,
    }
}

/// The forks `fork` splits into, given the requirements its package has there (dependency name
/// and where each applies), or `None` to go on in `fork` as it is — uv's rule:
///
/// - a dependency required once, or several times under one marker, forks nothing unless
///   that marker raises the lowest Python (`foo>=2; python_version >= "3.12"` in a lock for
///   3.11 and later: the releases of everything else that need 3.12 become choosable there);
/// - a dependency required under different markers splits every fork its markers overlap
///   into where each marker holds and where it does not.
pub fn split(fork: &Fork, requirements: &[(PackageName, MarkerTree)]) -> Option<Vec<Fork>> {
    let mut by_name: Vec<(&PackageName, Vec<&MarkerTree>)> = Vec::new();
    for (name, marker) in requirements {
        match by_name.iter_mut().find(|(known, _)| *known == name) {
            Some((_, markers)) => markers.push(marker),
            None => by_name.push((name, vec![marker])),
        }
    }
    let raises_python = |marker: &MarkerTree| {
        fork.narrowed(marker)
            .is_some_and(|narrowed| narrowed.python > fork.python)
    };
    let mut forks = vec![fork.clone()];
    for (_, markers) in by_name {
        let first = markers[0];
        if markers.iter().all(|marker| *marker == first) && !raises_python(first) {
            continue;
        }
        for marker in markers {
            if marker.is_true() || marker.is_disjoint(&fork.marker) {
                continue;
            }
            let mut next = Vec::with_capacity(forks.len() + 1);
            for current in forks {
                if marker.is_disjoint(&current.marker) {
                    next.push(current);
                    continue;
                }
                next.extend(current.narrowed(&marker.negate()));
                next.extend(current.narrowed(marker));
            }
            forks = next;
        }
    }
    (forks.len() > 1).then_some(forks)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn marker(text: &str) -> MarkerTree {
        MarkerTree::from_str(text).unwrap()
    }

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    fn shown(forks: Option<Vec<Fork>>) -> Vec<String> {
        forks
            .unwrap_or_default()
            .iter()
            .map(|fork| {
                axle_standards::marker_text(&fork.marker, &Version::new([3, 11])).unwrap_or_else(|| "*".to_string())
            })
            .collect()
    }

    #[test]
    fn where_requirements_fork_a_universal_resolution() {
        let root = Fork::at_least(&Version::new([3, 11]));
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case; 6] = [
            // One requirement under a platform marker: no fork, the marker travels with it.
            (&[("pywin32", "sys_platform == 'win32'")], &[]),
            // The same marker twice: no fork.
            (&[("a", "os_name == 'nt'"), ("a", "os_name == 'nt'")], &[]),
            // Different markers on one dependency: split where each holds.
            (
                &[
                    ("numpy", "python_version >= '3.12'"),
                    ("numpy", "python_version < '3.12'"),
                ],
                &["python_full_version < '3.12'", "python_full_version >= '3.12'"],
            ),
            // A marker raising the lowest Python forks on its own.
            (
                &[("b", "python_version >= '3.13'")],
                &["python_full_version < '3.13'", "python_full_version >= '3.13'"],
            ),
            // A marker that excludes every Python of the lock is ignored.
            (&[("c", "python_version < '3.8'"), ("c", "")], &[]),
            // Overlapping markers: three parts.
            (
                &[
                    ("d", "sys_platform == 'linux'"),
                    ("d", "sys_platform == 'linux' and platform_machine == 'aarch64'"),
                ],
                &[
                    "sys_platform != 'linux'",
                    "platform_machine != 'aarch64' and sys_platform == 'linux'",
                    "platform_machine == 'aarch64' and sys_platform == 'linux'",
                ],
            ),
        ];
        for (requirements, expected) in cases {
            let requirements: Vec<(PackageName, MarkerTree)> = requirements
                .iter()
                .map(|(dependency, text)| {
                    let text = if text.is_empty() { "python_version >= '3'" } else { text };
                    (name(dependency), marker(text))
                })
                .collect();
            assert_eq!(shown(split(&root, &requirements)), expected, "{requirements:?}");
        }
    }

    #[test]
    fn an_extra_adds_only_what_its_package_lacks() {
        let universal = Environment::Universal(Fork::at_least(&Version::new([3, 11])));
        let extra = ExtraName::from_str("win").unwrap();
        let marked = marker("extra == 'win' and sys_platform == 'win32'");
        let added = universal.applies(&marked, Some(&extra)).unwrap();
        assert_eq!(added.try_to_string().as_deref(), Some("sys_platform == 'win32'"));
        assert!(universal.applies(&marked, None).is_none());
        assert!(universal.applies(&marker("python_version < '3.9'"), None).is_none());
    }
}
