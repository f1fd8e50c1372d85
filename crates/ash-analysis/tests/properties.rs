//! Property tests (and the fuzz-style run over normalisation + patterns that CI executes).

mod common;

use ash_analysis::normalize::normalize;
use ash_config::CrisisLevel;
use common::*;
use proptest::prelude::*;

fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z' ,.!?]{0,200}",
        // Words from the vocabulary the patterns care about, in random order.
        proptest::collection::vec(
            prop_oneof![
                Just("i"),
                Just("want"),
                Just("to"),
                Just("die"),
                Just("not"),
                Just("don't"),
                Just("kill"),
                Just("myself"),
                Just("lol"),
                Just("tonight"),
                Just("boss"),
                Just("\u{2019}"),
                Just("\""),
                Just("never"),
                Just("trans"),
                Just("\u{200B}"),
                Just("sooooo"),
                Just("/s"),
                Just("\n")
            ],
            0..30
        )
        .prop_map(|w| w.join(" ")),
    ]
}

fn role_scores() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(0.0f64..=1.0, 0..=3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn scores_and_confidence_stay_in_unit_range(text in texts(), scores in role_scores()) {
        let d = analyze(analyzer(), &text, &scores);
        prop_assert!((0.0..=1.0).contains(&d.crisis_score), "score {}", d.crisis_score);
        prop_assert!((0.0..=1.0).contains(&d.confidence), "confidence {}", d.confidence);
        prop_assert!((0.0..=1.0).contains(&d.pattern_score));
    }

    #[test]
    fn analysis_is_deterministic(text in texts(), scores in role_scores()) {
        let a = analyzer();
        prop_assert_eq!(analyze(a, &text, &scores), analyze(a, &text, &scores));
    }

    #[test]
    fn adding_explicit_intent_never_lowers_the_level(text in texts(), scores in role_scores()) {
        let a = analyzer();
        let before = analyze(a, &text, &scores);
        let after = analyze(a, &format!("{text}. I want to kill myself"), &scores);
        prop_assert!(after.level >= before.level, "{:?} -> {:?}", before.level, after.level);
        prop_assert!(after.level >= CrisisLevel::High);
    }
}

proptest! {
    // The fuzz-style run: many inputs through normalisation and matching, looking for panics.
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn normalisation_and_matching_never_panic(text in texts()) {
        let n = normalize(&text);
        prop_assert!(n.key.starts_with(' ') && n.key.ends_with(' '));
        prop_assert!(!n.key.contains("  "));
        let _ = patterns_only(analyzer(), &text);
    }
}

#[test]
fn extreme_inputs_do_not_panic() {
    let a = analyzer();
    let megabyte = "I want to die ".repeat(75_000);
    let control: String = (0u8..32).map(char::from).collect();
    for text in [
        String::new(),
        megabyte,
        "x".repeat(1 << 20),
        control,
        "死にたい مرحبا שלום 👋🏳️‍🌈 I want to die".to_owned(),
        "\u{FEFF}\u{202E}kill myself\u{202C}".to_owned(),
        "a\u{0301}\u{0301}\u{0301}".repeat(1000),
    ] {
        let d = analyze(a, &text, &[0.5]);
        assert!((0.0..=1.0).contains(&d.crisis_score));
    }
    assert!(patterns_only(a, &"I want to die ".repeat(75_000)).level >= CrisisLevel::High);
}
