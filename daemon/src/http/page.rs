//! The status page at `/`: the store, the venvs the daemon knows with where each stands, and
//! the last jobs. Plain HTML and a little CSS, no script: it must read well in any browser,
//! and in a terminal browser too.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::engine::Engine;
use crate::jobs::EndedJob;
use crate::wheels::StoreStats;

/// What the page shows, gathered before anything is rendered.
pub struct View {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    pub requests_served: u64,
    pub offline: bool,
    pub store: Result<StoreStats, String>,
    /// The team stores requests used since the daemon started.
    pub team: Vec<crate::team::TeamStats>,
    pub venvs: Result<Vec<VenvRow>, String>,
    pub jobs: Vec<EndedJob>,
}

pub struct VenvRow {
    pub path: PathBuf,
    pub python_version: String,
    pub project: Option<PathBuf>,
    pub lock_file: Option<PathBuf>,
    pub last_sync: Option<i64>,
    /// `in sync`, `drifted`, `unknown` (no sync on record); `detail` says what differs or why.
    pub state: String,
    pub detail: String,
}

pub async fn gather(engine: &Engine, offline: bool) -> View {
    let store = engine.store_stats().await.map_err(|error| error.to_string());
    // Each venv against the locks of its own last sync, whoever ran it.
    let venvs = engine
        .environments()
        .await
        .map(|listed| {
            listed
                .into_iter()
                .map(|listed| VenvRow {
                    lock_file: listed.info.lock_files.first().cloned(),
                    path: listed.info.path,
                    python_version: listed.info.python_version,
                    project: listed.info.project,
                    last_sync: listed.info.last_sync,
                    state: listed.state.as_str().replace('-', " "),
                    detail: listed.detail,
                })
                .collect()
        })
        .map_err(|error| error.to_string());
    View {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        uptime_secs: engine.started.elapsed().as_secs(),
        requests_served: engine.activity.served(),
        offline,
        store,
        team: engine.services.team.stats(),
        venvs,
        jobs: engine.jobs.recent(),
    }
}

pub fn render(view: &View) -> String {
    let mut out = String::new();
    out.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>axle status</title>\n<style>\n",
        "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1d1d1f}\n",
        "h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\n",
        "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}\n",
        "th{font-weight:600;background:#f5f5f7}code{font-size:.92em}\n",
        ".ok{color:#17702f}.bad{color:#a1261a}.muted{color:#6e6e73}\n",
        "dl{display:grid;grid-template-columns:max-content auto;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}\n",
        "</style>\n</head>\n<body>\n<h1>axle status</h1>\n",
    ));
    let _ = writeln!(
        out,
        "<p class=\"muted\">axled {} · pid {} · up {} · {} requests served · simple index at <a href=\"/simple/\">/simple/</a>{}</p>",
        escape(&view.version),
        view.pid,
        duration(view.uptime_secs),
        view.requests_served,
        if view.offline {
            " (offline: stored files only)"
        } else {
            ""
        },
    );

    out.push_str("<h2 id=\"store\">Store</h2>\n");
    match &view.store {
        Ok(stats) => {
            let saved = stats.bytes_linked.saturating_sub(stats.bytes_stored);
            let _ = writeln!(
                out,
                "<dl>\n<dt>Location</dt><dd><code>{}</code></dd>\n<dt>Wheels</dt><dd id=\"store-wheels\">{}</dd>\n<dt>Files</dt><dd>{}</dd>\n<dt>Size on disk</dt><dd id=\"store-size\">{}</dd>\n<dt>Linked into venvs</dt><dd>{} in {}</dd>\n<dt>Saved by linking</dt><dd id=\"store-saved\">{}</dd>\n</dl>",
                escape(&stats.path.display().to_string()),
                stats.wheels,
                stats.objects,
                bytes(stats.bytes_stored),
                bytes(stats.bytes_linked),
                if stats.venvs == 1 {
                    "1 venv".to_string()
                } else {
                    format!("{} venvs", stats.venvs)
                },
                bytes(saved),
            );
        }
        Err(error) => {
            let _ = writeln!(out, "<p class=\"bad\">The store cannot be read: {}</p>", escape(error));
        }
    }
    for team in &view.team {
        let class = if team.mode == "skipped" { "bad" } else { "ok" };
        let _ = writeln!(
            out,
            "<h3>Team store <code>{}</code></h3>\n<dl class=\"team-store\">\n<dt>Mode</dt><dd class=\"{class}\">{}</dd>\n<dt>Hits</dt><dd>{} (misses {})</dd>\n<dt>Read</dt><dd>{}</dd>\n<dt>Written</dt><dd>{} ({} uploads, {} already there, {} queued)</dd>\n<dt>Failures</dt><dd>{}</dd>\n</dl>",
            escape(&team.url),
            escape(&team.mode),
            team.hits,
            team.misses,
            bytes(team.bytes_read),
            bytes(team.bytes_written),
            team.uploaded,
            team.already_there,
            team.queued,
            team.failures,
        );
    }

    out.push_str("<h2 id=\"venvs\">Virtual environments</h2>\n");
    match &view.venvs {
        Ok(rows) if rows.is_empty() => out.push_str(
            "<p class=\"muted\">No venv yet: <code>axle venv</code> and <code>axle sync</code> make one.</p>\n",
        ),
        Ok(rows) => {
            out.push_str("<table>\n<thead><tr><th>Venv</th><th>Python</th><th>Project</th><th>Lock</th><th>Last sync</th><th>State</th></tr></thead>\n<tbody>\n");
            for row in rows {
                // Unknown is no fault (nothing to compare with): grey, not the colour of an error.
                let class = match row.state.as_str() {
                    "in sync" => "ok",
                    "unknown" => "muted",
                    _ => "bad",
                };
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"state {class}\">{}{}</td></tr>",
                    escape(&row.path.display().to_string()),
                    escape(&row.python_version),
                    optional_path(row.project.as_ref()),
                    optional_path(row.lock_file.as_ref()),
                    row.last_sync.map_or_else(|| "never".to_string(), time),
                    escape(&row.state),
                    if row.detail.is_empty() {
                        String::new()
                    } else {
                        format!("<br><span class=\"muted\">{}</span>", escape(&row.detail))
                    },
                );
            }
            out.push_str("</tbody>\n</table>\n");
        }
        Err(error) => {
            let _ = writeln!(
                out,
                "<p class=\"bad\">The venvs cannot be listed: {}</p>",
                escape(error)
            );
        }
    }

    out.push_str("<h2 id=\"jobs\">Recent jobs</h2>\n");
    if view.jobs.is_empty() {
        out.push_str("<p class=\"muted\">No lock or sync has run since the daemon started.</p>\n");
    } else {
        out.push_str(
            "<table>\n<thead><tr><th>When</th><th>Job</th><th>Project</th><th>Outcome</th></tr></thead>\n<tbody>\n",
        );
        for job in &view.jobs {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"{}\">{}</td></tr>",
                time(job.ended_at),
                job.job.as_str(),
                escape(&job.dir.display().to_string()),
                if job.succeeded { "ok" } else { "bad" },
                escape(&job.message),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn optional_path(path: Option<&PathBuf>) -> String {
    path.map_or_else(
        || "<span class=\"muted\">–</span>".to_string(),
        |path| format!("<code>{}</code>", escape(&path.display().to_string())),
    )
}

fn bytes(count: u64) -> String {
    bytesize::ByteSize(count).display().si().to_string()
}

fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// A UTC time, to the second.
fn time(epoch_secs: i64) -> String {
    jiff::Timestamp::from_second(epoch_secs)
        .map(|at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| epoch_secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobKind;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let view = View {
            version: "0.1.0".into(),
            pid: 1,
            uptime_secs: 3700,
            requests_served: 2,
            offline: false,
            store: Err("<b>disk</b>".into()),
            team: vec![crate::team::TeamStats {
                url: "s3://team/<ci>".into(),
                mode: "read-only".into(),
                hits: 3,
                ..Default::default()
            }],
            venvs: Ok(vec![VenvRow {
                path: PathBuf::from("/p/<script>"),
                python_version: "3.12.1".into(),
                project: Some(PathBuf::from("/p")),
                lock_file: None,
                last_sync: Some(0),
                state: "drifted".into(),
                detail: String::new(),
            }]),
            jobs: vec![EndedJob {
                dir: PathBuf::from("/p"),
                job: JobKind::Lock,
                ended_at: 0,
                succeeded: false,
                message: "a & b".into(),
            }],
        };
        let page = render(&view);
        assert!(page.contains("&lt;b&gt;disk&lt;/b&gt;"), "{page}");
        assert!(page.contains("/p/&lt;script&gt;"), "{page}");
        assert!(page.contains("a &amp; b"), "{page}");
        assert!(
            page.contains("s3://team/&lt;ci&gt;") && page.contains("read-only"),
            "{page}"
        );
        assert!(page.contains("1970-01-01 00:00:00 UTC"), "{page}");
        assert!(page.contains("up 1 h 1 min"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }

    /// A venv with nothing to compare it with is no fault: grey, where a drifted one is red.
    #[test]
    fn states_have_their_colours_and_unknown_is_grey() {
        let row = |path: &str, state: &str, detail: &str| VenvRow {
            path: PathBuf::from(path),
            python_version: "3.12.1".into(),
            project: None,
            lock_file: None,
            last_sync: None,
            state: state.into(),
            detail: detail.into(),
        };
        let view = View {
            version: "0.1.0".into(),
            pid: 1,
            uptime_secs: 1,
            requests_served: 1,
            offline: false,
            store: Err("none".into()),
            team: Vec::new(),
            venvs: Ok(vec![
                row("/a", "in sync", ""),
                row("/b", "drifted", "missing six==1.17.0"),
                row("/c", "unknown", "no sync by axle on record"),
            ]),
            jobs: Vec::new(),
        };
        let page = render(&view);
        let line = |path: &str| {
            page.lines()
                .find(|line| line.starts_with(&format!("<tr><td><code>{path}</code>")))
                .unwrap_or_else(|| panic!("{page}"))
                .to_string()
        };
        assert!(line("/a").contains("<td class=\"state ok\">in sync</td>"), "{page}");
        assert!(line("/b").contains("<td class=\"state bad\">drifted<br>"), "{page}");
        assert!(line("/c").contains("<td class=\"state muted\">unknown<br>"), "{page}");
    }
}
