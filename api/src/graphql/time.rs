//! The `DateTime` scalar: how the API writes a stored time (milliseconds since the epoch, UTC) and reads
//! one from a client. One spelling out, RFC 3339 in UTC with milliseconds and `Z`
//! (`2026-12-01T12:00:00.000Z`); any RFC 3339 timestamp in.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use super::errors::{ApiError, GqlResultExt};

/// An RFC 3339 timestamp. The API writes it in UTC with milliseconds and `Z`
/// (`2026-12-01T12:00:00.000Z`); it reads any RFC 3339 timestamp with an offset
/// (`2026-12-01T13:00:00+01:00`, `2026-12-01T12:00:00Z`). Anything else is `BAD_USER_INPUT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateTime(String);

/// An RFC 3339 timestamp. Output is always UTC with milliseconds and `Z` (`2026-12-01T12:00:00.000Z`);
/// input is any RFC 3339 timestamp with an offset, anything else is `BAD_USER_INPUT`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        // The text is checked where the argument is read (`DateTime::millis`), so that the error names the
        // field; here only its type.
        match value {
            Value::String(s) => Ok(DateTime(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl DateTime {
    /// `ms` (milliseconds since the epoch) in the one output spelling, or `None` when out of range.
    pub fn from_millis(ms: i64) -> Option<Self> {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| DateTime(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
    }

    /// `1970-01-01T00:00:00.000Z`, for a stored time out of range where the field cannot be null.
    pub fn epoch() -> Self {
        DateTime("1970-01-01T00:00:00.000Z".into())
    }

    /// A client's timestamp as milliseconds since the epoch; `BAD_USER_INPUT` naming `field` when it is
    /// not RFC 3339.
    pub fn millis(&self, field: &str) -> async_graphql::Result<i64> {
        chrono::DateTime::parse_from_rfc3339(&self.0)
            .map(|d| d.timestamp_millis())
            .map_err(|_| {
                ApiError::BadUserInput(format!("{field}: '{}' is not an RFC 3339 time", self.0))
            })
            .gql()
    }
}

/// `ms` as a `DateTime`, or `None` when there is no time (or it is out of range).
pub fn timestamp(ms: Option<i64>) -> Option<DateTime> {
    ms.and_then(DateTime::from_millis)
}

/// An optional timestamp argument or input field as milliseconds since the epoch.
pub fn parse(field: &str, v: Option<DateTime>) -> async_graphql::Result<Option<i64>> {
    v.map(|t| t.millis(field)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_out() {
        let out = |ms| timestamp(Some(ms)).map(|t| t.0);
        assert_eq!(
            out(1_714_557_600_123).as_deref(),
            Some("2024-05-01T10:00:00.123Z")
        );
        assert_eq!(
            out(1_714_557_600_000).as_deref(),
            Some("2024-05-01T10:00:00.000Z")
        );
        assert_eq!(timestamp(None), None);
        assert_eq!(timestamp(Some(i64::MAX)), None);
    }

    #[test]
    fn any_rfc3339_in() {
        let ms = |s: &str| DateTime(s.into()).millis("at").ok();
        assert_eq!(ms("2024-05-01T10:00:00Z"), Some(1_714_557_600_000));
        assert_eq!(ms("2024-05-01T12:00:00.123+02:00"), Some(1_714_557_600_123));
        assert_eq!(ms("2024-05-01"), None);
        assert_eq!(ms("yesterday"), None);
        assert!(DateTime::parse(Value::Number(5.into())).is_err());
    }
}
