//! Accuracy of the whole analysis (default model + patterns + decision) on the project's own
//! labelled sample, `tests/data/phrases`. Regressions below these floors fail the build.

use std::sync::Arc;

use ash_analysis::corpus::{Split, read_corpus};
use ash_analysis::eval::{Outcome, Phrase, categories, read_dataset};
use ash_analysis::{Analyzer, ModelEvidence};
use ash_config::CrisisLevel;
use ash_models::{ModelCoordinator, ModelsState};
use ash_tests::{repo_root, shipped_config};

#[test]
fn the_shipped_sample_meets_its_accuracy_floors() {
    let phrases = read_dataset(&repo_root().join("tests/data/phrases")).expect("sample");
    let outcomes = outcomes_of(&phrases);
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

/// Runs `phrases` through the shipped models and analysis (the risk head included).
fn outcomes_of(phrases: &[Phrase]) -> Vec<Outcome> {
    let config = Arc::new(shipped_config());
    let coordinator = ModelCoordinator::start(&config);
    assert_eq!(
        coordinator.status().state,
        ModelsState::Ready,
        "run `cargo xtask setup` first"
    );
    let analyzer = Analyzer::new(Arc::clone(&config)).expect("analyzer");
    let mut outcomes = Vec::with_capacity(phrases.len());
    for chunk in phrases.chunks(32) {
        let texts: Vec<&str> = chunk.iter().map(|p| p.message.as_str()).collect();
        for (phrase, out) in chunk.iter().zip(coordinator.infer_batch_blocking(&texts)) {
            let d = analyzer.analyze(&phrase.message, ModelEvidence::Outputs(&out));
            assert!(d.degraded.is_none(), "{:?}", d.degraded);
            assert!(d.head.is_some(), "the shipped risk head did not run");
            outcomes.push(Outcome {
                phrase: phrase.clone(),
                level: d.level,
                score: d.crisis_score,
                degraded: false,
                roles: Default::default(),
                pattern_score: d.pattern_score,
            });
        }
    }
    outcomes
}

/// The held-out test split of the corpus (never used to design or tune anything). The floors sit
/// a little under the figures measured when the head was trained (docs/analysis.md), so a
/// regression in the head, the patterns or the decision fails the build.
#[test]
fn the_corpus_test_split_meets_its_floors() {
    let corpus = read_corpus(&repo_root().join("data/corpus")).expect("corpus");
    let phrases: Vec<Phrase> = corpus
        .messages
        .iter()
        .filter(|m| m.split() == Split::Test)
        .map(|m| m.to_phrase())
        .collect();
    let outcomes = outcomes_of(&phrases);
    let share = |keep: &dyn Fn(&Outcome) -> bool, ok: &dyn Fn(&Outcome) -> bool| {
        let kept: Vec<&Outcome> = outcomes.iter().filter(|o| keep(o)).collect();
        kept.iter().filter(|o| ok(o)).count() as f64 / kept.len().max(1) as f64
    };
    let crisis = |o: &Outcome| o.phrase.expected.iter().all(|l| *l >= CrisisLevel::High);
    let overall = share(&|_| true, &Outcome::correct);
    let recall = share(&crisis, &|o| o.level >= CrisisLevel::High);
    let none = share(
        &|o| o.phrase.expected == [CrisisLevel::None],
        &Outcome::correct,
    );
    let as_none = outcomes
        .iter()
        .filter(|o| crisis(o) && o.level == CrisisLevel::None)
        .count();
    let figures = format!(
        "overall {overall:.3}, high/critical recall {recall:.3}, none {none:.3}, crisis answered none {as_none}"
    );
    assert!(overall >= TEST_SPLIT_FLOORS.overall, "{figures}");
    assert!(recall >= TEST_SPLIT_FLOORS.crisis_recall, "{figures}");
    assert!(none >= TEST_SPLIT_FLOORS.none, "{figures}");
    assert!(as_none <= TEST_SPLIT_FLOORS.crisis_as_none, "{figures}");
}

struct Floors {
    overall: f64,
    crisis_recall: f64,
    none: f64,
    crisis_as_none: usize,
}

/// Measured when the shipped head was trained (`cargo xtask eval --dataset data/corpus --split
/// test`, 1,352 messages): overall 78.3%, high/critical recall 87.1%, `none` 80.0%, 14 crises
/// answered none. The split grew with six new passes whose crises are hard (the previous head
/// answered 15 of them none on this split; on the 1,036 messages the split held before, the
/// shipped head answers 6 none where the previous one answered 7).
const TEST_SPLIT_FLOORS: Floors = Floors {
    overall: 0.76,
    crisis_recall: 0.85,
    none: 0.77,
    crisis_as_none: 16,
};
