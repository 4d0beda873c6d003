//! What a sync changes: pip-sync's rule, as a pure function of what the
//! lock names and what the environment holds.

use std::collections::BTreeMap;

use std::collections::HashMap;

use axle_standards::{PackageName, Version};

use crate::lockfile::{Locked, LockedSource};

/// Distributions pip-sync leaves alone unless a lock names them.
pub const PROTECTED: [&str; 6] = ["pip", "pip-review", "pip-tools", "pkg-resources", "setuptools", "wheel"];

/// A distribution found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    pub name: PackageName,
    pub version: Version,
    /// Its dist-info directory name.
    pub dist_info: String,
    /// A RECORD was written: the install finished. An unfinished one is
    /// always replaced (an interrupted sync is repaired this way).
    pub complete: bool,
    /// The wheel it was installed from, when axle installed it.
    pub wheel_sha256: Option<String>,
    /// What it was built from, when axle built it (an sdist's hash, a directory's
    /// fingerprint, a commit: see `builds::source::Identity`), or the URL it came from.
    pub source_identity: Option<String>,
}

impl Present {
    /// `name==version`, as users read it.
    pub fn describe(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub install: Vec<Locked>,
    pub remove: Vec<Present>,
    pub keep: Vec<Present>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.install.is_empty() && self.remove.is_empty()
    }
}

/// pip-sync's rule. `identities` says, for each pin named by its location (a URL, a
/// directory, a repository), what identifies the source now: an install of anything else is
/// replaced.
pub fn plan(
    wanted: &BTreeMap<PackageName, Locked>,
    present: Vec<Present>,
    identities: &HashMap<PackageName, String>,
) -> Plan {
    let mut plan = Plan::default();
    let mut satisfied: BTreeMap<PackageName, ()> = BTreeMap::new();
    for found in present {
        match wanted.get(&found.name) {
            Some(locked)
                if satisfies(locked, &found, identities.get(&found.name)) && !satisfied.contains_key(&found.name) =>
            {
                satisfied.insert(found.name.clone(), ());
                plan.keep.push(found);
            }
            Some(_) => plan.remove.push(found),
            None if PROTECTED.contains(&found.name.as_ref()) => plan.keep.push(found),
            None => plan.remove.push(found),
        }
    }
    for (name, locked) in wanted {
        if !satisfied.contains_key(name) {
            plan.install.push(locked.clone());
        }
    }
    plan
}

/// The installed distribution is what the lock names: a finished install, and either the
/// same version from a file the lock's hashes allow (when both are known), or, for a pin by
/// location, the same source.
fn satisfies(locked: &Locked, found: &Present, identity: Option<&String>) -> bool {
    if !found.complete {
        return false;
    }
    if locked.source != LockedSource::Registry {
        return identity.is_some() && found.source_identity.as_ref() == identity;
    }
    if locked.version.as_ref() != Some(&found.version) {
        return false;
    }
    if locked.hashes.is_empty() {
        return true;
    }
    let built_from = found
        .source_identity
        .as_deref()
        .and_then(|identity| identity.strip_prefix("sdist:"));
    match (&found.wheel_sha256, built_from) {
        (_, Some(sdist)) => locked.hashes.contains(sdist),
        (Some(sha), None) => locked.hashes.contains(sha),
        // Not installed by axle: the version is all there is to compare.
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::str::FromStr;

    use super::*;

    fn locked(name: &str, version: &str, hashes: &[&str]) -> (PackageName, Locked) {
        let name = PackageName::from_str(name).unwrap();
        (
            name.clone(),
            Locked {
                name,
                version: Some(Version::from_str(version).unwrap()),
                source: LockedSource::Registry,
                hashes: hashes.iter().map(|hash| hash.to_string()).collect::<BTreeSet<_>>(),
                origin: "requirements.txt:1".into(),
            },
        )
    }

    fn present(name: &str, version: &str, complete: bool, sha: Option<&str>) -> Present {
        Present {
            name: PackageName::from_str(name).unwrap(),
            version: Version::from_str(version).unwrap(),
            dist_info: format!("{name}-{version}.dist-info"),
            complete,
            wheel_sha256: sha.map(str::to_string),
            source_identity: None,
        }
    }

    fn names<T>(items: &[T], name: impl Fn(&T) -> String) -> Vec<String> {
        items.iter().map(name).collect()
    }

    #[test]
    fn pip_sync_rules() {
        let wanted: BTreeMap<_, _> = [
            locked("same", "1.0", &[]),
            locked("upgrade", "2.0", &[]),
            locked("new", "1.0", &[]),
            locked("hashed", "1.0", &["aa"]),
            locked("broken", "1.0", &[]),
        ]
        .into_iter()
        .collect();
        let plan = plan(
            &wanted,
            vec![
                present("same", "1.0", true, None),
                present("upgrade", "1.0", true, None),
                present("extra", "3.0", true, None),
                present("pip", "24.0", true, None),
                present("hashed", "1.0", true, Some("bb")),
                present("broken", "1.0", false, None),
            ],
            &HashMap::new(),
        );
        assert_eq!(names(&plan.keep, |p| p.name.to_string()), ["same", "pip"]);
        assert_eq!(
            names(&plan.remove, |p| p.name.to_string()),
            ["upgrade", "extra", "hashed", "broken"]
        );
        assert_eq!(
            names(&plan.install, |l| l.name.to_string()),
            ["broken", "hashed", "new", "upgrade"]
        );
    }

    #[test]
    fn protected_packages_are_synced_when_locked() {
        let wanted: BTreeMap<_, _> = [locked("setuptools", "70.0", &[])].into_iter().collect();
        let plan = plan(
            &wanted,
            vec![present("setuptools", "69.0", true, None)],
            &HashMap::new(),
        );
        assert_eq!(plan.remove.len(), 1);
        assert_eq!(plan.install.len(), 1);
    }

    #[test]
    fn sources_are_compared_by_identity() {
        let by_location = |source: LockedSource| Locked {
            name: PackageName::from_str("app").unwrap(),
            version: None,
            source,
            hashes: BTreeSet::new(),
            origin: "requirements.txt:1".into(),
        };
        let directory = LockedSource::Directory {
            path: "/src/app".into(),
            editable: true,
        };
        let built = |identity: Option<&str>| Present {
            source_identity: identity.map(str::to_string),
            ..present("app", "1.0", true, Some("ff"))
        };
        let cases = [
            // (pin, installed from, identity now, kept)
            (
                by_location(directory.clone()),
                Some("dir:/src/app:1"),
                Some("dir:/src/app:1"),
                true,
            ),
            (
                by_location(directory.clone()),
                Some("dir:/src/app:1"),
                Some("dir:/src/app:2"),
                false,
            ),
            (by_location(directory), None, Some("dir:/src/app:1"), false),
            (locked("app", "1.0", &["aa"]).1, Some("sdist:aa"), None, true),
            (locked("app", "1.0", &["aa"]).1, Some("sdist:bb"), None, false),
            (locked("app", "1.0", &["ff"]).1, None, None, true),
        ];
        for (pin, installed_from, now, kept) in cases {
            let wanted: BTreeMap<_, _> = [(pin.name.clone(), pin.clone())].into_iter().collect();
            let identities: HashMap<_, _> = now.map(|now| (pin.name.clone(), now.to_string())).into_iter().collect();
            let plan = plan(&wanted, vec![built(installed_from)], &identities);
            assert_eq!(
                plan.keep.len() == 1,
                kept,
                "{pin:?} from {installed_from:?} (now {now:?})"
            );
        }
    }
}
