//! Builds small, real wheels for tests: METADATA, WHEEL, RECORD with true
//! hashes, entry points, `.data` directories — and, on request, the broken
//! and hostile variants the installer must refuse.

use std::io::Write;

use base64::Engine;
use sha2::{Digest, Sha256};

/// A wheel, built in memory.
#[derive(Debug, Clone)]
pub struct BuiltWheel {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The METADATA text (what PEP 658 serves).
    pub metadata: String,
    pub name: String,
    pub version: String,
}

impl BuiltWheel {
    pub fn write_to(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join(&self.filename);
        std::fs::write(&path, &self.bytes).unwrap();
        path
    }
}

#[derive(Debug, Clone)]
pub struct WheelBuilder {
    name: String,
    version: String,
    tag: String,
    build_tag: Option<String>,
    requires_dist: Vec<String>,
    requires_python: Option<String>,
    provides_extra: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    entry_points: Vec<(String, String, String)>,
    extra_metadata: Vec<String>,
    /// Entries written to the archive without a RECORD line.
    unrecorded: Vec<(String, Vec<u8>)>,
    /// RECORD lines replacing the computed ones for these paths.
    record_overrides: Vec<(String, String)>,
    metadata_name: Option<String>,
    metadata_version: Option<String>,
    /// The project name as the file name and the `.dist-info` directory spell it, verbatim
    /// (old wheels: `proxy.py-2.4.10.dist-info`).
    spelled: Option<String>,
}

/// The dist-info directory name of a project: `{name}-{version}.dist-info`
/// with the name normalised to underscores, as wheel tools write it.
pub fn dist_info_name(name: &str, version: &str) -> String {
    format!("{}-{version}.dist-info", escape(name))
}

fn escape(name: &str) -> String {
    let mut out = String::new();
    let mut last_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_separator {
                out.push('_');
            }
            last_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_separator = false;
        }
    }
    out
}

/// RECORD's hash format: urlsafe base64 without padding.
pub fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl WheelBuilder {
    /// A pure-Python wheel with one module, `{name}/__init__.py`, that
    /// records its version.
    pub fn new(name: &str, version: &str) -> WheelBuilder {
        let module = escape(name);
        WheelBuilder {
            name: name.to_string(),
            version: version.to_string(),
            tag: "py3-none-any".to_string(),
            build_tag: None,
            requires_dist: Vec::new(),
            requires_python: None,
            provides_extra: Vec::new(),
            files: vec![(
                format!("{module}/__init__.py"),
                format!("__version__ = {version:?}\n").into_bytes(),
            )],
            entry_points: Vec::new(),
            extra_metadata: Vec::new(),
            unrecorded: Vec::new(),
            record_overrides: Vec::new(),
            metadata_name: None,
            metadata_version: None,
            spelled: None,
        }
    }

    pub fn requires(mut self, requirement: &str) -> Self {
        self.requires_dist.push(requirement.to_string());
        self
    }

    pub fn requires_python(mut self, specifier: &str) -> Self {
        self.requires_python = Some(specifier.to_string());
        self
    }

    /// Declares an extra and its requirements (markers are added).
    pub fn extra(mut self, extra: &str, requirements: &[&str]) -> Self {
        self.provides_extra.push(extra.to_string());
        for requirement in requirements {
            let (base, marker) = match requirement.split_once(';') {
                Some((base, marker)) => (base.trim(), format!("({}) and extra == \"{extra}\"", marker.trim())),
                None => (requirement.trim(), format!("extra == \"{extra}\"")),
            };
            self.requires_dist.push(format!("{base} ; {marker}"));
        }
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_string();
        self
    }

    pub fn build_tag(mut self, build: &str) -> Self {
        self.build_tag = Some(build.to_string());
        self
    }

    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_string(), content.into()));
        self
    }

    pub fn entry_point(mut self, group: &str, name: &str, target: &str) -> Self {
        self.entry_points
            .push((group.to_string(), name.to_string(), target.to_string()));
        self
    }

    /// A raw header line added to METADATA.
    pub fn metadata_line(mut self, line: &str) -> Self {
        self.extra_metadata.push(line.to_string());
        self
    }

    /// An archive entry that RECORD does not list.
    pub fn unrecorded_file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.unrecorded.push((path.to_string(), content.into()));
        self
    }

    /// Replaces the RECORD line of `path` with `line`.
    pub fn record_line(mut self, path: &str, line: &str) -> Self {
        self.record_overrides.push((path.to_string(), line.to_string()));
        self
    }

    /// Writes another name/version into METADATA than the file name says.
    /// Spells the project name as given in the file name and the `.dist-info` directory, the
    /// way wheels made before PEP 491's escaping did.
    pub fn spelled(mut self, name: &str) -> Self {
        self.spelled = Some(name.to_string());
        self
    }

    pub fn metadata_identity(mut self, name: &str, version: &str) -> Self {
        self.metadata_name = Some(name.to_string());
        self.metadata_version = Some(version.to_string());
        self
    }

    pub fn filename(&self) -> String {
        let build = self
            .build_tag
            .as_ref()
            .map(|build| format!("-{build}"))
            .unwrap_or_default();
        let name = self.spelled.clone().unwrap_or_else(|| escape(&self.name));
        format!("{name}-{}{build}-{}.whl", self.version, self.tag)
    }

    pub fn metadata_text(&self) -> String {
        let mut text = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.metadata_name.as_deref().unwrap_or(&self.name),
            self.metadata_version.as_deref().unwrap_or(&self.version)
        );
        if let Some(requires_python) = &self.requires_python {
            text.push_str(&format!("Requires-Python: {requires_python}\n"));
        }
        for extra in &self.provides_extra {
            text.push_str(&format!("Provides-Extra: {extra}\n"));
        }
        for requirement in &self.requires_dist {
            text.push_str(&format!("Requires-Dist: {requirement}\n"));
        }
        for line in &self.extra_metadata {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("\nA test package built by axle's test suite.\n");
        text
    }

    pub fn build(&self) -> BuiltWheel {
        let dist_info = match &self.spelled {
            Some(name) => format!("{name}-{}.dist-info", self.version),
            None => dist_info_name(&self.name, &self.version),
        };
        let metadata = self.metadata_text();
        let (python, abi, platform) = {
            let mut parts = self.tag.splitn(3, '-');
            (
                parts.next().unwrap_or("py3").to_string(),
                parts.next().unwrap_or("none").to_string(),
                parts.next().unwrap_or("any").to_string(),
            )
        };
        let mut wheel_text = format!(
            "Wheel-Version: 1.0\nGenerator: axle-tests\nRoot-Is-Purelib: {}\n",
            platform == "any"
        );
        for python_tag in python.split('.') {
            for abi_tag in abi.split('.') {
                for platform_tag in platform.split('.') {
                    wheel_text.push_str(&format!("Tag: {python_tag}-{abi_tag}-{platform_tag}\n"));
                }
            }
        }
        if let Some(build) = &self.build_tag {
            wheel_text.push_str(&format!("Build: {build}\n"));
        }

        let mut entries: Vec<(String, Vec<u8>)> = self.files.clone();
        entries.push((format!("{dist_info}/METADATA"), metadata.clone().into_bytes()));
        entries.push((format!("{dist_info}/WHEEL"), wheel_text.into_bytes()));
        if !self.entry_points.is_empty() {
            let mut groups: Vec<&str> = self.entry_points.iter().map(|(group, ..)| group.as_str()).collect();
            groups.dedup();
            let mut text = String::new();
            for group in groups {
                text.push_str(&format!("[{group}]\n"));
                for (_, name, target) in self.entry_points.iter().filter(|(g, ..)| g == group) {
                    text.push_str(&format!("{name} = {target}\n"));
                }
                text.push('\n');
            }
            entries.push((format!("{dist_info}/entry_points.txt"), text.into_bytes()));
        }
        let mut record = String::new();
        for (path, content) in &entries {
            let line = self
                .record_overrides
                .iter()
                .find(|(overridden, _)| overridden == path)
                .map(|(_, line)| line.clone())
                .unwrap_or_else(|| format!("{path},{},{}", record_hash(content), content.len()));
            record.push_str(&line);
            record.push('\n');
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        entries.push((format!("{dist_info}/RECORD"), record.into_bytes()));
        entries.extend(self.unrecorded.iter().cloned());

        let bytes = zip_entries(&entries);
        BuiltWheel {
            filename: self.filename(),
            sha256: sha256_hex(&bytes),
            bytes,
            metadata,
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

/// A deflated ZIP of `entries`, in order.
pub fn zip_entries(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for (path, content) in entries {
            writer.start_file(path.as_str(), options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap();
    }
    buffer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_readable_wheel_with_a_true_record() {
        let wheel = WheelBuilder::new("My.Package", "1.0")
            .requires("dep>=1")
            .extra("fast", &["speedup; python_version >= '3.8'"])
            .entry_point("console_scripts", "my-tool", "my_package:main")
            .build();
        assert_eq!(wheel.filename, "my_package-1.0-py3-none-any.whl");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&wheel.bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(|name| name.unwrap().into_owned()).collect();
        assert!(names.contains(&"my_package-1.0.dist-info/RECORD".to_string()));
        let mut record = String::new();
        std::io::Read::read_to_string(
            &mut archive.by_name("my_package-1.0.dist-info/RECORD").unwrap(),
            &mut record,
        )
        .unwrap();
        assert!(record.contains("my_package/__init__.py,sha256="));
        assert!(
            wheel
                .metadata
                .contains("Requires-Dist: speedup ; (python_version >= '3.8') and extra == \"fast\"")
        );
    }
}
