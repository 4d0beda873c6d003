//! The daemon's module structure, checked: `lib.rs` lists the modules in groups (separated
//! by blank lines), each group above the ones before it. A module may import (`crate::x`)
//! from its own group and the groups before it, never from a later one, and no two modules
//! may import each other, even through others. A structure that slips shows here, in the
//! commit that makes it slip, rather than in a review waves later.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of `daemon/src` and the group `lib.rs` puts it in.
fn groups(src: &Path) -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut group = 0;
    let mut groups = BTreeMap::new();
    for line in lib.lines() {
        if let Some(name) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")) {
            groups.insert(name.trim_end_matches(';').to_string(), group);
        } else if line.trim().is_empty() && !groups.is_empty() {
            group += 1;
        }
    }
    groups
}

/// The modules each module names as `crate::x`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let first = relative.components().next().expect("a component");
            let module = first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).expect("read");
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    found.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_later_group_and_none_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let groups = groups(&src);
    let imports = imports(&src);
    let mut upward = Vec::new();
    for (module, names) in &imports {
        let Some(own) = groups.get(module) else {
            continue;
        };
        for name in names {
            if groups.get(name).is_some_and(|their| their > own) {
                upward.push(format!("{module} imports {name}, which lib.rs lists in a later group"));
            }
        }
    }
    assert!(upward.is_empty(), "{}", upward.join("\n"));

    // A circle: a module that reaches itself.
    for start in imports.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = imports[start].iter().collect();
        while let Some(next) = stack.pop() {
            assert!(next != start, "{start} reaches itself through its imports");
            if seen.insert(next.clone()) {
                stack.extend(imports.get(next).into_iter().flatten());
            }
        }
    }
}
