//! `pyproject.toml`: the `[project]` table (PEP 621) and `[dependency-groups]` (PEP 735).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::{Table, Value};

use crate::metadata::Metadata;
use crate::requirement::{
    ExtraName, InvalidName, MarkerTree, PackageName, Requirement, extra_name, package_name, parse_requirement,
};
use crate::version::{Version, VersionSpecifiers, specifiers_message};

/// A pyproject.toml that cannot be used; every message names the file and, where there is one,
/// the key.
#[derive(Debug, thiserror::Error)]
pub enum PyProjectError {
    #[error("cannot read `{}`: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid TOML: {message}", .path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}: `{key}`: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{}: has no `[project]` table", .path.display())]
    NoProject { path: PathBuf },
    #[error(
        "{}: `project.{key}` is listed in `project.dynamic`: the project has to be built to know it",
        .path.display()
    )]
    Dynamic { path: PathBuf, key: &'static str },
    #[error("{}: extra `{extra}` is not in `project.optional-dependencies`", .path.display())]
    UnknownExtra { path: PathBuf, extra: ExtraName },
    #[error("{}: dependency group `{group}` is not in `[dependency-groups]`", .path.display())]
    UnknownGroup { path: PathBuf, group: GroupName },
    #[error("{}: `dependency-groups`: {}", .path.display(), .cycle.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(" includes "))]
    GroupCycle { path: PathBuf, cycle: Vec<GroupName> },
}

/// A dependency group name, normalised like a package name (PEP 735).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

impl FromStr for GroupName {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        package_name(s).map(|name| Self(name.to_string()))
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for GroupName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Which extras of the project to include.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExtrasSelection {
    #[default]
    None,
    Some(Vec<ExtraName>),
    All,
}

/// One entry of a dependency group.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupItem {
    Requirement(Requirement),
    /// `{include-group = "name"}`.
    Include(GroupName),
}

/// The `[project]` table, as far as installing is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub name: PackageName,
    /// `None` when dynamic.
    pub version: Option<Version>,
    pub requires_python: Option<VersionSpecifiers>,
    pub dependencies: Vec<Requirement>,
    pub optional_dependencies: BTreeMap<ExtraName, Vec<Requirement>>,
    /// The keys a build backend fills in, as written.
    pub dynamic: Vec<String>,
}

impl Project {
    fn is_dynamic(&self, key: &str) -> bool {
        self.dynamic.iter().any(|d| d == key)
    }

    /// The core metadata this table fixes, when it fixes all a resolver reads: a static version,
    /// dependencies, optional dependencies and `requires-python` (PEP 621 forbids a backend to
    /// change what is not `dynamic`). `None` when a build must say.
    pub fn static_metadata(&self) -> Option<Metadata> {
        let version = self.version.clone()?;
        if ["dependencies", "optional-dependencies", "requires-python"]
            .iter()
            .any(|key| self.is_dynamic(key))
        {
            return None;
        }
        let mut requires_dist = self.dependencies.clone();
        for (extra, requirements) in &self.optional_dependencies {
            let condition = MarkerTree::from_str(&format!("extra == \"{extra}\"")).ok()?;
            for requirement in requirements {
                let mut requirement = requirement.clone();
                requirement.marker.and(condition.clone());
                requires_dist.push(requirement);
            }
        }
        Some(Metadata {
            metadata_version: "2.4".to_string(),
            name: self.name.clone(),
            version,
            requires_dist,
            requires_python: self.requires_python.clone(),
            provides_extra: self.optional_dependencies.keys().cloned().collect(),
            dynamic: Vec::new(),
            warnings: Vec::new(),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PyProject {
    /// For messages.
    pub path: PathBuf,
    pub project: Option<Project>,
    pub dependency_groups: BTreeMap<GroupName, Vec<GroupItem>>,
}

impl PyProject {
    pub fn read(path: impl AsRef<Path>) -> Result<Self, PyProjectError> {
        let path = path.as_ref();
        let content = std::fs::read_to_string(path).map_err(|source| PyProjectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &content)
    }

    /// Parse `content`; `path` is only used in messages.
    pub fn parse(path: impl AsRef<Path>, content: &str) -> Result<Self, PyProjectError> {
        let path = path.as_ref();
        let table: Table = toml::from_str(content).map_err(|err| PyProjectError::Toml {
            path: path.to_path_buf(),
            message: err.message().to_string(),
        })?;
        let ctx = Ctx { path };
        let project = table
            .get("project")
            .map(|value| ctx.project(ctx.table(value, "project")?))
            .transpose()?;
        let dependency_groups = table
            .get("dependency-groups")
            .map(|value| ctx.groups(ctx.table(value, "dependency-groups")?))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            project,
            dependency_groups,
        })
    }

    /// The project's dependencies plus those of the selected extras, in file order.
    ///
    /// References to the project itself (`all = ["me[a,b]"]`) are expanded, each extra's
    /// requirements carrying the markers under which it is reached. Errors if the needed keys
    /// are dynamic or an extra does not exist.
    pub fn requirements(&self, extras: &ExtrasSelection) -> Result<Vec<Requirement>, PyProjectError> {
        let project = self.project.as_ref().ok_or_else(|| PyProjectError::NoProject {
            path: self.path.clone(),
        })?;
        if project.is_dynamic("dependencies") {
            return Err(self.dynamic("dependencies"));
        }
        let selected: Vec<ExtraName> = match extras {
            ExtrasSelection::None => Vec::new(),
            ExtrasSelection::All => project.optional_dependencies.keys().cloned().collect(),
            ExtrasSelection::Some(extras) => extras.clone(),
        };
        if *extras != ExtrasSelection::None && project.is_dynamic("optional-dependencies") {
            return Err(self.dynamic("optional-dependencies"));
        }

        // Which extras are active, and under which marker, found as a fixpoint: an extra can be
        // reached along several self-references with different markers, and the union counts.
        let mut pending: VecDeque<(ExtraName, MarkerTree)> = VecDeque::new();
        pending.extend(self_references(project, &project.dependencies, &MarkerTree::TRUE));
        pending.extend(selected.into_iter().map(|extra| (extra, MarkerTree::TRUE)));
        let mut active: Vec<(ExtraName, MarkerTree)> = Vec::new();
        while let Some((extra, marker)) = pending.pop_front() {
            let requirements =
                project
                    .optional_dependencies
                    .get(&extra)
                    .ok_or_else(|| PyProjectError::UnknownExtra {
                        path: self.path.clone(),
                        extra: extra.clone(),
                    })?;
            let combined = match active.iter_mut().find(|(name, _)| name == &extra) {
                Some((_, known)) => {
                    let mut combined = known.clone();
                    combined.or(marker);
                    if combined == *known {
                        continue;
                    }
                    *known = combined.clone();
                    combined
                }
                None => {
                    active.push((extra, marker.clone()));
                    marker
                }
            };
            pending.extend(self_references(project, requirements, &combined));
        }

        let mut out = others(project, &project.dependencies, &MarkerTree::TRUE);
        for (extra, marker) in &active {
            if let Some(requirements) = project.optional_dependencies.get(extra) {
                out.extend(others(project, requirements, marker));
            }
        }
        Ok(out)
    }

    /// The requirements of the selected dependency groups, includes resolved, in order.
    pub fn dependency_group_requirements(&self, groups: &[GroupName]) -> Result<Vec<Requirement>, PyProjectError> {
        let mut out = Vec::new();
        for group in groups {
            self.expand_group(group, &mut Vec::new(), &mut out)?;
        }
        Ok(out)
    }

    fn expand_group(
        &self,
        group: &GroupName,
        stack: &mut Vec<GroupName>,
        out: &mut Vec<Requirement>,
    ) -> Result<(), PyProjectError> {
        if let Some(start) = stack.iter().position(|g| g == group) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(group.clone());
            return Err(PyProjectError::GroupCycle {
                path: self.path.clone(),
                cycle,
            });
        }
        let items = self
            .dependency_groups
            .get(group)
            .ok_or_else(|| PyProjectError::UnknownGroup {
                path: self.path.clone(),
                group: group.clone(),
            })?;
        stack.push(group.clone());
        for item in items {
            match item {
                GroupItem::Requirement(requirement) => out.push(requirement.clone()),
                GroupItem::Include(included) => self.expand_group(included, stack, out)?,
            }
        }
        stack.pop();
        Ok(())
    }

    fn dynamic(&self, key: &'static str) -> PyProjectError {
        PyProjectError::Dynamic {
            path: self.path.clone(),
            key,
        }
    }
}

/// `name[extra]` references to the project itself, as (extra, marker it is reached under).
fn self_references(
    project: &Project,
    requirements: &[Requirement],
    marker: &MarkerTree,
) -> Vec<(ExtraName, MarkerTree)> {
    requirements
        .iter()
        .filter(|requirement| is_self_reference(project, requirement))
        .flat_map(|requirement| {
            let mut reached = requirement.marker.clone();
            reached.and(marker.clone());
            requirement
                .extras
                .iter()
                .map(move |extra| (extra.clone(), reached.clone()))
        })
        .collect()
}

/// The requirements on other packages, each also conditioned on `marker`.
fn others(project: &Project, requirements: &[Requirement], marker: &MarkerTree) -> Vec<Requirement> {
    requirements
        .iter()
        .filter(|requirement| !is_self_reference(project, requirement))
        .map(|requirement| {
            let mut requirement = requirement.clone();
            requirement.marker.and(marker.clone());
            requirement
        })
        .collect()
}

fn is_self_reference(project: &Project, requirement: &Requirement) -> bool {
    requirement.name == project.name && requirement.version_or_url.is_none()
}

/// Typed access to the TOML with errors that name the file and key.
struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> PyProjectError {
        PyProjectError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn table<'v>(&self, value: &'v Value, key: &str) -> Result<&'v Table, PyProjectError> {
        value
            .as_table()
            .ok_or_else(|| self.invalid(key, format!("expected a table, found {}", value.type_str())))
    }

    fn string<'v>(&self, value: &'v Value, key: &str) -> Result<&'v str, PyProjectError> {
        value
            .as_str()
            .ok_or_else(|| self.invalid(key, format!("expected a string, found {}", value.type_str())))
    }

    fn array<'v>(&self, value: &'v Value, key: &str) -> Result<&'v [Value], PyProjectError> {
        value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.invalid(key, format!("expected an array, found {}", value.type_str())))
    }

    fn requirement(&self, value: &Value, key: &str) -> Result<Requirement, PyProjectError> {
        parse_requirement(self.string(value, key)?).map_err(|err| self.invalid(key, err.to_string()))
    }

    fn requirements(&self, value: &Value, key: &str) -> Result<Vec<Requirement>, PyProjectError> {
        self.array(value, key)?
            .iter()
            .enumerate()
            .map(|(i, item)| self.requirement(item, &format!("{key}[{i}]")))
            .collect()
    }

    fn project(&self, table: &Table) -> Result<Project, PyProjectError> {
        let name = table
            .get("name")
            .ok_or_else(|| self.invalid("project.name", "missing: a project must have a name"))?;
        let name = package_name(self.string(name, "project.name")?)
            .map_err(|err| self.invalid("project.name", err.to_string()))?;
        let dynamic: Vec<String> = match table.get("dynamic") {
            Some(value) => self
                .array(value, "project.dynamic")?
                .iter()
                .enumerate()
                .map(|(i, item)| self.string(item, &format!("project.dynamic[{i}]")).map(str::to_string))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        // PEP 621: a key is either given or dynamic, never both.
        for key in ["version", "dependencies", "optional-dependencies", "requires-python"] {
            if table.contains_key(key) && dynamic.iter().any(|d| d == key) {
                return Err(self.invalid(
                    &format!("project.{key}"),
                    "is both given and listed in `project.dynamic`",
                ));
            }
        }
        let version = table
            .get("version")
            .map(|value| {
                let text = self.string(value, "project.version")?;
                Version::from_str(text)
                    .map_err(|err| self.invalid("project.version", format!("`{text}` is not a version: {err}")))
            })
            .transpose()?;
        let requires_python = table
            .get("requires-python")
            .map(|value| {
                let text = self.string(value, "project.requires-python")?;
                VersionSpecifiers::from_str(text).map_err(|err| {
                    self.invalid(
                        "project.requires-python",
                        format!("`{text}` is not a version specifier: {}", specifiers_message(&err)),
                    )
                })
            })
            .transpose()?;
        let dependencies = table
            .get("dependencies")
            .map(|value| self.requirements(value, "project.dependencies"))
            .transpose()?
            .unwrap_or_default();
        let mut optional_dependencies = BTreeMap::new();
        if let Some(value) = table.get("optional-dependencies") {
            for (extra, requirements) in self.table(value, "project.optional-dependencies")? {
                let key = format!("project.optional-dependencies.{extra}");
                let name = extra_name(extra).map_err(|err| self.invalid(&key, err.to_string()))?;
                let requirements = self.requirements(requirements, &key)?;
                if optional_dependencies.insert(name.clone(), requirements).is_some() {
                    return Err(self.invalid(
                        &key,
                        format!("extra `{name}` is defined more than once (names are normalised)"),
                    ));
                }
            }
        }
        Ok(Project {
            name,
            version,
            requires_python,
            dependencies,
            optional_dependencies,
            dynamic,
        })
    }

    fn groups(&self, table: &Table) -> Result<BTreeMap<GroupName, Vec<GroupItem>>, PyProjectError> {
        let mut groups = BTreeMap::new();
        for (group, items) in table {
            let key = format!("dependency-groups.{group}");
            let name = GroupName::from_str(group).map_err(|err| self.invalid(&key, err.to_string()))?;
            let items = self
                .array(items, &key)?
                .iter()
                .enumerate()
                .map(|(i, item)| self.group_item(item, &format!("{key}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            if groups.insert(name.clone(), items).is_some() {
                return Err(self.invalid(
                    &key,
                    format!("group `{name}` is defined more than once (names are normalised)"),
                ));
            }
        }
        // Dangling includes are an error in the file itself, whichever groups are selected.
        for (group, items) in &groups {
            for (i, item) in items.iter().enumerate() {
                if let GroupItem::Include(included) = item
                    && !groups.contains_key(included)
                {
                    return Err(self.invalid(
                        &format!("dependency-groups.{group}[{i}]"),
                        format!("includes `{included}`, which is not a dependency group"),
                    ));
                }
            }
        }
        Ok(groups)
    }

    fn group_item(&self, value: &Value, key: &str) -> Result<GroupItem, PyProjectError> {
        if let Some(table) = value.as_table() {
            let include = match (table.get("include-group"), table.len()) {
                (Some(include), 1) => self.string(include, &format!("{key}.include-group"))?,
                _ => {
                    return Err(self.invalid(
                        key,
                        "a table in a dependency group must be `{include-group = \"name\"}`",
                    ));
                }
            };
            return GroupName::from_str(include)
                .map(GroupItem::Include)
                .map_err(|err| self.invalid(&format!("{key}.include-group"), err.to_string()));
        }
        self.requirement(value, key).map(GroupItem::Requirement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content: &str) -> Result<PyProject, PyProjectError> {
        PyProject::parse("pyproject.toml", content)
    }

    fn names(requirements: &[Requirement]) -> Vec<String> {
        requirements.iter().map(ToString::to_string).collect()
    }

    fn extras(names: &[&str]) -> ExtrasSelection {
        ExtrasSelection::Some(names.iter().map(|n| extra_name(n).unwrap()).collect())
    }

    fn groups(names: &[&str]) -> Vec<GroupName> {
        names.iter().map(|n| n.parse().unwrap()).collect()
    }

    const PROJECT: &str = r#"
[project]
name = "My_Project"
version = "1.2.3"
requires-python = ">=3.9"
dependencies = ["requests>=2", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
Socks = ["pysocks"]
dev = ["pytest", "my-project[socks]"]
all = ["my_project[dev,socks] ; os_name == 'posix'"]

[dependency-groups]
test = ["pytest>=8", {include-group = "Lint"}]
lint = ["ruff"]
docs = ["sphinx", {include-group = "test"}]

[tool.other]
ignored = true
"#;

    #[test]
    fn project_table() {
        let pyproject = parse(PROJECT).unwrap();
        let project = pyproject.project.as_ref().unwrap();
        assert_eq!(project.name.as_ref(), "my-project");
        assert_eq!(project.version.as_ref().unwrap().to_string(), "1.2.3");
        assert_eq!(project.requires_python.as_ref().unwrap().to_string(), ">=3.9");
        assert_eq!(
            project
                .optional_dependencies
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["all", "dev", "socks"]
        );

        let table: &[(ExtrasSelection, &[&str])] = &[
            (
                ExtrasSelection::None,
                &["requests>=2", "tomli ; python_full_version < '3.11'"],
            ),
            (
                extras(&["socks"]),
                &["requests>=2", "tomli ; python_full_version < '3.11'", "pysocks"],
            ),
            (
                extras(&["dev"]),
                &[
                    "requests>=2",
                    "tomli ; python_full_version < '3.11'",
                    "pytest",
                    "pysocks",
                ],
            ),
            (
                extras(&["all"]),
                &[
                    "requests>=2",
                    "tomli ; python_full_version < '3.11'",
                    "pytest ; os_name == 'posix'",
                    "pysocks ; os_name == 'posix'",
                ],
            ),
            // `dev` is selected outright as well as through `all`: the union of markers wins.
            (
                ExtrasSelection::All,
                &[
                    "requests>=2",
                    "tomli ; python_full_version < '3.11'",
                    "pytest",
                    "pysocks",
                ],
            ),
            (
                extras(&["all", "dev"]),
                &[
                    "requests>=2",
                    "tomli ; python_full_version < '3.11'",
                    "pytest",
                    "pysocks",
                ],
            ),
        ];
        for (selection, expected) in table {
            assert_eq!(
                names(&pyproject.requirements(selection).unwrap()),
                *expected,
                "{selection:?}"
            );
        }
        let err = pyproject.requirements(&extras(&["nope"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pyproject.toml: extra `nope` is not in `project.optional-dependencies`"
        );
    }

    #[test]
    fn dependency_groups() {
        let pyproject = parse(PROJECT).unwrap();
        let table: &[(&[&str], &[&str])] = &[
            (&["lint"], &["ruff"]),
            (&["TEST"], &["pytest>=8", "ruff"]),
            (&["docs"], &["sphinx", "pytest>=8", "ruff"]),
            (&["lint", "test"], &["ruff", "pytest>=8", "ruff"]),
            (&[], &[]),
        ];
        for (selected, expected) in table {
            assert_eq!(
                names(&pyproject.dependency_group_requirements(&groups(selected)).unwrap()),
                *expected,
                "{selected:?}"
            );
        }
        let err = pyproject.dependency_group_requirements(&groups(&["nope"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pyproject.toml: dependency group `nope` is not in `[dependency-groups]`"
        );
    }

    #[test]
    fn group_cycles() {
        let pyproject = parse(
            r#"
[dependency-groups]
a = ["x", {include-group = "b"}]
b = [{include-group = "c"}]
c = [{include-group = "A"}]
"#,
        )
        .unwrap();
        assert!(pyproject.project.is_none());
        let err = pyproject.dependency_group_requirements(&groups(&["b"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pyproject.toml: `dependency-groups`: `b` includes `c` includes `a` includes `b`"
        );
    }

    #[test]
    fn a_static_project_table_is_metadata() {
        let pyproject = parse(
            r#"
[project]
name = "Foo.Bar"
version = "1.2"
requires-python = ">=3.9"
dependencies = ["a>=1", "b; sys_platform == 'linux'"]
[project.optional-dependencies]
cli = ["click", "rich; python_version < '3.12'"]
"#,
        )
        .unwrap();
        let metadata = pyproject.project.as_ref().unwrap().static_metadata().unwrap();
        assert_eq!(metadata.name.as_ref(), "foo-bar");
        assert_eq!(metadata.version.to_string(), "1.2");
        let requires: Vec<String> = metadata.requires_dist.iter().map(ToString::to_string).collect();
        assert_eq!(
            requires,
            [
                "a>=1",
                "b ; sys_platform == 'linux'",
                "click ; extra == 'cli'",
                "rich ; python_full_version < '3.12' and extra == 'cli'"
            ]
        );
        assert_eq!(metadata.provides_extra.len(), 1);
        for dynamic in ["version", "dependencies", "optional-dependencies", "requires-python"] {
            let version = if dynamic == "version" { "" } else { "version = \"1\"\n" };
            let text = format!("[project]\nname = \"x\"\n{version}dynamic = [\"{dynamic}\"]\n");
            let project = parse(&text).unwrap().project.unwrap();
            assert!(project.static_metadata().is_none(), "{dynamic}");
        }
    }

    #[test]
    fn dynamic_dependencies_need_a_build() {
        let pyproject = parse(
            r#"
[project]
name = "foo"
dynamic = ["version", "dependencies"]
"#,
        )
        .unwrap();
        assert_eq!(pyproject.project.as_ref().unwrap().version, None);
        let err = pyproject.requirements(&ExtrasSelection::None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pyproject.toml: `project.dependencies` is listed in `project.dynamic`: the project has to be built to know it"
        );
        // Groups never need a build.
        assert!(pyproject.dependency_group_requirements(&[]).is_ok());

        let pyproject = parse("[project]\nname = \"foo\"\ndynamic = [\"optional-dependencies\"]\n").unwrap();
        assert!(pyproject.requirements(&ExtrasSelection::None).unwrap().is_empty());
        assert!(matches!(
            pyproject.requirements(&ExtrasSelection::All),
            Err(PyProjectError::Dynamic {
                key: "optional-dependencies",
                ..
            })
        ));
        assert!(matches!(
            parse("[dependency-groups]\n")
                .unwrap()
                .requirements(&ExtrasSelection::None),
            Err(PyProjectError::NoProject { .. })
        ));
    }

    /// Each malformed file names the file and the key at fault.
    #[test]
    fn invalid_files() {
        let table = [
            (
                "[project]\nversion = \"1\"\n",
                "pyproject.toml: `project.name`: missing: a project must have a name",
            ),
            (
                "[project]\nname = \"-x\"\n",
                "pyproject.toml: `project.name`: `-x` is not a valid name: names start and end with a letter or digit and contain only letters, digits, `-`, `_` and `.`",
            ),
            (
                "[project]\nname = \"x\"\nversion = \"one\"\n",
                "pyproject.toml: `project.version`: `one` is not a version: expected version to start with a number, but no leading ASCII digits were found",
            ),
            (
                "[project]\nname = \"x\"\ndependencies = [\"ok\", \"bad==\"]\n",
                "pyproject.toml: `project.dependencies[1]`: invalid requirement `bad==`: Unexpected end of version specifier, expected version",
            ),
            (
                "[project]\nname = \"x\"\ndependencies = \"requests\"\n",
                "pyproject.toml: `project.dependencies`: expected an array, found string",
            ),
            (
                "[project]\nname = \"x\"\n[project.optional-dependencies]\ndev = [1]\n",
                "pyproject.toml: `project.optional-dependencies.dev[0]`: expected a string, found integer",
            ),
            (
                "[project]\nname = \"x\"\n[project.optional-dependencies]\nA_b = []\na-b = []\n",
                "pyproject.toml: `project.optional-dependencies.a-b`: extra `a-b` is defined more than once (names are normalised)",
            ),
            (
                "[project]\nname = \"x\"\nrequires-python = \">=3.9,<\"\n",
                "pyproject.toml: `project.requires-python`: `>=3.9,<` is not a version specifier: Failed to parse version: Unexpected end of version specifier, expected version",
            ),
            (
                "[project]\nname = \"x\"\ndependencies = []\ndynamic = [\"dependencies\"]\n",
                "pyproject.toml: `project.dependencies`: is both given and listed in `project.dynamic`",
            ),
            (
                "[dependency-groups]\ntest = [{include-group = \"nope\"}]\n",
                "pyproject.toml: `dependency-groups.test[0]`: includes `nope`, which is not a dependency group",
            ),
            (
                "[dependency-groups]\ntest = [{include = \"x\"}]\n",
                "pyproject.toml: `dependency-groups.test[0]`: a table in a dependency group must be `{include-group = \"name\"}`",
            ),
            (
                "[dependency-groups]\nTest = []\ntest = []\n",
                "pyproject.toml: `dependency-groups.test`: group `test` is defined more than once (names are normalised)",
            ),
        ];
        for (content, expected) in table {
            let err = parse(content).unwrap_err();
            assert_eq!(err.to_string(), expected, "{content}");
        }
        let err = parse("[project\n").unwrap_err();
        assert!(err.to_string().starts_with("pyproject.toml: invalid TOML: "), "{err}");
    }

    #[test]
    fn reads_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, PROJECT).unwrap();
        let pyproject = PyProject::read(&path).unwrap();
        assert_eq!(pyproject.path, path);
        assert!(matches!(
            PyProject::read(dir.path().join("missing.toml")),
            Err(PyProjectError::Read { .. })
        ));
    }
}
