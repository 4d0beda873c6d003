//! Why no version of a package can be chosen, in words that say what to do: the project is not
//! on the sources (and which names are close), no release matches (and which are the newest),
//! only pre-releases match (`--pre`), every match is yanked, needs another Python, has no wheel
//! for this platform or only an sdist `--only-binary` refuses. Worked out only for an error,
//! from the same files the selector chose from.

use std::collections::BTreeMap;
use std::str::FromStr;

use axle_standards::{DistFilename, PackageName, Version, VersionSpecifiers, requires_python_allows};

use super::candidates::Candidates;
use super::environment::{Environment, python_floor};
use super::report::specifier_text;
use super::selector::{Range, Selector};
use crate::index::FindLinks;

/// Why nothing can be chosen: the fact, and what to do about it when something can be done.
pub(super) struct Why {
    pub(super) fact: String,
    pub(super) advice: Option<String>,
}

impl Why {
    fn fact(fact: String) -> Why {
        Why { fact, advice: None }
    }
}

/// Why one release cannot be used here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Unusable {
    Prerelease,
    Yanked(Option<String>),
    /// What its `Requires-Python` says.
    Python(String),
    /// Only an sdist, which `--only-binary` refuses.
    OnlySdist,
    /// Only wheels, which `--no-binary` refuses.
    OnlyWheels,
    /// Wheels for other platforms, no sdist.
    NoWheelHere,
}

impl Selector {
    /// Why no version of `name` in `range` can be chosen; `None` when it is not for a reason of
    /// the package's own (a package named by location, or versions the solver's conflicts
    /// refused, which the derivation tells). `asked`: whether `range` is what a requirement
    /// asked (else it is what the solver had left of one after refusing versions).
    pub(super) fn why_none(&self, name: &PackageName, range: &Range, env: &Environment, asked: bool) -> Option<Why> {
        if self.direct.contains_key(name) {
            return None;
        }
        let candidates = self.candidates(name, env).ok()?;
        if candidates.files.is_empty() {
            return Some(self.not_found(name));
        }
        let shown = specifier_text(range);
        // What is left of a requirement after the solver ruled versions out has holes: named
        // as what is left rather than as a specifier nobody wrote.
        let among = if range == &Range::full() {
            String::new()
        } else if asked || range.iter().count() <= 1 {
            format!(" matching {shown}")
        } else {
            " left".to_string()
        };
        let matching: Vec<(&Version, Unusable)> = candidates
            .versions
            .keys()
            .rev()
            .filter(|version| range.contains(version))
            .filter_map(|version| Some((version, self.unusable(name, version, &candidates, env)?)))
            .collect();
        let Some((newest, reason)) = matching.first() else {
            return asked.then(|| Why::fact(self.nothing_matches(name, range, &shown, &candidates)));
        };
        let python = env.python_checked();
        if !matching.iter().all(|(_, other)| same_kind(other, reason)) {
            let listed: Vec<String> = matching
                .iter()
                .take(4)
                .map(|(version, reason)| format!("{version} {}", reason_text(reason, &python)))
                .collect();
            return Some(Why::fact(format!(
                "no release of {name}{among} can be used here: {}",
                listed.join(", ")
            )));
        }
        Some(match reason {
            Unusable::Prerelease => Why {
                fact: format!("the only releases of {name}{among} are pre-releases (the newest is {newest})"),
                advice: Some(format!(
                    "pre-releases are left out unless asked for: pass --pre, or name one in the requirement \
                     ({name}>={newest})"
                )),
            },
            Unusable::Yanked(why) => {
                let why = why
                    .as_deref()
                    .filter(|why| !why.is_empty())
                    .map(|why| format!(": \"{why}\""))
                    .unwrap_or_default();
                Why {
                    fact: format!("every release of {name}{among} was yanked ({newest}{why})"),
                    advice: Some(format!(
                        "to use a yanked release anyway, pin it exactly ({name}=={newest})"
                    )),
                }
            }
            Unusable::Python(requires) => Why {
                fact: format!(
                    "every release of {name}{among} needs another Python than {python} ({newest} requires Python \
                     {requires})"
                ),
                advice: Some(match self.newest_for_this_python(&candidates, env) {
                    Some(version) => format!("the newest release of {name} for Python {python} is {version}"),
                    None => format!("no release of {name} supports Python {python}"),
                }),
            },
            Unusable::OnlySdist => Why {
                fact: format!(
                    "the releases of {name}{among} have only source distributions here (the newest is {newest}), \
                     and --only-binary refuses them"
                ),
                advice: Some(match self.newest_with_wheel(name, &candidates, env) {
                    Some(version) => format!(
                        "the newest release of {name} with a wheel for this platform is {version}; or drop {name} \
                         from --only-binary to build it"
                    ),
                    None => format!(
                        "no release of {name} has a wheel for this platform: drop {name} from --only-binary to \
                         build it"
                    ),
                }),
            },
            Unusable::OnlyWheels => Why {
                fact: format!(
                    "the releases of {name}{among} have only wheels (the newest is {newest}), and --no-binary \
                     refuses them"
                ),
                advice: Some(format!("drop {name} from --no-binary")),
            },
            Unusable::NoWheelHere => Why::fact(format!(
                "the releases of {name}{among} have no wheel for this platform and no source distribution (the \
                 newest is {newest}{})",
                self.target
                    .tags
                    .iter()
                    .next()
                    .map(|tag| format!("; this platform takes {tag} and compatible tags"))
                    .unwrap_or_default()
            )),
        })
    }

    /// Why `version` cannot be chosen here, or `None` if it can.
    fn unusable(
        &self,
        name: &PackageName,
        version: &Version,
        candidates: &Candidates,
        env: &Environment,
    ) -> Option<Unusable> {
        let files = candidates.versions.get(version)?;
        if files.installable() {
            if files.yanked && !self.exactly_pinned(name, version) {
                let why = files
                    .all
                    .iter()
                    .filter_map(|&index| candidates.files.get(index)?.file.yanked.clone())
                    .next();
                return Some(Unusable::Yanked(why));
            }
            if let Environment::Universal(fork) = env
                && let Some(text) = &files.requires_python
                && let Ok(specifiers) = VersionSpecifiers::from_str(text)
                && python_floor(&specifiers).is_some_and(|floor| floor > fork.python)
            {
                return Some(Unusable::Python(text.to_string()));
            }
            return version.any_prerelease().then_some(Unusable::Prerelease);
        }
        // Not installable: which files there are, and what stops each.
        let python = env.python_checked();
        let (mut requires, mut python_ok_sdist, mut python_ok_wheel, mut wheel_here) = (None, false, false, false);
        for file in files.all.iter().filter_map(|&index| candidates.files.get(index)) {
            let fits = match (&file.file.requires_python, env) {
                (Some(text), Environment::Specific { .. }) => requires_python_allows(text, &python),
                _ => true,
            };
            if !fits {
                requires = requires.or_else(|| file.file.requires_python.as_deref().map(str::to_string));
                continue;
            }
            match &file.filename {
                DistFilename::SourceDist(_) => python_ok_sdist = true,
                DistFilename::Wheel(wheel) => {
                    python_ok_wheel = true;
                    wheel_here |= self.target.tags.rank(wheel).is_some();
                }
            }
        }
        Some(if python_ok_sdist && !wheel_here {
            Unusable::OnlySdist
        } else if wheel_here {
            Unusable::OnlyWheels
        } else if python_ok_wheel {
            Unusable::NoWheelHere
        } else {
            Unusable::Python(requires.unwrap_or_default())
        })
    }

    /// `name` has no files on any source: say where axle looked, and which names are close.
    fn not_found(&self, name: &PackageName) -> Why {
        let mut places: Vec<String> = self
            .sources
            .indexes
            .iter()
            .map(|index| format!("the index {index}"))
            .collect();
        places.extend(self.sources.find_links.iter().map(|link| match link {
            FindLinks::Directory(dir) => format!("--find-links {}", dir.display()),
            FindLinks::Page(url) => format!("--find-links {url}"),
        }));
        let places = match places.as_slice() {
            [] => "any source (--no-index, and no --find-links)".to_string(),
            [one] => one.clone(),
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
        };
        let listed = self
            .runtime
            .block_on(self.index.project_names(&self.sources, &self.fetch));
        let close = closest(name, listed.iter());
        Why {
            fact: format!("no project named {name} was found on {places}"),
            advice: match close.as_slice() {
                [] => None,
                [one] => Some(format!("did you mean {one}?")),
                [first @ .., last] => Some(format!("did you mean {} or {last}?", first.join(", "))),
            },
        }
    }

    /// No release of `name` lies in `range`: the newest there are (and any newer ones
    /// `--exclude-newer` left out).
    fn nothing_matches(&self, name: &PackageName, range: &Range, shown: &str, candidates: &Candidates) -> String {
        let newer: Vec<&Version> = candidates
            .files
            .iter()
            .map(|file| file.filename.version())
            .filter(|version| range.contains(version) && !candidates.versions.contains_key(*version))
            .collect();
        if let (Some(limit), Some(newest)) = (self.exclude_newer, newer.iter().max()) {
            return format!(
                "every release of {name} matching {shown} (the newest is {newest}) was uploaded after the \
                 --exclude-newer cutoff, {limit}"
            );
        }
        let finals: Vec<String> = candidates
            .versions
            .keys()
            .rev()
            .filter(|version| !version.any_prerelease())
            .take(3)
            .map(ToString::to_string)
            .collect();
        let newest = match finals.as_slice() {
            [] => match candidates.versions.keys().next_back() {
                Some(version) => format!("it has only pre-releases, the newest {version}"),
                None => "it has no release this target can use".to_string(),
            },
            [one] => format!("the only release is {one}"),
            [first, rest @ ..] => format!("the newest are {first}, then {}", rest.join(", ")),
        };
        format!("no release of {name} matches {shown}: {newest}")
    }

    /// The newest release whose files admit this environment's Python.
    fn newest_for_this_python(&self, candidates: &Candidates, env: &Environment) -> Option<Version> {
        let python = env.python_checked();
        candidates
            .versions
            .iter()
            .rev()
            .find(|(_, files)| {
                files
                    .all
                    .iter()
                    .filter_map(|&index| candidates.files.get(index))
                    .any(|file| {
                        file.file
                            .requires_python
                            .as_deref()
                            .is_none_or(|text| requires_python_allows(text, &python))
                    })
            })
            .map(|(version, _)| version.clone())
    }

    /// The newest release with a wheel this target installs.
    fn newest_with_wheel(&self, name: &PackageName, candidates: &Candidates, env: &Environment) -> Option<Version> {
        candidates
            .versions
            .iter()
            .rev()
            .find(|(version, files)| {
                files.best_wheel.is_some() && self.unusable(name, version, candidates, env).is_none()
            })
            .map(|(version, _)| version.clone())
    }
}

fn same_kind(left: &Unusable, right: &Unusable) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

fn reason_text(reason: &Unusable, python: &Version) -> String {
    match reason {
        Unusable::Prerelease => "is a pre-release (--pre allows it)".to_string(),
        Unusable::Yanked(_) => "was yanked".to_string(),
        Unusable::Python(requires) => format!("requires Python {requires}, not {python}"),
        Unusable::OnlySdist => "has only an sdist (--only-binary)".to_string(),
        Unusable::OnlyWheels => "has only wheels (--no-binary)".to_string(),
        Unusable::NoWheelHere => "has no wheel for this platform".to_string(),
    }
}

/// Up to three names close to `name` (by edit distance, the closest first), as pip and uv
/// suggest none but a reader wants.
fn closest<'a>(name: &PackageName, names: impl Iterator<Item = &'a PackageName>) -> Vec<String> {
    let wanted = name.as_ref();
    // A typo of the whole name, or of its first part (`fastapii-not-a-package`).
    let head = wanted.split('-').next().unwrap_or(wanted);
    let mut scored: BTreeMap<(usize, String), ()> = BTreeMap::new();
    for known in names {
        let known = known.as_ref();
        if known == wanted {
            continue;
        }
        let distance = edit_distance(wanted, known).min(edit_distance(head, known) + 1);
        let allowed = 1 + known.len().min(wanted.len()) / 4;
        if distance <= allowed {
            scored.insert((distance, known.to_string()), ());
        }
    }
    scored.into_keys().take(3).map(|(_, known)| known).collect()
}

/// Levenshtein distance with a swap of two neighbours counting as one edit (`fastapi` →
/// `fsatapi` is one typo): the optimal string alignment distance.
fn edit_distance(left: &str, right: &str) -> usize {
    strsim::osa_distance(left, right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<PackageName> {
        list.iter().map(|name| PackageName::from_str(name).unwrap()).collect()
    }

    #[test]
    fn close_names_are_suggested_closest_first() {
        let known = names(&["fastapi", "fastapi-cli", "flask", "requests", "pydantic", "starlette"]);
        let cases: [(&str, &[&str]); 5] = [
            ("reqeusts", &["requests"]),
            ("fastapii", &["fastapi", "fastapi-cli"]),
            ("fastapii-not-a-package", &["fastapi"]),
            ("pydantik", &["pydantic"]),
            ("numpy", &[]),
        ];
        for (typed, expected) in cases {
            let name = PackageName::from_str(typed).unwrap();
            assert_eq!(closest(&name, known.iter()), expected, "{typed}");
        }
    }
}
