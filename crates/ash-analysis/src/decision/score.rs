//! The score before the safety rules: ensemble and patterns combined (or the head's score),
//! amplifiers, reducers and the learned adjustment.

use std::collections::{BTreeMap, BTreeSet};

use ash_config::PatternEffect;

use super::{Contributions, Evidence, Rule, representative_score};
use crate::ensemble::EnsembleResult;
use crate::head::HeadResult;
use crate::patterns::PatternMatch;

pub(super) fn noisy_or(weights: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - weights
        .into_iter()
        .fold(1.0, |acc, w| acc * (1.0 - w.clamp(0.0, 1.0)))
}

/// Strongest weight per family, for the matches `keep` selects.
pub(super) fn per_family(
    patterns: &[PatternMatch],
    keep: impl Fn(&PatternMatch) -> bool,
) -> Vec<f64> {
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for m in patterns.iter().filter(|m| keep(m)) {
        let w = best.entry(m.family.as_str()).or_default();
        *w = w.max(m.weight);
    }
    best.into_values().collect()
}

/// The score and how each term contributed to it.
pub(super) struct Scored {
    pub score: f64,
    pub contributions: Contributions,
}

/// Steps 3–5 of the formula and the learned adjustment (see the module documentation).
pub(super) fn score(
    e: &Evidence<'_>,
    deciding_head: Option<&HeadResult>,
    ensemble: Option<&EnsembleResult>,
    pattern_score: f64,
    explicit_intent: bool,
    rules: &mut BTreeSet<Rule>,
) -> Scored {
    let decision = &e.config.analysis.decision;
    let ensemble_score = ensemble.map_or(0.0, |r| r.score);
    let (hi, lo) = (
        ensemble_score.max(pattern_score),
        ensemble_score.min(pattern_score),
    );
    let combined = match deciding_head {
        // The head read the pattern families (amplifiers and reducers included) as features, so
        // they are not applied again.
        Some(head) => {
            rules.insert(Rule::RiskHead);
            head.score
        }
        None => hi + decision.agreement_boost * lo * (1.0 - hi),
    };
    let family_weight = |effect: PatternEffect, cap: f64| {
        if deciding_head.is_some() {
            0.0
        } else {
            noisy_or(per_family(&e.patterns, |m| m.effect == effect)).min(cap)
        }
    };
    let amplification = family_weight(PatternEffect::Amplifier, decision.max_amplification);
    let mut score = (combined * (1.0 + amplification)).min(1.0);
    if amplification > 0.0 && combined > 0.0 {
        rules.insert(Rule::AmplifiersApplied);
    }
    // A negated crisis match only loses its own weight; it does not reduce what the models say
    // (they read the negation themselves), so a wrongly detected negation cannot hide a crisis.
    let reduction = family_weight(PatternEffect::Reducer, decision.max_reduction);
    let mut applied_reduction = 0.0;
    if reduction > 0.0 {
        if explicit_intent {
            rules.insert(Rule::ReducersOverriddenByIntent);
        } else {
            score *= 1.0 - reduction;
            applied_reduction = reduction;
            rules.insert(Rule::ReducersApplied);
        }
    }
    let before_rules = score;
    let learned = learned_shift(e, &mut score, rules);
    Scored {
        score,
        contributions: Contributions {
            ensemble: ensemble_score,
            patterns: pattern_score,
            combined,
            amplification: if combined > 0.0 { amplification } else { 0.0 },
            reduction: applied_reduction,
            before_rules,
            learned,
        },
    }
}

/// Moves `score` toward the level of the nearest staff correction (bounded; a repeat takes the
/// corrected level). Explicit intent is protected afterwards by the floors.
fn learned_shift(e: &Evidence<'_>, score: &mut f64, rules: &mut BTreeSet<Rule>) -> f64 {
    let Some(adj) = e.adjustment else {
        return 0.0;
    };
    if adj.calibrated() {
        rules.insert(Rule::CalibratedThresholds);
    }
    let Some(target) = adj.exemplar_level else {
        return 0.0;
    };
    rules.insert(Rule::LearnedCorrection);
    let before = *score;
    let target_score = representative_score(e.thresholds, target);
    if adj.exact {
        *score = target_score;
        target_score - before
    } else {
        let shift = (target_score - before).clamp(-adj.max_shift, adj.max_shift) * adj.strength;
        *score = (before + shift).clamp(0.0, 1.0);
        shift
    }
}
