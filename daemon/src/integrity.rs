//! `axle store verify [--repair]`: the store's objects against their addresses, the kept wheel
//! files against theirs, and every file of every distribution axle installed against its
//! RECORD — and, with `--repair`, the damage mended.
//!
//! Stages: plan (what to check: every object a manifest references, every archive, every
//! distribution `venv_dists` names in venvs that still exist) → check (hashing, on every core)
//! → repair. A bad object is replaced by a new file from its wheel (the kept archive if it is
//! intact, else the wheel fetched again from where it came from, verified), never patched in
//! place: venvs still link the old inode, and every venv file that no longer matches its RECORD
//! is then relinked to a verified object. A bad archive is removed (it is fetched again when
//! served or exported). A venv file for which the store has no good object is reported, not
//! touched: it is not axle's to guess.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axle_install::ObjectStore;
use axle_install::verify::{FileProblem, check_distribution, hash_file, relink};
use axle_standards::PackageName;

use crate::db::Pool;
use crate::index::{DistFile, FetchContext, IndexClient, Refresh, RequestSettings, Sha256Digest};
use crate::progress::{Phase, Reporter};
use crate::wheels::{WheelStore, WheelStoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    /// A store object whose content is not what its name says.
    Object,
    /// A kept wheel file whose content is not its hash.
    Archive,
    /// A venv file that does not match its RECORD.
    VenvFile,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Object => "object",
            ProblemKind::Archive => "archive",
            ProblemKind::VenvFile => "venv-file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: PathBuf,
    pub detail: String,
    pub repaired: bool,
}

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub objects: u64,
    pub archives: u64,
    pub venv_files: u64,
    pub venvs: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether anything is still wrong.
    pub fn is_damaged(&self) -> bool {
        self.problems.iter().any(|problem| !problem.repaired)
    }
}

/// One unit of checking work.
enum Check {
    Object {
        sha256: String,
        executable: bool,
    },
    Archive {
        sha256: String,
        path: PathBuf,
    },
    Distribution {
        root: PathBuf,
        site: PathBuf,
        dist_info: PathBuf,
    },
}

pub async fn verify(
    store: &WheelStore,
    index: &Arc<IndexClient>,
    pool: &Pool,
    repair: bool,
    reporter: Arc<dyn Reporter>,
) -> Result<VerifyReport, WheelStoreError> {
    // Nothing installs or unpacks meanwhile: a repair replaces objects.
    let _alone = store.exclusive().await;
    store.flush().await?;
    if repair {
        // Objects are replaced and removed below.
        store.changed();
    }
    let files = store.files();

    // Plan.
    let (checks, users) = {
        let files = files.clone();
        let venvs = venv_distributions(pool).await?;
        tokio::task::spawn_blocking(move || plan(&files, &venvs))
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()))??
    };
    let mut report = VerifyReport::default();
    for check in &checks {
        match check {
            Check::Object { .. } => report.objects += 1,
            Check::Archive { .. } => report.archives += 1,
            Check::Distribution { .. } => {}
        }
    }

    // Check, on every core.
    let found = {
        let (files, reporter) = (files.clone(), reporter.clone());
        tokio::task::spawn_blocking(move || check_all(&files, checks, reporter.as_ref()))
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()))?
    };
    report.venv_files = found.venv_files_checked;
    report.venvs = found.venvs;
    let bad_objects: Vec<(String, bool)> = found.bad_objects.clone();
    for (sha256, path) in &found.bad_archives {
        report.problems.push(Problem {
            kind: ProblemKind::Archive,
            path: path.clone(),
            detail: format!("the wheel file no longer hashes to {sha256}"),
            repaired: false,
        });
    }
    for problem in &found.bad_files {
        report.problems.push(Problem {
            kind: ProblemKind::VenvFile,
            path: problem.path.clone(),
            detail: match &problem.actual {
                Some(actual) => format!("RECORD says sha256 {}, the file has {actual}", problem.expected),
                None => format!("missing (RECORD says sha256 {})", problem.expected),
            },
            repaired: false,
        });
    }
    if !repair || (report.problems.is_empty() && bad_objects.is_empty()) {
        report
            .problems
            .splice(0..0, object_problems(&files, &bad_objects, &BTreeSet::new())?);
        return Ok(report);
    }

    // Repair: objects first (from their wheels), then archives, then venv files.
    let mut mended_objects: BTreeSet<String> = BTreeSet::new();
    let wheels: BTreeSet<String> = bad_objects
        .iter()
        .flat_map(|(sha, executable)| users.get(&(sha.clone(), *executable)).cloned().unwrap_or_default())
        .collect();
    for wheel in wheels {
        match restore_wheel(store, index, &files, &wheel, &bad_objects).await {
            Ok(()) => mended_objects.extend(bad_objects.iter().map(|(sha, _)| sha.clone())),
            Err(reason) => reporter.notice(
                crate::progress::NoticeLevel::Warning,
                &format!("cannot restore the wheel {wheel}: {reason}"),
            ),
        }
    }
    for problem in &mut report.problems {
        if problem.kind == ProblemKind::Archive {
            // A cache of the wheel file: fetched again when served or exported.
            problem.repaired = std::fs::remove_file(&problem.path).is_ok();
            if problem.repaired {
                problem.detail.push_str("; removed, fetched again when needed");
            }
        }
    }
    report
        .problems
        .splice(0..0, object_problems(&files, &bad_objects, &mended_objects)?);
    // A venv file whose verified copy the store no longer has (the store dropped a damaged
    // object at a restart, and the wheel with it): the wheel the venv's record names is
    // restored first, from its kept file or its origin.
    let mut wanted_wheels: BTreeSet<String> = BTreeSet::new();
    for problem in &found.bad_files {
        let has_copy = [problem.executable, !problem.executable].iter().any(|executable| {
            files
                .verify_object_contents(&problem.expected, *executable)
                .unwrap_or(false)
        });
        if has_copy {
            continue;
        }
        if let Some((root, dir_name)) = found.owners.get(&problem.path)
            && let Some(wheel) = recorded_wheel(pool, root, dir_name).await?
        {
            wanted_wheels.insert(wheel);
        }
    }
    for wheel in wanted_wheels {
        if let Err(reason) = restore_wheel(store, index, &files, &wheel, &[]).await {
            reporter.notice(
                crate::progress::NoticeLevel::Warning,
                &format!("cannot restore the wheel {wheel}: {reason}"),
            );
        }
    }
    let venv_problems: Vec<FileProblem> = found.bad_files;
    let relinked = {
        let files = files.clone();
        tokio::task::spawn_blocking(move || relink_all(&files, &venv_problems))
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()))?
    };
    for problem in &mut report.problems {
        if problem.kind == ProblemKind::VenvFile {
            match relinked.get(&problem.path) {
                Some(Ok(())) => {
                    problem.repaired = true;
                    problem.detail.push_str("; relinked to a verified copy");
                }
                Some(Err(reason)) => problem.detail.push_str(&format!("; not repaired: {reason}")),
                None => {}
            }
        }
    }
    Ok(report)
}

/// The problems of bad objects, repaired when `mended` names them and they now verify.
fn object_problems(
    files: &ObjectStore,
    bad: &[(String, bool)],
    mended: &BTreeSet<String>,
) -> Result<Vec<Problem>, WheelStoreError> {
    let mut problems = Vec::new();
    for (sha256, executable) in bad {
        let repaired = mended.contains(sha256) && files.verify_object_contents(sha256, *executable)?;
        problems.push(Problem {
            kind: ProblemKind::Object,
            path: files.object_path(sha256, *executable)?,
            detail: if repaired {
                format!("its content no longer hashed to {sha256}; restored from its wheel")
            } else {
                format!("its content no longer hashes to {sha256}")
            },
            repaired,
        });
    }
    Ok(problems)
}

/// The wheel a venv's record says its distribution (by `.dist-info` directory name) came from.
async fn recorded_wheel(pool: &Pool, root: &Path, dist_info: &str) -> Result<Option<String>, WheelStoreError> {
    let Some((name, _version)) = dist_info
        .strip_suffix(".dist-info")
        .and_then(|stem| stem.split_once('-'))
    else {
        return Ok(None);
    };
    let Ok(name) = PackageName::from_str(name) else {
        return Ok(None);
    };
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, wheel_sha256 FROM venv_dists WHERE venv = ?")
        .bind(root.to_string_lossy())
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .find(|(recorded, _)| PackageName::from_str(recorded).is_ok_and(|recorded| recorded == name))
        .map(|(_, wheel)| wheel))
}

/// The distributions axle installed, by venv (venvs that no longer exist left out).
async fn venv_distributions(pool: &Pool) -> Result<BTreeMap<PathBuf, BTreeSet<String>>, WheelStoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT venv, name FROM venv_dists")
        .fetch_all(pool)
        .await?;
    let mut venvs: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (venv, name) in rows {
        let venv = PathBuf::from(venv);
        if venv.join("pyvenv.cfg").is_file() {
            let name = PackageName::from_str(&name)
                .map(|name| name.to_string())
                .unwrap_or(name);
            venvs.entry(venv).or_default().insert(name);
        }
    }
    Ok(venvs)
}

type Users = HashMap<(String, bool), Vec<String>>;

fn plan(
    files: &ObjectStore,
    venvs: &BTreeMap<PathBuf, BTreeSet<String>>,
) -> Result<(Vec<Check>, Users), WheelStoreError> {
    let mut checks = Vec::new();
    let mut users: Users = HashMap::new();
    for wheel in files.manifests()? {
        let Some(manifest) = files.read_manifest(&wheel)? else {
            continue;
        };
        for file in manifest.files {
            users
                .entry((file.sha256, file.executable))
                .or_default()
                .push(wheel.clone());
        }
    }
    for (sha256, executable) in users.keys() {
        checks.push(Check::Object {
            sha256: sha256.clone(),
            executable: *executable,
        });
    }
    checks.sort_by(|a, b| match (a, b) {
        (Check::Object { sha256: x, .. }, Check::Object { sha256: y, .. }) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    for (sha256, path) in files.archives()? {
        checks.push(Check::Archive { sha256, path });
    }
    for (root, names) in venvs {
        for site in site_packages_dirs(root) {
            // By directory name rather than by METADATA: a distribution whose METADATA was
            // deleted is damage to report, not a reason to look away.
            let Ok(entries) = std::fs::read_dir(&site) else {
                continue;
            };
            for entry in entries.flatten() {
                let dir_name = entry.file_name().to_string_lossy().into_owned();
                let Some((name, _version)) = dir_name
                    .strip_suffix(".dist-info")
                    .and_then(|stem| stem.split_once('-'))
                else {
                    continue;
                };
                let named = PackageName::from_str(name).is_ok_and(|name| names.contains(&name.to_string()));
                if named && entry.path().join("RECORD").is_file() {
                    checks.push(Check::Distribution {
                        root: root.clone(),
                        site: site.clone(),
                        dist_info: entry.path(),
                    });
                }
            }
        }
    }
    Ok((checks, users))
}

/// `lib/python*/site-packages` of a venv (purelib; platlib is the same on Linux, or `lib64`,
/// a link to it).
fn site_packages_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("lib")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let site = entry.path().join("site-packages");
            if name.starts_with("python") && site.is_dir() {
                dirs.push(site);
            }
        }
    }
    dirs.sort();
    dirs
}

#[derive(Default)]
struct Found {
    bad_objects: Vec<(String, bool)>,
    bad_archives: Vec<(String, PathBuf)>,
    bad_files: Vec<FileProblem>,
    /// The distribution (venv root, dist-info directory) of each bad file, by its path.
    owners: HashMap<PathBuf, (PathBuf, String)>,
    venv_files_checked: u64,
    venvs: u64,
}

fn check_all(files: &ObjectStore, checks: Vec<Check>, reporter: &dyn Reporter) -> Found {
    let total = checks.len() as u64;
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |count| count.get())
        .clamp(1, 8);
    let venvs: BTreeSet<&Path> = checks
        .iter()
        .filter_map(|check| match check {
            Check::Distribution { root, .. } => Some(root.as_path()),
            _ => None,
        })
        .collect();
    let venv_count = venvs.len() as u64;
    let results: Vec<Found> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut found = Found::default();
                    loop {
                        let at = next.fetch_add(1, Ordering::SeqCst);
                        let Some(check) = checks.get(at) else {
                            break;
                        };
                        let subject = run_check(files, check, &mut found);
                        let count = done.fetch_add(1, Ordering::SeqCst) + 1;
                        if count.is_multiple_of(64) || count == total {
                            reporter.progress(Phase::Verify, &subject, count, total);
                        }
                    }
                    found
                })
            })
            .collect();
        handles.into_iter().filter_map(|handle| handle.join().ok()).collect()
    });
    let mut all = Found {
        venvs: venv_count,
        ..Found::default()
    };
    for found in results {
        all.bad_objects.extend(found.bad_objects);
        all.bad_archives.extend(found.bad_archives);
        all.bad_files.extend(found.bad_files);
        all.owners.extend(found.owners);
        all.venv_files_checked += found.venv_files_checked;
    }
    all.bad_objects.sort();
    all.bad_archives.sort();
    all.bad_files.sort_by(|a, b| a.path.cmp(&b.path));
    all
}

/// Runs one check into `found`; returns what it was about, for progress.
fn run_check(files: &ObjectStore, check: &Check, found: &mut Found) -> String {
    match check {
        Check::Object { sha256, executable } => {
            if !files.verify_object_contents(sha256, *executable).unwrap_or(false) {
                found.bad_objects.push((sha256.clone(), *executable));
            }
            sha256.clone()
        }
        Check::Archive { sha256, path } => {
            if hash_file(path).ok().as_deref() != Some(sha256.as_str()) {
                found.bad_archives.push((sha256.clone(), path.clone()));
            }
            sha256.clone()
        }
        Check::Distribution { root, site, dist_info } => {
            match check_distribution(root, site, dist_info) {
                Ok(problems) => {
                    let dir_name = dist_info.file_name().map(|name| name.to_string_lossy().into_owned());
                    for problem in &problems {
                        found.owners.insert(
                            problem.path.clone(),
                            (root.clone(), dir_name.clone().unwrap_or_default()),
                        );
                    }
                    found.bad_files.extend(problems);
                }
                Err(error) => tracing::warn!(%error, "cannot verify a distribution"),
            }
            found.venv_files_checked += std::fs::read_to_string(dist_info.join("RECORD"))
                .map(|text| text.lines().count() as u64)
                .unwrap_or(0);
            dist_info.display().to_string()
        }
    }
}

/// Puts fresh, verified copies of `bad` objects back from the wheel `wheel`: its kept archive if
/// intact, else the wheel fetched again from where it came from.
async fn restore_wheel(
    store: &WheelStore,
    index: &Arc<IndexClient>,
    files: &Arc<ObjectStore>,
    wheel: &str,
    bad: &[(String, bool)],
) -> Result<(), String> {
    let filename = store
        .recorded_filename(wheel)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| "the store has no record of it".to_string())?;
    let dir = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(store.download_dir_created().map_err(|error| error.to_string())?)
        .map_err(|error| error.to_string())?;
    let named = dir.path().join(&filename);
    let archive = files.archive_path(wheel).map_err(|error| error.to_string())?;
    let intact = hash_file(&archive).ok().as_deref() == Some(wheel);
    if intact {
        std::fs::hard_link(&archive, &named)
            .or_else(|_| std::fs::copy(&archive, &named).map(|_| ()))
            .map_err(|error| error.to_string())?;
    } else {
        let source_url = store
            .source_url_of(wheel)
            .await
            .map_err(|error| error.to_string())?
            .filter(|url| url.contains("://"))
            .ok_or_else(|| "its wheel file is not kept and its origin is unknown".to_string())?;
        let fetch = FetchContext::new(false, Refresh::None, RequestSettings::default());
        let file = DistFile::direct(filename.clone(), source_url, Sha256Digest::from_hex(wheel));
        let downloaded = index
            .download(&file, &[wheel.to_string()], dir.path(), &fetch)
            .await
            .map_err(|error| error.to_string())?;
        std::fs::rename(&downloaded.path, &named).map_err(|error| error.to_string())?;
    }
    // The bad files leave the store's namespace (venvs keep their inodes until relinked);
    // unpacking writes fresh objects where they were.
    for (sha, executable) in bad {
        if let Ok(path) = files.object_path(sha, *executable) {
            let _ = std::fs::remove_file(path);
        }
    }
    crash_point!("repair-mid");
    let (files, named_path, sha) = (files.clone(), named.clone(), wheel.to_string());
    tokio::task::spawn_blocking(move || files.unpack(&named_path, &sha))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    Ok(())
}

/// Relinks each mismatching venv file to the verified object its RECORD names (the executable
/// variant as the file was, else the other).
fn relink_all(files: &ObjectStore, problems: &[FileProblem]) -> HashMap<PathBuf, Result<(), String>> {
    let mut outcome = HashMap::new();
    for problem in problems {
        let variants = [problem.executable, !problem.executable];
        let object = variants.iter().find_map(|executable| {
            let path = files.object_path(&problem.expected, *executable).ok()?;
            files
                .verify_object_contents(&problem.expected, *executable)
                .ok()
                .filter(|good| *good)
                .map(|_| path)
        });
        let result = match object {
            Some(object) => relink(&object, &problem.path).map_err(|error| error.to_string()),
            None => Err("the store holds no verified copy of it".to_string()),
        };
        outcome.insert(problem.path.clone(), result);
    }
    outcome
}
