//! `analysis.yaml`: how model and pattern evidence become a level.

use serde::{Deserialize, Serialize};

use super::CrisisLevel;
use crate::validate::{Validate, Validator};

/// Ensemble, thresholds, gap detection and staff review.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    pub ensemble: EnsembleConfig,
    pub thresholds: ModeThresholds,
    pub gap_detection: GapDetectionConfig,
    pub staff_review: StaffReviewConfig,
    pub decision: DecisionConfig,
    pub learning: LearningConfig,
    pub risk_head: RiskHeadUse,
    /// How a user's recent messages are read (`message_history`).
    pub context: super::ContextConfig,
}

/// How the trained risk head (`risk_head.yaml`) takes part in decisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskHeadUse {
    pub mode: RiskHeadMode,
    /// While the head decides, a zero-shot ensemble result of `high` or above still raises the
    /// answer to `high`: a second reader of the message. On validation, with the shipped head, it
    /// catches one more crisis for 0.1 points of accuracy (docs/analysis.md); it stays on because
    /// a tie goes to the safer answer.
    pub ensemble_raises_to_high: bool,
}

impl Default for RiskHeadUse {
    fn default() -> Self {
        Self {
            mode: RiskHeadMode::Decide,
            ensemble_raises_to_high: true,
        }
    }
}

/// `decide`: the head's level is the main signal; `shadow`: it is computed beside the ensemble
/// decision and disagreements are counted, but it decides nothing; `off`: not computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskHeadMode {
    Off,
    Shadow,
    #[default]
    Decide,
}

impl RiskHeadMode {
    /// The lowercase name used in config, metrics and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskHeadMode::Off => "off",
            RiskHeadMode::Shadow => "shadow",
            RiskHeadMode::Decide => "decide",
        }
    }
}

/// What staff corrections may change, and how far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// A stored correction applies to messages at least this similar (cosine of embeddings).
    pub similarity_threshold: f64,
    /// At or above this similarity the message counts as a repeat: it gets the corrected level.
    pub repeat_similarity: f64,
    /// Largest change a similar (not repeated) correction may make to a score.
    pub max_shift: f64,
    pub calibration: CalibrationConfig,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self {
            similarity_threshold: 0.82,
            repeat_similarity: 0.97,
            max_shift: 0.5,
            calibration: CalibrationConfig::default(),
        }
    }
}

/// Threshold calibration from corrections: false positives make detection a little less
/// sensitive, false negatives a little more, within a cap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrationConfig {
    pub enabled: bool,
    /// Threshold change per correction.
    pub step: f64,
    /// Largest total change of any threshold, either way.
    pub max_drift: f64,
    /// Corrections per UTC day that may move the thresholds (the rest are kept as exemplars).
    pub max_adjustments_per_day: u32,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            step: 0.005,
            max_drift: 0.05,
            max_adjustments_per_day: 20,
        }
    }
}

/// How evidence becomes a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionConfig {
    /// At or above this level the answer says `needs_response: true`.
    pub needs_response_at_or_above: CrisisLevel,
    /// Most that reducers (idioms, games, quotes, sarcasm, negation) can take off a score, as a
    /// fraction of it.
    pub max_reduction: f64,
    /// Most that amplifiers (urgency, intensity) can add, as a fraction of the existing score.
    pub max_amplification: f64,
    /// How much agreeing model and pattern evidence adds beyond the stronger of the two.
    pub agreement_boost: f64,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        Self {
            needs_response_at_or_above: CrisisLevel::Medium,
            max_reduction: 0.85,
            max_amplification: 0.5,
            agreement_boost: 0.25,
        }
    }
}

/// How the per-role results are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnsembleMode {
    /// Every role must agree on the level; disagreement is a gap.
    Consensus,
    /// A vote over the per-role levels; ties go to the higher (safer) level.
    Majority,
    /// Weighted mean of the per-role crisis scores.
    #[default]
    Weighted,
}

impl EnsembleMode {
    /// The lowercase name used in config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EnsembleMode::Consensus => "consensus",
            EnsembleMode::Majority => "majority",
            EnsembleMode::Weighted => "weighted",
        }
    }
}

/// Ensemble settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleConfig {
    pub mode: EnsembleMode,
}

/// Score thresholds for each level, per ensemble mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModeThresholds {
    pub consensus: LevelThresholds,
    pub majority: LevelThresholds,
    pub weighted: LevelThresholds,
}

impl Default for ModeThresholds {
    fn default() -> Self {
        let t = LevelThresholds::default();
        Self {
            consensus: t.clone(),
            majority: t.clone(),
            weighted: t,
        }
    }
}

impl ModeThresholds {
    /// The thresholds of `mode`.
    pub fn for_mode(&self, mode: EnsembleMode) -> &LevelThresholds {
        match mode {
            EnsembleMode::Consensus => &self.consensus,
            EnsembleMode::Majority => &self.majority,
            EnsembleMode::Weighted => &self.weighted,
        }
    }
}

/// The lowest crisis score at which each level starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelThresholds {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
}

impl Default for LevelThresholds {
    fn default() -> Self {
        Self {
            low: 0.15,
            medium: 0.4,
            high: 0.6,
            critical: 0.85,
        }
    }
}

impl LevelThresholds {
    /// The level a score falls in.
    pub fn level_for(&self, score: f64) -> CrisisLevel {
        if score >= self.critical {
            CrisisLevel::Critical
        } else if score >= self.high {
            CrisisLevel::High
        } else if score >= self.medium {
            CrisisLevel::Medium
        } else if score >= self.low {
            CrisisLevel::Low
        } else {
            CrisisLevel::None
        }
    }
}

/// When the models disagree enough that a person should look.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GapDetectionConfig {
    /// Largest spread (max − min) of per-role crisis scores before it counts as a gap.
    pub max_score_spread: f64,
    /// Largest distance between per-role levels (in steps) before it counts as a gap.
    pub max_level_distance: u8,
}

impl Default for GapDetectionConfig {
    fn default() -> Self {
        Self {
            max_score_spread: 0.4,
            max_level_distance: 2,
        }
    }
}

/// When a result must go to staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffReviewConfig {
    /// At or above this level staff always review.
    pub always_at_or_above: CrisisLevel,
    /// A `medium` result below this confidence goes to staff.
    pub medium_confidence_below: f64,
    /// A `low` result below this confidence goes to staff.
    pub low_confidence_below: f64,
    /// Model disagreement (a gap) sends the result to staff.
    pub on_disagreement: bool,
}

impl Default for StaffReviewConfig {
    fn default() -> Self {
        Self {
            always_at_or_above: CrisisLevel::High,
            medium_confidence_below: 0.45,
            low_confidence_below: 0.3,
            on_disagreement: true,
        }
    }
}

impl Validate for AnalysisConfig {
    fn validate(&self, v: &mut Validator) {
        v.at("thresholds", |v| {
            for (mode, t) in [
                ("consensus", &self.thresholds.consensus),
                ("majority", &self.thresholds.majority),
                ("weighted", &self.thresholds.weighted),
            ] {
                v.at(mode, |v| {
                    for (key, value) in [
                        ("low", t.low),
                        ("medium", t.medium),
                        ("high", t.high),
                        ("critical", t.critical),
                    ] {
                        v.unit(key, value);
                    }
                    let ordered =
                        0.0 < t.low && t.low < t.medium && t.medium < t.high && t.high < t.critical;
                    v.ensure(
                        ordered,
                        "",
                        format!(
                            "low={} medium={} high={} critical={}",
                            t.low, t.medium, t.high, t.critical
                        ),
                        "levels must rise strictly: 0 < low < medium < high < critical",
                    );
                });
            }
        });
        v.at("gap_detection", |v| {
            v.unit("max_score_spread", self.gap_detection.max_score_spread);
            v.range(
                "max_level_distance",
                self.gap_detection.max_level_distance,
                1,
                4,
            );
        });
        v.at("decision", |v| {
            v.unit("max_reduction", self.decision.max_reduction);
            v.unit("max_amplification", self.decision.max_amplification);
            v.unit("agreement_boost", self.decision.agreement_boost);
            v.ensure(
                self.decision.needs_response_at_or_above >= CrisisLevel::Low,
                "needs_response_at_or_above",
                self.decision.needs_response_at_or_above,
                "must be low or above",
            );
            v.ensure(
                self.decision.needs_response_at_or_above <= CrisisLevel::High,
                "needs_response_at_or_above",
                self.decision.needs_response_at_or_above,
                "must not be above high: every high result needs a response",
            );
        });
        v.at("learning", |v| {
            let l = &self.learning;
            v.range("similarity_threshold", l.similarity_threshold, 0.5, 1.0);
            v.range("repeat_similarity", l.repeat_similarity, 0.5, 1.0);
            v.ensure(
                l.repeat_similarity >= l.similarity_threshold,
                "repeat_similarity",
                l.repeat_similarity,
                "must be at least similarity_threshold",
            );
            v.unit("max_shift", l.max_shift);
            v.at("calibration", |v| {
                v.range("step", l.calibration.step, 0.0, 0.1);
                v.range("max_drift", l.calibration.max_drift, 0.0, 0.2);
                v.range(
                    "max_adjustments_per_day",
                    l.calibration.max_adjustments_per_day,
                    0,
                    100_000,
                );
            });
        });
        v.at("context", |v| self.context.validate(v));
        v.at("staff_review", |v| {
            v.unit(
                "medium_confidence_below",
                self.staff_review.medium_confidence_below,
            );
            v.unit(
                "low_confidence_below",
                self.staff_review.low_confidence_below,
            );
            v.ensure(
                self.staff_review.always_at_or_above >= CrisisLevel::Medium,
                "always_at_or_above",
                self.staff_review.always_at_or_above,
                "must be medium, high or critical (high and critical results always need staff)",
            );
            v.ensure(
                self.staff_review.always_at_or_above <= CrisisLevel::High,
                "always_at_or_above",
                self.staff_review.always_at_or_above,
                "must not be above high: every high result needs staff",
            );
        });
    }
}
