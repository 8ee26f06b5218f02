//! Time in words: durations on the command line (`2s`, `500ms`, `1m`), parsed by humantime with our own
//! message; durations and instants as reports show them.

use std::time::Duration;

/// A duration on the command line that cannot be used; names the value and the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration: write a number with a unit, like 2s, 500ms or 1m")]
    NotADuration(String),
    #[error("`{0}` is zero: a phase needs time to run")]
    Zero(String),
    #[error("`{0}` is under 10ms: no server answers that fast, so every phase would end in a timeout blamed on it; write 10ms or more")]
    TooShort(String),
    #[error("`{0}` is longer than an hour")]
    TooLong(String),
}

/// The shortest deadline accepted: below it, a deadline measures this machine, not the server.
pub const SHORTEST: Duration = Duration::from_millis(10);

/// Parses a duration from 10 ms ([`SHORTEST`]) to an hour.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| DurationError::NotADuration(s.to_string()))?;
    if d.is_zero() {
        return Err(DurationError::Zero(s.to_string()));
    }
    if d < SHORTEST {
        return Err(DurationError::TooShort(s.to_string()));
    }
    if d > Duration::from_secs(3600) {
        return Err(DurationError::TooLong(s.to_string()));
    }
    Ok(d)
}

/// `1.2 s`, `350 ms`: for summaries.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{ms} ms")
    }
}

/// An instant as RFC 3339 (`2026-06-01T00:00:00Z`): the one format for times in reports and messages.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    rfc3339_checked(t).unwrap_or_default()
}

/// [`rfc3339`], or `None` for a year RFC 3339 cannot write (before 0 or after 9999).
pub fn rfc3339_checked(t: time::OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert!(parse("5").unwrap_err().to_string().contains("like 2s"));
        assert!(parse("fast").unwrap_err().to_string().contains("like 2s"));
        assert!(parse("0s").unwrap_err().to_string().contains("zero"));
        for short in ["1ns", "5ms", "9ms", "9999us"] {
            assert_eq!(parse(short), Err(DurationError::TooShort(short.into())));
            assert!(parse(short)
                .unwrap_err()
                .to_string()
                .contains("10ms or more"));
        }
        assert_eq!(parse("10ms"), Ok(SHORTEST));
        assert!(parse("2h").unwrap_err().to_string().contains("hour"));
        assert_eq!(human(Duration::from_millis(350)), "350 ms");
        assert_eq!(human(Duration::from_millis(1250)), "1.2 s");
    }
}
