//! The one duration syntax: `500ms`, `30s`, `5m`, `1h`, `90d` (a bare number means seconds; zero is not a
//! duration). Configuration values are parsed with it when the file is read (`config::duration`);
//! `token issue --ttl` and `doraMetrics(window:)` parse their arguments with it. A leaf.

use std::time::Duration;

/// Why a text is not a duration (the messages config errors and `--ttl` show).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("'{0}' is not a duration (use e.g. 500ms, 30s, 5m, 1h, 90d)")]
    NotANumber(String),
    #[error("'{text}': unknown unit '{unit}' (use ms, s, m, h or d)")]
    UnknownUnit { text: String, unit: String },
    #[error("'{0}': a duration must be positive")]
    Zero(String),
}

/// Parses `500ms`, `30s`, `5m`, `1h`, `90d` (a bare number means seconds).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| DurationError::NotANumber(text.to_string()))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        other => {
            return Err(DurationError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
            })
        }
    };
    if d.is_zero() {
        return Err(DurationError::Zero(text.to_string()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse("0s").is_err());
        assert!(parse("5 weeks").is_err());
        assert!(parse("fast").is_err());
    }

    #[test]
    fn messages_are_as_documented() {
        assert_eq!(
            parse("fast").unwrap_err().to_string(),
            "'fast' is not a duration (use e.g. 500ms, 30s, 5m, 1h, 90d)"
        );
        assert_eq!(
            parse("5 weeks").unwrap_err().to_string(),
            "'5 weeks': unknown unit 'weeks' (use ms, s, m, h or d)"
        );
        assert_eq!(
            parse("0s").unwrap_err().to_string(),
            "'0s': a duration must be positive"
        );
    }
}
