//! `--exclude-newer`: files uploaded after a moment are left out. The moment is a date
//! (midnight UTC), an RFC 3339 timestamp, or — a cooldown, as uv and pip take it — a duration
//! back from now: `7 days`, `1 week`, `24h`, ISO 8601's `P7D`. A duration is turned into the
//! absolute time it meant when the lock was made, and that time is what the lock's header
//! records, so running the header's command again reproduces the lock.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::LockError;

/// The cutoff `--exclude-newer text` means at `now`, and how the lock's header echoes it:
/// as given for a date or a timestamp, as the absolute time (to the second) for a duration.
pub fn cutoff(text: &str, now: Timestamp) -> Result<(Timestamp, String), LockError> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok((timestamp, text.to_string()));
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned_datetime(TimeZone::UTC)
    {
        return Ok((zoned.timestamp(), text.to_string()));
    }
    let usage = |why: &str| {
        LockError::Usage(format!(
            "--exclude-newer {text}: {why}; expected a date (2024-05-01), an RFC 3339 timestamp \
             (2024-05-01T12:00:00Z) or a duration back from now (\"7 days\", \"1 week\", \"24h\", P7D)"
        ))
    };
    let span: Span = text
        .parse()
        .map_err(|_| usage("not a date, a timestamp or a duration"))?;
    // "7 days ago" reads as a negative span: it means the same moment.
    let span = span.abs();
    if span.is_zero() {
        return Err(usage("a duration of nothing"));
    }
    let moment = now
        .to_zoned_datetime(TimeZone::UTC)
        .checked_sub(span)
        .map_err(|_| usage("too long ago"))?
        .timestamp();
    // To the second: the header shows it so, and the resolution must mean what it shows.
    let moment = Timestamp::from_second(moment.as_second()).map_err(|_| usage("too long ago"))?;
    Ok((moment, moment.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_timestamps_and_durations_back_from_now() {
        let now: Timestamp = "2026-12-06T21:04:05.678Z".parse().unwrap();
        let cases = [
            ("2024-05-01", "2024-05-01T00:00:00Z", "2024-05-01"),
            ("2024-05-01T12:30:00Z", "2024-05-01T12:30:00Z", "2024-05-01T12:30:00Z"),
            ("7 days", "2026-11-29T21:04:05Z", "2026-11-29T21:04:05Z"),
            ("1 week", "2026-11-29T21:04:05Z", "2026-11-29T21:04:05Z"),
            ("P7D", "2026-11-29T21:04:05Z", "2026-11-29T21:04:05Z"),
            ("PT24H", "2026-12-05T21:04:05Z", "2026-12-05T21:04:05Z"),
            ("24h", "2026-12-05T21:04:05Z", "2026-12-05T21:04:05Z"),
            ("30 days ago", "2026-11-06T21:04:05Z", "2026-11-06T21:04:05Z"),
            ("1 month", "2026-11-06T21:04:05Z", "2026-11-06T21:04:05Z"),
        ];
        for (given, moment, shown) in cases {
            let (cutoff, echoed) = cutoff(given, now).unwrap();
            assert_eq!(
                (cutoff.to_string().as_str(), echoed.as_str()),
                (moment, shown),
                "{given}"
            );
        }
        for bad in ["yesterday", "7 parsecs", "0 days", ""] {
            let error = cutoff(bad, now).unwrap_err().to_string();
            assert!(error.contains("expected a date"), "{bad}: {error}");
        }
    }
}
