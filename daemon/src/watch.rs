//! Watching projects for editors: file-system events (`notify`) turned into project events.
//!
//! [`Watches`] owns the daemon's watchers: one native (inotify) watcher for every directory
//! any client follows, each directory watched once however many subscribe, and unwatched when
//! the last subscriber leaves. Directories are watched, never files, and never recursively:
//! editors save by writing a new file and renaming it over the old, which a watch on the file
//! would lose, and a watch on `/` costs one watch, not one per file below it. When the kernel's
//! limit on watches is reached (or `AXLE_WATCH_LIMIT`), further directories are polled once a
//! second, with one warning.
//!
//! [`watch`] follows projects for one client: it sends each project's status when it starts
//! and again whenever a burst of changes (debounced) leaves it different, forwards the
//! projects' job events, and, when asked, locks again after an input is edited and syncs after
//! each such lock. It ends when the client goes away, releasing its watches.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc};

use crate::context::Invocation;
use crate::error::Error;
use crate::jobs::JobEvent;
use crate::project::{LockState, ProjectStatus};

/// Quiet after a change before the status is looked at again: a `git checkout` rewriting
/// every file is one event, not hundreds.
const DEBOUNCE: Duration = Duration::from_millis(40);
/// How often polled directories are looked at.
const POLL: Duration = Duration::from_secs(1);
/// Projects one watch may follow.
pub const MAX_PROJECTS: usize = 64;
/// Changed paths queued for one subscriber before the rest are dropped (the next status
/// check sees every change anyway).
const QUEUED: usize = 1024;

type Sink = mpsc::Sender<PathBuf>;

pub struct Watches {
    inner: Arc<Inner>,
}

impl Default for Watches {
    fn default() -> Watches {
        Watches::with_limit(
            std::env::var(axle_proto::env_vars::AXLE_WATCH_LIMIT)
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or(usize::MAX),
        )
    }
}

struct Inner {
    /// Which subscribers each watched directory has: all the event handler touches.
    routes: Mutex<HashMap<PathBuf, Watched>>,
    /// The watchers, held for a whole `set` or release. Never held by the event handler:
    /// notify's watch and unwatch wait for its event thread, which may be in the handler.
    watchers: Mutex<Watchers>,
    next_id: AtomicU64,
    /// Directories watched natively at most.
    limit: usize,
}

#[derive(Default)]
struct Watchers {
    native: Option<RecommendedWatcher>,
    polling: Option<PollWatcher>,
    warned: bool,
}

struct Watched {
    polled: bool,
    subscribers: HashMap<u64, Sink>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    /// Routes a changed path to the subscribers of its directory (and of itself, when a
    /// watched directory is what changed).
    fn route(&self, paths: &[PathBuf]) {
        let routes = lock(&self.routes);
        for path in paths {
            for dir in [path.parent(), Some(path.as_path())].into_iter().flatten() {
                if let Some(watched) = routes.get(dir) {
                    for sink in watched.subscribers.values() {
                        let _ = sink.try_send(path.clone());
                    }
                }
            }
        }
    }
}

impl Watches {
    /// Watches at most `limit` directories natively, polling the rest.
    pub fn with_limit(limit: usize) -> Watches {
        Watches {
            inner: Arc::new(Inner {
                routes: Mutex::new(HashMap::new()),
                watchers: Mutex::new(Watchers::default()),
                next_id: AtomicU64::new(0),
                limit,
            }),
        }
    }

    /// A new subscriber, following no directory yet; changed paths arrive on the receiver.
    pub fn subscribe(&self) -> (Subscription, mpsc::Receiver<PathBuf>) {
        let (sink, receiver) = mpsc::channel(QUEUED);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        (
            Subscription {
                inner: self.inner.clone(),
                id,
                sink,
                dirs: BTreeSet::new(),
            },
            receiver,
        )
    }

    /// Directories watched now, and how many of them are polled.
    pub fn counts(&self) -> (usize, usize) {
        let routes = lock(&self.inner.routes);
        let polled = routes.values().filter(|watched| watched.polled).count();
        (routes.len(), polled)
    }
}

/// One client's directories; dropping it unwatches what no one else follows.
pub struct Subscription {
    inner: Arc<Inner>,
    id: u64,
    sink: Sink,
    dirs: BTreeSet<PathBuf>,
}

impl Subscription {
    /// Follows exactly `dirs` from now on (those that do not exist are left out: their
    /// parent's watch sees them appear).
    pub fn set(&mut self, dirs: BTreeSet<PathBuf>) {
        let dirs: BTreeSet<PathBuf> = dirs.into_iter().filter(|dir| dir.is_dir()).collect();
        let gone: Vec<PathBuf> = self.dirs.difference(&dirs).cloned().collect();
        let new: Vec<PathBuf> = dirs.difference(&self.dirs).cloned().collect();
        let mut watchers = lock(&self.inner.watchers);
        for dir in gone {
            release(&self.inner, &mut watchers, &dir, self.id);
        }
        for dir in new {
            if let Some(watched) = lock(&self.inner.routes).get_mut(&dir) {
                watched.subscribers.insert(self.id, self.sink.clone());
                continue;
            }
            let polled = match start(&self.inner, &mut watchers, &dir) {
                Ok(polled) => polled,
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "cannot watch a directory");
                    continue;
                }
            };
            lock(&self.inner.routes).insert(
                dir,
                Watched {
                    polled,
                    subscribers: HashMap::from([(self.id, self.sink.clone())]),
                },
            );
        }
        self.dirs = dirs;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watchers = lock(&self.inner.watchers);
        for dir in std::mem::take(&mut self.dirs) {
            release(&self.inner, &mut watchers, &dir, self.id);
        }
    }
}

/// Drops `id` from `dir`'s subscribers, and the watch when it was the last.
fn release(inner: &Inner, watchers: &mut Watchers, dir: &Path, id: u64) {
    let polled = {
        let mut routes = lock(&inner.routes);
        let Some(watched) = routes.get_mut(dir) else {
            return;
        };
        watched.subscribers.remove(&id);
        if !watched.subscribers.is_empty() {
            return;
        }
        let polled = watched.polled;
        routes.remove(dir);
        polled
    };
    // A directory already gone has no watch left to remove.
    let _ = if polled {
        watchers.polling.as_mut().map(|watcher| watcher.unwatch(dir))
    } else {
        watchers.native.as_mut().map(|watcher| watcher.unwatch(dir))
    };
}

/// Watches `dir` natively while the limit allows, else by polling; returns whether it polls.
fn start(inner: &Arc<Inner>, watchers: &mut Watchers, dir: &Path) -> notify::Result<bool> {
    let native_count = lock(&inner.routes).values().filter(|watched| !watched.polled).count();
    if native_count < inner.limit {
        if watchers.native.is_none() {
            watchers.native = Some(notify::recommended_watcher(handler(inner))?);
        }
        if let Some(native) = watchers.native.as_mut() {
            match native.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => return Ok(false),
                Err(error) if is_limit(&error) => {}
                Err(error) => return Err(error),
            }
        }
    }
    if !watchers.warned {
        watchers.warned = true;
        tracing::warn!(
            "the limit on watched directories is reached (the kernel's inotify limit, or AXLE_WATCH_LIMIT); \
             further directories are polled once a second"
        );
    }
    if watchers.polling.is_none() {
        let config = notify::Config::default().with_poll_interval(POLL);
        watchers.polling = Some(PollWatcher::new(handler(inner), config)?);
    }
    if let Some(polling) = watchers.polling.as_mut() {
        polling.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(true)
}

fn is_limit(error: &notify::Error) -> bool {
    match &error.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(libc::ENOSPC),
        _ => false,
    }
}

fn handler(inner: &Arc<Inner>) -> impl notify::EventHandler {
    let inner = Arc::downgrade(inner);
    move |event: notify::Result<notify::Event>| {
        let (Some(inner), Ok(event)) = (inner.upgrade(), event) else {
            return;
        };
        // Reading a file is no change.
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        inner.route(&event.paths);
    }
}

/// What one watch asks.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub invocation: Invocation,
    pub dirs: Vec<PathBuf>,
    /// Lock again when an input changes.
    pub lock: bool,
    /// Sync after each such lock.
    pub sync: bool,
}

/// What a watch reports.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// A project's status, first and whenever it changes, with the paths whose change led to
    /// it (none for the first).
    Status {
        status: Box<ProjectStatus>,
        changed_paths: Vec<PathBuf>,
    },
    Job(JobEvent),
}

/// What a watch needs from the daemon, handed to it rather than imported: the engine owns the
/// watch service and implements this, so nothing here depends on the engine.
pub trait Host: Send + Sync + 'static {
    /// The watchers every watch subscribes through.
    fn watches(&self) -> &Watches;
    /// Where the project in `dir` stands now (nothing is changed).
    fn status<'a>(&'a self, dir: &'a Path, invocation: &'a Invocation) -> BoxFuture<'a, Result<ProjectStatus, Error>>;
    /// The site-packages of the venv at `venv`, if it is one.
    fn site_packages<'a>(&'a self, venv: &'a Path) -> BoxFuture<'a, Option<PathBuf>>;
    /// Every job's events from now on.
    fn jobs(&self) -> broadcast::Receiver<JobEvent>;
    /// Locks `dir` again unless its lock is fresh by now, and syncs after when `sync`; the
    /// job's events reach watchers as any job's do.
    fn relock(
        self: Arc<Self>,
        dir: PathBuf,
        invocation: Invocation,
        sync: bool,
    ) -> BoxFuture<'static, Result<(), Error>>;
}

/// Follows `request.dirs` until `events` is closed. Fails at once when a directory is no
/// project.
pub async fn watch<H: Host>(
    host: Arc<H>,
    request: WatchRequest,
    events: mpsc::Sender<WatchEvent>,
) -> Result<(), Error> {
    if request.dirs.is_empty() {
        return Err(Error::InvalidInput(
            "a watch needs at least one project directory".to_string(),
        ));
    }
    if request.dirs.len() > MAX_PROJECTS {
        return Err(Error::InvalidInput(format!(
            "a watch follows at most {MAX_PROJECTS} projects; {} were given",
            request.dirs.len()
        )));
    }
    let mut last: HashMap<PathBuf, ProjectStatus> = HashMap::new();
    for dir in &request.dirs {
        last.insert(dir.clone(), host.status(dir, &request.invocation).await?);
    }
    let (mut subscription, mut changes) = host.watches().subscribe();
    subscription.set(watched_dirs(host.as_ref(), &last).await);
    let mut jobs = host.jobs();
    for status in last.values() {
        let event = WatchEvent::Status {
            status: Box::new(status.clone()),
            changed_paths: Vec::new(),
        };
        if events.send(event).await.is_err() {
            return Ok(());
        }
    }
    let (checked_sender, mut checked) = mpsc::channel::<(ProjectStatus, Vec<PathBuf>)>(MAX_PROJECTS);
    let relocking: Arc<Mutex<BTreeSet<PathBuf>>> = Arc::default();
    loop {
        tokio::select! {
            () = events.closed() => return Ok(()),
            Some(first) = changes.recv() => {
                let mut paths = vec![first];
                // The rest of the burst.
                while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {
                    paths.push(path);
                }
                for dir in affected(&last, &paths) {
                    let (host, invocation, sender) = (host.clone(), request.invocation.clone(), checked_sender.clone());
                    let paths: Vec<PathBuf> = paths.iter().filter(|path| concerns(&last[&dir], path)).cloned().collect();
                    // Looked at on the side: a status waits for a running sync to finish.
                    tokio::spawn(async move {
                        if let Ok(status) = host.status(&dir, &invocation).await {
                            let _ = sender.send((status, paths)).await;
                        }
                    });
                }
            }
            Some((status, paths)) = checked.recv() => {
                let dir = status.dir.clone();
                let inputs_changed = status.lock.state == LockState::Stale
                    && status.lock.changed.iter().any(|path| status.lock.inputs.contains(path));
                if last.get(&dir) != Some(&status) {
                    last.insert(dir.clone(), status.clone());
                    subscription.set(watched_dirs(host.as_ref(), &last).await);
                    let event = WatchEvent::Status { status: Box::new(status), changed_paths: paths };
                    if events.send(event).await.is_err() {
                        return Ok(());
                    }
                }
                if request.lock && inputs_changed {
                    relock(&host, &request, &dir, &relocking);
                }
            }
            job = jobs.recv() => match job {
                Ok(job) if last.contains_key(&job.dir) => {
                    if events.send(WatchEvent::Job(job)).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// Locks `dir` again (and syncs after, when asked) unless that is already under way.
fn relock<H: Host>(host: &Arc<H>, request: &WatchRequest, dir: &Path, relocking: &Arc<Mutex<BTreeSet<PathBuf>>>) {
    if !lock(relocking).insert(dir.to_path_buf()) {
        return;
    }
    let (relocking, dir) = (relocking.clone(), dir.to_path_buf());
    let job = host
        .clone()
        .relock(dir.clone(), request.invocation.clone(), request.sync);
    tokio::spawn(async move {
        if let Err(error) = job.await {
            // The job's own Failed event has told the watchers.
            tracing::info!(dir = %dir.display(), %error, "a watched re-lock failed");
        }
        lock(&relocking).remove(&dir);
    });
}

/// The directories to watch for `projects`.
async fn watched_dirs(host: &impl Host, projects: &HashMap<PathBuf, ProjectStatus>) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for status in projects.values() {
        dirs.insert(status.dir.clone());
        for file in status
            .lock
            .inputs
            .iter()
            .chain([&status.lock.lock_file])
            .chain(&status.venv.lock_files)
        {
            if let Some(parent) = file.parent() {
                dirs.insert(parent.to_path_buf());
            }
        }
        if let Some(parent) = status.venv.path.parent() {
            dirs.insert(parent.to_path_buf());
        }
        if let Some(site) = host.site_packages(&status.venv.path).await {
            dirs.insert(site);
        }
    }
    dirs
}

/// Whether a change of `path` can change `status`.
fn concerns(status: &ProjectStatus, path: &Path) -> bool {
    path.starts_with(&status.venv.path)
        || path.parent() == Some(status.dir.as_path())
        || status.lock.inputs.iter().any(|input| input == path)
        || path == status.lock.lock_file
        || status.venv.lock_files.iter().any(|file| file == path)
}

fn affected(projects: &HashMap<PathBuf, ProjectStatus>, paths: &[PathBuf]) -> Vec<PathBuf> {
    projects
        .values()
        .filter(|status| paths.iter().any(|path| concerns(status, path)))
        .map(|status| status.dir.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(receiver: &mut mpsc::Receiver<PathBuf>) -> Option<PathBuf> {
        tokio::time::timeout(Duration::from_secs(5), receiver.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn one_watch_per_directory_however_many_subscribe_and_none_after_the_last_leaves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let watches = Watches::default();
        let (mut first, mut first_changes) = watches.subscribe();
        let (mut second, mut second_changes) = watches.subscribe();
        first.set(BTreeSet::from([dir.path().to_path_buf()]));
        second.set(BTreeSet::from([dir.path().to_path_buf()]));
        assert_eq!(watches.counts(), (1, 0));
        // Saved as editors save: a new file renamed over the old.
        std::fs::write(dir.path().join(".requirements.in.swp"), "six\n").expect("write");
        std::fs::rename(
            dir.path().join(".requirements.in.swp"),
            dir.path().join("requirements.in"),
        )
        .expect("rename");
        assert!(next(&mut first_changes).await.is_some());
        assert!(next(&mut second_changes).await.is_some());
        drop(first);
        assert_eq!(watches.counts(), (1, 0));
        drop(second);
        assert_eq!(watches.counts(), (0, 0));
    }

    #[tokio::test]
    async fn past_the_limit_directories_are_polled_and_still_report_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::create_dir(&one).expect("mkdir");
        std::fs::create_dir(&two).expect("mkdir");
        let watches = Watches::with_limit(1);
        let (mut subscription, mut changes) = watches.subscribe();
        subscription.set(BTreeSet::from([one.clone(), two.clone()]));
        assert_eq!(watches.counts(), (2, 1));
        std::fs::write(two.join("requirements.in"), "six\n").expect("write");
        let changed = next(&mut changes).await.expect("a change");
        assert!(changed.starts_with(&two), "{}", changed.display());
    }

    #[tokio::test]
    async fn a_directory_that_disappears_is_an_event_and_missing_ones_are_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let watches = Watches::default();
        let (mut subscription, mut changes) = watches.subscribe();
        subscription.set(BTreeSet::from([sub.clone(), dir.path().join("absent")]));
        assert_eq!(watches.counts(), (1, 0));
        std::fs::remove_dir(&sub).expect("rmdir");
        assert_eq!(next(&mut changes).await, Some(sub));
    }
}
