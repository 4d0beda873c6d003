//! Reports as streamed events: the [`Reporter`] a streaming request's work reports through.

use axle_proto::v1;
use tokio::sync::mpsc;
use tonic::Status;

use crate::progress::{NoticeLevel, Phase, Reporter};

pub(super) struct StreamReporter {
    pub(super) sender: mpsc::Sender<Result<v1::Event, Status>>,
}

impl Reporter for StreamReporter {
    fn progress(&self, phase: Phase, subject: &str, done: u64, total: u64) {
        // Progress is best effort: a slow reader loses updates, never blocks work.
        let _ = self.sender.try_send(Ok(v1::Event {
            kind: Some(v1::event::Kind::Progress(v1::Progress {
                phase: phase.name().to_string(),
                subject: subject.to_string(),
                done,
                total,
            })),
        }));
    }

    fn notice(&self, level: NoticeLevel, message: &str) {
        let level = match level {
            NoticeLevel::Info => v1::notice::Level::Info,
            NoticeLevel::Warning => v1::notice::Level::Warning,
        };
        let _ = self.sender.try_send(Ok(v1::Event {
            kind: Some(v1::event::Kind::Notice(v1::Notice {
                level: level as i32,
                message: message.to_string(),
            })),
        }));
    }
}
