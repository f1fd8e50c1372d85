//! `storage.yaml`: where staff corrections and learned state are kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::validate::{Validate, Validator};

/// Storage settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Redis connection URL (may hold a password), for `backend: redis`.
    pub redis_url: Option<Secret>,
    /// Keep the text of corrected messages. Off: only a keyed hash and the embedding are kept.
    pub retain_message_text: bool,
    /// How often a replica checks the shared store for corrections made on other replicas.
    pub sync_interval_ms: u64,
    /// Corrections hold embeddings of people's messages: they are deleted this many days after
    /// they were made (checked with every sync). 0 keeps them until deleted through the admin API.
    pub retention_days: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Embedded,
            data_dir: PathBuf::from("data"),
            redis_url: None,
            retain_message_text: false,
            sync_interval_ms: 1_000,
            retention_days: 365,
        }
    }
}

/// Where shared state lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A file on this node (one replica).
    #[default]
    Embedded,
    /// A Redis server shared by every replica.
    Redis,
}

impl Validate for StorageConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("retention_days", self.retention_days, 0, 36_500);
        if self.backend == StorageBackend::Redis && self.redis_url.is_none() {
            v.problem("redis_url", None, "is required when `backend: redis`");
        }
        if let Some(url) = &self.redis_url
            && !(url.expose().starts_with("redis://")
                || url.expose().starts_with("rediss://")
                || url.expose().starts_with("unix://"))
        {
            v.problem(
                "redis_url",
                None,
                "must start with redis://, rediss:// or unix://",
            );
        }
        v.range("sync_interval_ms", self.sync_interval_ms, 100, 600_000);
    }
}
