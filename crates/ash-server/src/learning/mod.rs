//! Learning from staff corrections: stored durably (see [`store`]) and kept in memory as what
//! [`ash_analysis::learning`] derives from them (exemplars and a calibration offset). The maths,
//! and how an adjustment changes an analysis, live on the analysis side; this layer owns storage,
//! refresh across replicas, retention, and the admin operations.
//!
//! The safety floors of the analysis apply after both: no correction lowers explicit intent below
//! `high`.

pub mod store;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use ash_analysis::learning::{self, Exemplar, LearnedAdjustment};
use ash_config::{Config, CrisisLevel, LevelThresholds, StorageBackend};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use store::{Correction, CorrectionKind, CorrectionStore, StoreError};

/// What was learned, in memory.
#[derive(Debug, Default)]
struct Memory {
    version: Option<u64>,
    exemplars: Vec<Exemplar>,
    calibration: learning::Calibration,
    count: u64,
}

/// Calibration state, for the admin API and `/stats`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CalibrationStatus {
    pub offset: f64,
    pub max_drift: f64,
    pub corrections_applied: usize,
    pub reset_at: u64,
    #[schema(value_type = Object)]
    pub thresholds: LevelThresholds,
}

/// What recording a correction changed.
#[derive(Clone, Copy, Debug)]
pub struct Effects {
    /// The correction is now an exemplar (it had an embedding).
    pub exemplar: bool,
    /// It moved the calibrated thresholds.
    pub calibration_moved: bool,
}

/// The learning layer.
pub struct Learning {
    store: Box<dyn CorrectionStore>,
    memory: ArcSwap<Memory>,
    hash_key: String,
}

impl std::fmt::Debug for Learning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learning")
            .field("store", &self.store.describe())
            .finish()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Learning {
    /// Opens the configured store and loads what it holds.
    pub fn open(config: &Config) -> Result<Self, StoreError> {
        let store: Box<dyn CorrectionStore> = match config.storage.backend {
            StorageBackend::Embedded => {
                Box::new(store::EmbeddedStore::open(&config.storage.data_dir)?)
            }
            StorageBackend::Redis => {
                let url = config.storage.redis_url.as_ref().ok_or_else(|| {
                    StoreError("storage.redis_url is required for the redis backend".into())
                })?;
                Box::new(store::RedisStore::open(url.expose())?)
            }
        };
        let fresh_key = hex::encode(uuid::Uuid::new_v4().as_bytes())
            + &hex::encode(uuid::Uuid::new_v4().as_bytes());
        let hash_key = store.init_meta("hash_key", &fresh_key)?;
        let learning = Self {
            store,
            memory: ArcSwap::from_pointee(Memory::default()),
            hash_key,
        };
        learning.refresh(config)?;
        Ok(learning)
    }

    /// Where corrections are kept.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Reloads everything from the store (after a change here or on another replica).
    pub fn refresh(&self, config: &Config) -> Result<(), StoreError> {
        let version = self.store.version()?;
        let all = self.store.all()?;
        let reset_at = self.reset_at()?;
        let calibration = learning::calibrate(
            all.iter().map(Correction::calibration_event),
            reset_at,
            &config.analysis.learning.calibration,
        );
        let exemplars = all
            .iter()
            .filter_map(|c| {
                c.embedding
                    .clone()
                    .map(|e| Exemplar::new(c.id.clone(), e, c.correct_level))
            })
            .collect();
        self.memory.store(Arc::new(Memory {
            version: Some(version),
            exemplars,
            calibration,
            count: all.len() as u64,
        }));
        Ok(())
    }

    /// Refreshes when the store changed since the last look (cheap when it did not).
    pub fn sync(&self, config: &Config) -> Result<bool, StoreError> {
        let version = self.store.version()?;
        if self.memory.load().version == Some(version) {
            return Ok(false);
        }
        self.refresh(config)?;
        Ok(true)
    }

    fn reset_at(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .meta("calibration_reset_at")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Keyed hash of a message's normalised text.
    pub fn hash(&self, message: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.hash_key.as_bytes());
        h.update(message.trim().to_lowercase().as_bytes());
        hex::encode(h.finalize())
    }

    /// Stores a correction durably and applies it; returns it with what it changed.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        config: &Config,
        kind: CorrectionKind,
        message: &str,
        detected_level: CrisisLevel,
        correct_level: CrisisLevel,
        source: &str,
        embedding: Option<Vec<f32>>,
    ) -> Result<(Correction, Effects), StoreError> {
        let correction = Correction {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            detected_level,
            correct_level,
            received_at: now(),
            source: source.to_owned(),
            message_hash: self.hash(message),
            message_chars: message.chars().count(),
            message: config
                .storage
                .retain_message_text
                .then(|| message.to_owned()),
            embedding,
        };
        self.store.put(&correction)?;
        self.refresh(config)?;
        let moved = self
            .memory
            .load()
            .calibration
            .moved
            .get(&correction.id)
            .copied()
            .unwrap_or(0.0);
        let effects = Effects {
            exemplar: correction.embedding.is_some(),
            calibration_moved: moved != 0.0,
        };
        Ok((correction, effects))
    }

    /// What corrections say about a message with this embedding (unit length, as the embedding
    /// models produce it).
    pub fn adjustment(
        &self,
        embedding: Option<&[f32]>,
        config: &Config,
    ) -> Option<LearnedAdjustment> {
        let memory = self.memory.load();
        learning::adjustment(
            &memory.exemplars,
            memory.calibration.offset,
            embedding,
            &config.analysis.learning,
        )
    }

    /// Every stored correction.
    pub fn list(&self) -> Result<Vec<Correction>, StoreError> {
        let mut all = self.store.all()?;
        all.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// Removes a correction and its effect.
    pub fn delete(&self, config: &Config, id: &str) -> Result<bool, StoreError> {
        let removed = self.store.delete(id)?;
        if removed {
            self.store.erase_deleted()?;
        }
        self.refresh(config)?;
        Ok(removed)
    }

    /// Deletes the corrections older than `storage.retention_days` (none when it is 0); returns
    /// how many went.
    pub fn purge_expired(&self, config: &Config, now_unix: u64) -> Result<usize, StoreError> {
        let days = u64::from(config.storage.retention_days);
        if days == 0 {
            return Ok(0);
        }
        let cutoff = now_unix.saturating_sub(days * 86_400);
        let mut purged = 0;
        for c in self.store.all()? {
            if c.received_at < cutoff && self.store.delete(&c.id)? {
                purged += 1;
            }
        }
        if purged > 0 {
            self.store.erase_deleted()?;
            self.refresh(config)?;
            tracing::info!(
                purged,
                retention_days = days,
                "expired staff corrections deleted"
            );
        }
        Ok(purged)
    }

    /// Adds exported corrections (same ids replace).
    pub fn import(&self, config: &Config, corrections: &[Correction]) -> Result<usize, StoreError> {
        for c in corrections {
            self.store.put(c)?;
        }
        self.refresh(config)?;
        Ok(corrections.len())
    }

    /// Forgets the calibration: only corrections after now move the thresholds.
    pub fn reset_calibration(&self, config: &Config) -> Result<(), StoreError> {
        self.store
            .set_meta("calibration_reset_at", &(now() + 1).to_string())?;
        self.refresh(config)
    }

    /// Calibration state.
    pub fn calibration(&self, config: &Config) -> CalibrationStatus {
        let memory = self.memory.load();
        let offset = memory.calibration.offset;
        CalibrationStatus {
            offset,
            max_drift: config.analysis.learning.calibration.max_drift,
            corrections_applied: memory
                .calibration
                .moved
                .values()
                .filter(|m| **m != 0.0)
                .count(),
            reset_at: self.reset_at().unwrap_or(0),
            thresholds: learning::thresholds_in_effect(config, offset),
        }
    }

    /// Corrections stored.
    pub fn count(&self) -> u64 {
        self.memory.load().count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correction(i: u64, kind: CorrectionKind, at: u64) -> Correction {
        Correction {
            id: format!("c{i:05}"),
            kind,
            detected_level: CrisisLevel::High,
            correct_level: CrisisLevel::None,
            received_at: at,
            source: "test".into(),
            message_hash: String::new(),
            message_chars: 1,
            message: None,
            embedding: None,
        }
    }

    #[test]
    fn corrections_past_their_retention_are_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut storage = ash_config::StorageConfig {
            data_dir: dir.path().to_path_buf(),
            retention_days: 30,
            ..ash_config::StorageConfig::default()
        };
        let shipped = ash_tests::shipped_config();
        let config = |storage: &ash_config::StorageConfig| Config {
            storage: std::sync::Arc::new(storage.clone()),
            ..shipped.clone()
        };
        let learning = Learning::open(&config(&storage)).expect("open");
        let day = 86_400;
        let now = 1_000 * day;
        learning
            .store
            .put(&correction(
                1,
                CorrectionKind::FalsePositive,
                now - 31 * day,
            ))
            .expect("put");
        learning
            .store
            .put(&correction(
                2,
                CorrectionKind::FalsePositive,
                now - 29 * day,
            ))
            .expect("put");
        storage.retention_days = 0;
        assert_eq!(
            learning
                .purge_expired(&config(&storage), now)
                .expect("purge"),
            0
        );
        storage.retention_days = 30;
        assert_eq!(
            learning
                .purge_expired(&config(&storage), now)
                .expect("purge"),
            1
        );
        let left: Vec<String> = learning
            .list()
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(left, vec!["c00002"]);
    }
}
