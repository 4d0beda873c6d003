//! Universal resolution: one lock for every platform and every Python from a lowest one on,
//! as uv's `--universal` makes it.
//!
//! The provider solves one fork at a time (see `environment`): the first covers every
//! environment; a solve that meets requirements differing by marker, or a release needing a
//! newer Python than the fork's lowest, stops, and its forks are solved in its place, each
//! starting from what had been decided and preferring what the forks before it chose — so a
//! package gets one version wherever it can, and the newest release each Python can use. The pins of every fork are
//! then merged, each with the marker of where it is needed; a package chosen at two versions
//! in two forks is pinned twice, under disjoint markers.

use std::collections::{BTreeMap, BTreeSet};

use axle_standards::{ExtraName, MarkerTree, PackageName, Version};

use super::environment::{Environment, Fork};
use super::package::PubPackage;
use super::priority::Priorities;
use super::provider::Provider;
use super::solution::Solved;
use super::solve::Solve;
use super::{RequiredBy, Resolution, ResolveError, ResolveRequest};

/// Forks of one resolution at most: past them, the requirements are reported as too tangled.
const MAX_FORKS: usize = 512;

/// A fork to solve: its markers, the decisions its parent had made (in order), and its
/// parent's ranks and conflict counts at the split.
type ForkStart = (Fork, Vec<(PubPackage, Version)>, Box<Priorities>);

pub(super) fn resolve(
    provider: &Provider,
    request: &ResolveRequest,
    lowest: &Version,
) -> Result<Resolution, ResolveError> {
    let mut pending: Vec<ForkStart> = vec![(Fork::at_least(lowest), Vec::new(), Box::default())];
    let mut solved: Vec<Solved> = Vec::new();
    while let Some((fork, decided, priorities)) = pending.pop() {
        if solved.len() + pending.len() > MAX_FORKS {
            return Err(ResolveError::Invalid(format!(
                "the requirements split a universal resolution into more than {MAX_FORKS} parts by their markers; \
                 lock for one platform instead (without --universal)"
            )));
        }
        tracing::debug!(fork = ?fork.marker, "solving a fork");
        provider.enter(Environment::Universal(fork), decided, *priorities);
        match provider.solve()? {
            Solve::Solved(solution) => {
                let this = provider.solved(request, &solution)?;
                provider.prefer(&this.versions);
                solved.push(this);
            }
            // As uv orders them (its default strategy: the newest versions for each Python):
            // forks for newer Pythons are solved first, so older ones prefer what they chose
            // where they can use it; among equals, the last made is solved first.
            Solve::Forked {
                mut forks,
                decided,
                priorities,
            } => {
                forks.sort_by(|left, right| left.python.cmp(&right.python));
                pending.extend(
                    forks
                        .into_iter()
                        .map(|fork| (fork, decided.clone(), priorities.clone())),
                );
            }
        }
    }
    merge(provider, solved, lowest)
}

/// One pin of the merged lock.
struct Merged {
    needed: MarkerTree,
    extras: BTreeSet<ExtraName>,
    required_by: BTreeSet<RequiredBy>,
}

fn merge(provider: &Provider, solved: Vec<Solved>, lowest: &Version) -> Result<Resolution, ResolveError> {
    let mut merged: BTreeMap<(PackageName, Version), Merged> = BTreeMap::new();
    for fork in solved {
        let Solved {
            versions,
            mut extras,
            mut required_by,
            needed,
        } = fork;
        for (name, version) in versions {
            let Some(marker) = needed.get(&name).filter(|marker| !marker.is_false()) else {
                continue;
            };
            let entry = merged.entry((name.clone(), version)).or_insert_with(|| Merged {
                needed: MarkerTree::FALSE,
                extras: BTreeSet::new(),
                required_by: BTreeSet::new(),
            });
            entry.needed.or(marker.clone());
            entry.extras.extend(extras.remove(&name).unwrap_or_default());
            entry.required_by.extend(required_by.remove(&name).unwrap_or_default());
        }
    }
    let mut pins = Vec::with_capacity(merged.len());
    for ((name, version), pin) in merged {
        let marker = axle_standards::marker_text(&pin.needed, lowest);
        pins.push(provider.pin(name, version, pin.extras, pin.required_by, marker)?);
    }
    Ok(Resolution { pins })
}
