//! The maths of learning from staff corrections, kept beside the analysis that uses it so that
//! thresholds are chosen in one place. The server's learning layer stores corrections and keeps
//! what [`calibrate`] and [`Exemplar`] derive from them; the analyzer turns a
//! [`LearnedAdjustment`] into the thresholds of one request ([`thresholds_in_effect`]).
//!
//! - **Exemplar memory.** The nearest correction whose embedding is at least
//!   `learning.similarity_threshold` similar pulls the score toward its corrected level, by at
//!   most `learning.max_shift`; a repeat (`repeat_similarity`) gets the corrected level.
//! - **Threshold calibration.** Corrections since the last reset are replayed in time order:
//!   each false positive raises every level threshold by `step` (less sensitive), each false
//!   negative lowers them; at most `max_adjustments_per_day` count per UTC day, and the total
//!   stays within `±max_drift`.

use std::collections::BTreeMap;

use ash_config::{CalibrationConfig, Config, CrisisLevel, LearningConfig, LevelThresholds};
pub use ash_types::CorrectionKind;
use ash_types::vector;

/// What staff corrections say about one message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnedAdjustment {
    /// The level the nearest correction says this message should have.
    pub exemplar_level: Option<CrisisLevel>,
    /// How much of the way to move toward it, 0–1.
    pub strength: f64,
    /// Cosine similarity to the nearest correction.
    pub similarity: Option<f64>,
    /// Largest score change allowed.
    pub max_shift: f64,
    /// The message is (nearly) identical to a corrected one: take the corrected level.
    pub exact: bool,
    /// How far calibration moved every level threshold (0: not calibrated).
    pub threshold_offset: f64,
    /// Identifies the correction, for the explanation.
    pub exemplar_id: Option<String>,
}

impl LearnedAdjustment {
    /// Calibration moved the thresholds.
    pub fn calibrated(&self) -> bool {
        self.threshold_offset != 0.0
    }
}

/// The thresholds one analysis uses: the configured ones for the ensemble mode, moved by the
/// calibration offset. The only place the analysis (and the calibration status) reads them.
pub fn thresholds_in_effect(config: &Config, offset: f64) -> LevelThresholds {
    let base = config
        .analysis
        .thresholds
        .for_mode(config.analysis.ensemble.mode);
    let s = |v: f64| (v + offset).clamp(0.01, 0.99);
    LevelThresholds {
        low: s(base.low),
        medium: s(base.medium),
        high: s(base.high),
        critical: s(base.critical),
    }
}

/// One correction as calibration reads it.
#[derive(Clone, Copy, Debug)]
pub struct CalibrationEvent<'a> {
    pub id: &'a str,
    pub kind: CorrectionKind,
    /// Unix seconds.
    pub received_at: u64,
}

/// The calibration derived from the stored corrections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calibration {
    /// How far every threshold moved, within `±max_drift`.
    pub offset: f64,
    /// Correction id → how much it moved the thresholds (0 when rate-limited or capped).
    pub moved: BTreeMap<String, f64>,
}

/// Replays the corrections received at or after `reset_at` into a threshold offset. Derived from
/// the corrections alone, so deleting one removes its effect.
pub fn calibrate<'a>(
    events: impl IntoIterator<Item = CalibrationEvent<'a>>,
    reset_at: u64,
    c: &CalibrationConfig,
) -> Calibration {
    let mut calibration = Calibration::default();
    if !c.enabled {
        return calibration;
    }
    let mut ordered: Vec<CalibrationEvent<'a>> = events
        .into_iter()
        .filter(|x| x.received_at >= reset_at)
        .collect();
    ordered.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(b.id)));
    let mut per_day: BTreeMap<u64, u32> = BTreeMap::new();
    for x in ordered {
        let day = per_day.entry(x.received_at / 86_400).or_default();
        if *day >= c.max_adjustments_per_day {
            calibration.moved.insert(x.id.to_owned(), 0.0);
            continue;
        }
        *day += 1;
        let step = match x.kind {
            CorrectionKind::FalsePositive => c.step,
            CorrectionKind::FalseNegative => -c.step,
        };
        let offset = calibration.offset;
        let next = (offset + step).clamp(-c.max_drift, c.max_drift);
        // Sums of steps are not exact in floating point; a sliver against the cap is no move.
        let delta = if (next - offset).abs() < 1e-9 {
            0.0
        } else {
            next - offset
        };
        calibration.moved.insert(x.id.to_owned(), delta);
        calibration.offset = next;
    }
    calibration
}

/// A correction remembered by its message's embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub id: String,
    /// Unit length, so a dot product is the cosine.
    embedding: Vec<f32>,
    pub level: CrisisLevel,
}

impl Exemplar {
    /// Normalises the embedding: imports may carry any vector.
    pub fn new(id: String, mut embedding: Vec<f32>, level: CrisisLevel) -> Self {
        vector::normalize(&mut embedding);
        Self {
            id,
            embedding,
            level,
        }
    }
}

/// What the corrections say about a message with this embedding (unit length, as the embedding
/// models produce it); `None` when nothing applies.
pub fn adjustment(
    exemplars: &[Exemplar],
    threshold_offset: f64,
    embedding: Option<&[f32]>,
    learning: &LearningConfig,
) -> Option<LearnedAdjustment> {
    let nearest = embedding.and_then(|e| {
        exemplars
            .iter()
            .map(|x| (x, f64::from(vector::dot(e, &x.embedding))))
            .filter(|(_, sim)| *sim >= learning.similarity_threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    });
    if nearest.is_none() && threshold_offset == 0.0 {
        return None;
    }
    Some(LearnedAdjustment {
        exemplar_level: nearest.map(|(x, _)| x.level),
        strength: 1.0,
        similarity: nearest.map(|(_, sim)| sim),
        max_shift: learning.max_shift,
        exact: nearest.is_some_and(|(_, sim)| sim >= learning.repeat_similarity),
        threshold_offset,
        exemplar_id: nearest.map(|(x, _)| x.id.clone()),
    })
}
