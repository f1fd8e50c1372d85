//! What the decision says about itself: gaps, confidence, staff review, categories, method.

use std::collections::BTreeSet;

use ash_config::{CrisisLevel, PatternEffect};

use super::{Evidence, Rule};
use crate::ensemble::EnsembleResult;
use crate::head::HeadResult;

/// Whether the models disagree among themselves, or with the patterns.
pub(super) fn gaps(
    e: &Evidence<'_>,
    ensemble: Option<&EnsembleResult>,
    pattern_level: CrisisLevel,
    pattern_score: f64,
    rules: &mut BTreeSet<Rule>,
) -> bool {
    if !e.config.features.gap_detection {
        return false;
    }
    let gap_cfg = &e.config.analysis.gap_detection;
    let gaps = ensemble.is_some_and(|r| {
        let models_disagree = r.disagreement
            || r.spread > gap_cfg.max_score_spread
            || r.level_distance >= gap_cfg.max_level_distance;
        let mismatch = r.level.rank().abs_diff(pattern_level.rank()) >= gap_cfg.max_level_distance
            && pattern_score > 0.0;
        models_disagree || mismatch
    });
    if gaps {
        rules.insert(Rule::GapDetected);
    }
    gaps
}

/// Why staff should look (empty: they need not).
pub(super) fn staff_review_reasons(
    e: &Evidence<'_>,
    level: CrisisLevel,
    confidence: f64,
    gaps_detected: bool,
) -> Vec<String> {
    let review = &e.config.analysis.staff_review;
    let mut reasons = Vec::new();
    // `always_at_or_above` is validated to be at most `high`.
    if level >= review.always_at_or_above {
        reasons.push(format!("level {level} always needs staff"));
    }
    if e.config.features.staff_review_rules {
        if gaps_detected && review.on_disagreement {
            reasons.push("models disagree".to_owned());
        }
        if level == CrisisLevel::Medium && confidence < review.medium_confidence_below {
            reasons.push(format!("medium with low confidence ({confidence:.2})"));
        }
        if level == CrisisLevel::Low && confidence < review.low_confidence_below {
            reasons.push(format!("low with low confidence ({confidence:.2})"));
        }
    }
    if e.degraded.is_some() && level >= CrisisLevel::Low {
        reasons.push("analysis degraded (models missing)".to_owned());
    }
    reasons
}

/// Pattern categories and salient model labels.
pub(super) fn categories(e: &Evidence<'_>) -> Vec<String> {
    let mut categories: BTreeSet<String> = e
        .patterns
        .iter()
        .filter(|m| m.effect == PatternEffect::Crisis && !m.negated)
        .filter_map(|m| m.category.clone())
        .collect();
    for r in e.roles.values() {
        if r.top_severity >= 0.3 && !r.top_label.is_empty() {
            categories.insert(r.top_label.clone());
        }
    }
    categories.into_iter().collect()
}

/// Confidence from agreement and margin, not from the score itself:
/// - agreement among roles (1 − spread of their scores),
/// - agreement between patterns and models (level distance),
/// - margin: how far inside its level band the score lies.
///
/// It is then lowered for missing roles and raised to 0.8 when an explicit rule set the level.
pub(super) fn confidence(
    e: &Evidence<'_>,
    head: Option<&HeadResult>,
    ensemble: Option<&EnsembleResult>,
    pattern_level: CrisisLevel,
    (level, score): (CrisisLevel, f64),
    floor_applied: bool,
) -> f64 {
    let t = e.thresholds;
    // With the head deciding, its probability for the chosen level stands in for role agreement.
    let role_agreement = match (head, ensemble, e.roles.len()) {
        (Some(h), _, _) => h.chosen_probability(),
        (None, None, _) => 0.3,
        (None, Some(_), 1) => 0.75,
        (None, Some(r), _) => 1.0 - r.spread.clamp(0.0, 1.0),
    };
    let model_level = head.map(|h| h.level).or(ensemble.map(|r| r.level));
    let evidence_agreement = match model_level {
        Some(l) if !e.patterns.is_empty() => {
            1.0 - f64::from(l.rank().abs_diff(pattern_level.rank())) / 4.0
        }
        Some(_) => 0.8,
        None => 0.4,
    };
    let (lo, hi) = crate::head::band(t, level);
    let half = ((hi - lo) / 2.0).max(1e-9);
    let margin = match level {
        CrisisLevel::None => ((hi - score) / (hi - lo).max(1e-9)).clamp(0.0, 1.0),
        CrisisLevel::Critical => ((score - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0),
        _ => ((score - lo).min(hi - score) / half).clamp(0.0, 1.0),
    };
    let mut c = 0.45 * role_agreement + 0.2 * evidence_agreement + 0.35 * margin;
    if e.expected_roles > 0 {
        c *= 0.5 + 0.5 * (e.roles.len() as f64 / e.expected_roles as f64);
    }
    if floor_applied {
        c = c.max(0.8);
    }
    if !c.is_finite() {
        return 0.0;
    }
    (c * 1000.0).round() / 1000.0
}

pub(super) fn method(e: &Evidence<'_>, mode: &str) -> String {
    let mut method = if e.roles.is_empty() {
        "patterns_only".to_owned()
    } else if e.stages.patterns {
        format!("ensemble_{mode}+patterns")
    } else {
        format!("ensemble_{mode}")
    };
    if let Some(d) = &e.degraded {
        method.push_str(";degraded=");
        method.push_str(&d.reason);
    }
    method
}
