//! `crisis_score` is on the clients' scale: Ash-Bot's own grading of it gives back the level, for
//! every message, model answer, ensemble mode, head mode and calibrated thresholds.

mod common;

use ash_analysis::scale::{client_level, round_for_clients};
use ash_analysis::{LearnedAdjustment, ModelEvidence};
use ash_config::{EnsembleMode, RiskHeadMode};
use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;

const TEXTS: &[&str] = &[
    "anyone up for pizza?",
    "I'm going to take all these pills tonight, this is goodbye",
    "i want to die",
    "rough day at work, kinda tired",
    "my friend said she's going to kill herself tonight",
    "two years ago I tried to end it, I'm doing much better now",
    "lol this boss fight is killing me",
    "",
];

fn unit_embedding(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut v: Vec<f32> = (0..384)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= norm);
    v
}

/// One analyzer per ensemble mode and head mode, built once (compiling patterns is the slow part).
fn analyzer_for(mode: EnsembleMode, head: RiskHeadMode) -> &'static ash_analysis::Analyzer {
    static ALL: OnceLock<Vec<(EnsembleMode, RiskHeadMode, ash_analysis::Analyzer)>> =
        OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut all = Vec::new();
        for mode in [
            EnsembleMode::Consensus,
            EnsembleMode::Majority,
            EnsembleMode::Weighted,
        ] {
            for head in [
                RiskHeadMode::Decide,
                RiskHeadMode::Shadow,
                RiskHeadMode::Off,
            ] {
                let a = analyzer_with(|c| {
                    let mut analysis = (*c.analysis).clone();
                    analysis.ensemble.mode = mode;
                    analysis.risk_head.mode = head;
                    c.analysis = std::sync::Arc::new(analysis);
                });
                all.push((mode, head, a));
            }
        }
        all
    });
    all.iter()
        .find(|(m, h, _)| *m == mode && *h == head)
        .map(|(_, _, a)| a)
        .expect("every combination is built")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_clients_grading_of_crisis_score_is_the_level(
        text in proptest::sample::select(TEXTS),
        scores in proptest::collection::vec(0.0f64..=1.0, 3),
        // Wide enough that some bands close up against the clamp at 0.01 or 0.99.
        calibrated in proptest::option::of(-0.6f64..0.6),
        mode in proptest::sample::select(&[EnsembleMode::Consensus, EnsembleMode::Majority, EnsembleMode::Weighted][..]),
        head in proptest::sample::select(&[RiskHeadMode::Decide, RiskHeadMode::Shadow, RiskHeadMode::Off][..]),
        seed in any::<u64>(),
        degraded in any::<bool>(),
    ) {
        let a = analyzer_for(mode, head);
        let mut out = outputs(&scores);
        out.embedding = Some(unit_embedding(seed));
        let adjustment = calibrated.map(|offset| LearnedAdjustment {
            threshold_offset: offset,
            ..LearnedAdjustment::default()
        });
        let evidence = if degraded {
            ModelEvidence::Unavailable { kind: ash_types::FailureKind::Timeout, detail: "test" }
        } else {
            ModelEvidence::Outputs(&out)
        };
        let d = a.analyze_adjusted(text, evidence, adjustment.as_ref());
        let rounded = round_for_clients(d.crisis_score);
        prop_assert_eq!(client_level(rounded), d.level, "score {}", d.crisis_score);
    }
}
