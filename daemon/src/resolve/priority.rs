//! The order of decisions, and the conflict statistics that change it, as uv orders them.
//!
//! After a restart or at a fork, the decisions being made again come first, in their order (what
//! uv's backtracking keeps, see `solve`). Then exact pins (they cannot move), then the packages
//! that kept being refused, then those whose decisions kept refusing others (still before the
//! rest, so that they conflict before unrelated packages are decided: uv's order), then the
//! rest, each group in the order its packages were discovered: a breadth-first walk that keeps
//! results stable. PubGrub's own
//! conflict counts are left out: uv's order has none, and with them (or with the culprits
//! decided last) `apache-airflow[all]` locked 25 pins away from uv's.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use axle_standards::{PackageName, Version};

use super::package::PubPackage;
use super::selector::Range;

/// How often a package must be refused (or cause a refusal) before it is decided earlier (or
/// later): uv's threshold.
const CONFLICT_THRESHOLD: u32 = 5;

/// A package's place in the order: higher first.
pub(super) type Priority = (u8, Reverse<usize>, Reverse<usize>);

#[derive(Default)]
pub(super) struct Priorities {
    /// The order packages were discovered in: requirements in the order written, then each
    /// package's dependencies in the order its metadata lists them (uv decides in this order
    /// too, so ties between equally constrained packages fall the same way). Names are
    /// numbered once for a package and all its extras (which are decided together, as uv
    /// decides them), each (virtual) package again to order those.
    first_seen: RefCell<HashMap<PubPackage, usize>>,
    name_seen: RefCell<HashMap<PackageName, usize>>,
    /// How often a version of each package was refused because its dependencies exclude
    /// another package's decided version (`affected`), and how often each package's decision
    /// caused such a refusal (`caused`).
    affected: RefCell<HashMap<PackageName, u32>>,
    caused: RefCell<HashMap<PackageName, u32>>,
    /// Packages decided before others (they kept being refused) and after others (they kept
    /// causing refusals), as uv reorders them.
    early: RefCell<HashSet<PackageName>>,
    late: RefCell<HashSet<PackageName>>,
}

impl Priorities {
    /// `package`'s place; `replayed`: its place among the decisions a solve makes again first
    /// (after a restart or at a fork), which come before everything else, in their order.
    pub(super) fn priority(&self, package: &PubPackage, range: &Range, replayed: Option<usize>) -> Priority {
        let (name_order, order) = self.discovery_order(package);
        if let Some(rank) = replayed
            && *package != PubPackage::Root
        {
            return (5, Reverse(rank), Reverse(0));
        }
        let kind = match package {
            PubPackage::Root => 6,
            _ if range.as_singleton().is_some() => 4,
            _ => match package.name() {
                Some(name) if self.early.borrow().contains(name) => 3,
                Some(name) if self.late.borrow().contains(name) => 2,
                _ => 1,
            },
        };
        (kind, Reverse(name_order), Reverse(order))
    }

    /// Numbers packages not seen before, in the order given.
    pub(super) fn note_discovered(&self, dependencies: &[(PubPackage, Range)]) {
        for (package, _) in dependencies {
            self.discovery_order(package);
        }
    }

    /// Where `package` comes in the order of discovery: its name's place, and its own (numbered
    /// now if it was not seen before).
    fn discovery_order(&self, package: &PubPackage) -> (usize, usize) {
        let mut seen = self.first_seen.borrow_mut();
        let next = seen.len();
        let order = *seen.entry(package.clone()).or_insert(next);
        let Some(name) = package.name() else {
            return (order, order);
        };
        let mut names = self.name_seen.borrow_mut();
        let next = names.len();
        (*names.entry(name.clone()).or_insert(next), order)
    }

    /// Counts the conflicts `name`'s `dependencies` have with the versions `decided` so far;
    /// returns the culprit whose decision should now come later, when the order changes and
    /// `may_reorder` (then the solve starts over from just before the culprit's decision).
    ///
    /// When the newest allowed A is accepted by no recent release of B, deciding A first makes
    /// B walk back through every release to one from years ago that has no bound on A; uv and
    /// pip step A back instead and keep a recent B. uv gets there by counting, for each
    /// package, how often it is refused because of another's decision: past a threshold the
    /// refused package is decided earlier and the culprit later. A version of `name` whose
    /// dependency excludes the decided version of another package is refused by the solver,
    /// so the provider can count without the solver's internals; and since upstream PubGrub
    /// cannot undo one decision on request, the resolution restarts with the new order (what
    /// was fetched and learned about packages is kept).
    pub(super) fn note_conflicts<'a>(
        &self,
        name: &PackageName,
        dependencies: &[(PubPackage, Range)],
        decided: impl Fn(&PackageName) -> Option<&'a Version>,
        may_reorder: bool,
    ) -> Option<PackageName> {
        let mut reorder = None;
        for (dependency, range) in dependencies {
            let PubPackage::Package {
                name: culprit,
                extra: None,
            } = dependency
            else {
                continue;
            };
            let Some(version) = decided(culprit) else {
                continue;
            };
            if culprit == name || range.contains(version) {
                continue;
            }
            // Counted per package, as uv counts.
            let bump = |counts: &RefCell<HashMap<PackageName, u32>>, package: &PackageName| {
                let mut counts = counts.borrow_mut();
                let count = counts.entry(package.clone()).or_insert(0);
                *count += 1;
                *count
            };
            let affected = bump(&self.affected, name);
            let caused = bump(&self.caused, culprit);
            if affected >= CONFLICT_THRESHOLD {
                self.early.borrow_mut().insert(name.clone());
            }
            // A package refused often itself is not pushed back for the refusals it causes.
            if caused >= CONFLICT_THRESHOLD
                && may_reorder
                && !self.early.borrow().contains(culprit)
                && self.late.borrow_mut().insert(culprit.clone())
            {
                tracing::debug!(affected = %name, %culprit, "deciding the culprit later, and solving again");
                reorder = Some(culprit.clone());
            }
        }
        reorder
    }
}
