//! `logging.yaml`: level, format and what may appear in logs.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Logging settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// `trace|debug|info|warn|error`; v3.1 spellings `WARNING` and `CRITICAL` are accepted.
    pub level: String,
    pub format: LogFormat,
    /// Log user and channel ids (at debug level only). Message text is never logged.
    pub include_ids: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Human,
            include_ids: false,
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LoggingConfig {
    /// The level as a `tracing` filter directive.
    pub fn filter_directive(&self) -> Option<&'static str> {
        Some(match self.level.trim().to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" | "warning" => "warn",
            "error" | "critical" => "error",
            _ => return None,
        })
    }
}

impl Validate for LoggingConfig {
    fn validate(&self, v: &mut Validator) {
        v.ensure(
            self.filter_directive().is_some(),
            "level",
            &self.level,
            "must be one of trace, debug, info, warn (warning), error (critical)",
        );
    }
}
