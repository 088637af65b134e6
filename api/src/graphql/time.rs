//! How the API writes a stored time (milliseconds since the epoch, UTC) as RFC 3339 text: one function,
//! two spellings that clients already read and that must not change.

/// The spelling of a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `2024-05-01T10:00:00.123+00:00` (fraction only when there is one): deployments, sources, the audit
    /// log.
    Offset,
    /// `2024-05-01T10:00:00.123Z`, always with milliseconds: scaffolder tasks and events, as Backstage's
    /// scaffolder API writes them.
    Millis,
}

/// `ms` as RFC 3339 text, or `None` when there is no time (or it is out of range).
pub fn timestamp(ms: Option<i64>, style: Style) -> Option<String> {
    let t = ms.and_then(chrono::DateTime::from_timestamp_millis)?;
    Some(match style {
        Style::Offset => t.to_rfc3339(),
        Style::Millis => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_as_clients_read_them() {
        let ms = Some(1_714_557_600_123);
        assert_eq!(
            timestamp(ms, Style::Offset).as_deref(),
            Some("2024-05-01T10:00:00.123+00:00")
        );
        assert_eq!(
            timestamp(Some(1_714_557_600_000), Style::Offset).as_deref(),
            Some("2024-05-01T10:00:00+00:00")
        );
        assert_eq!(
            timestamp(Some(1_714_557_600_000), Style::Millis).as_deref(),
            Some("2024-05-01T10:00:00.000Z")
        );
        assert_eq!(timestamp(None, Style::Millis), None);
    }
}
