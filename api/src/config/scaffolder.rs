//! `scaffolder`: the task workers every server runs and the bounds on their renderings.

use super::duration::DurationSetting;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `scaffolder`: the task workers every server runs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ScaffolderConfig {
    /// Tasks one server runs at once (0: this server runs no tasks).
    pub concurrency: usize,
    /// A running task whose worker has not heartbeated for this long is recovered (failed).
    #[serde(alias = "stale_after")]
    pub stale_after: DurationSetting,
    /// How often a worker renews its claim on a running task.
    pub heartbeat: DurationSetting,
    /// Longest a task may run.
    #[serde(alias = "task_timeout")]
    pub task_timeout: DurationSetting,
    /// Instructions one rendering (one `${{ }}` string, one skeleton file) may execute.
    pub render_fuel: u64,
    /// Bytes one expression or string, and one step's whole input, may render to.
    pub max_render_bytes: usize,
    /// Bytes one skeleton file rendered by `fetch:template` may have.
    pub max_file_bytes: usize,
}

impl Default for ScaffolderConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            stale_after: "30s".into(),
            heartbeat: "2s".into(),
            task_timeout: "1h".into(),
            render_fuel: crate::scaffolder::expr::DEFAULT_LIMITS.fuel,
            max_render_bytes: crate::scaffolder::expr::DEFAULT_LIMITS.max_render_bytes,
            max_file_bytes: crate::scaffolder::expr::DEFAULT_LIMITS.max_file_bytes,
        }
    }
}

impl ScaffolderConfig {
    pub fn settings(&self) -> Result<crate::scaffolder::worker::WorkerSettings, ConfigError> {
        let d = |key: &str, v: &DurationSetting| v.get(&format!("scaffolder.{key}"));
        let settings = crate::scaffolder::worker::WorkerSettings {
            concurrency: self.concurrency,
            heartbeat: d("heartbeat", &self.heartbeat)?,
            stale_after: d("staleAfter", &self.stale_after)?,
            task_timeout: d("taskTimeout", &self.task_timeout)?,
            render: crate::scaffolder::expr::Limits {
                fuel: self.render_fuel,
                max_render_bytes: self.max_render_bytes,
                max_file_bytes: self.max_file_bytes,
            },
            ..Default::default()
        };
        if self.render_fuel == 0 || self.max_render_bytes == 0 || self.max_file_bytes == 0 {
            return Err(ConfigError::Invalid(
                "scaffolder.renderFuel, maxRenderBytes and maxFileBytes must be at least 1".into(),
            ));
        }
        if settings.stale_after < settings.heartbeat * 3 {
            return Err(ConfigError::Invalid(
                "scaffolder.staleAfter must be at least three heartbeats".into(),
            ));
        }
        Ok(settings)
    }
}
