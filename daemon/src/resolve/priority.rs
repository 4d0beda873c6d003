//! The order of decisions, and the conflict counts that change it: uv's `PubGrubPriorities` and
//! conflict tracker, rule for rule.
//!
//! A package's rank is kept by name and only ever raised as requirements on it are read (uv
//! takes the higher of the old and the new): unspecified, then — once counted in conflicts —
//! decided late or early, then pinned to one version by some requirement (`==`, or an extra's
//! proxy pinning its package), then named by location. Ties go to the order names were first
//! required in (a breadth-first walk that keeps results stable), then to the order packages
//! were (a package before its extras, as uv decides them). The decisions a universal fork makes again
//! first (its parent's, see `solve`) come before everything, in their order.
//!
//! When the newest allowed A is accepted by no recent release of B, deciding A first walks B
//! back through every release to one from years ago that has no bound on A; uv and pip step A
//! back instead and keep a recent B. uv gets there by counting, for each package, how often it
//! is refused because of another (it is *affected*) and how often it is in the incompatibility
//! that refuses another (the *culprit*), in both places PubGrub meets conflicts: a version
//! refused for its dependencies, and a conflict resolved during unit propagation. At five, an
//! affected package is decided early; a culprit is decided late, and its decision is undone
//! with every later one (PubGrub keeps what it learned), unless it is already early or late.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::HashMap;

use axle_standards::PackageName;

use super::package::PubPackage;
use super::selector::Range;

/// How often a package must be affected (or a culprit) before it is decided earlier (or
/// later): uv's threshold.
const CONFLICT_THRESHOLD: u32 = 5;

/// A name's rank: later variants first, then the earlier discovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Unspecified(Reverse<usize>),
    /// Its decisions kept refusing other packages: decided after those (still before packages
    /// without conflicts, so that it conflicts before unrelated packages are decided).
    ConflictLate(Reverse<usize>),
    /// Its versions kept being refused: decided before the packages refusing them.
    ConflictEarly(Reverse<usize>),
    /// Some requirement allows one version only.
    Singleton(Reverse<usize>),
    /// Named by location: its one candidate.
    Direct(Reverse<usize>),
}

impl Rank {
    fn index(self) -> usize {
        match self {
            Rank::Unspecified(Reverse(index))
            | Rank::ConflictLate(Reverse(index))
            | Rank::ConflictEarly(Reverse(index))
            | Rank::Singleton(Reverse(index))
            | Rank::Direct(Reverse(index)) => index,
        }
    }
}

/// A package's place in the order: higher first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(Place);

/// The root, then what a fork replays (by its place), then the rest by rank and tiebreaker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Ranked(Option<Rank>, Option<Reverse<usize>>),
    Replayed(Reverse<usize>),
    Root,
}

/// The ranks and conflict counts of one solve. A universal resolution's fork starts from its
/// parent's as they were when it split (uv's fork state carries them), so each fork counts its
/// own conflicts: a culprit late in one fork is still undone in the next after five conflicts.
#[derive(Default, Clone)]
pub(super) struct Priorities {
    ranks: RefCell<HashMap<PackageName, Rank>>,
    /// The order packages (a package, an extra's packages) were first required in.
    tiebreakers: RefCell<HashMap<PubPackage, usize>>,
    affected: RefCell<HashMap<PubPackage, u32>>,
    culprit: RefCell<HashMap<PubPackage, u32>>,
    /// Packages that just reached the threshold, to decide early (affected) or late (culprit).
    prioritize: RefCell<Vec<PubPackage>>,
    deprioritize: RefCell<Vec<PubPackage>>,
}

impl Priorities {
    /// Starts over from `from` (a fork's start).
    pub(super) fn restore(&self, from: Priorities) {
        let Priorities {
            ranks,
            tiebreakers,
            affected,
            culprit,
            prioritize,
            deprioritize,
        } = from;
        self.ranks.replace(ranks.into_inner());
        self.tiebreakers.replace(tiebreakers.into_inner());
        self.affected.replace(affected.into_inner());
        self.culprit.replace(culprit.into_inner());
        self.prioritize.replace(prioritize.into_inner());
        self.deprioritize.replace(deprioritize.into_inner());
    }

    /// `package`'s place; `replayed`: its place among the decisions a fork makes again first.
    pub(super) fn priority(&self, package: &PubPackage, replayed: Option<usize>) -> Priority {
        let Some(name) = package.name() else {
            return Priority(Place::Root);
        };
        if let Some(place) = replayed {
            return Priority(Place::Replayed(Reverse(place)));
        }
        let rank = self.ranks.borrow().get(name).copied();
        let tiebreaker = self.tiebreakers.borrow().get(package).copied().map(Reverse);
        Priority(Place::Ranked(rank, tiebreaker))
    }

    /// Takes note of requirements read (a package's at a version, or the root's), in order:
    /// a name is ranked when first required, and raised when a requirement pins it (`direct`:
    /// whether a name is required by location).
    pub(super) fn note_required(&self, dependencies: &[(PubPackage, Range)], direct: impl Fn(&PackageName) -> bool) {
        let mut ranks = self.ranks.borrow_mut();
        let mut tiebreakers = self.tiebreakers.borrow_mut();
        for (package, range) in dependencies {
            let Some(name) = package.name() else {
                continue;
            };
            if !tiebreakers.contains_key(package) {
                let next = tiebreakers.len();
                tiebreakers.insert(package.clone(), next);
            }
            let next = ranks.len();
            let index = ranks.get(name).map_or(next, |rank| rank.index());
            let rank = if direct(name) {
                Rank::Direct(Reverse(index))
            } else if range.as_singleton().is_some() {
                Rank::Singleton(Reverse(index))
            } else {
                Rank::Unspecified(Reverse(index))
            };
            // Only ever raised; a rank from conflicts stays until a pin raises it.
            let entry = ranks.entry(name.clone()).or_insert(rank);
            if rank > *entry {
                *entry = rank;
            }
        }
    }

    /// Counts a conflict: `affected` (a version of it refused, or a conflict resolved on it)
    /// and the other packages of the incompatibility behind it, as uv counts them. An extra's
    /// packages and their package are not counted against each other: the proxy only copies
    /// its package's obligations.
    pub(super) fn note_conflict(&self, affected: &PubPackage, incompatibility: &[&PubPackage]) {
        if tracing::enabled!(tracing::Level::TRACE) {
            let packages: Vec<String> = incompatibility.iter().map(ToString::to_string).collect();
            tracing::trace!(%affected, incompatibility = %packages.join(", "), "conflict");
        }
        let mut real = false;
        for culprit in incompatibility {
            if *culprit == affected || (culprit.name().is_some() && culprit.name() == affected.name()) {
                continue;
            }
            real = true;
            if bump(&self.culprit, culprit) == CONFLICT_THRESHOLD {
                self.deprioritize.borrow_mut().push((*culprit).clone());
            }
        }
        if real && bump(&self.affected, affected) == CONFLICT_THRESHOLD {
            self.prioritize.borrow_mut().push(affected.clone());
        }
    }

    /// Applies what the counts reached since the last call: affected packages are decided
    /// early, culprits late; returns the culprits whose decisions to undo now (with every
    /// later one), as uv backtracks them.
    pub(super) fn take_backtracks(&self) -> Vec<PubPackage> {
        let prioritize = std::mem::take(&mut *self.prioritize.borrow_mut());
        let deprioritize = std::mem::take(&mut *self.deprioritize.borrow_mut());
        let mut ranks = self.ranks.borrow_mut();
        for package in prioritize {
            let Some(name) = package.name() else {
                continue;
            };
            let next = ranks.len();
            let rank = ranks.entry(name.clone()).or_insert(Rank::Unspecified(Reverse(next)));
            if !matches!(rank, Rank::ConflictEarly(_)) {
                *rank = Rank::ConflictEarly(Reverse(rank.index()));
                tracing::debug!(%package, "too many conflicts (affected): deciding it earlier");
            }
        }
        let mut backtracks = Vec::new();
        for package in deprioritize {
            let Some(name) = package.name() else {
                continue;
            };
            let next = ranks.len();
            let rank = ranks.entry(name.clone()).or_insert(Rank::Unspecified(Reverse(next)));
            // An early package is not pushed back (uv's guard against going round in circles).
            if matches!(rank, Rank::ConflictEarly(_) | Rank::ConflictLate(_)) {
                continue;
            }
            *rank = Rank::ConflictLate(Reverse(rank.index()));
            tracing::debug!(%package, "too many conflicts (culprit): deciding it later, undoing its decision");
            backtracks.push(package);
        }
        backtracks
    }
}

fn bump(counts: &RefCell<HashMap<PubPackage, u32>>, package: &PubPackage) -> u32 {
    let mut counts = counts.borrow_mut();
    let count = counts.entry(package.clone()).or_insert(0);
    *count += 1;
    *count
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use axle_standards::Version;

    use super::*;

    fn package(name: &str) -> PubPackage {
        PubPackage::base(PackageName::from_str(name).unwrap())
    }

    fn sorted(priorities: &Priorities, names: &[&str]) -> Vec<String> {
        let mut packages: Vec<PubPackage> = names.iter().map(|name| package(name)).collect();
        packages.sort_by_key(|package| Reverse(priorities.priority(package, None)));
        packages.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_order_of_decisions_follows_uvs_ranks() {
        let priorities = Priorities::default();
        let any = Range::full();
        let pinned = Range::singleton(Version::new([1]));
        priorities.note_required(
            &[
                (package("a"), any.clone()),
                (package("b"), any.clone()),
                (package("c"), any.clone()),
            ],
            |_| false,
        );
        // Discovery order.
        assert_eq!(sorted(&priorities, &["c", "b", "a"]), ["a", "b", "c"]);
        // A pin raises a name; a later loose requirement does not lower it.
        priorities.note_required(&[(package("c"), pinned.clone())], |_| false);
        priorities.note_required(&[(package("c"), any.clone())], |_| false);
        assert_eq!(sorted(&priorities, &["a", "b", "c"]), ["c", "a", "b"]);
        // `b` refused five times because of `a`: `b` early, `a` late and undone.
        for _ in 0..CONFLICT_THRESHOLD {
            priorities.note_conflict(&package("b"), &[&package("b"), &package("a")]);
        }
        assert_eq!(priorities.take_backtracks(), [package("a")]);
        assert_eq!(sorted(&priorities, &["a", "b", "c"]), ["c", "b", "a"]);
        // A late package refused five times is decided early; an early one is never made late.
        for _ in 0..CONFLICT_THRESHOLD {
            priorities.note_conflict(&package("a"), &[&package("a"), &package("b")]);
        }
        assert!(priorities.take_backtracks().is_empty());
        assert_eq!(sorted(&priorities, &["a", "b", "c"]), ["c", "a", "b"]);
        // Counted once, at the threshold.
        priorities.note_conflict(&package("a"), &[&package("a"), &package("b")]);
        assert!(priorities.take_backtracks().is_empty());
    }
}
