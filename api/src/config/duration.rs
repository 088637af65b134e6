//! A duration in the configuration file, parsed once when the file is read. It keeps the text as written
//! (`config check` shows it back) and the parsed value; a text that does not parse keeps its error, so the
//! config checks report it under its key like every other bad value (`invalid config: KEY: …`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

use super::ConfigError;
use crate::duration::DurationError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationSetting {
    text: String,
    value: Result<Duration, DurationError>,
}

impl DurationSetting {
    /// The value, or why the configured text is not a duration.
    pub fn value(&self) -> Result<Duration, &DurationError> {
        self.value.as_ref().copied()
    }

    /// The value, or the config error that names `key` (the setting's full path, e.g.
    /// `server.shutdownGrace`).
    pub fn get(&self, key: &str) -> Result<Duration, ConfigError> {
        self.value()
            .map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))
    }
}

impl From<&str> for DurationSetting {
    fn from(text: &str) -> Self {
        Self {
            text: text.to_string(),
            value: crate::duration::parse(text),
        }
    }
}

impl Serialize for DurationSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|text| Self::from(text.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_when_read_and_shown_as_written() {
        let good: DurationSetting = serde_yaml_ng::from_str("90s").unwrap();
        assert_eq!(good.value(), Ok(Duration::from_secs(90)));
        assert_eq!(serde_yaml_ng::to_string(&good).unwrap().trim(), "90s");
        let bad: DurationSetting = serde_yaml_ng::from_str("soon").unwrap();
        assert_eq!(
            bad.get("catalog.refresh.interval").unwrap_err().to_string(),
            "invalid config: catalog.refresh.interval: 'soon' is not a duration (use e.g. 500ms, 30s, 5m, 1h, 90d)"
        );
    }
}
