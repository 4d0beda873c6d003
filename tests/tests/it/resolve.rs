//! Resolver quality: on the shapes where a valid lock can still be one nobody wants, the
//! choice uv and pip-compile make.

use axle_e2e::TestContext;
use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;

fn context_with(index: &TestIndex) -> TestContext {
    let mut context = TestContext::new();
    context.use_index(index);
    context
}

fn pins(context: &TestContext) -> Vec<String> {
    context
        .read("requirements.txt")
        .lines()
        .filter(|line| line.contains("=="))
        .map(str::to_string)
        .collect()
}

#[test]
fn an_upper_bounded_pair_steps_the_first_back_not_the_second_to_its_oldest() {
    // Every recent `companion` caps `framework` below its newest release; only ancient
    // companions (1.x, 2.x) have no cap. Deciding `framework` first and walking `companion`
    // down gives framework 3.0 with companion 2.0 from years ago; uv and pip-compile give
    // framework 2.0 with the newest companion.
    let index = TestIndex::start();
    for version in ["1.0", "2.0", "3.0"] {
        index.add(&WheelBuilder::new("framework", version).build());
    }
    for major in 1..=9 {
        let version = format!("{major}.0");
        let mut companion = WheelBuilder::new("companion", &version);
        if major >= 3 {
            companion = companion.requires("framework<3");
        }
        index.add(&companion.build());
    }
    let context = context_with(&index);
    context.write("requirements.in", "framework<=3.0\ncompanion<=9.0\n");
    context.ok(&["lock"]);
    assert_eq!(
        pins(&context),
        ["companion==9.0", "framework==2.0"],
        "{}",
        context.read("requirements.txt")
    );
}

#[test]
fn a_library_pinning_its_core_exactly_steps_back_within_its_series() {
    // lib 2.3 needs core==2.3, which has no wheel for this platform (nor an sdist); lib 2.2
    // with core 2.2 is the answer, not lib 1.x from the previous series.
    let index = TestIndex::start();
    for (lib, core) in [
        ("1.9", "1.9"),
        ("2.0", "2.0"),
        ("2.1", "2.1"),
        ("2.2", "2.2"),
        ("2.3", "2.3"),
    ] {
        index.add(&WheelBuilder::new("lib", lib).requires(&format!("core=={core}")).build());
        let core_wheel = if core == "2.3" {
            WheelBuilder::new("core", core).tag("cp311-cp311-win_amd64")
        } else {
            WheelBuilder::new("core", core)
        };
        index.add(&core_wheel.build());
    }
    let context = context_with(&index);
    context.write("requirements.in", "lib\n");
    context.ok(&["lock"]);
    assert_eq!(
        pins(&context),
        ["core==2.2", "lib==2.2"],
        "{}",
        context.read("requirements.txt")
    );
}
