//! Console and GUI scripts (the entry points spec): reading them from `entry_points.txt`,
//! refusing names that would write outside the scripts directory, and writing the launchers.
//!
//! The launcher text is the one pip (through distlib) and uv write, byte for byte, so an
//! environment looks the same whichever tool installed it.

use std::path::Path;

/// The scripts a distribution asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryPoints {
    pub console_scripts: Vec<EntryPoint>,
    pub gui_scripts: Vec<EntryPoint>,
}

/// `name = module:attr`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryPoint {
    pub name: String,
    pub module: String,
    /// A dotted attribute path inside `module`.
    pub attr: String,
}

/// An `entry_points.txt` we will not turn into scripts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryPointError {
    #[error("entry_points.txt line {line} is not `name = module:attr`: `{text}`")]
    Malformed { line: usize, text: String },
    #[error("script name `{name}` {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("script `{name}` has target `{target}`, which is not `module:attr` made of Python names")]
    BadTarget { name: String, target: String },
}

impl EntryPoints {
    /// Reads the `console_scripts` and `gui_scripts` sections, validating each script.
    ///
    /// The syntax is `importlib.metadata`'s: `[section]` headers, `name = value` lines split at
    /// the first `=`, `#` and `;` comments. Other sections are skipped without being judged:
    /// they are plugins for other tools, not ours to refuse. Within our two sections a later
    /// script of the same name replaces an earlier one, as the last write wins in pip.
    pub fn parse(text: &str) -> Result<EntryPoints, EntryPointError> {
        let mut entry_points = EntryPoints::default();
        let mut section: Option<&str> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(header) = line.strip_prefix('[') {
                let header = header.strip_suffix(']').ok_or(EntryPointError::Malformed {
                    line: index + 1,
                    text: line.to_string(),
                })?;
                section = Some(header.trim());
                continue;
            }
            let scripts = match section {
                Some("console_scripts") => &mut entry_points.console_scripts,
                Some("gui_scripts") => &mut entry_points.gui_scripts,
                _ => continue,
            };
            let (name, target) = line.split_once('=').ok_or(EntryPointError::Malformed {
                line: index + 1,
                text: line.to_string(),
            })?;
            let entry_point = EntryPoint::new(name.trim(), target.trim())?;
            scripts.retain(|existing| existing.name != entry_point.name);
            scripts.push(entry_point);
        }
        Ok(entry_points)
    }

    /// Console scripts, then GUI scripts (on POSIX both get the same launcher).
    pub fn scripts(&self) -> impl Iterator<Item = &EntryPoint> {
        self.console_scripts.iter().chain(&self.gui_scripts)
    }

    /// Checks every script again: manifests are read back from disk, so a name is validated
    /// where it is used, not only where it was parsed.
    pub fn validate(&self) -> Result<(), EntryPointError> {
        for entry_point in self.scripts() {
            EntryPoint::new(
                &entry_point.name,
                &format!("{}:{}", entry_point.module, entry_point.attr),
            )?;
        }
        Ok(())
    }
}

impl EntryPoint {
    /// A script from its name and `module:attr [extras]` target (extras are ignored: they
    /// only ever selected requirements, which the resolver has already handled).
    pub fn new(name: &str, target: &str) -> Result<EntryPoint, EntryPointError> {
        check_script_name(name).map_err(|reason| EntryPointError::BadName {
            name: name.to_string(),
            reason,
        })?;
        let bad_target = || EntryPointError::BadTarget {
            name: name.to_string(),
            target: target.to_string(),
        };
        let without_extras = match target.find('[') {
            Some(at) if target.trim_end().ends_with(']') => &target[..at],
            Some(_) => return Err(bad_target()),
            None => target,
        };
        // Without an attribute there is nothing to call: pip refuses such scripts too.
        let (module, attr) = without_extras.split_once(':').ok_or_else(bad_target)?;
        let (module, attr) = (module.trim(), attr.trim());
        if !is_dotted_name(module) || !is_dotted_name(attr) {
            return Err(bad_target());
        }
        Ok(EntryPoint {
            name: name.to_string(),
            module: module.to_string(),
            attr: attr.to_string(),
        })
    }

    /// The launcher script, for the interpreter at `python`.
    pub fn launcher(&self, python: &Path) -> Vec<u8> {
        let import = self.attr.split('.').next().unwrap_or(&self.attr);
        let mut script = shebang(python);
        script.extend_from_slice(
            format!(
                "# -*- coding: utf-8 -*-\n\
                 import re\n\
                 import sys\n\
                 from {module} import {import}\n\
                 if __name__ == '__main__':\n    \
                 sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
                 sys.exit({attr}())\n",
                module = self.module,
                attr = self.attr,
            )
            .as_bytes(),
        );
        script
    }
}

/// Why `name` cannot be a file in the scripts directory, if it cannot.
///
/// Names become file names, so anything that is not one plain file name is refused: a path
/// separator or `..` would write outside the scripts directory (the GHSA-4gg8-gxpx-9rph class);
/// NUL, control characters and whitespace cannot come from a legitimate project.
pub fn check_script_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("is empty")
    } else if name.contains('/') || name.contains('\\') {
        Err("contains a path separator")
    } else if name.contains("..") {
        Err("contains `..`")
    } else if name == "." {
        Err("is `.`")
    } else if name.contains('\0') {
        Err("contains a NUL byte")
    } else if name.chars().any(char::is_control) {
        Err("contains a control character")
    } else if name.chars().any(char::is_whitespace) {
        Err("contains whitespace")
    } else {
        Ok(())
    }
}

/// Python's `\w+(\.\w+)*`: what distlib and importlib accept for modules and attributes.
fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// The first line(s) of a script run by `python`, as distlib writes them.
///
/// A plain `#!/path/python` when the kernel can take it: no space in the path and at most 127
/// bytes in all (Linux's limit). Otherwise `/bin/sh` re-executes the script with the quoted
/// interpreter path; the `'''` lines make the same text a harmless string in Python.
pub fn shebang(python: &Path) -> Vec<u8> {
    let executable = python.as_os_str().as_encoded_bytes();
    let simple = !executable.contains(&b' ') && executable.len() + 3 <= 127;
    let mut out = Vec::new();
    if simple {
        out.extend_from_slice(b"#!");
        out.extend_from_slice(executable);
        out.push(b'\n');
    } else {
        out.extend_from_slice(b"#!/bin/sh\n'''exec' ");
        if executable.contains(&b' ') {
            out.push(b'"');
            out.extend_from_slice(executable);
            out.push(b'"');
        } else {
            out.extend_from_slice(executable);
        }
        out.extend_from_slice(b" \"$0\" \"$@\"\n' '''\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scripts_sections() {
        let text = "\
# comment
[console_scripts]
tool = pkg.cli:main
tool-x=pkg:obj.method [fast, slow]
; other comment

[gui_scripts]
gui = pkg.gui:run

[pytest11]
this is not judged
";
        let entry_points = EntryPoints::parse(text).unwrap();
        let names: Vec<&str> = entry_points.scripts().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["tool", "tool-x", "gui"]);
        assert_eq!(
            entry_points.console_scripts[1],
            EntryPoint {
                name: "tool-x".to_string(),
                module: "pkg".to_string(),
                attr: "obj.method".to_string()
            }
        );
        assert_eq!(entry_points.validate(), Ok(()));
    }

    #[test]
    fn refuses_hostile_and_malformed_scripts() {
        let cases = [
            ("../../evil = pkg:main", "contains a path separator"),
            ("a/b = pkg:main", "contains a path separator"),
            ("a\\b = pkg:main", "contains a path separator"),
            (".. = pkg:main", "contains `..`"),
            ("x..y = pkg:main", "contains `..`"),
            (". = pkg:main", "is `.`"),
            (" = pkg:main", "is empty"),
            ("a\u{0}b = pkg:main", "NUL"),
            ("a\u{1b}b = pkg:main", "control character"),
            ("my tool = pkg:main", "whitespace"),
            ("tool = pkg", "is not `module:attr`"),
            ("tool = pkg:main; import os", "is not `module:attr`"),
            ("tool = os; os.system('x') #:main", "is not `module:attr`"),
            ("tool = pkg:", "is not `module:attr`"),
            ("tool = pkg:main [extra", "is not `module:attr`"),
            ("tool", "is not `name = module:attr`"),
        ];
        for (line, expected) in cases {
            let err = EntryPoints::parse(&format!("[console_scripts]\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{line:?}: {err}");
        }
        assert!(matches!(
            EntryPoints::parse("[console_scripts\n"),
            Err(EntryPointError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn writes_pip_launchers() {
        let entry_point = EntryPoint::new("demo", "demo_pkg:main").unwrap();
        let launcher = entry_point.launcher(Path::new("/tmp/piptest/v/bin/python3"));
        // The exact bytes pip 23.2 wrote for this entry point in this environment.
        assert_eq!(
            record_hash_of(&launcher),
            "sha256=rFKmkF3u4k_OdO-Za0hhmJQJu-LcBzLUv_MOzB2lEm8"
        );
        assert_eq!(launcher.len(), 217);

        let dotted = EntryPoint::new("demo-sub", "demo_pkg.sub:obj.method [extra]").unwrap();
        let launcher = dotted.launcher(Path::new("/tmp/piptest/v/bin/python3"));
        assert_eq!(
            record_hash_of(&launcher),
            "sha256=aps1efnkjkCdxJIPxHJL-UB8a5wAv11WfsvbhvZkaSg"
        );
    }

    fn record_hash_of(data: &[u8]) -> String {
        use sha2::Digest;
        crate::record::sha256_field(&sha2::Sha256::digest(data))
    }

    #[test]
    fn shebangs_like_distlib() {
        let cases = [
            ("/v/bin/python", "#!/v/bin/python\n".to_string()),
            (
                "/my venv/bin/python",
                "#!/bin/sh\n'''exec' \"/my venv/bin/python\" \"$0\" \"$@\"\n' '''\n".to_string(),
            ),
            (
                &*format!("/{}/bin/python", "x".repeat(120)),
                format!(
                    "#!/bin/sh\n'''exec' /{}/bin/python \"$0\" \"$@\"\n' '''\n",
                    "x".repeat(120)
                ),
            ),
        ];
        for (python, expected) in cases {
            assert_eq!(String::from_utf8(shebang(Path::new(python))).unwrap(), expected);
        }
    }
}
