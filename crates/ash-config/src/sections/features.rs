//! `features.yaml`: stage switches, the rollback lever. Each can be flipped by hot reload.
//!
//! The safety rules (explicit intent keeps a result at `high` or above, failures are never
//! reported as `none`) have no switch: they are not a feature.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Which analysis stages run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Model ensemble (off: patterns only, reported as degraded).
    pub ensemble_analysis: bool,
    /// Pattern matching as a whole.
    pub patterns: bool,
    /// Reducer families (idioms, gaming, quotes, sarcasm, negation).
    pub reducers: bool,
    /// Amplifier families (temporal urgency and context).
    pub context_amplifiers: bool,
    /// LGBTQIA+ community stressor families.
    pub community_patterns: bool,
    /// Model-disagreement detection.
    pub gap_detection: bool,
    /// Staff-review rules beyond the level floor (confidence, gaps).
    pub staff_review_rules: bool,
    /// Adjustments learned from staff corrections.
    pub learned_adjustments: bool,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            ensemble_analysis: true,
            patterns: true,
            reducers: true,
            context_amplifiers: true,
            community_patterns: true,
            gap_detection: true,
            staff_review_rules: true,
            learned_adjustments: true,
        }
    }
}

impl FeaturesConfig {
    /// Looks a switch up by its key name (pattern families name theirs in `feature`).
    pub fn by_name(&self, name: &str) -> Option<bool> {
        Some(match name {
            "ensemble_analysis" => self.ensemble_analysis,
            "patterns" => self.patterns,
            "reducers" => self.reducers,
            "context_amplifiers" => self.context_amplifiers,
            "community_patterns" => self.community_patterns,
            "gap_detection" => self.gap_detection,
            "staff_review_rules" => self.staff_review_rules,
            "learned_adjustments" => self.learned_adjustments,
            _ => return None,
        })
    }
}

impl Validate for FeaturesConfig {
    fn validate(&self, _v: &mut Validator) {}
}
