//! Lexical path arithmetic: normalising `.`/`..` without touching the disk, and the relative
//! paths RECORD uses. Lexical on purpose: RECORD paths are text, and what they point to on disk
//! (symlinks included) is checked separately by the code that acts on them.

use std::path::{Component, Path, PathBuf};

/// `path` with `.` dropped and each `..` applied to the component before it.
///
/// `None` when a `..` would climb above the start of a relative path or above the root: such a
/// path names something outside whatever it is later joined to, which callers refuse.
pub(crate) fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return None;
                }
                out.pop();
                depth -= 1;
            }
            Component::Normal(name) => {
                out.push(name);
                depth += 1;
            }
        }
    }
    Some(out)
}

/// `path` relative to the directory `base`, like Python's `os.path.relpath` on two absolute,
/// normalised paths (`../../../bin/tool` for a script seen from `site-packages`).
pub(crate) fn relative(base: &Path, path: &Path) -> PathBuf {
    let base: Vec<Component<'_>> = base.components().collect();
    let path: Vec<Component<'_>> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(left, right)| left == right).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for component in &path[common..] {
        out.push(component.as_os_str());
    }
    out
}

/// A relative path in RECORD's spelling: `/`-separated text. `None` if it is not UTF-8, which
/// RECORD (a UTF-8 CSV file) cannot hold faithfully.
pub(crate) fn record_path(base: &Path, path: &Path) -> Option<String> {
    let relative = relative(base, path);
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|component| component.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

/// An absolute, lexically normalised form of `path` (relative paths are taken from the current
/// directory). `None` if the current directory is unknown or `..` climbs above the root.
pub(crate) fn absolute(path: &Path) -> Option<PathBuf> {
    normalize(&std::path::absolute(path).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        let cases: &[(&str, Option<&str>)] = &[
            ("a/b/c", Some("a/b/c")),
            ("a/./b", Some("a/b")),
            ("a/b/../c", Some("a/c")),
            ("a/../../c", None),
            ("../a", None),
            ("/x/y/../z", Some("/x/z")),
            ("/..", None),
            ("/x/../../y", None),
            ("lib/python3.11/site-packages/../../../bin/tool", Some("bin/tool")),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(Path::new(input)), expected.map(PathBuf::from), "{input}");
        }
    }

    #[test]
    fn relative_paths_as_record_writes_them() {
        let cases = [
            (
                "/v/lib/python3.11/site-packages",
                "/v/lib/python3.11/site-packages/pkg/a.py",
                "pkg/a.py",
            ),
            ("/v/lib/python3.11/site-packages", "/v/bin/tool", "../../../bin/tool"),
            (
                "/v/lib/python3.11/site-packages",
                "/v/include/site/python3.11/pkg/a.h",
                "../../../include/site/python3.11/pkg/a.h",
            ),
            ("/v/lib/python3.11/site-packages", "/v/share/x", "../../../share/x"),
            (
                "/v/lib/python3.11/site-packages",
                "/elsewhere/x",
                "../../../../elsewhere/x",
            ),
        ];
        for (base, path, expected) in cases {
            assert_eq!(record_path(Path::new(base), Path::new(path)).as_deref(), Some(expected));
        }
    }
}
