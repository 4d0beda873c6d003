//! The index client against a local test index: protocol variants, caching,
//! failures. Hermetic: everything is served on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axle_daemon::context::Invocation;
use axle_daemon::index::{
    FetchContext, IndexClient, IndexError, IndexSettings, IndexStrategy, Refresh, RequestSettings, SourceLayers,
    Sources,
};
use axle_e2e::index::TestIndex;
use axle_e2e::wheel::WheelBuilder;
use axle_standards::PackageName;

struct Setup {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    client: Arc<IndexClient>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("axle.db");
    let pool = axle_daemon::db::open(&db).await.unwrap();
    let client = IndexClient::new(pool).unwrap();
    Setup { _dir: dir, db, client }
}

fn sources(urls: &[String]) -> Sources {
    sources_with(urls, IndexStrategy::FirstIndex)
}

fn sources_with(urls: &[String], strategy: IndexStrategy) -> Sources {
    let invocation = Invocation {
        cwd: "/".into(),
        ..Invocation::default()
    };
    let cli = IndexSettings {
        index_url: Some(urls[0].clone()),
        extra_index_urls: urls[1..].to_vec(),
        ..IndexSettings::default()
    };
    SourceLayers {
        invocation: &invocation,
        cli: &cli,
        files: &[],
        strategy,
        pip_default: None,
        site_prefix: None,
    }
    .resolve()
    .unwrap()
}

fn context() -> FetchContext {
    FetchContext::new(
        false,
        Refresh::None,
        RequestSettings {
            timeout: Duration::from_secs(5),
            ..RequestSettings::default()
        },
    )
}

fn name(text: &str) -> PackageName {
    PackageName::from_str(text).unwrap()
}

fn demo_index() -> TestIndex {
    let index = TestIndex::start();
    index.add(&WheelBuilder::new("demo", "1.0").requires("dep>=1").build());
    index.add(
        &WheelBuilder::new("demo", "2.0")
            .requires("dep>=2")
            .requires_python(">=3.8")
            .build(),
    );
    index.update("demo-2.0-py3-none-any.whl", |file| {
        file.requires_python = Some(">=3.8".into());
    });
    index.update("demo-1.0-py3-none-any.whl", |file| {
        file.yanked = Some("broken build".into())
    });
    index
}

#[tokio::test]
async fn json_and_html_pages_give_the_same_answer() {
    let index = demo_index();
    let setup = setup().await;
    let json = setup
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context())
        .await
        .unwrap();
    assert!(index.requests()[0].accept.as_deref().unwrap().contains("json"));

    index.behaviour().html_only.store(true, Ordering::SeqCst);
    let other = self::setup().await;
    let html = other
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context())
        .await
        .unwrap();
    assert_eq!(json.len(), 2);
    assert_eq!(json.len(), html.len());
    for (a, b) in json.iter().zip(html.iter()) {
        assert_eq!(a.file.filename, b.file.filename);
        assert_eq!(a.file.url(), b.file.url());
        assert_eq!(a.file.sha256, b.file.sha256);
        assert_eq!(a.file.requires_python, b.file.requires_python);
        assert_eq!(a.file.yanked, b.file.yanked);
        assert_eq!(a.file.core_metadata.is_some(), b.file.core_metadata.is_some());
    }
    let yanked = json
        .iter()
        .find(|file| file.file.filename.starts_with("demo-1.0"))
        .unwrap();
    assert_eq!(yanked.file.yanked.as_deref(), Some("broken build"));
}

#[tokio::test]
async fn metadata_comes_from_pep658_then_ranges_then_the_whole_file() {
    let index = demo_index();
    let cases = [
        (false, false, ".metadata"),
        (true, false, "range"),
        (true, true, "whole"),
    ];
    for (no_metadata, no_range, expected) in cases {
        index.behaviour().no_metadata.store(no_metadata, Ordering::SeqCst);
        index.behaviour().no_range.store(no_range, Ordering::SeqCst);
        index.clear_requests();
        let setup = setup().await;
        let context = context();
        let files = setup
            .client
            .project(&sources(&[index.url()]), &name("demo"), &context)
            .await
            .unwrap();
        let file = files
            .iter()
            .find(|file| file.file.filename.starts_with("demo-2.0"))
            .unwrap();
        let metadata = setup.client.metadata(file, &context).await.unwrap();
        assert_eq!(metadata.version.to_string(), "2.0");
        assert_eq!(metadata.requires_dist.len(), 1, "{expected}");
        let file_requests = index.requests_to("/files/");
        match expected {
            ".metadata" => assert!(file_requests.iter().all(|r| r.path.ends_with(".metadata"))),
            "range" => {
                assert!(file_requests.iter().all(|r| r.range.is_some()), "{file_requests:?}");
                assert!(!file_requests.is_empty());
            }
            // The server ignores the range and sends the whole file.
            _ => assert!(
                file_requests
                    .iter()
                    .any(|r| r.status == 200 && !r.path.ends_with(".metadata"))
            ),
        }
    }
}

#[tokio::test]
async fn validators_avoid_downloads_and_fresh_pages_avoid_requests() {
    let index = demo_index();
    let setup = setup().await;
    let sources = sources(&[index.url()]);
    setup.client.project(&sources, &name("demo"), &context()).await.unwrap();
    // max-age=0: the next operation revalidates and gets a 304.
    let second = context();
    setup.client.project(&sources, &name("demo"), &second).await.unwrap();
    let last = index.requests().last().cloned().unwrap();
    assert!(last.if_none_match.is_some());
    assert_eq!(last.status, 304);
    assert_eq!(second.counters.revalidated.load(Ordering::SeqCst), 1);

    // With max-age, a fresh page costs nothing.
    index.behaviour().max_age.store(600, Ordering::SeqCst);
    setup.client.project(&sources, &name("demo"), &context()).await.unwrap();
    let before = index.requests().len();
    let third = context();
    setup.client.project(&sources, &name("demo"), &third).await.unwrap();
    assert_eq!(index.requests().len(), before);
    assert_eq!(third.counters.requests.load(Ordering::SeqCst), 0);

    // --refresh revalidates anyway.
    let refresh = FetchContext::new(false, Refresh::All, RequestSettings::default());
    setup.client.project(&sources, &name("demo"), &refresh).await.unwrap();
    assert_eq!(index.requests().len(), before + 1);
}

#[tokio::test]
async fn offline_works_after_a_warm_run_and_fails_clearly_on_a_miss() {
    let index = demo_index();
    let setup = setup().await;
    let sources = sources(&[index.url()]);
    let files = setup.client.project(&sources, &name("demo"), &context()).await.unwrap();
    setup.client.metadata(&files[0], &context()).await.unwrap();
    setup.client.flush().await;
    drop(setup.client);

    // A new daemon (empty memory) on the same database, offline.
    let pool = axle_daemon::db::open(&setup.db).await.unwrap();
    let client = IndexClient::new(pool).unwrap();
    let offline = FetchContext::new(true, Refresh::None, RequestSettings::default());
    let before = index.requests().len();
    let files = client.project(&sources, &name("demo"), &offline).await.unwrap();
    assert_eq!(files.len(), 2);
    client.metadata(&files[0], &offline).await.unwrap();
    assert_eq!(index.requests().len(), before, "offline made requests");
    let error = client.project(&sources, &name("missing"), &offline).await.unwrap_err();
    assert!(matches!(error, IndexError::Offline { .. }));
    assert!(error.to_string().contains("/simple/missing/"), "{error}");
}

#[tokio::test]
async fn credentials_are_sent_and_never_stored() {
    let index = demo_index();
    index.require_credentials("alice", "s3cret-token");
    let setup = setup().await;
    let without = sources(&[index.url()]);
    let error = setup
        .client
        .project(&without, &name("demo"), &context())
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::Unauthorized { .. }), "{error}");

    let with = sources(&[index.url_with_credentials("alice", "s3cret-token")]);
    let authorised = context().for_sources(&with);
    let files = setup.client.project(&with, &name("demo"), &authorised).await.unwrap();
    setup.client.metadata(&files[0], &authorised).await.unwrap();
    assert!(format!("{with:?}").find("s3cret").is_none());
    setup.client.flush().await;
    let database = std::fs::read(&setup.db).unwrap();
    let wal = std::fs::read(setup.db.with_extension("db-wal")).unwrap_or_default();
    for bytes in [database, wal] {
        assert!(!String::from_utf8_lossy(&bytes).contains("s3cret-token"));
    }
}

#[tokio::test]
async fn a_dead_index_names_its_url_and_retries_transient_errors() {
    let setup = setup().await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/simple/", listener.local_addr().unwrap())
    };
    let error = setup
        .client
        .project(&sources(std::slice::from_ref(&dead)), &name("demo"), &context())
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&dead), "{error}");

    let index = demo_index();
    index.behaviour().fail_next.store(2, Ordering::SeqCst);
    let files = setup
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context())
        .await
        .unwrap();
    assert_eq!(files.len(), 2);

    index.behaviour().fail_always.store(true, Ordering::SeqCst);
    let fresh = self::setup().await;
    let error = fresh
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("500"), "{error}");
    assert!(error.to_string().contains(&index.url()), "{error}");
}

#[tokio::test]
async fn a_silent_index_times_out() {
    let index = demo_index();
    index.behaviour().delay_ms.store(5_000, Ordering::SeqCst);
    let setup = setup().await;
    let context = FetchContext::new(
        false,
        Refresh::None,
        RequestSettings {
            timeout: Duration::from_millis(300),
            ..RequestSettings::default()
        },
    );
    let started = Instant::now();
    let error = setup
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(
        matches!(error, IndexError::Http(axle_daemon::index::HttpError::Timeout { .. })),
        "{error}"
    );
}

#[tokio::test]
async fn concurrent_askers_share_one_request() {
    let index = demo_index();
    index.behaviour().delay_ms.store(200, Ordering::SeqCst);
    let setup = setup().await;
    let sources = sources(&[index.url()]);
    let context = context();
    let demo = name("demo");
    let calls = (0..20).map(|_| setup.client.project(&sources, &demo, &context));
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().len(), 2);
    }
    assert_eq!(index.requests_to("/simple/demo/").len(), 1);
}

/// One release's files, as a sync of an unhashed lock asks for them, are the project's files
/// of that version, whatever the sources (first index, merged indexes, a find-links
/// directory), without the project's whole list being made.
#[tokio::test]
async fn one_releases_files_are_the_projects_files_of_that_version() {
    let main = TestIndex::start();
    main.add(&WheelBuilder::new("internal", "1.0").build());
    main.add(&WheelBuilder::new("internal", "2.0").build());
    main.add(
        &WheelBuilder::new("internal", "2.0")
            .tag("cp311-cp311-manylinux_2_17_x86_64")
            .build(),
    );
    let extra = TestIndex::start();
    extra.add(&WheelBuilder::new("internal", "2.0").tag("py2-none-any").build());
    let local = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("internal", "2.0")
        .tag("cp312-cp312-win_amd64")
        .build();
    std::fs::write(local.path().join(&wheel.filename), &wheel.bytes).unwrap();
    let setup = setup().await;
    let both = [main.url(), extra.url()];
    let mut with_links = sources(&both);
    with_links.find_links = vec![axle_daemon::index::FindLinks::Directory(local.path().to_path_buf())];
    let version = axle_standards::Version::from_str("2.0").unwrap();
    for (label, sources, expected) in [
        ("first index", sources(&both), 2),
        ("merged", sources_with(&both, IndexStrategy::UnsafeBestMatch), 3),
        ("find-links", with_links, 3),
    ] {
        let names = |files: Vec<axle_daemon::index::IndexedFile>| {
            let mut names: Vec<String> = files.into_iter().map(|file| file.file.url().into_owned()).collect();
            names.sort();
            names
        };
        let of_version = setup
            .client
            .files_of_version(&sources, &name("internal"), &version, &context())
            .await
            .unwrap();
        let project = setup
            .client
            .project(&sources, &name("internal"), &context())
            .await
            .unwrap()
            .iter()
            .filter(|file| file.filename.version() == &version)
            .cloned()
            .collect();
        let (of_version, project) = (names(of_version), names(project));
        assert_eq!(of_version.len(), expected, "{label}: {of_version:?}");
        assert_eq!(of_version, project, "{label}");
    }
}

#[tokio::test]
async fn first_index_wins_unless_asked_to_merge() {
    let main = TestIndex::start();
    main.add(&WheelBuilder::new("internal", "1.0").build());
    let extra = TestIndex::start();
    extra.add(&WheelBuilder::new("internal", "99.0").build());
    let setup = setup().await;
    let both = [main.url(), extra.url()];
    let files = setup
        .client
        .project(&sources(&both), &name("internal"), &context())
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].filename.version().to_string(), "1.0");
    let merged = sources_with(&both, IndexStrategy::UnsafeBestMatch);
    let files = setup
        .client
        .project(&merged, &name("internal"), &context())
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
}

#[tokio::test]
async fn downloads_are_verified_and_a_mismatch_leaves_nothing() {
    let index = demo_index();
    let setup = setup().await;
    let context = context();
    let files = setup
        .client
        .project(&sources(&[index.url()]), &name("demo"), &context)
        .await
        .unwrap();
    let target = tempfile::tempdir().unwrap();
    let downloaded = setup
        .client
        .download(&files[0].file, &[], target.path(), &context)
        .await
        .unwrap();
    assert_eq!(
        Some(downloaded.sha256.clone()),
        files[0].file.sha256.map(|sha| sha.to_hex())
    );
    std::fs::remove_file(&downloaded.path).unwrap();

    index.behaviour().corrupt_files.store(true, Ordering::SeqCst);
    let error = setup
        .client
        .download(&files[0].file, &[], target.path(), &context)
        .await
        .unwrap_err();
    assert!(matches!(error, IndexError::HashMismatch { .. }), "{error}");
    assert_eq!(
        std::fs::read_dir(target.path()).unwrap().count(),
        0,
        "a bad download was left behind"
    );

    index.behaviour().corrupt_files.store(false, Ordering::SeqCst);
    index.behaviour().truncate_files.store(true, Ordering::SeqCst);
    let error = setup
        .client
        .download(&files[0].file, &[], target.path(), &context)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/files/"), "{error}");
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
}

/// A page bigger than what is read whole is parsed as it arrives (JSON) or gathered (HTML),
/// and says what the same page would say read whole.
#[tokio::test]
async fn a_big_page_is_read_as_it_arrives_and_lists_every_file() {
    let index = TestIndex::start();
    let wheel = WheelBuilder::new("big", "1.0").build();
    let template = axle_e2e::index::IndexFile::from(&wheel);
    const FILES: usize = 3000;
    for number in 0..FILES {
        let mut file = template.clone();
        file.filename = format!("big-1.0.{number}-py3-none-any.whl");
        file.sha256 = format!("{number:064x}");
        file.requires_python = Some(">=3.8".into());
        index.add_file("big", file);
    }
    let setup = setup().await;
    let json = setup
        .client
        .project(&sources(&[index.url()]), &name("big"), &context())
        .await
        .unwrap();
    index.behaviour().html_only.store(true, Ordering::SeqCst);
    let other = self::setup().await;
    let html = other
        .client
        .project(&sources(&[index.url()]), &name("big"), &context())
        .await
        .unwrap();
    assert_eq!(json.len(), FILES);
    assert_eq!(html.len(), FILES);
    let key = |file: &axle_daemon::index::IndexedFile| {
        (
            file.file.filename.clone(),
            file.file.url().into_owned(),
            file.file.sha256,
            file.file.requires_python.clone(),
        )
    };
    let mut from_json: Vec<_> = json.iter().map(key).collect();
    let mut from_html: Vec<_> = html.iter().map(key).collect();
    from_json.sort();
    from_html.sort();
    assert_eq!(from_json, from_html);
    let seventh = from_json
        .iter()
        .find(|file| file.0 == "big-1.0.7-py3-none-any.whl")
        .unwrap();
    assert_eq!(seventh.2.map(|sha| sha.to_hex()), Some(format!("{:064x}", 7)));
}
