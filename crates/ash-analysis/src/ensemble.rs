//! Per-role crisis scores and the three ensemble modes.

use std::collections::BTreeMap;

use ash_config::{CrisisLevel, EnsembleMode, LevelThresholds};
use ash_types::RoleOutput;
use serde::Serialize;

/// One role's reading of the message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleResult {
    pub model: String,
    /// Σ probability × severity (single-label) or max of it (multi-label), in [0, 1].
    pub score: f64,
    pub level: CrisisLevel,
    pub weight: f64,
    pub top_label: String,
    pub top_probability: f64,
    pub top_severity: f64,
}

/// A role's crisis score from its label distribution and the labels' severities.
pub fn role_score(output: &RoleOutput) -> f64 {
    let products = output
        .labels
        .iter()
        .map(|l| l.probability.clamp(0.0, 1.0) * l.severity.clamp(0.0, 1.0));
    let score = if output.multi_label {
        products.fold(0.0, f64::max)
    } else {
        let total: f64 = output.labels.iter().map(|l| l.probability.max(0.0)).sum();
        let weighted: f64 = products.sum();
        if total > 0.0 { weighted / total } else { 0.0 }
    };
    if score.is_finite() {
        score.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Reads every role.
pub fn role_results(
    outputs: &BTreeMap<String, RoleOutput>,
    thresholds: &LevelThresholds,
) -> BTreeMap<String, RoleResult> {
    outputs
        .iter()
        .map(|(role, out)| {
            let score = role_score(out);
            let top = out.top();
            (
                role.clone(),
                RoleResult {
                    model: out.model.clone(),
                    score,
                    level: thresholds.level_for(score),
                    weight: out.weight,
                    top_label: top.map(|l| l.id.clone()).unwrap_or_default(),
                    top_probability: top.map_or(0.0, |l| l.probability),
                    top_severity: top.map_or(0.0, |l| l.severity),
                },
            )
        })
        .collect()
}

/// What the ensemble concluded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnsembleResult {
    pub score: f64,
    pub level: CrisisLevel,
    /// Consensus mode only: the roles did not all agree.
    pub disagreement: bool,
    /// Largest minus smallest role score.
    pub spread: f64,
    /// Largest distance between role levels, in steps.
    pub level_distance: u8,
}

/// Combines role results under `mode`. `None` when there is no role.
pub fn combine(
    roles: &BTreeMap<String, RoleResult>,
    mode: EnsembleMode,
    thresholds: &LevelThresholds,
) -> Option<EnsembleResult> {
    if roles.is_empty() {
        return None;
    }
    let total_weight: f64 = roles.values().map(|r| r.weight.max(0.0)).sum();
    let weighted_mean = if total_weight > 0.0 {
        roles
            .values()
            .map(|r| r.score * r.weight.max(0.0))
            .sum::<f64>()
            / total_weight
    } else {
        roles.values().map(|r| r.score).sum::<f64>() / roles.len() as f64
    };
    let max = roles.values().map(|r| r.score).fold(f64::MIN, f64::max);
    let min = roles.values().map(|r| r.score).fold(f64::MAX, f64::min);
    let max_level = roles.values().map(|r| r.level).max().unwrap_or_default();
    let min_level = roles.values().map(|r| r.level).min().unwrap_or_default();
    let level_distance = max_level.rank() - min_level.rank();
    let (score, level, disagreement) = match mode {
        EnsembleMode::Weighted => (weighted_mean, thresholds.level_for(weighted_mean), false),
        EnsembleMode::Majority => {
            let mut votes: BTreeMap<CrisisLevel, usize> = BTreeMap::new();
            for r in roles.values() {
                *votes.entry(r.level).or_default() += 1;
            }
            // Most votes wins; among equal counts the higher (safer) level wins, because the map
            // iterates levels upward and `max_by_key` keeps the last maximum.
            let winner = votes
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(l, _)| *l)
                .unwrap_or_default();
            let voters: Vec<f64> = roles
                .values()
                .filter(|r| r.level == winner)
                .map(|r| r.score)
                .collect();
            let score = voters.iter().sum::<f64>() / voters.len().max(1) as f64;
            (score, winner, false)
        }
        EnsembleMode::Consensus => {
            let agreed = level_distance == 0;
            (weighted_mean, thresholds.level_for(weighted_mean), !agreed)
        }
    };
    Some(EnsembleResult {
        score,
        level,
        disagreement,
        spread: max - min,
        level_distance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ash_types::LabelScore;

    fn role(score: f64, weight: f64) -> RoleResult {
        let t = LevelThresholds::default();
        RoleResult {
            model: "m".into(),
            score,
            level: t.level_for(score),
            weight,
            top_label: "x".into(),
            top_probability: 1.0,
            top_severity: score,
        }
    }

    fn roles(scores: &[(f64, f64)]) -> BTreeMap<String, RoleResult> {
        scores
            .iter()
            .enumerate()
            .map(|(i, (s, w))| (format!("r{i}"), role(*s, *w)))
            .collect()
    }

    #[test]
    fn role_score_is_expected_severity() {
        let out = RoleOutput {
            model: "m".into(),
            kind: ash_config::ModelKind::Embedding,
            weight: 1.0,
            multi_label: false,
            labels: vec![
                LabelScore {
                    id: "a".into(),
                    probability: 0.5,
                    severity: 1.0,
                },
                LabelScore {
                    id: "b".into(),
                    probability: 0.5,
                    severity: 0.0,
                },
            ],
        };
        assert!((role_score(&out) - 0.5).abs() < 1e-12);
        let multi = RoleOutput {
            multi_label: true,
            ..out
        };
        assert!((role_score(&multi) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn weighted_is_the_weighted_mean() {
        let t = LevelThresholds::default();
        let r = combine(
            &roles(&[(0.9, 0.5), (0.1, 0.25), (0.1, 0.25)]),
            EnsembleMode::Weighted,
            &t,
        )
        .expect("some");
        assert!((r.score - 0.5).abs() < 1e-12);
        assert_eq!(r.level, CrisisLevel::Medium);
    }

    #[test]
    fn majority_is_a_vote_not_a_mean() {
        let t = LevelThresholds::default();
        // Two lows outvote one critical, whatever the weights; a mean would say medium.
        let r = combine(
            &roles(&[(0.95, 0.8), (0.25, 0.1), (0.3, 0.1)]),
            EnsembleMode::Majority,
            &t,
        )
        .expect("some");
        assert_eq!(r.level, CrisisLevel::Low);
        assert!((r.score - 0.275).abs() < 1e-12);
        assert_eq!(r.level_distance, 3);
    }

    #[test]
    fn majority_ties_go_to_the_higher_level() {
        let t = LevelThresholds::default();
        let r = combine(
            &roles(&[(0.7, 1.0), (0.1, 1.0)]),
            EnsembleMode::Majority,
            &t,
        )
        .expect("some");
        assert_eq!(r.level, CrisisLevel::High);
        let three = combine(
            &roles(&[(0.7, 1.0), (0.45, 1.0), (0.1, 1.0)]),
            EnsembleMode::Majority,
            &t,
        )
        .expect("some");
        assert_eq!(three.level, CrisisLevel::High);
    }

    #[test]
    fn consensus_reports_disagreement() {
        let t = LevelThresholds::default();
        let agree = combine(
            &roles(&[(0.45, 1.0), (0.5, 1.0)]),
            EnsembleMode::Consensus,
            &t,
        )
        .expect("some");
        assert!(!agree.disagreement);
        let disagree = combine(
            &roles(&[(0.45, 1.0), (0.65, 1.0)]),
            EnsembleMode::Consensus,
            &t,
        )
        .expect("some");
        assert!(disagree.disagreement);
        assert!(combine(&BTreeMap::new(), EnsembleMode::Consensus, &t).is_none());
    }
}
