//! Dependency expansion: what a package at a version (or the root) requires in the current
//! environment, as the solver sees it — markers evaluated for the target or kept for a
//! universal fork, extras as proxy packages (`foo[bar]`), constraints intersected into every
//! requirement on their package, `Requires-Python` checked, requirements on one package merged.

use std::collections::HashMap;
use std::sync::Arc;

use axle_standards::{ExtraName, MarkerTree, PackageName, Requirement, Version, VersionOrUrl, environment_part};

use super::direct::direct_version;
use super::environment::Environment;
use super::package::PubPackage;
use super::selector::{Range, Selector};
use super::{ResolveError, ResolveRequest};

pub(super) struct Expander {
    /// `-c` constraints that apply, by package.
    constraints: HashMap<PackageName, Range>,
    /// The root requirements (their markers are read per solve: a universal resolution's
    /// forks see different ones).
    root_requirements: Vec<Requirement>,
}

impl Expander {
    pub(super) fn new(request: &ResolveRequest, env: &Environment) -> Result<Expander, ResolveError> {
        let mut constraints: HashMap<PackageName, Range> = HashMap::new();
        for constraint in request
            .constraints
            .iter()
            .map(|root| &root.requirement)
            .filter(|requirement| env.applies(&requirement.marker, None).is_some())
        {
            let range = match &constraint.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => Range::from(specifiers.clone()),
                Some(VersionOrUrl::Url(_)) => {
                    return Err(ResolveError::Invalid(format!(
                        "the constraint on {} is a URL; constraints must be version specifiers",
                        constraint.name
                    )));
                }
                None => Range::full(),
            };
            let entry = constraints.entry(constraint.name.clone()).or_insert_with(Range::full);
            *entry = entry.intersection(&range);
        }
        Ok(Expander {
            constraints,
            root_requirements: request
                .requirements
                .iter()
                .map(|root| root.requirement.clone())
                .collect(),
        })
    }

    /// The root requirements that apply in `env`, with where they do.
    pub(super) fn root(&self, env: &Environment) -> Vec<(Requirement, MarkerTree)> {
        self.root_requirements
            .iter()
            .filter_map(|requirement| Some((requirement.clone(), env.applies(&requirement.marker, None)?)))
            .collect()
    }

    /// The solver's view of the root's `requirements`.
    pub(super) fn root_dependencies(
        &self,
        requirements: &[(Requirement, MarkerTree)],
        selector: &Selector,
    ) -> Result<Vec<(PubPackage, Range)>, ResolveError> {
        let mut dependencies = Vec::new();
        for (requirement, _) in requirements {
            self.add_requirement(requirement, None, selector, &mut dependencies)?;
        }
        Ok(merge(dependencies))
    }

    /// The requirements of `name` (with `extra`: what the extra adds) at `version` that apply
    /// in `env`, with where they do; `Err` with the reason when the version cannot be used
    /// here at all.
    pub(super) fn requirements_of(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
        selector: &Selector,
        env: &Environment,
    ) -> Result<Result<Vec<(Requirement, MarkerTree)>, String>, ResolveError> {
        let metadata = selector.metadata(name, version, env)?;
        if let Some(requires_python) = &metadata.requires_python
            && !env.allows_python(requires_python)
        {
            return Ok(Err(format!(
                "requires Python {requires_python}, not {}",
                env.python_checked()
            )));
        }
        Ok(Ok(metadata
            .requires_dist
            .iter()
            .filter_map(|requirement| Some((requirement.clone(), env.applies(&requirement.marker, extra)?)))
            .collect()))
    }

    /// The solver's view of `requirements` of `dependent` (with `extra`: what the extra adds).
    pub(super) fn dependencies(
        &self,
        dependent: &PackageName,
        extra: Option<&ExtraName>,
        requirements: &[(Requirement, MarkerTree)],
        selector: &Selector,
    ) -> Result<Vec<(PubPackage, Range)>, ResolveError> {
        let mut dependencies = Vec::new();
        for (requirement, _) in requirements {
            // A package that requires itself (usually with extras) only adds the extras.
            if &requirement.name == dependent && requirement.extras.is_empty() {
                continue;
            }
            if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
                return Err(ResolveError::Invalid(format!(
                    "{dependent} requires {} from a URL ({url}), which a lock cannot pin",
                    requirement.name
                )));
            }
            self.add_requirement(requirement, extra, selector, &mut dependencies)?;
        }
        Ok(merge(dependencies))
    }

    /// Adds `requirement`, read with `extra` requested of its dependent: its package, or the
    /// proxies of its extras; a proxy for its marker, if it has one (as uv expands a
    /// requirement).
    fn add_requirement(
        &self,
        requirement: &Requirement,
        extra: Option<&ExtraName>,
        selector: &Selector,
        out: &mut Vec<(PubPackage, Range)>,
    ) -> Result<(), ResolveError> {
        let mut range = match &requirement.version_or_url {
            None => Range::full(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => Range::from(specifiers.clone()),
            Some(VersionOrUrl::Url(url)) => match selector.direct.get(&requirement.name) {
                Some(direct) => Range::singleton(direct_version(direct)),
                None => {
                    return Err(ResolveError::Invalid(format!(
                        "{} is required from {url}, which a dependency cannot pin; name it in your requirements",
                        requirement.name
                    )));
                }
            },
        };
        if let Some(constraint) = self.constraints.get(&requirement.name) {
            range = range.intersection(constraint);
        }
        selector.note_requirement(requirement);
        // The marker, without what the dependent's extra says (it holds here).
        let marker = environment_part(&requirement.marker, &extra.cloned().into_iter().collect::<Vec<_>>());
        let marker: Option<Arc<str>> =
            (!marker.is_true()).then(|| Arc::from(marker.try_to_string().unwrap_or_default()));
        // A requirement with extras is on the extras' proxies only, which bring in their package
        // at their version (as uv expands one).
        if requirement.extras.is_empty() {
            let package = PubPackage::Package {
                name: requirement.name.clone(),
                extra: None,
                marker,
            };
            out.push((package, range));
            return Ok(());
        }
        for requested in &requirement.extras {
            let package = PubPackage::Package {
                name: requirement.name.clone(),
                extra: Some(requested.clone()),
                marker: marker.clone(),
            };
            out.push((package, range.clone()));
        }
        Ok(())
    }
}

/// Combines repeated dependencies on one package into one range.
fn merge(dependencies: Vec<(PubPackage, Range)>) -> Vec<(PubPackage, Range)> {
    let mut merged: Vec<(PubPackage, Range)> = Vec::with_capacity(dependencies.len());
    for (package, range) in dependencies {
        match merged.iter_mut().find(|(known, _)| *known == package) {
            Some((_, known)) => *known = known.intersection(&range),
            None => merged.push((package, range)),
        }
    }
    merged
}
