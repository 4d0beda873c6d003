//! Property tests (bounded, so the gate stays fast): the parsers of what users and indexes
//! hand axle never panic, whatever the bytes, and what is parsed then rendered parses back the
//! same.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::str::FromStr;

use axle_standards::{Metadata, RequirementsTxt, Version, ViaKind, parse_requirement};
use proptest::prelude::*;

/// Text shaped like a requirement file: lines of names, versions, operators, markers, options,
/// URLs, continuations and comments, in any order.
fn requirement_file() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "[a-zA-Z][a-zA-Z0-9._-]{0,12}",
        "(==|>=|<=|~=|!=|===|<|>)[0-9]{1,3}(\\.[0-9*]{1,3}){0,3}(a|b|rc|\\.post|\\.dev)?[0-9]?",
        Just(" ; python_version < '3.9'".to_string()),
        Just("[extra,other]".to_string()),
        Just(" --hash=sha256:".to_string()),
        "[0-9a-f]{64}",
        Just("-r other.txt".to_string()),
        Just("-c constraints.txt".to_string()),
        Just("-e ./local".to_string()),
        Just("--index-url https://127.0.0.1/simple/".to_string()),
        Just("--only-binary :all:".to_string()),
        Just(" @ file:///tmp/x.whl".to_string()),
        Just("${HOME}".to_string()),
        Just(" \\\n".to_string()),
        Just(" # comment".to_string()),
        "[ -~]{0,8}",
    ];
    prop::collection::vec(
        prop::collection::vec(token, 0..5).prop_map(|tokens| tokens.concat()),
        0..12,
    )
    .prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn metadata_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Metadata::parse_bytes(&bytes);
    }

    #[test]
    fn metadata_never_panics_on_header_shaped_text(
        lines in prop::collection::vec("(Name|Version|Requires-Dist|Requires-Python|Provides-Extra|Metadata-Version|Dynamic): [ -~]{0,30}", 0..12)
    ) {
        let _ = Metadata::parse(&lines.join("\n"));
    }

    #[test]
    fn requirement_files_never_panic(text in requirement_file()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.in");
        std::fs::write(&path, &text).unwrap();
        let _ = RequirementsTxt::read(&path, ViaKind::Requirement, &HashMap::new());
    }

    #[test]
    fn requirement_files_of_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        std::fs::write(&path, &bytes).unwrap();
        let _ = RequirementsTxt::read(&path, ViaKind::Requirement, &HashMap::new());
    }

    #[test]
    fn a_parsed_requirement_renders_to_text_that_parses_back_the_same(
        name in "[a-zA-Z][a-zA-Z0-9._-]{0,10}[a-zA-Z0-9]",
        extras in prop::collection::vec("[a-z][a-z0-9]{0,5}", 0..3),
        specifier in "(==|>=|<=|~=|!=|<|>)[0-9]{1,2}(\\.[0-9]{1,2}){1,2}",
        marker in prop_oneof![Just(String::new()), Just("python_version >= '3.9'".to_string()), Just("sys_platform == 'linux' and extra == 'x'".to_string())],
    ) {
        let extras = if extras.is_empty() { String::new() } else { format!("[{}]", extras.join(",")) };
        let marker = if marker.is_empty() { String::new() } else { format!(" ; {marker}") };
        let text = format!("{name}{extras}{specifier}{marker}");
        if let Ok(parsed) = parse_requirement(&text) {
            let rendered = parsed.to_string();
            let again = parse_requirement(&rendered).unwrap();
            prop_assert_eq!(again.to_string(), rendered);
        }
    }

    #[test]
    fn versions_render_to_text_that_parses_back_equal(text in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((a|b|rc)[0-9]{1,2})?(\\.post[0-9])?(\\.dev[0-9])?") {
        let version = Version::from_str(&text).unwrap();
        prop_assert_eq!(Version::from_str(&version.to_string()).unwrap(), version);
    }
}
