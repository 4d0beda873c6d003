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

/// How the SDK of shape 1 depends on the date library.
#[derive(Clone, Copy)]
enum Sdk {
    /// `sdk` caps `dateparse` itself.
    Direct,
    /// `sdk` pins `core` exactly, and `core` caps `dateparse`.
    Transitive,
    /// `app` requires two SDKs, both capping `dateparse`.
    Two,
}

/// Shape 1, "walk back through a shared dependency": `dateparse` (a date library) has a new
/// major, 4.0; every SDK release but the oldest caps it below 3; `lib` (required first)
/// wants any recent `dateparse`, `app` wants a recent SDK. uv and pip-compile keep the SDK and
/// `app` current and take `dateparse` 2.9.0 (checked with both on this very graph as a
/// find-links directory). axle decided `dateparse` 4.0 first and, after the conflicts made it
/// decide `dateparse` later, solved again deciding it before `app` (a culprit ranks above
/// packages without conflicts): the SDK walked down to 1.0, dragging `app` to 1.0.
fn walk_back_through_a_shared_dependency(sdk: Sdk) -> Vec<String> {
    let index = TestIndex::start();
    for version in ["2.8.0", "2.9.0", "3.0.0", "4.0.0"] {
        index.add(&WheelBuilder::new("dateparse", version).build());
    }
    index.add(&WheelBuilder::new("lib", "1.0").requires("dateparse>=2.8").build());
    for minor in 0..=12 {
        let version = format!("1.{minor}");
        let cap = if minor == 0 {
            "dateparse>=2.1"
        } else {
            "dateparse>=2.1,<3"
        };
        match sdk {
            Sdk::Direct => {
                index.add(&WheelBuilder::new("sdk", &version).requires(cap).build());
            }
            Sdk::Transitive => {
                index.add(&WheelBuilder::new("core", &version).requires(cap).build());
                let core = format!("core=={version}");
                index.add(&WheelBuilder::new("sdk", &version).requires(&core).build());
            }
            Sdk::Two => {
                index.add(&WheelBuilder::new("sdk", &version).requires(cap).build());
                index.add(&WheelBuilder::new("sdk-extra", &version).requires(cap).build());
            }
        }
    }
    // Newer `app` releases need newer SDKs: walking the SDK down drags `app` down too.
    for (version, sdk_range) in [("1.0", "sdk"), ("2.0", "sdk>=1.3"), ("3.0", "sdk>=1.6")] {
        let mut app = WheelBuilder::new("app", version).requires(sdk_range);
        if let Sdk::Two = sdk {
            app = app.requires("sdk-extra");
        }
        index.add(&app.build());
    }
    let context = context_with(&index);
    context.write("requirements.in", "lib\napp\n");
    context.ok(&["lock"]);
    pins(&context)
}

#[test]
fn a_shared_dependency_steps_back_to_its_latest_2x_rather_than_walking_the_sdk_back() {
    assert_eq!(
        walk_back_through_a_shared_dependency(Sdk::Direct),
        ["app==3.0", "dateparse==2.9.0", "lib==1.0", "sdk==1.12"]
    );
}

#[test]
fn a_cap_on_the_sdks_own_dependency_keeps_the_sdk_current_too() {
    assert_eq!(
        walk_back_through_a_shared_dependency(Sdk::Transitive),
        ["app==3.0", "core==1.12", "dateparse==2.9.0", "lib==1.0", "sdk==1.12"]
    );
}

#[test]
fn two_sdks_sharing_the_cap_both_stay_current() {
    assert_eq!(
        walk_back_through_a_shared_dependency(Sdk::Two),
        [
            "app==3.0",
            "dateparse==2.9.0",
            "lib==1.0",
            "sdk==1.12",
            "sdk-extra==1.12"
        ]
    );
}

#[test]
fn a_release_walked_past_does_not_let_a_pre_release_in() {
    // `x` 2.0 wants proto<4, which `a` (decided first) refuses; `x` 1.0 wants nothing. What the
    // requirements in force say of `proto` is >=4, which final 4.0 meets: no pre-release. Taking
    // the bounds of every release ever read (<4 and >=4: nothing final) let 5.0rc1 in, as a
    // real airflow set took protobuf 7.37.0rc1 after walking past old opentelemetry releases.
    // uv and pip-compile pin proto 4.0 on this graph.
    let index = TestIndex::start();
    for version in ["3.0", "4.0", "5.0rc1"] {
        index.add(&WheelBuilder::new("proto", version).build());
    }
    index.add(&WheelBuilder::new("a", "1.0").requires("proto>=4").build());
    index.add(&WheelBuilder::new("x", "2.0").requires("proto<4").build());
    index.add(&WheelBuilder::new("x", "1.0").build());
    let context = context_with(&index);
    context.write("requirements.in", "a\nx\n");
    context.ok(&["lock"]);
    assert_eq!(pins(&context), ["a==1.0", "proto==4.0", "x==1.0"]);
}
