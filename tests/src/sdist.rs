//! Builds small source projects for tests — as directories and as sdists — that build with a
//! tiny in-tree PEP 517 backend (`backend/axle_test_backend.py`, standard library only, found
//! through `backend-path`), so that no build ever downloads anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The in-tree backend's source.
pub const TEST_BACKEND: &str = include_str!("backend/axle_test_backend.py");

/// A source project built with the test backend.
#[derive(Debug, Clone)]
pub struct ProjectBuilder {
    name: String,
    config: serde_json::Map<String, serde_json::Value>,
    files: Vec<(String, Vec<u8>)>,
    /// `pyproject.toml` as given, replacing the generated one.
    pyproject: Option<String>,
    /// A `[project]` table for the generated `pyproject.toml`.
    project_table: Option<String>,
}

/// An sdist, built in memory.
#[derive(Debug, Clone)]
pub struct BuiltSdist {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub name: String,
    pub version: String,
}

impl BuiltSdist {
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        let path = dir.join(&self.filename);
        std::fs::write(&path, &self.bytes).unwrap();
        path
    }
}

impl ProjectBuilder {
    /// A project `name` at `version`, with a package directory of its own name holding
    /// `__init__.py` (which sets `__version__`).
    pub fn new(name: &str, version: &str) -> ProjectBuilder {
        let package = module_name(name);
        let mut config = serde_json::Map::new();
        config.insert("name".into(), name.into());
        config.insert("version".into(), version.into());
        config.insert("packages".into(), serde_json::json!([package]));
        ProjectBuilder {
            name: name.to_string(),
            config,
            files: vec![(
                format!("{package}/__init__.py"),
                format!("__version__ = \"{version}\"\n").into_bytes(),
            )],
            pyproject: None,
            project_table: None,
        }
    }

    pub fn requires(mut self, requirement: &str) -> Self {
        self.push_list("requires", requirement);
        self
    }

    pub fn build_requires(mut self, requirement: &str) -> Self {
        self.push_list("build_requires", requirement);
        self
    }

    pub fn extra(mut self, extra: &str, requirements: &[&str]) -> Self {
        let extras = self.config.entry("extras").or_insert_with(|| serde_json::json!({}));
        extras[extra] = serde_json::json!(requirements);
        self
    }

    /// Any setting of the backend's configuration (`no_prepare`, `fail`, `hang`, `counter`,
    /// `version_from`, ...).
    pub fn setting(mut self, key: &str, value: serde_json::Value) -> Self {
        if key == "version_from" {
            self.config.remove("version");
        }
        self.config.insert(key.into(), value);
        self
    }

    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.retain(|(known, _)| known != path);
        self.files.push((path.to_string(), content.into()));
        self
    }

    /// A `[project]` table to write into the generated `pyproject.toml` (static metadata).
    pub fn project_table(mut self, table: &str) -> Self {
        self.project_table = Some(table.to_string());
        self
    }

    /// Replaces the generated `pyproject.toml` (to test other build systems).
    pub fn pyproject(mut self, text: &str) -> Self {
        self.pyproject = Some(text.to_string());
        self
    }

    pub fn version(&self) -> String {
        self.config
            .get("version")
            .and_then(|value| value.as_str())
            .unwrap_or("0")
            .to_string()
    }

    fn push_list(&mut self, key: &str, item: &str) {
        let list = self.config.entry(key).or_insert_with(|| serde_json::json!([]));
        if let Some(items) = list.as_array_mut() {
            items.push(item.into());
        }
    }

    /// Every file of the project, relative to its root.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let pyproject = self.pyproject.clone().unwrap_or_else(|| {
            let mut text = String::from(
                "[build-system]\nrequires = []\nbuild-backend = \"axle_test_backend\"\nbackend-path = [\".\"]\n",
            );
            if let Some(table) = &self.project_table {
                text.push_str("\n[project]\n");
                text.push_str(table);
                text.push('\n');
            }
            text
        });
        let mut files = vec![
            ("pyproject.toml".to_string(), pyproject.into_bytes()),
            ("axle_test_backend.py".to_string(), TEST_BACKEND.as_bytes().to_vec()),
            (
                "axle_test_backend.json".to_string(),
                serde_json::to_vec_pretty(&self.config).unwrap(),
            ),
        ];
        files.extend(self.files.iter().cloned());
        files
    }

    /// Writes the project into `dir` (created).
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        for (path, content) in self.files() {
            let target = dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, content).unwrap();
        }
        dir.to_path_buf()
    }

    /// The project as `name-version.tar.gz`, its files under `name-version/`.
    pub fn sdist(&self) -> BuiltSdist {
        self.archive("tar.gz", tar_gz)
    }

    /// The project as `name-version.zip`.
    pub fn sdist_zip(&self) -> BuiltSdist {
        self.archive("zip", crate::wheel::zip_entries)
    }

    fn archive(&self, extension: &str, pack: Packer) -> BuiltSdist {
        let stem = format!("{}-{}", module_name(&self.name), self.version());
        let entries: Vec<(String, Vec<u8>)> = self
            .files()
            .into_iter()
            .map(|(path, content)| (format!("{stem}/{path}"), content))
            .collect();
        let bytes = pack(&entries);
        BuiltSdist {
            filename: format!("{stem}.{extension}"),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            name: self.name.clone(),
            version: self.version(),
        }
    }
}

/// Packs (path, content) entries into an archive's bytes.
type Packer = fn(&[(String, Vec<u8>)]) -> Vec<u8>;

/// A project name as a Python package directory.
fn module_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A `.tar.gz` of regular files.
pub fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append_data(&mut header, path, content.as_slice()).unwrap();
    }
    let encoder = builder.into_inner().unwrap();
    let mut bytes = encoder.finish().unwrap();
    bytes.flush().unwrap();
    bytes
}

/// A `.tar.gz` with raw headers, for hostile archives: each entry is (name, type, link target,
/// content). Names are written as given, without the checks `tar::Builder` applies.
pub fn raw_tar_gz(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, kind, link, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        // Written into the header's own fields: the builder refuses `..` and absolute names,
        // and hostile archives are exactly what tests need.
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            gnu.linkname = [0; 100];
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}
