//! Tests for the requirement-file reader: one file using every construct, and malformed lines.

use std::fmt::Write as _;
use std::fs;

use super::*;

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const USER_TOKEN: &str = "user:secret";
const SHA_B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn location(location: &Location, root: &str) -> String {
    match location {
        Location::Url(url) => url.to_string(),
        Location::Path(path) => format!("path {}", path.display()).replace(root, "<tmp>"),
    }
}

/// A stable text form of the parse result, with the temporary directory replaced by `<tmp>`.
fn render(parsed: &RequirementsTxt, root: &Path) -> String {
    let root = root.display().to_string();
    let mut out = String::new();
    let entries = |out: &mut String, title: &str, entries: &[Entry]| {
        writeln!(out, "{title}:").unwrap();
        for entry in entries {
            write!(
                out,
                "  {}:{} {:?} {}",
                entry.origin.file.display(),
                entry.origin.line,
                entry.origin.via,
                entry.requirement
            )
            .unwrap();
            for hash in &entry.hashes {
                write!(out, " [{}…]", &hash[..10]).unwrap();
            }
            out.push('\n');
        }
    };
    entries(&mut out, "requirements", &parsed.requirements);
    entries(&mut out, "constraints", &parsed.constraints);
    writeln!(out, "editables:").unwrap();
    for editable in &parsed.editables {
        writeln!(
            out,
            "  {}:{} {} name={:?} extras={:?} path={:?}",
            editable.origin.file.display(),
            editable.origin.line,
            editable.url,
            editable.name.as_ref().map(ToString::to_string),
            editable.extras.iter().map(ToString::to_string).collect::<Vec<_>>(),
            editable.path.as_ref().map(|p| p.display().to_string()),
        )
        .unwrap();
    }
    let options = &parsed.options;
    writeln!(out, "options:").unwrap();
    writeln!(
        out,
        "  index_url: {:?}",
        options.index_url.as_ref().map(|l| location(l, &root))
    )
    .unwrap();
    for (title, list) in [
        ("extra_index_urls", &options.extra_index_urls),
        ("find_links", &options.find_links),
    ] {
        let list: Vec<String> = list.iter().map(|l| location(l, &root)).collect();
        writeln!(out, "  {title}: {list:?}").unwrap();
    }
    writeln!(
        out,
        "  no_index={} pre={} require_hashes={} trusted_hosts={:?}",
        options.no_index, options.pre, options.require_hashes, options.trusted_hosts
    )
    .unwrap();
    for (title, set) in [("only_binary", &options.only_binary), ("no_binary", &options.no_binary)] {
        let names: Vec<String> = set.packages.iter().map(ToString::to_string).collect();
        writeln!(out, "  {title}: all={} {names:?}", set.all).unwrap();
    }
    out.replace(&root, "<tmp>")
}

#[test]
fn every_construct() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(
        &root,
        "requirements.in",
        &format!(
            r#"# A comment line, then a blank one

-i ${{INDEX}}/simple
--extra-index-url https://127.0.0.1/extra/simple
--extra-index-url=./local-index
--no-index
-f ./wheels
--find-links https://127.0.0.1/links/
--pre
--only-binary :all:
--no-binary foo,Bar_baz
--only-binary=bar-baz
--require-hashes
--trusted-host 127.0.0.1
-r base.txt
-c constraints/constraints.txt
-e ./pkg[dev]
-e git+https://127.0.0.1/repo.git#egg=vcs_pkg
requests[socks]>=2.31,<3 ; python_version >= "3.8"  # a trailing comment
flask==3.0.3 \
    --hash=sha256:{SHA_A} \
    --hash sha256:{SHA_B}
django @ https://127.0.0.1/django-5.1.tar.gz#sha256={SHA_A}
./wheels/local_pkg-1.0-py3-none-any.whl
https://127.0.0.1/files/typing_extensions-4.12.2-py3-none-any.whl ; sys_platform == "linux"
https://${{USER_TOKEN}}@127.0.0.1/archive.zip#egg=eggy
attrs (>=23)
local-thing @ ./vendor/local-thing
"#
        ),
    );
    write(&root, "base.txt", "idna==3.7\n");
    write(&root, "constraints/constraints.txt", "urllib3<2\n-r nested.txt\n");
    write(&root, "constraints/nested.txt", "certifi==2024.8.30\n");

    let parsed = RequirementsTxt::read(
        root.join("requirements.in"),
        ViaKind::Requirement,
        &env(&[("INDEX", "https://127.0.0.1/index"), ("USER_TOKEN", USER_TOKEN)]),
    )
    .unwrap();

    // The credentials `${USER_TOKEN}` expands to, in front of the loopback host.
    let eggy = format!("https://{USER_TOKEN}@127.0.0.1/archive.zip#egg=eggy");
    let expected = format!(
        r#"requirements:
  <tmp>/base.txt:1 Requirement idna==3.7
  <tmp>/requirements.in:19 Requirement requests[socks]>=2.31,<3 ; python_full_version >= '3.8'
  <tmp>/requirements.in:20 Requirement flask==3.0.3 [sha256:aaa…] [sha256:bbb…]
  <tmp>/requirements.in:23 Requirement django @ https://127.0.0.1/django-5.1.tar.gz#sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  <tmp>/requirements.in:24 Requirement local-pkg @ file://<tmp>/wheels/local_pkg-1.0-py3-none-any.whl
  <tmp>/requirements.in:25 Requirement typing-extensions @ https://127.0.0.1/files/typing_extensions-4.12.2-py3-none-any.whl ; sys_platform == 'linux'
  <tmp>/requirements.in:26 Requirement eggy @ {eggy}
  <tmp>/requirements.in:27 Requirement attrs>=23
  <tmp>/requirements.in:28 Requirement local-thing @ file://<tmp>/vendor/local-thing
constraints:
  <tmp>/constraints/constraints.txt:1 Constraint urllib3<2
  <tmp>/constraints/nested.txt:1 Constraint certifi==2024.8.30
editables:
  <tmp>/requirements.in:17 file://<tmp>/pkg name=None extras=["dev"] path=Some("<tmp>/pkg")
  <tmp>/requirements.in:18 git+https://127.0.0.1/repo.git#egg=vcs_pkg name=Some("vcs-pkg") extras=[] path=None
options:
  index_url: Some("https://127.0.0.1/index/simple")
  extra_index_urls: ["https://127.0.0.1/extra/simple", "path <tmp>/local-index"]
  find_links: ["path <tmp>/wheels", "https://127.0.0.1/links/"]
  no_index=true pre=true require_hashes=true trusted_hosts=["127.0.0.1"]
  only_binary: all=true ["bar-baz"]
  no_binary: all=false ["foo"]
"#
    );
    assert_eq!(render(&parsed, &root), expected);

    // The hashes are kept whole and lower-cased.
    assert_eq!(
        parsed.requirements[2].hashes,
        [format!("sha256:{SHA_A}"), format!("sha256:{}", SHA_A.replace('a', "b"))]
    );
    // A `${NAME}` value never reaches an error message; the written line does.
    let url = &parsed.requirements[6].requirement.version_or_url;
    assert!(matches!(url, Some(VersionOrUrl::Url(url)) if url.password() == Some("secret")));
}

#[test]
fn relative_top_file_names_relative_includes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(&root, "reqs/main.txt", "-r ../shared/base.txt\n");
    write(&root, "shared/base.txt", "idna\n");
    // Names are joined, not canonicalised, so they read the way the user wrote them.
    let parsed = RequirementsTxt::read(root.join("reqs/main.txt"), ViaKind::Requirement, &env(&[])).unwrap();
    assert_eq!(parsed.requirements[0].origin.file, root.join("reqs/../shared/base.txt"));
}

#[test]
fn read_as_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(&root, "c.txt", "foo<2\n--pre\n");
    let parsed = RequirementsTxt::read(root.join("c.txt"), ViaKind::Constraint, &env(&[])).unwrap();
    assert!(parsed.requirements.is_empty());
    assert_eq!(parsed.constraints.len(), 1);
    assert_eq!(parsed.constraints[0].origin.via, ViaKind::Constraint);
    assert!(parsed.options.pre);
}

/// (file content, expected message with the directory removed). Every message names the file,
/// the line the logical line starts on, and quotes the line as written.
const MALFORMED: &[(&str, &str)] = &[
    (
        "flask\nfoo==\n",
        "requirements.in:2: invalid requirement `foo==`: Unexpected end of version specifier, expected version",
    ),
    (
        "foo \\\n  ==\n",
        "requirements.in:1: invalid requirement `foo   ==`: Unexpected end of version specifier, expected version",
    ),
    (
        "-r\n",
        "requirements.in:1: invalid option in `-r`: `--requirement` needs a value",
    ),
    (
        "--prefer-binary\n",
        "requirements.in:1: unsupported option in `--prefer-binary`: axle does not support `--prefer-binary`",
    ),
    (
        "\n\n--frobnicate\n",
        "requirements.in:3: unknown option in `--frobnicate`: `--frobnicate` is not a pip requirement-file option",
    ),
    (
        "--no x\n",
        "requirements.in:1: unknown option in `--no x`: `--no` is ambiguous: it could be `--no-index` or `--no-binary`",
    ),
    (
        "--no-index=yes\n",
        "requirements.in:1: invalid option in `--no-index=yes`: `--no-index` takes no value",
    ),
    (
        "foo --pre\n",
        "requirements.in:1: misplaced option in `foo --pre`: `--pre` cannot follow a requirement: put it on a line of its own",
    ),
    (
        "foo --config-settings=a=b\n",
        "requirements.in:1: unsupported option in `foo --config-settings=a=b`: axle does not support `--config-settings`",
    ),
    (
        "--hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "requirements.in:1: misplaced option in `--hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`: `--hash` belongs on the line of the requirement it checks",
    ),
    (
        "foo --hash=md5:abc\n",
        "requirements.in:1: invalid hash in `foo --hash=md5:abc`: `md5:abc` uses an algorithm pip does not accept: use sha256, sha384 or sha512",
    ),
    (
        "foo --hash=sha256:xyz\n",
        "requirements.in:1: invalid hash in `foo --hash=sha256:xyz`: `sha256:xyz` is not a sha256 digest: expected 64 hexadecimal digits",
    ),
    (
        "foo --hash=abc\n",
        "requirements.in:1: invalid hash in `foo --hash=abc`: `abc` is not `algorithm:digest`, as in `--hash=sha256:...`",
    ),
    (
        "foo --hash=\"sha256:abc\n",
        "requirements.in:1: cannot split `foo --hash=\"sha256:abc`: a quote is not closed",
    ),
    (
        "-c constraints-unnamed.txt\n",
        "constraints-unnamed.txt:1: cannot tell which package is meant by `./some-dir`: name the package, as in `name @ ./some-dir`",
    ),
    (
        "-i ${MISSING}/simple\n",
        "requirements.in:1: undefined variable in `-i ${MISSING}/simple`: `${MISSING}` is not set",
    ),
    // Only the caller's map is consulted, never the process environment.
    (
        "foo @ file://${PATH}/foo.whl\n",
        "requirements.in:1: undefined variable in `foo @ file://${PATH}/foo.whl`: `${PATH}` is not set",
    ),
    (
        "-r https://127.0.0.1/requirements.txt\n",
        "requirements.in:1: cannot include `-r https://127.0.0.1/requirements.txt`: `https://127.0.0.1/requirements.txt` is a remote file; axle only reads local requirement files",
    ),
    (
        "--only-binary foo,-bar\n",
        "requirements.in:1: invalid option in `--only-binary foo,-bar`: `-bar` is not a valid package name: `-bar` is not a valid name: names start and end with a letter or digit and contain only letters, digits, `-`, `_` and `.`",
    ),
    (
        "--extra-index-url https://[oops]/simple\n",
        "requirements.in:1: invalid option in `--extra-index-url https://[oops]/simple`: `https://[oops]/simple` is not a valid URL: invalid IPv6 address",
    ),
    (
        "--extra-index-url https://127.0.0.1/my index\n",
        "requirements.in:1: invalid option in `--extra-index-url https://127.0.0.1/my index`: `index` is not an option; quote values that contain spaces",
    ),
    (
        "-c constraints.txt\n",
        "constraints.txt:1: invalid constraint `-e ./pkg`: editable requirements cannot be constraints",
    ),
];

#[test]
fn paths_and_urls_without_names_are_kept_for_their_metadata_to_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(
        &root,
        "requirements.in",
        "./some-dir[extra] ; os_name == 'posix'\nhttps://127.0.0.1/archive.tar.gz --hash=sha256:abababababababababababababababababababababababababababababababab\nnamed @ ./other\n",
    );
    let parsed = RequirementsTxt::read(root.join("requirements.in"), ViaKind::Requirement, &env(&[])).unwrap();
    let urls: Vec<String> = parsed.unnamed.iter().map(|unnamed| unnamed.url.to_string()).collect();
    assert_eq!(
        urls,
        [
            format!("file://{}/some-dir", root.display()),
            "https://127.0.0.1/archive.tar.gz".to_string()
        ]
    );
    assert_eq!(parsed.unnamed[0].extras.len(), 1);
    assert_eq!(parsed.unnamed[0].marker_text.as_deref(), Some("os_name == 'posix'"));
    assert_eq!(
        parsed.unnamed[1].hashes,
        ["sha256:abababababababababababababababababababababababababababababababab"]
    );
    assert_eq!(parsed.unnamed[0].url.given(), Some("./some-dir"));
    assert_eq!(parsed.requirements.len(), 1);
}

#[test]
fn malformed_lines() {
    let mut mismatches = Vec::new();
    for (content, expected) in MALFORMED {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(&root, "requirements.in", content);
        write(&root, "constraints.txt", "-e ./pkg\n");
        write(&root, "constraints-unnamed.txt", "./some-dir\n");
        let err = RequirementsTxt::read(root.join("requirements.in"), ViaKind::Requirement, &env(&[])).unwrap_err();
        let message = err.to_string().replace(&format!("{}/", root.display()), "");
        if &message != expected {
            mismatches.push(format!("{content:?}\n  got:      {message}\n  expected: {expected}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Values of `${NAME}` (often credentials) never appear in messages; the names do.
#[test]
fn messages_hide_variable_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(
        &root,
        "requirements.in",
        "--extra-index-url https://[${TOKEN}]/simple\n",
    );
    let err = RequirementsTxt::read(
        root.join("requirements.in"),
        ViaKind::Requirement,
        &env(&[("TOKEN", "hunter2")]),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        err.ends_with(
            "requirements.in:1: invalid option in `--extra-index-url https://[${TOKEN}]/simple`: `https://[${TOKEN}]/simple` is not a valid URL: invalid IPv6 address"
        ),
        "{err}"
    );
}

#[test]
fn include_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    write(&root, "a.txt", "idna\n-r b.txt\n");
    write(&root, "b.txt", "\n-r a.txt\n");
    let err = RequirementsTxt::read(root.join("a.txt"), ViaKind::Requirement, &env(&[]))
        .unwrap_err()
        .to_string()
        .replace(&format!("{}/", root.display()), "");
    assert_eq!(
        err,
        "b.txt:2: include cycle at `-r a.txt`: `a.txt` includes `b.txt` includes `a.txt`"
    );

    write(&root, "self.txt", "-r self.txt\n");
    let err = RequirementsTxt::read(root.join("self.txt"), ViaKind::Requirement, &env(&[]))
        .unwrap_err()
        .to_string()
        .replace(&format!("{}/", root.display()), "");
    assert_eq!(
        err,
        "self.txt:1: include cycle at `-r self.txt`: `self.txt` includes `self.txt`"
    );

    write(&root, "missing.txt", "# nothing\n-r nowhere.txt\n");
    let err = RequirementsTxt::read(root.join("missing.txt"), ViaKind::Requirement, &env(&[]))
        .unwrap_err()
        .to_string()
        .replace(&format!("{}/", root.display()), "");
    assert!(
        err.starts_with("missing.txt:2: cannot include `-r nowhere.txt`: cannot read `nowhere.txt`: "),
        "{err}"
    );

    // A diamond is not a cycle.
    write(&root, "top.txt", "-r left.txt\n-r right.txt\n");
    write(&root, "left.txt", "-r shared.txt\n");
    write(&root, "right.txt", "-r shared.txt\n");
    write(&root, "shared.txt", "idna\n");
    let parsed = RequirementsTxt::read(root.join("top.txt"), ViaKind::Requirement, &env(&[])).unwrap();
    assert_eq!(parsed.requirements.len(), 2);

    let err = RequirementsTxt::read(root.join("absent.txt"), ViaKind::Requirement, &env(&[])).unwrap_err();
    assert!(matches!(err, RequirementsTxtError::Read { .. }));
    assert!(err.to_string().contains("absent.txt"), "{err}");
}

#[test]
fn comments_and_continuations() {
    let lines = logical_lines("a \\\n  b\n# c \\\nd # e \\\nf#g\nh \\\n# i\nj \\");
    let lines: Vec<(usize, &str)> = lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
    assert_eq!(
        lines,
        [
            (1, "a   b"),
            (3, "# c \\"),
            (4, "d # e \\"),
            (5, "f#g"),
            (6, "h  # i"),
            (8, "j ")
        ]
    );
    for (line, stripped) in [
        ("# all comment", ""),
        ("foo # comment", "foo "),
        ("foo\t# comment", "foo\t"),
        (
            "https://127.0.0.1/x.whl#sha256=abc",
            "https://127.0.0.1/x.whl#sha256=abc",
        ),
        ("foo#bar # baz", "foo#bar "),
    ] {
        assert_eq!(strip_comment(line), stripped, "{line:?}");
    }
}

#[test]
fn variables() {
    let vars = env(&[("A", "1"), ("B_2", "two"), ("EMPTY", "")]);
    let (expanded, substituted) = expand_variables("${A}-${B_2}", &vars).unwrap();
    assert_eq!(expanded, "1-two");
    assert_eq!(
        substituted,
        [
            ("A".to_string(), "1".to_string()),
            ("B_2".to_string(), "two".to_string())
        ]
    );
    // Lower-case and `$NAME` forms are not variables in pip's syntax.
    assert_eq!(expand_variables("${a} $A", &vars).unwrap().0, "${a} $A");
    assert!(matches!(
        expand_variables("${EMPTY}", &vars),
        Err(LineProblem::UndefinedVariable(name)) if name == "EMPTY"
    ));
}

#[test]
fn options_split_like_pip() {
    assert_eq!(
        split_args_options(r#"foo ; python_version < "3.8" --hash=x"#),
        (r#"foo ; python_version < "3.8""#, "--hash=x")
    );
    assert_eq!(split_args_options("-r a.txt"), ("", "-r a.txt"));
    assert_eq!(
        shell_split(r#"--a "b c" 'd e' f\ g"#).unwrap(),
        ["--a", "b c", "d e", "f g"]
    );
    let parsed = parse_options(&shell_split("-rfoo.txt --extra-index x -i=y").unwrap()).unwrap();
    assert_eq!(
        parsed,
        [
            (Opt::Requirement, Some("foo.txt".to_string())),
            (Opt::ExtraIndexUrl, Some("x".to_string())),
            (Opt::IndexUrl, Some("=y".to_string())),
        ]
    );
}

#[test]
fn binary_sets_follow_pip() {
    let (mut only, mut no) = (BinarySet::default(), BinarySet::default());
    update_binary_sets("foo,bar", &mut no, &mut only).unwrap();
    update_binary_sets(":all:", &mut only, &mut no).unwrap();
    assert!(only.all && no.packages.is_empty());
    update_binary_sets("baz", &mut no, &mut only).unwrap();
    assert!(only.all && no.contains(&package_name("baz").unwrap()));
    update_binary_sets(":none:", &mut only, &mut no).unwrap();
    assert!(!only.all && only.packages.is_empty());
}

#[test]
fn bare_requirements() {
    let dir = Path::new("/work");
    for (line, name) in [
        ("./dist/foo_bar-1.0-py3-none-any.whl", "foo-bar"),
        ("dist/foo-1.0-py3-none-any.whl", "foo"),
        ("foo-1.0-py3-none-any.whl", "foo"),
        (
            "https://127.0.0.1/torch-2.0.0%2Bcpu-cp311-cp311-linux_x86_64.whl",
            "torch",
        ),
        ("git+https://127.0.0.1/repo.git@v1#egg=Some_Pkg", "some-pkg"),
        ("foo@https://127.0.0.1/bar.zip", "foo"),
        ("foo[bar] @ https://127.0.0.1/bar.zip", "foo"),
    ] {
        let requirement = parse_requirement_line(line, dir).unwrap();
        assert_eq!(requirement.name.as_ref(), name, "{line}");
        assert!(
            matches!(requirement.version_or_url, Some(VersionOrUrl::Url(_))),
            "{line}"
        );
    }
    let requirement = parse_requirement_line("./foo-1.0-py3-none-any.whl[extra] ; os_name == 'nt'", dir).unwrap();
    assert_eq!(requirement.extras.len(), 1);
    assert!(!requirement.marker.is_true());
    assert_eq!(percent_decode("a%2Bb%zz%4"), "a+b%zz%4");
}

#[test]
fn marker_text_is_kept_as_written() {
    let cases = [
        ("foo", None),
        ("foo ; python_version<'3.12'", Some("python_version<'3.12'")),
        ("foo[x]>=1;sys_platform == \"linux\"", Some("sys_platform == \"linux\"")),
        (
            "foo @ https://127.0.0.1/a;b/foo-1.0-py3-none-any.whl ; os_name == 'nt'",
            Some("os_name == 'nt'"),
        ),
        ("foo @ https://127.0.0.1/a;b/foo-1.0-py3-none-any.whl", None),
    ];
    for (line, expected) in cases {
        assert_eq!(marker_text(line).as_deref(), expected, "{line}");
    }
}

#[test]
fn editables_keep_their_markers_as_uv_reads_them() {
    let cases = [
        ("-e ./pkg", None),
        ("-e ./pkg ; os_name == 'nt'", Some("os_name == 'nt'")),
        ("-e \"./pkg ; os_name == 'nt'\"", Some("os_name == 'nt'")),
        (
            "--editable git+https://127.0.0.1/a;b/repo.git@abc#egg=repo ; python_version >= \"3.8\"",
            Some("python_version >= \"3.8\""),
        ),
        ("-e git+https://127.0.0.1/a;b/repo.git@abc#egg=repo", None),
    ];
    for (line, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "requirements.txt", &format!("{line}\n"));
        let parsed =
            RequirementsTxt::read(dir.path().join("requirements.txt"), ViaKind::Requirement, &env(&[])).unwrap();
        let editable = &parsed.editables[0];
        assert_eq!(editable.marker_text.as_deref(), expected, "{line}");
        assert_eq!(editable.marker.is_true(), expected.is_none(), "{line}");
        assert!(!editable.url.as_str().contains(';') || line.contains("a;b"), "{line}");
    }
}
