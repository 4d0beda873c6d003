//! Running PEP 517/660 hooks: each call is a subprocess of the build environment's interpreter
//! running a small runner (`runner.py`) that imports the backend (honouring `backend-path`),
//! calls one hook and writes its answer to a file.
//!
//! Building runs the project's own code. What is confined here: the subprocess gets no stdin,
//! runs in its own process group (a timeout kills the whole group, grandchildren included),
//! with the environment its caller decides (no `PYTHONPATH`, no `PIP_*` settings leaking into
//! an isolated build), the source tree as its working directory, and its output in a log file
//! rather than the daemon's. It can still read what its user can read and reach the network:
//! install sdists only from sources you trust, as with pip.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::tree::SourceTree;

const RUNNER: &str = include_str!("runner.py");

/// What a build produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildKind {
    /// A regular wheel (`build_wheel`).
    Wheel,
    /// An editable wheel (PEP 660 `build_editable`).
    Editable,
}

impl BuildKind {
    fn suffix(self) -> &'static str {
        match self {
            BuildKind::Wheel => "wheel",
            BuildKind::Editable => "editable",
        }
    }
}

/// `-C/--config-settings KEY=VALUE`: a key given several times has a list of values, as pip
/// passes them.
pub type ConfigSettings = BTreeMap<String, Vec<String>>;

fn config_json(config: &ConfigSettings) -> serde_json::Value {
    if config.is_empty() {
        return serde_json::Value::Null;
    }
    let map: serde_json::Map<String, serde_json::Value> = config
        .iter()
        .map(|(key, values)| {
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            (key.clone(), value)
        })
        .collect();
    serde_json::Value::Object(map)
}

#[derive(Debug, thiserror::Error)]
#[error("{what}{}\n(the whole log: {})", tail_text(.tail), .log.display())]
pub struct HookError {
    /// The hook that failed (`build_wheel`, ...).
    pub hook: String,
    /// What went wrong, in one sentence naming the hook.
    pub what: String,
    /// The last lines of the backend's output.
    pub tail: String,
    pub log: PathBuf,
}

fn tail_text(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; the backend's last output:\n{}", tail.trim_end())
    }
}

/// Runs hooks with one interpreter and environment, appending their output to one log.
#[derive(Debug, Clone)]
pub struct HookRunner {
    /// The interpreter of the build environment.
    pub python: PathBuf,
    /// The subprocess's whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// Appended to by every hook.
    pub log: PathBuf,
    pub timeout: Duration,
    /// Where the runner's input and output files go.
    pub scratch: PathBuf,
    /// Stops the hook when the daemon stops: its process group is killed.
    pub cancel: Arc<Cancel>,
}

/// Stops every hook at once. The hooks' process groups are killed by `stop` itself, not
/// when their runners next look: a daemon that exits right after must leave no hook (untrusted
/// code) running behind it.
#[derive(Debug, Default)]
pub struct Cancel {
    stopped: AtomicBool,
    /// The process groups of the hooks running now.
    running: Mutex<HashSet<u32>>,
}

impl Cancel {
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for group in self.running().drain() {
            kill_group(group);
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<u32>> {
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a hook's process group until the returned guard drops, or kills it when stopped
    /// already (its runner then sees the stop).
    fn enter(&self, group: u32) -> Running<'_> {
        let mut running = self.running();
        // Checked under the lock `stop` drains: a hook started as the daemon stops is killed
        // by one or the other.
        if self.is_stopped() {
            drop(running);
            kill_group(group);
        } else {
            running.insert(group);
        }
        Running { cancel: self, group }
    }
}

/// A hook's process group among the running ones; dropped once its runner is done with it.
struct Running<'a> {
    cancel: &'a Cancel,
    group: u32,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.cancel.running().remove(&self.group);
    }
}

/// What a hook answered.
enum Answer {
    Returned(serde_json::Value),
    Unsupported,
}

impl HookRunner {
    /// `get_requires_for_build_wheel` / `_editable`: what the build needs beyond
    /// `build-system.requires` (none when the backend lacks the hook).
    pub fn get_requires(
        &self,
        tree: &SourceTree,
        kind: BuildKind,
        config: &ConfigSettings,
    ) -> Result<Vec<String>, HookError> {
        let hook = format!("get_requires_for_build_{}", kind.suffix());
        match self.call(tree, &hook, json!({ "config_settings": config_json(config) }))? {
            Answer::Unsupported => Ok(Vec::new()),
            Answer::Returned(value) => {
                let items = value.as_array().ok_or_else(|| self.bad_answer(&hook, "not a list"))?;
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| self.bad_answer(&hook, "a list holding something other than strings"))
                    })
                    .collect()
            }
        }
    }

    /// `prepare_metadata_for_build_wheel` / `_editable` into `directory`: the `.dist-info`
    /// directory written, or `None` when the backend lacks the hook (then only a build tells).
    pub fn prepare_metadata(
        &self,
        tree: &SourceTree,
        kind: BuildKind,
        directory: &Path,
        config: &ConfigSettings,
    ) -> Result<Option<PathBuf>, HookError> {
        let hook = format!("prepare_metadata_for_build_{}", kind.suffix());
        let kwargs = json!({ "metadata_directory": directory, "config_settings": config_json(config) });
        match self.call(tree, &hook, kwargs)? {
            Answer::Unsupported => Ok(None),
            Answer::Returned(value) => {
                let name = value
                    .as_str()
                    .ok_or_else(|| self.bad_answer(&hook, "not a directory name"))?;
                let path = self.inside(directory, name, &hook)?;
                if !path.join("METADATA").is_file() {
                    return Err(self.bad_answer(&hook, &format!("`{name}` holds no METADATA")));
                }
                Ok(Some(path))
            }
        }
    }

    /// `build_wheel` / `build_editable` into `directory`: the wheel written.
    pub fn build(
        &self,
        tree: &SourceTree,
        kind: BuildKind,
        directory: &Path,
        metadata_directory: Option<&Path>,
        config: &ConfigSettings,
    ) -> Result<PathBuf, HookError> {
        let hook = format!("build_{}", kind.suffix());
        let kwargs = json!({
            "wheel_directory": directory,
            "config_settings": config_json(config),
            "metadata_directory": metadata_directory,
        });
        match self.call(tree, &hook, kwargs)? {
            Answer::Unsupported => Err(self.failure(
                &hook,
                match kind {
                    BuildKind::Editable => format!(
                        "the build backend `{}` cannot make editable installs (it has no `build_editable` hook, PEP 660)",
                        tree.build_system.backend.0
                    ),
                    BuildKind::Wheel => format!("the build backend `{}` has no `build_wheel` hook", tree.build_system.backend.0),
                },
            )),
            Answer::Returned(value) => {
                let name = value.as_str().ok_or_else(|| self.bad_answer(&hook, "not a file name"))?;
                let path = self.inside(directory, name, &hook)?;
                if !name.ends_with(".whl") || !path.is_file() {
                    return Err(self.bad_answer(&hook, &format!("`{name}`, which is not a wheel it wrote")));
                }
                Ok(path)
            }
        }
    }

    /// `directory/name`, where `name` must be one plain file name.
    fn inside(&self, directory: &Path, name: &str, hook: &str) -> Result<PathBuf, HookError> {
        let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
        if !plain {
            return Err(self.bad_answer(hook, &format!("`{name}`, which is not a plain name")));
        }
        Ok(directory.join(name))
    }

    fn bad_answer(&self, hook: &str, what: &str) -> HookError {
        self.failure(hook, format!("the `{hook}` hook answered {what}"))
    }

    fn failure(&self, hook: &str, what: String) -> HookError {
        HookError {
            hook: hook.to_string(),
            what,
            tail: log_tail(&self.log),
            log: self.log.clone(),
        }
    }

    fn call(&self, tree: &SourceTree, hook: &str, kwargs: serde_json::Value) -> Result<Answer, HookError> {
        let io = |what: &str, error: std::io::Error| {
            self.failure(hook, format!("cannot {what} for the `{hook}` hook: {error}"))
        };
        let scratch = tempfile::Builder::new()
            .prefix("hook-")
            .tempdir_in(&self.scratch)
            .map_err(|error| io("make a scratch directory", error))?;
        let input = scratch.path().join("input.json");
        let output = scratch.path().join("output.json");
        let spec = json!({
            "backend": tree.build_system.backend.0,
            "backend_path": tree.build_system.backend_path,
            "kwargs": kwargs,
        });
        std::fs::write(&input, spec.to_string()).map_err(|error| io("write the hook's input", error))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|error| io("open the build log", error))?;
        let log_err = log.try_clone().map_err(|error| io("open the build log", error))?;
        use std::io::Write;
        let _ = writeln!(&log, "axle: running {hook} in {}", tree.root.display());

        let mut command = Command::new(&self.python);
        command
            .arg("-c")
            .arg(RUNNER)
            .arg(hook)
            .arg(&input)
            .arg(&output)
            .current_dir(&tree.root)
            .env_clear()
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|error| io(&format!("start {}", self.python.display()), error))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let _running = self.cancel.enter(child.id());
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(error) => return Err(io("wait", error)),
            }
            if self.cancel.is_stopped() {
                kill_group(child.id());
                let _ = child.wait();
                return Err(self.failure(hook, format!("the `{hook}` hook was stopped: axled is stopping")));
            }
            if started.elapsed() > self.timeout {
                kill_group(child.id());
                let _ = child.wait();
                return Err(self.failure(
                    hook,
                    format!(
                        "the `{hook}` hook did not finish within {} seconds and was stopped (AXLE_BUILD_TIMEOUT sets the limit)",
                        self.timeout.as_secs()
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        };
        // Whatever the hook left running in its group goes with it.
        kill_group(child.id());

        let answer: Option<serde_json::Value> = std::fs::read(&output)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(answer) = answer else {
            return Err(self.failure(hook, format!("the `{hook}` hook failed ({status})")));
        };
        if answer.get("unsupported").and_then(|value| value.as_bool()) == Some(true) {
            return Ok(Answer::Unsupported);
        }
        if let Some(kind) = answer.get("error").and_then(|value| value.as_str()) {
            let message = answer.get("message").and_then(|value| value.as_str()).unwrap_or("");
            let what = match kind {
                "backend-unavailable" => format!(
                    "the build backend `{}` cannot be imported ({message}); is it in build-system.requires?",
                    tree.build_system.backend.0
                ),
                "backend-invalid" => format!("the build backend is not where backend-path says: {message}"),
                _ => format!("the `{hook}` hook failed: {message}"),
            };
            return Err(self.failure(hook, what));
        }
        match answer.get("return") {
            Some(value) if status.success() => Ok(Answer::Returned(value.clone())),
            _ => Err(self.failure(hook, format!("the `{hook}` hook failed ({status})"))),
        }
    }
}

fn kill_group(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// The last lines of a log (at most 30 lines, 4 KiB).
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = length.saturating_sub(4096);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|line| !line.starts_with("axle: running")).collect();
    let skip = lines.len().saturating_sub(30);
    lines[skip..].iter().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_settings_as_pip_passes_them() {
        let mut config = ConfigSettings::new();
        assert_eq!(config_json(&config), serde_json::Value::Null);
        config.insert("--build-option".into(), vec!["--a".into(), "--b".into()]);
        config.insert("mode".into(), vec!["fast".into()]);
        assert_eq!(
            config_json(&config),
            json!({"--build-option": ["--a", "--b"], "mode": "fast"})
        );
    }
}
