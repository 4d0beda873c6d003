//! Printing: text for people, JSON for programs.
//!
//! Results go to stdout; progress, notices and errors to stderr. With
//! `--json`, stdout carries exactly one JSON document per command, errors
//! included, so an editor can always parse it.

use std::io::{IsTerminal, Write};

use axle_proto::v1;
use serde_json::Value;

use crate::Failure;

pub struct Output {
    pub json: bool,
    pub quiet: bool,
    progress: Option<indicatif::ProgressBar>,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Output {
        let interactive = std::io::stderr().is_terminal() && !json && !quiet;
        let progress = interactive.then(|| {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar
        });
        Output { json, quiet, progress }
    }

    /// A result line for people (ignored in JSON mode).
    pub fn text(&self, line: &str) {
        if !self.json && !self.quiet {
            self.clear_progress();
            println!("{line}");
        }
    }

    /// The one JSON document of a command (ignored in text mode).
    pub fn document(&self, value: &Value) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, value);
            let _ = writeln!(stdout);
        }
    }

    /// One JSON object on one line, flushed: for streams read line by line.
    pub fn json_line(&self, value: &Value) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut stdout, value);
            let _ = writeln!(stdout);
            let _ = stdout.flush();
        }
    }

    /// A line of text, flushed at once (a stream's reader waits for it).
    pub fn text_now(&self, line: &str) {
        if !self.json && !self.quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
    }

    pub fn notice(&self, notice: &v1::Notice) {
        if self.quiet {
            return;
        }
        self.clear_progress();
        let prefix = match v1::notice::Level::try_from(notice.level) {
            Ok(v1::notice::Level::Warning) => "warning: ",
            _ => "",
        };
        eprintln!("{prefix}{}", notice.message);
    }

    /// Shows a progress event on a terminal; elsewhere, progress is silent.
    pub fn progress(&self, progress: &v1::Progress) {
        let Some(bar) = &self.progress else {
            return;
        };
        if progress.total > 0 {
            if bar.length() != Some(progress.total) {
                bar.set_length(progress.total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {prefix:>10} [{bar:30}] {pos}/{len} {wide_msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
            }
            bar.set_position(progress.done);
        } else {
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {prefix:>10} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.tick();
        }
        bar.set_prefix(progress.phase.clone());
        bar.set_message(progress.subject.clone());
    }

    pub fn clear_progress(&self) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
    }

    pub fn failure(&self, failure: &Failure) {
        self.clear_progress();
        if self.json {
            self.document(&serde_json::json!({
                "error": { "code": failure.code, "message": failure.message }
            }));
        }
        eprintln!("error: {}", failure.message);
    }
}
