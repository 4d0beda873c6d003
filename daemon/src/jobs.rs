//! What the daemon is doing, for whoever watches: each lock and sync run through the engine
//! announces its start, its progress and its end on one broadcast channel, tagged with the
//! project directory it runs for.
//!
//! Watchers that fall behind lose the oldest events (a broadcast channel's rule), never slow
//! a job down.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::progress::{NoticeLevel, Phase, Reporter};

/// Events kept for a slow watcher.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Lock,
    Sync,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Lock => "lock",
            JobKind::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStep {
    Started,
    Progress {
        phase: Phase,
        subject: String,
        done: u64,
        total: u64,
    },
    /// A one-line summary of the result.
    Finished(String),
    /// The error, as the user reads it.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    pub dir: PathBuf,
    pub job: JobKind,
    pub step: JobStep,
}

/// Ended jobs kept for the status page.
const RECENT: usize = 20;

/// A job that ended, as the status page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedJob {
    pub dir: PathBuf,
    pub job: JobKind,
    /// Seconds since the Unix epoch.
    pub ended_at: i64,
    pub succeeded: bool,
    /// The summary of its outcome, or its error.
    pub message: String,
}

pub struct Jobs {
    sender: broadcast::Sender<JobEvent>,
    recent: std::sync::Mutex<std::collections::VecDeque<EndedJob>>,
}

impl Default for Jobs {
    fn default() -> Jobs {
        Jobs {
            sender: broadcast::channel(CAPACITY).0,
            recent: std::sync::Mutex::default(),
        }
    }
}

impl Jobs {
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.sender.subscribe()
    }

    pub fn announce(&self, dir: &std::path::Path, job: JobKind, step: JobStep) {
        // No watcher is no error.
        let _ = self.sender.send(JobEvent {
            dir: dir.to_path_buf(),
            job,
            step,
        });
    }

    /// Announces how a job ended: `Finished` with `summary` of its outcome, or `Failed` with
    /// its error as the user reads it.
    pub fn announce_end<T, E: std::fmt::Display>(
        &self,
        dir: &std::path::Path,
        job: JobKind,
        result: &Result<T, E>,
        summary: impl FnOnce(&T) -> String,
    ) {
        let step = match result {
            Ok(outcome) => JobStep::Finished(summary(outcome)),
            Err(error) => JobStep::Failed(error.to_string()),
        };
        let (succeeded, message) = match &step {
            JobStep::Failed(message) => (false, message.clone()),
            JobStep::Finished(message) => (true, message.clone()),
            JobStep::Started | JobStep::Progress { .. } => (true, String::new()),
        };
        {
            let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if recent.len() == RECENT {
                recent.pop_back();
            }
            recent.push_front(EndedJob {
                dir: dir.to_path_buf(),
                job,
                ended_at: crate::db::now(),
                succeeded,
                message,
            });
        }
        self.announce(dir, job, step);
    }

    /// The last jobs that ended, newest first.
    pub fn recent(&self) -> Vec<EndedJob> {
        let recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        recent.iter().cloned().collect()
    }

    /// A reporter that tells `inner` and the watchers of `dir`.
    pub fn reporter(
        self: &Arc<Self>,
        dir: &std::path::Path,
        job: JobKind,
        inner: Arc<dyn Reporter>,
    ) -> Arc<dyn Reporter> {
        Arc::new(Announcing {
            jobs: self.clone(),
            dir: dir.to_path_buf(),
            job,
            inner,
        })
    }
}

struct Announcing {
    jobs: Arc<Jobs>,
    dir: PathBuf,
    job: JobKind,
    inner: Arc<dyn Reporter>,
}

impl Reporter for Announcing {
    fn progress(&self, phase: Phase, subject: &str, done: u64, total: u64) {
        self.inner.progress(phase, subject, done, total);
        if self.jobs.sender.receiver_count() > 0 {
            self.jobs.announce(
                &self.dir,
                self.job,
                JobStep::Progress {
                    phase,
                    subject: subject.to_string(),
                    done,
                    total,
                },
            );
        }
    }

    fn notice(&self, level: NoticeLevel, message: &str) {
        self.inner.notice(level, message);
    }
}
