//! What a solve chose, turned into what a lock writes: versions and extras, what requires each
//! package (for `# via`), where each is needed (followed from the roots along requirement
//! markers, for a universal lock), and each pin's files and source.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use axle_standards::{ExtraName, MarkerTree, PackageName, Requirement, Version, evaluate};

use super::direct::source_files;
use super::package::PubPackage;
use super::provider::Provider;
use super::{Direct, Pin, PinSource, RequiredBy, Resolution, ResolveError, ResolveRequest};

/// What one solve chose.
pub struct Solved {
    pub versions: BTreeMap<PackageName, Version>,
    pub extras: BTreeMap<PackageName, BTreeSet<ExtraName>>,
    pub required_by: BTreeMap<PackageName, BTreeSet<RequiredBy>>,
    /// Where each package is needed, within the solve's environment.
    pub needed: HashMap<PackageName, MarkerTree>,
}

impl Provider {
    /// What a solve chose: versions, extras, what requires each package, and where (within
    /// the solve's environment) each is needed — followed from the roots along requirements
    /// and their markers.
    pub fn solved(
        &self,
        request: &ResolveRequest,
        solution: &pubgrub::SelectedDependencies<PubPackage, Version>,
    ) -> Result<Solved, ResolveError> {
        let mut versions: BTreeMap<PackageName, Version> = BTreeMap::new();
        let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        for (package, version) in solution.iter() {
            match package {
                PubPackage::Root | PubPackage::ExtraRequirements { .. } => {}
                PubPackage::Package {
                    name,
                    extra: None,
                    marker: None,
                } => {
                    versions.insert(name.clone(), version.clone());
                }
                PubPackage::Package {
                    name,
                    extra: Some(extra),
                    ..
                } => {
                    extras.entry(name.clone()).or_default().insert(extra.clone());
                }
                // A marker proxy's version is its package's.
                PubPackage::Package { .. } => {}
            }
        }

        // One node per package and per extra requested of it.
        type Node = (PackageName, Option<ExtraName>);
        let nodes_of = |requirement: &Requirement| -> Vec<Node> {
            let mut nodes = vec![(requirement.name.clone(), None)];
            if let Some(selected) = extras.get(&requirement.name) {
                for extra in requirement.extras.iter().filter(|extra| selected.contains(*extra)) {
                    nodes.push((requirement.name.clone(), Some(extra.clone())));
                }
            }
            nodes
        };
        let mut reach: HashMap<Node, MarkerTree> = HashMap::new();
        let mut queue: VecDeque<Node> = VecDeque::new();
        fn widen(reach: &mut HashMap<Node, MarkerTree>, queue: &mut VecDeque<Node>, node: Node, marker: MarkerTree) {
            let known = reach.entry(node.clone()).or_insert(MarkerTree::FALSE);
            let mut wider = known.clone();
            wider.or(marker);
            if wider != *known {
                *known = wider;
                queue.push_back(node);
            }
        }

        let base = self.state.env.borrow().marker();
        let mut required_by: BTreeMap<PackageName, BTreeSet<RequiredBy>> = BTreeMap::new();
        for root in &request.requirements {
            let requirement = &root.requirement;
            let Some(marker) = self.state.env.borrow().applies(&requirement.marker, None) else {
                continue;
            };
            if !versions.contains_key(&requirement.name) {
                continue;
            }
            required_by
                .entry(requirement.name.clone())
                .or_default()
                .insert(RequiredBy::Origin(root.origin.clone()));
            let mut at = base.clone();
            at.and(marker);
            for node in nodes_of(requirement) {
                widen(&mut reach, &mut queue, node, at.clone());
            }
        }
        for constraint in &request.constraints {
            if versions.contains_key(&constraint.requirement.name) {
                required_by
                    .entry(constraint.requirement.name.clone())
                    .or_default()
                    .insert(RequiredBy::Origin(constraint.origin.clone()));
            }
        }

        let mut edges: HashMap<Node, Vec<(Node, MarkerTree)>> = HashMap::new();
        while let Some(node) = queue.pop_front() {
            if !edges.contains_key(&node) {
                let (name, extra) = &node;
                let mut out = Vec::new();
                if extra.is_some() {
                    out.push(((name.clone(), None), MarkerTree::TRUE));
                }
                if let Some(version) = versions.get(name)
                    && let Ok(requirements) = self.requirements_of(name, extra.as_ref(), version)?
                {
                    for (requirement, marker) in requirements {
                        let itself = requirement.name == *name && requirement.extras.is_empty();
                        if itself || !versions.contains_key(&requirement.name) {
                            continue;
                        }
                        out.extend(nodes_of(&requirement).into_iter().map(|node| (node, marker.clone())));
                    }
                }
                edges.insert(node.clone(), out);
            }
            let from = reach.get(&node).cloned().unwrap_or(MarkerTree::FALSE);
            for (target, marker) in edges.get(&node).cloned().unwrap_or_default() {
                let mut at = from.clone();
                at.and(marker);
                widen(&mut reach, &mut queue, target, at);
            }
        }
        for ((name, _), targets) in &edges {
            for ((dependency, _), _) in targets {
                if dependency != name {
                    required_by
                        .entry(dependency.clone())
                        .or_default()
                        .insert(RequiredBy::Package(name.clone()));
                }
            }
        }
        let needed = reach
            .into_iter()
            .filter(|((_, extra), _)| extra.is_none())
            .map(|((name, _), marker)| (name, marker))
            .collect();
        Ok(Solved {
            versions,
            extras,
            required_by,
            needed,
        })
    }

    /// Turns a solve for one environment into pins with files and annotations.
    pub fn pins(
        &self,
        request: &ResolveRequest,
        solution: pubgrub::SelectedDependencies<PubPackage, Version>,
    ) -> Result<Resolution, ResolveError> {
        let Solved {
            versions,
            mut extras,
            mut required_by,
            ..
        } = self.solved(request, &solution)?;
        let markers = &self.selector.target.markers;
        let mut root_markers: BTreeMap<PackageName, Vec<Option<String>>> = BTreeMap::new();
        for root in &request.requirements {
            let requirement = &root.requirement;
            if !evaluate(&requirement.marker, markers, &[]) || !versions.contains_key(&requirement.name) {
                continue;
            }
            root_markers
                .entry(requirement.name.clone())
                .or_default()
                .push(match &root.marker_text {
                    Some(text) => Some(text.clone()),
                    None => requirement.marker.contents().map(|contents| contents.to_string()),
                });
        }
        let mut pins = Vec::with_capacity(versions.len());
        for (name, version) in versions {
            // pip-compile writes a top-level requirement's marker only when
            // every root requirement of the package has one.
            let root_marker = root_markers.get(&name).and_then(|markers| {
                let all_marked = markers.iter().all(Option::is_some);
                if all_marked {
                    markers.first().cloned().flatten()
                } else {
                    None
                }
            });
            let extras = extras.remove(&name).unwrap_or_default();
            let required_by = required_by.remove(&name).unwrap_or_default();
            pins.push(self.pin(name, version, extras, required_by, root_marker)?);
        }
        Ok(Resolution { pins })
    }

    /// The pin of `name` at `version`: its files (all of them, for hashes) and how a lock
    /// writes it.
    pub fn pin(
        &self,
        name: PackageName,
        version: Version,
        extras: BTreeSet<ExtraName>,
        required_by: BTreeSet<RequiredBy>,
        root_marker: Option<String>,
    ) -> Result<Pin, ResolveError> {
        let files = self
            .selector
            .candidates(&name, &self.state.env.borrow())?
            .files_of(&version);
        let (source, files) = match self.selector.direct.get(&name) {
            Some(Direct::Wheel(file)) => (PinSource::Url(file.file.url().into_owned()), files),
            Some(Direct::Source { source, metadata, pin }) => (pin.clone(), source_files(source, metadata)),
            None => (PinSource::Registry, files),
        };
        Ok(Pin {
            source,
            extras,
            required_by,
            name,
            version,
            files,
            root_marker,
        })
    }
}
