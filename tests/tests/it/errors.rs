//! The errors a lock can end in: each names what is wrong, where the requirement is written
//! (file and line, or the package that requires it), and what to do about it.

use axle_e2e::TestContext;
use axle_e2e::index::TestIndex;
use axle_e2e::sdist::ProjectBuilder;
use axle_e2e::wheel::WheelBuilder;

/// `axle lock` of `input` against `index` (with `args`), which must fail: its stderr.
fn lock_fails(index: &TestIndex, input: &str, args: &[&str]) -> String {
    let mut context = TestContext::new();
    context.use_index(index);
    context.write("requirements.in", input);
    let mut command = vec!["lock"];
    command.extend(args);
    context.fails(&command)
}

fn assert_says(message: &str, expected: &[&str]) {
    for part in expected {
        assert!(message.contains(part), "expected {part:?} in:\n{message}");
    }
}

#[test]
fn a_name_not_on_the_index_names_the_index_and_the_closest_names() {
    let index = TestIndex::start();
    for name in ["fastapi", "fastapi-cli", "requests"] {
        index.add(&WheelBuilder::new(name, "1.0").build());
    }
    let message = lock_fails(&index, "requests\nfastapii\n", &[]);
    assert_says(
        &message,
        &[
            "You require fastapii (requirements.in, line 2), but no project named fastapii was found on the index",
            &index.url(),
            // The closest first.
            "did you mean fastapi or fastapi-cli?",
        ],
    );
}

#[test]
fn no_release_in_range_shows_the_newest_there_are() {
    let index = TestIndex::start();
    for version in ["2.30.0", "2.31.0", "2.32.0", "2.33.0b1"] {
        index.add(&WheelBuilder::new("requests", version).build());
    }
    let message = lock_fails(&index, "requests>=99\n", &[]);
    assert_says(
        &message,
        &[
            "You require requests >=99 (requirements.in, line 1), but no release of requests matches >=99",
            "the newest are 2.32.0, then 2.31.0, 2.30.0",
        ],
    );
}

#[test]
fn only_pre_releases_left_says_pre() {
    // `lib` 1.0 needs other<1, which the requirements refuse; what is left of lib is 2.0rc1, a
    // pre-release nobody asked for (uv and pip-compile refuse it too). With --pre it locks.
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("lib", "1.0").requires("other<1").build());
    index.add(&WheelBuilder::new("lib", "2.0rc1").build());
    for version in ["0.5", "1.0"] {
        index.add(&WheelBuilder::new("other", version).build());
    }
    let message = lock_fails(&index, "lib\nother>=1\n", &[]);
    assert_says(
        &message,
        &[
            "the only releases of lib left are pre-releases (the newest is 2.0rc1)",
            "hint: pre-releases are left out unless asked for: pass --pre, or name one in the requirement \
             (lib>=2.0rc1)",
            "you require other >=1 (requirements.in, line 2)",
        ],
    );
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("requirements.in", "lib\nother>=1\n");
    context.ok(&["lock", "--pre"]);
    assert!(context.read("requirements.txt").contains("lib==2.0rc1"));
}

#[test]
fn requires_python_excluding_every_match_names_the_newest_release_for_this_python() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("modern", "1.0").build());
    index.add(&WheelBuilder::new("modern", "2.0").requires_python(">=3.99").build());
    index.add(&WheelBuilder::new("modern", "2.1").requires_python(">=3.99").build());
    for filename in ["modern-2.0-py3-none-any.whl", "modern-2.1-py3-none-any.whl"] {
        index.update(filename, |file| file.requires_python = Some(">=3.99".to_string()));
    }
    let message = lock_fails(&index, "modern>=2\n", &[]);
    let (major, minor) = axle_e2e::real_python_version();
    assert_says(
        &message,
        &[
            "every release of modern matching >=2 needs another Python than",
            &format!("{major}.{minor}"),
            "(2.1 requires Python >=3.99)",
            "the newest release of modern for Python",
            "is 1.0",
        ],
    );
}

#[test]
fn only_sdists_with_only_binary_says_which_release_has_a_wheel() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("native", "1.0").build());
    index.add_sdist(&ProjectBuilder::new("native", "2.0").sdist());
    let message = lock_fails(&index, "native>=2\n", &["--only-binary", ":all:"]);
    assert_says(
        &message,
        &[
            "the releases of native matching >=2 have only source distributions here (the newest is 2.0)",
            "--only-binary refuses them; the newest release of native with a wheel for this platform is 1.0; or \
             drop native from --only-binary to build it.",
        ],
    );
}

#[test]
fn every_matching_release_yanked_says_how_to_use_one() {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("old", "1.0").build());
    index.update("old-1.0-py3-none-any.whl", |file| {
        file.yanked = Some("broken build".to_string());
    });
    let message = lock_fails(&index, "old\n", &[]);
    assert_says(
        &message,
        &[
            "You require old (requirements.in, line 1), but every release of old was yanked (1.0: \"broken \
             build\"); to use a yanked release anyway, pin it exactly (old==1.0).",
        ],
    );
}

#[test]
fn a_conflict_is_a_derivation_naming_each_requirements_origin() {
    let index = TestIndex::start();
    for version in ["1.0", "2.0"] {
        index.add(&WheelBuilder::new("a", version).build());
    }
    index.add(&WheelBuilder::new("b", "1.0").requires("a<2").build());
    let mut context = TestContext::new();
    context.use_index(&index);
    context.write("base.txt", "a>=2\n");
    context.write("requirements.in", "-r base.txt\n\nb\n");
    let message = context.fails(&["lock", "requirements.in"]);
    assert_says(
        &message,
        &[
            "Because b requires a <2 and you require a >=2 (base.txt, line 1), b cannot be used with your \
             requirements.",
            "you require b (requirements.in, line 3)",
        ],
    );
}
