//! What a sync changes: pip-sync's rule, as a pure function of what the
//! lock names and what the environment holds.

use std::collections::BTreeMap;

use axle_standards::{PackageName, Version};

use crate::lockfile::Locked;

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

pub fn plan(wanted: &BTreeMap<PackageName, Locked>, present: Vec<Present>) -> Plan {
    let mut plan = Plan::default();
    let mut satisfied: BTreeMap<PackageName, ()> = BTreeMap::new();
    for found in present {
        match wanted.get(&found.name) {
            Some(locked) if satisfies(locked, &found) && !satisfied.contains_key(&found.name) => {
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

/// The installed distribution is what the lock names: same version, a
/// finished install, and — when both are known — a wheel the lock's hashes
/// allow.
fn satisfies(locked: &Locked, found: &Present) -> bool {
    if !found.complete {
        return false;
    }
    let version_matches = match &locked.version {
        Some(version) => version == &found.version,
        // A URL requirement: only the exact wheel counts.
        None => locked.url.is_some() && found.wheel_sha256.is_some(),
    };
    let hash_matches = match (&found.wheel_sha256, locked.hashes.is_empty()) {
        (Some(sha), false) => locked.hashes.contains(sha),
        _ => true,
    };
    version_matches && hash_matches
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
                url: None,
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
        let plan = plan(&wanted, vec![present("setuptools", "69.0", true, None)]);
        assert_eq!(plan.remove.len(), 1);
        assert_eq!(plan.install.len(), 1);
    }
}
