//! Before resolving: requirements named by location (editables, paths, sdist URLs, Git) and
//! projects whose own dependencies are the input (`setup.py`, `setup.cfg`, a pyproject.toml
//! with dynamic dependencies) have their metadata read — statically where the standards allow,
//! else built — all at once, so that each has a name and a version to resolve with.

use std::collections::HashMap;
use std::sync::Arc;

use axle_standards::{ExtraName, PackageName, Requirement, VersionOrUrl};

use super::inputs::SourceInput;
use super::{Job, LockError, LockRequest};
use crate::dist::{BuildContext, SourceDist};
use crate::resolve::{self, Origin, PinSource, RootRequirement};
use crate::services::Services;

/// What reading the sources adds to a resolution.
#[derive(Default)]
pub struct Direct {
    /// The sources as root requirements, and the projects' dependencies.
    pub requirements: Vec<RootRequirement>,
    /// Each source, the one candidate of its package.
    pub candidates: HashMap<PackageName, resolve::Direct>,
}

pub async fn read(
    services: &Services,
    request: &LockRequest,
    job: &Job,
    context: Option<&Arc<BuildContext>>,
) -> Result<Direct, LockError> {
    let inputs = &job.inputs;
    if inputs.sources.is_empty() && inputs.projects.is_empty() {
        return Ok(Direct::default());
    }
    let context = context.ok_or_else(|| {
        LockError::Usage(
            "reading local projects, sdists and repositories needs a Python interpreter, and none was found"
                .to_string(),
        )
    })?;
    let builds = &services.builds;
    let projects: Vec<SourceDist> = inputs
        .projects
        .iter()
        .map(|project| SourceDist::Directory {
            path: project.directory.clone(),
            editable: false,
        })
        .collect();
    let (sources, projects) = futures::future::join(
        futures::future::join_all(
            inputs
                .sources
                .iter()
                .map(|input| builds.metadata(&input.source, context)),
        ),
        futures::future::join_all(projects.iter().map(|project| builds.metadata(project, context))),
    )
    .await;

    let mut direct = Direct::default();
    for (input, found) in inputs.sources.iter().zip(sources) {
        let found = found?;
        let name = found.metadata.name.clone();
        if let Some(given) = &input.name
            && *given != name
        {
            return Err(LockError::Usage(format!(
                "{}: `{}` is the project {name}, not {given}",
                input.origin, input.url
            )));
        }
        let pin = pin_source(input, found.commit.as_deref());
        direct.requirements.push(RootRequirement {
            requirement: Requirement {
                name: name.clone(),
                extras: input.extras.clone(),
                version_or_url: Some(VersionOrUrl::Url(input.url.clone())),
                marker: input.marker.clone(),
                origin: None,
            },
            marker_text: input.marker_text.clone(),
            origin: input.origin.clone(),
            line: None,
        });
        direct.candidates.insert(
            name,
            resolve::Direct::Source {
                source: input.source.clone(),
                metadata: found,
                pin,
            },
        );
    }
    for (project, found) in inputs.projects.iter().zip(projects) {
        let metadata = found?.metadata;
        let selected: Vec<ExtraName> = if request.all_extras {
            metadata.provides_extra.clone()
        } else {
            request
                .extras
                .iter()
                .filter_map(|extra| axle_standards::extra_name(extra).ok())
                .collect()
        };
        // pip-compile annotates a project's dependencies with the project's name.
        let origin = Origin::Project(format!("{} ({})", metadata.name, project.shown));
        for requirement in &metadata.requires_dist {
            let mut requirement = requirement.clone();
            requirement.marker = requirement.marker.simplify_extras(&selected);
            direct.requirements.push(RootRequirement {
                requirement,
                marker_text: None,
                origin: origin.clone(),
                line: None,
            });
        }
    }
    Ok(direct)
}

/// How the lock writes a source: a directory as the input spelled it, a Git repository at the
/// commit it resolved to, an archive by its URL.
fn pin_source(input: &SourceInput, commit: Option<&str>) -> PinSource {
    match &input.source {
        SourceDist::Directory { path, editable } => PinSource::Directory {
            given: input.url.given().unwrap_or(input.url.as_str()).to_string(),
            path: path.clone(),
            editable: *editable,
        },
        SourceDist::Git(git) => PinSource::Git {
            url: match commit {
                Some(commit) => git.url_at(commit),
                None => input.url.to_string(),
            },
            editable: git.editable,
        },
        SourceDist::Archive(_) => PinSource::Url(input.url.given().unwrap_or(input.url.as_str()).to_string()),
    }
}
