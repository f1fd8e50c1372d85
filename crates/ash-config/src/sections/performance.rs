//! `performance.yaml`: the configuration cache and reload watching.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Cache and reload settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerformanceConfig {
    pub config_cache: ConfigCacheConfig,
    pub reload: ReloadConfig,
}

/// The parsed-file cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigCacheConfig {
    pub enabled: bool,
    /// Parsed files kept; the least recently used is evicted beyond it.
    pub max_entries: usize,
    /// How long a cached file is trusted before its modification time and size are checked again.
    pub check_interval_ms: u64,
}

impl Default for ConfigCacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 50,
            check_interval_ms: 1_000,
        }
    }
}

/// Hot reload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch the config directory and reload on change.
    pub watch: bool,
    /// How often the watcher looks for changes.
    pub poll_interval_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch: true,
            poll_interval_ms: 2_000,
        }
    }
}

impl Validate for PerformanceConfig {
    fn validate(&self, v: &mut Validator) {
        v.at("config_cache", |v| {
            v.range("max_entries", self.config_cache.max_entries, 1, 250);
            v.range(
                "check_interval_ms",
                self.config_cache.check_interval_ms,
                0,
                3_600_000,
            );
        });
        v.at("reload", |v| {
            v.range(
                "poll_interval_ms",
                self.reload.poll_interval_ms,
                50,
                3_600_000,
            );
        });
    }
}
