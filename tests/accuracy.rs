//! Accuracy of the whole analysis (default model + patterns + decision) on the project's own
//! labelled sample, `tests/data/phrases`. Regressions below these floors fail the build.

use std::sync::Arc;

use ash_analysis::eval::{Outcome, categories, read_dataset};
use ash_analysis::{Analyzer, ModelEvidence};
use ash_config::CrisisLevel;
use ash_models::{ModelCoordinator, ModelsState};
use ash_tests::{repo_root, shipped_config};

#[test]
fn the_shipped_sample_meets_its_accuracy_floors() {
    let config = Arc::new(shipped_config());
    let coordinator = ModelCoordinator::start(&config);
    assert_eq!(
        coordinator.status().state,
        ModelsState::Ready,
        "run `cargo xtask setup` first: {:#?}",
        coordinator.status()
    );
    let analyzer = Analyzer::new(Arc::clone(&config)).expect("analyzer");
    let phrases = read_dataset(&repo_root().join("tests/data/phrases")).expect("sample");
    let texts: Vec<&str> = phrases.iter().map(|p| p.message.as_str()).collect();
    let outputs = coordinator.infer_batch_blocking(&texts);
    let outcomes: Vec<Outcome> = phrases
        .iter()
        .zip(&outputs)
        .map(|(phrase, out)| {
            let d = analyzer.analyze(&phrase.message, ModelEvidence::Outputs(out));
            assert!(d.degraded.is_none(), "{:?}", d.degraded);
            Outcome {
                phrase: phrase.clone(),
                level: d.level,
                score: d.crisis_score,
                degraded: false,
                roles: Default::default(),
                pattern_score: d.pattern_score,
            }
        })
        .collect();
    let report = categories(&outcomes);
    let floors = [
        ("high", 0.85),
        ("medium", 0.75),
        ("low", 0.75),
        ("none", 0.9),
        ("maybe_high_medium", 0.8),
        ("maybe_medium_low", 0.8),
        ("maybe_low_none", 0.8),
    ];
    for (category, floor) in floors {
        let c = report
            .iter()
            .find(|c| c.category == category)
            .expect("category in sample");
        assert!(
            c.accuracy >= floor,
            "{category}: {:.1}% < {:.0}% ({:?})",
            c.accuracy * 100.0,
            floor * 100.0,
            c.predicted
        );
    }
    // The worst failure is a missed crisis: no high phrase may come back as none.
    for o in outcomes
        .iter()
        .filter(|o| o.phrase.expected == [CrisisLevel::High])
    {
        assert!(
            o.level > CrisisLevel::None,
            "high phrase answered none: {:?}",
            o.phrase.message
        );
    }
}
