//! Learning from staff corrections: stored durably (see [`store`]), used in two bounded,
//! explainable ways.
//!
//! - **Exemplar memory.** The nearest stored correction whose embedding is at least
//!   `learning.similarity_threshold` similar pulls the score toward its corrected level, by at
//!   most `learning.max_shift`; a repeat (`repeat_similarity`) gets the corrected level.
//! - **Threshold calibration.** Corrections since the last reset are replayed in time order:
//!   each false positive raises every level threshold by `step` (less sensitive), each false
//!   negative lowers them; at most `max_adjustments_per_day` count per UTC day, and the total stays
//!   within `±max_drift`. Derived from the stored corrections, so deleting one removes its effect.
//!
//! The safety floors of the analysis apply after both: no correction lowers explicit intent below
//! `high`.

pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use ash_analysis::LearnedAdjustment;
use ash_config::{CalibrationConfig, Config, CrisisLevel, LevelThresholds, StorageBackend};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use store::{Correction, CorrectionKind, CorrectionStore, StoreError};

/// What was learned, in memory.
#[derive(Debug, Default)]
struct Memory {
    version: Option<u64>,
    exemplars: Vec<(String, Vec<f32>, CrisisLevel)>,
    /// Correction id → how much it moved the thresholds (0 when rate-limited or capped).
    moved: BTreeMap<String, f64>,
    offset: f64,
    count: u64,
}

/// Calibration state, for the admin API and `/stats`.
#[derive(Clone, Debug, Serialize)]
pub struct CalibrationStatus {
    pub offset: f64,
    pub max_drift: f64,
    pub corrections_applied: usize,
    pub reset_at: u64,
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

/// Replays corrections after `reset_at` into a threshold offset.
fn calibrate(
    corrections: &[Correction],
    reset_at: u64,
    c: &CalibrationConfig,
) -> (f64, BTreeMap<String, f64>) {
    let mut ordered: Vec<&Correction> = corrections
        .iter()
        .filter(|x| x.received_at >= reset_at)
        .collect();
    ordered.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
    let mut offset = 0.0f64;
    let mut per_day: BTreeMap<u64, u32> = BTreeMap::new();
    let mut moved = BTreeMap::new();
    if !c.enabled {
        return (0.0, moved);
    }
    for x in ordered {
        let day = per_day.entry(x.received_at / 86_400).or_default();
        if *day >= c.max_adjustments_per_day {
            moved.insert(x.id.clone(), 0.0);
            continue;
        }
        *day += 1;
        let step = match x.kind {
            CorrectionKind::FalsePositive => c.step,
            CorrectionKind::FalseNegative => -c.step,
        };
        let next = (offset + step).clamp(-c.max_drift, c.max_drift);
        // Sums of steps are not exact in floating point; a sliver against the cap is no move.
        let delta = if (next - offset).abs() < 1e-9 {
            0.0
        } else {
            next - offset
        };
        moved.insert(x.id.clone(), delta);
        offset = next;
    }
    (offset, moved)
}

/// The configured thresholds moved by `offset`, kept ordered and inside (0, 1).
fn shifted(t: &LevelThresholds, offset: f64) -> LevelThresholds {
    let s = |v: f64| (v + offset).clamp(0.01, 0.99);
    LevelThresholds {
        low: s(t.low),
        medium: s(t.medium),
        high: s(t.high),
        critical: s(t.critical),
    }
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
        let (offset, moved) = calibrate(&all, reset_at, &config.analysis.learning.calibration);
        let exemplars = all
            .iter()
            .filter_map(|c| {
                c.embedding.clone().map(|mut e| {
                    // Unit length (imports may carry any vector), so a dot product is the cosine.
                    ash_models::scoring::normalize(&mut e);
                    (c.id.clone(), e, c.correct_level)
                })
            })
            .collect();
        self.memory.store(Arc::new(Memory {
            version: Some(version),
            exemplars,
            moved,
            offset,
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
        let learning = &config.analysis.learning;
        let base = config
            .analysis
            .thresholds
            .for_mode(config.analysis.ensemble.mode);
        let thresholds = (memory.offset != 0.0).then(|| shifted(base, memory.offset));
        let nearest = embedding.and_then(|e| {
            memory
                .exemplars
                .iter()
                .map(|(id, v, level)| (id, f64::from(ash_models::scoring::dot(e, v)), *level))
                .filter(|(_, sim, _)| *sim >= learning.similarity_threshold)
                .max_by(|a, b| a.1.total_cmp(&b.1))
        });
        if nearest.is_none() && thresholds.is_none() {
            return None;
        }
        Some(LearnedAdjustment {
            exemplar_level: nearest.map(|(_, _, level)| level),
            strength: 1.0,
            similarity: nearest.map(|(_, sim, _)| sim),
            max_shift: learning.max_shift,
            exact: nearest.is_some_and(|(_, sim, _)| sim >= learning.repeat_similarity),
            thresholds,
            exemplar_id: nearest.map(|(id, _, _)| id.clone()),
        })
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
        let base = config
            .analysis
            .thresholds
            .for_mode(config.analysis.ensemble.mode);
        CalibrationStatus {
            offset: memory.offset,
            max_drift: config.analysis.learning.calibration.max_drift,
            corrections_applied: memory.moved.values().filter(|m| **m != 0.0).count(),
            reset_at: self.reset_at().unwrap_or(0),
            thresholds: shifted(base, memory.offset),
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

    fn config() -> CalibrationConfig {
        CalibrationConfig {
            enabled: true,
            step: 0.005,
            max_drift: 0.05,
            max_adjustments_per_day: 20,
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

    #[test]
    fn a_thousand_identical_corrections_stay_within_the_drift_cap() {
        // Spread over many days so the daily limit is not what stops them.
        let all: Vec<Correction> = (0..1000)
            .map(|i| correction(i, CorrectionKind::FalsePositive, i * 3600))
            .collect();
        let (offset, _) = calibrate(&all, 0, &config());
        assert!((offset - 0.05).abs() < 1e-12, "{offset}");
        let all: Vec<Correction> = (0..1000)
            .map(|i| correction(i, CorrectionKind::FalseNegative, i * 3600))
            .collect();
        let (offset, moved) = calibrate(&all, 0, &config());
        assert!((offset + 0.05).abs() < 1e-12);
        assert_eq!(moved.values().filter(|m| **m != 0.0).count(), 10);
    }

    #[test]
    fn false_positives_make_detection_less_sensitive_and_false_negatives_more() {
        let t = LevelThresholds::default();
        let (fp, _) = calibrate(
            &[correction(1, CorrectionKind::FalsePositive, 10)],
            0,
            &config(),
        );
        assert!(shifted(&t, fp).high > t.high);
        let (fnn, _) = calibrate(
            &[correction(1, CorrectionKind::FalseNegative, 10)],
            0,
            &config(),
        );
        assert!(shifted(&t, fnn).high < t.high);
    }

    #[test]
    fn the_daily_limit_and_the_reset_hold() {
        let same_day: Vec<Correction> = (0..100)
            .map(|i| correction(i, CorrectionKind::FalseNegative, 1000 + i))
            .collect();
        let c = CalibrationConfig {
            max_drift: 1.0,
            ..config()
        };
        let (offset, _) = calibrate(&same_day, 0, &c);
        assert!((offset + 20.0 * 0.005).abs() < 1e-9, "{offset}");
        let (after_reset, _) = calibrate(&same_day, 2000, &c);
        assert_eq!(after_reset, 0.0);
    }
}
