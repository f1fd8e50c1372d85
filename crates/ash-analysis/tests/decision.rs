//! The decision: ensemble modes, gap detection, safety rules, degraded mode, confidence, staff
//! review. Model outputs are synthetic; patterns are the shipped ones.

mod common;

use ash_analysis::{ModelEvidence, Rule};
use ash_config::{CrisisLevel, EnsembleMode};
use ash_types::{ModelFailure, ModelOutputs};
use common::*;

fn with_mode(mode: EnsembleMode) -> ash_analysis::Analyzer {
    analyzer_with(|c| {
        let mut analysis = (*c.analysis).clone();
        analysis.ensemble.mode = mode;
        c.analysis = std::sync::Arc::new(analysis);
    })
}

#[test]
fn critical_is_reachable_by_imminent_explicit_intent() {
    let a = analyzer();
    let d = analyze(
        a,
        "I'm going to take all these pills tonight, this is goodbye",
        &[0.3, 0.3, 0.3],
    );
    assert_eq!(d.level, CrisisLevel::Critical);
    assert!(d.rules.contains(&Rule::ExplicitIntentFloor));
    assert!(d.rules.contains(&Rule::ImminentRiskCritical));
    assert!(d.needs_response && d.requires_staff_review);
    assert!(d.crisis_score >= 0.85);
    assert_eq!(d.recommended_action, "immediate_intervention");
}

#[test]
fn critical_is_reachable_by_score_alone() {
    let d = analyze(analyzer(), "everything", &[1.0, 1.0, 1.0]);
    assert_eq!(d.level, CrisisLevel::Critical);
}

#[test]
fn explicit_intent_is_at_least_high_whatever_the_models_say() {
    let a = analyzer();
    for text in [
        "I want to kill myself",
        "I cut myself again",
        "everyone would be better off without me",
        "goodbye everyone, this is my last message",
    ] {
        let d = analyze(a, text, &[0.0, 0.0, 0.0]);
        assert!(d.level >= CrisisLevel::High, "{text}: {:?}", d.level);
        assert!(d.rules.contains(&Rule::ExplicitIntentFloor));
        assert!(
            d.confidence >= 0.8,
            "a rule-set level is confident: {}",
            d.confidence
        );
    }
}

#[test]
fn weighted_mode_is_a_weighted_mean_of_role_scores() {
    let d = analyze(
        &with_mode(EnsembleMode::Weighted),
        "plain words",
        &[0.9, 0.1, 0.1],
    );
    let expected = 0.4 * 0.9 + 0.3 * 0.1 + 0.3 * 0.1;
    assert!((d.ensemble_score.expect("ensemble") - expected).abs() < 1e-9);
}

#[test]
fn majority_mode_votes() {
    let d = analyze(
        &with_mode(EnsembleMode::Majority),
        "plain words",
        &[0.95, 0.05, 0.05],
    );
    assert_eq!(
        d.level,
        CrisisLevel::None,
        "two roles saying none outvote one"
    );
    assert!(d.gaps_detected, "such a split is a gap");
    assert!(d.requires_staff_review, "a gap goes to staff");
}

#[test]
fn consensus_disagreement_is_a_gap() {
    let a = with_mode(EnsembleMode::Consensus);
    let agree = analyze(&a, "plain words", &[0.5, 0.5, 0.5]);
    assert!(!agree.gaps_detected);
    let disagree = analyze(&a, "plain words", &[0.5, 0.3, 0.5]);
    assert!(disagree.gaps_detected);
    assert!(disagree.rules.contains(&Rule::GapDetected));
}

#[test]
fn gap_detection_can_be_switched_off() {
    let a = analyzer_with(|c| {
        let mut f = (*c.features).clone();
        f.gap_detection = false;
        c.features = std::sync::Arc::new(f);
    });
    let d = analyze(&a, "plain words", &[0.95, 0.05, 0.05]);
    assert!(!d.gaps_detected);
    assert!(!d.stages.gap_detection);
}

#[test]
fn patterns_and_models_disagreeing_is_a_gap() {
    // Strong pattern evidence (burden + hopelessness) while every model says none.
    let d = analyze(
        analyzer(),
        "I'm a burden and there's no way out",
        &[0.0, 0.0, 0.0],
    );
    assert!(d.gaps_detected, "{d:#?}");
}

#[test]
fn degraded_mode_decides_from_patterns_and_says_so() {
    let a = analyzer();
    let d = patterns_only(a, "I have nobody to talk to");
    assert!(d.degraded.is_some());
    assert_eq!(
        d.degraded.as_ref().map(|g| g.reason.as_str()),
        Some("model_timeout")
    );
    assert!(d.method.starts_with("patterns_only"), "{}", d.method);
    assert!(
        d.level >= CrisisLevel::Low,
        "crisis patterns never give none when degraded"
    );
    assert!(d.requires_staff_review);
    let quiet = patterns_only(a, "what a lovely day");
    assert_eq!(quiet.level, CrisisLevel::None);
    assert!(
        quiet.degraded.is_some(),
        "even a none answer says it is degraded"
    );
}

#[test]
fn a_partial_model_failure_is_degraded_but_uses_what_answered() {
    let mut out = outputs(&[0.7, 0.7]);
    out.failures.push(ModelFailure {
        model: "other".into(),
        roles: vec!["emotional_distress".into()],
        kind: ash_types::FailureKind::Timeout,
        reason: "slow".into(),
    });
    let full = analyze(analyzer(), "plain words", &[0.7, 0.7, 0.7]);
    let d = analyzer().analyze("plain words", ModelEvidence::Outputs(&out));
    assert_eq!(
        d.degraded.as_ref().map(|g| g.reason.as_str()),
        Some("partial")
    );
    assert_eq!(
        d.degraded.as_ref().map(|g| g.missing_roles.clone()),
        Some(vec!["emotional_distress".to_owned()])
    );
    assert!(d.level >= CrisisLevel::High);
    assert!(
        d.confidence < full.confidence,
        "missing roles lower confidence"
    );
    assert!(d.method.contains("degraded=partial"));
}

#[test]
fn all_models_failing_is_degraded_not_none_with_crisis_patterns() {
    let out = ModelOutputs {
        label_set: "x".into(),
        roles: Default::default(),
        failures: vec![ModelFailure {
            model: "minilm".into(),
            roles: vec!["depression".into()],
            kind: ash_types::FailureKind::Overloaded,
            reason: "queue full".into(),
        }],
        embedding: None,
        window_embeddings: Vec::new(),
    };
    let d = analyzer().analyze("I feel so hopeless", ModelEvidence::Outputs(&out));
    assert_eq!(
        d.degraded.as_ref().map(|g| g.reason.as_str()),
        Some("model_overloaded")
    );
    assert!(d.level >= CrisisLevel::Low);
}

#[test]
fn ensemble_switched_off_is_reported_as_degraded() {
    let d = analyzer().analyze("I want to die", ModelEvidence::Disabled);
    assert_eq!(
        d.degraded.as_ref().map(|g| g.reason.as_str()),
        Some("ensemble_disabled")
    );
    assert!(d.level >= CrisisLevel::High);
}

#[test]
fn confidence_reflects_agreement_not_the_score() {
    let a = analyzer();
    let agree = analyze(a, "plain words", &[0.5, 0.5, 0.5]);
    let split = analyze(a, "plain words", &[0.9, 0.3, 0.3]);
    assert!(
        agree.confidence > split.confidence,
        "{} vs {}",
        agree.confidence,
        split.confidence
    );
    // Same level, different distance from the boundary.
    let centre = analyze(a, "plain words", &[0.5, 0.5, 0.5]);
    let edge = analyze(a, "plain words", &[0.41, 0.41, 0.41]);
    assert_eq!(centre.level, edge.level);
    assert!(centre.confidence > edge.confidence);
    for d in [agree, split, centre, edge] {
        assert!((0.0..=1.0).contains(&d.confidence));
    }
}

#[test]
fn low_confidence_medium_goes_to_staff() {
    let strict = analyzer_with(|c| {
        let mut analysis = (*c.analysis).clone();
        analysis.staff_review.medium_confidence_below = 0.7;
        c.analysis = std::sync::Arc::new(analysis);
    });
    let edge = analyze(&strict, "plain words", &[0.41, 0.41, 0.41]);
    assert_eq!(edge.level, CrisisLevel::Medium);
    assert!(edge.confidence < 0.7);
    assert!(edge.requires_staff_review, "confidence {}", edge.confidence);
    assert!(
        edge.staff_review_reasons
            .iter()
            .any(|r| r.contains("medium with low confidence"))
    );
    assert!(edge.needs_response);
    let centre = analyze(&strict, "plain words", &[0.5, 0.5, 0.5]);
    assert!(
        centre.confidence >= 0.7 && !centre.requires_staff_review,
        "{}",
        centre.confidence
    );
}

#[test]
fn stages_and_method_say_what_ran() {
    let a = analyzer_with(|c| {
        let mut f = (*c.features).clone();
        f.patterns = false;
        c.features = std::sync::Arc::new(f);
    });
    let d = analyze(&a, "I want to die", &[0.2, 0.2, 0.2]);
    assert!(!d.stages.patterns);
    assert!(d.patterns.is_empty());
    assert_eq!(d.method, "ensemble_weighted");
}

#[test]
fn the_explanation_names_evidence_and_rules_but_never_the_text() {
    let text = "I'm going to take all these pills tonight, this is goodbye";
    let d = analyze(analyzer(), text, &[0.3, 0.3, 0.3]);
    let e = d.explanation();
    assert!(e.patterns.iter().any(|p| p.family == "suicide_method"));
    assert_eq!(e.roles.len(), 3);
    assert!(e.rules.contains(&Rule::ImminentRiskCritical));
    assert!(e.summary.contains("critical"));
    let all = serde_json::to_string(&d).expect("json") + &serde_json::to_string(&e).expect("json");
    for word in ["pills tonight", "this is goodbye", "take all these"] {
        assert!(
            !all.contains(word),
            "explanation leaks message text ({word}): {all}"
        );
    }
}

#[test]
fn decisions_are_deterministic() {
    let a = analyzer();
    let one = analyze(a, "I feel so alone lately", &[0.4, 0.3, 0.2]);
    let two = analyze(a, "I feel so alone lately", &[0.4, 0.3, 0.2]);
    assert_eq!(one, two);
}

/// With the model down, explicit, final and obfuscated messages still reach staff: the pattern
/// floors do not need the model (and the risk head cannot run without an embedding).
#[test]
fn floors_hold_without_models_for_final_and_obfuscated_messages() {
    let down = ModelEvidence::Unavailable {
        kind: ash_types::FailureKind::Unavailable,
        detail: "model down",
    };
    let critical = [
        "tonight is the night I end everything. goodbye.",
        "I am going to kíll myself tonight",
        "k i l l  m y s e l f tonight, i'm done",
        "ctb tonight",
        "i've written letters to my family and left them on the table",
        "took all my pills an hour ago and now i feel so sleepy from the pills",
        "by the time you read this i'll be gone",
        "gonna unal!ve myself tonight",
    ];
    for text in critical {
        let d = analyzer().analyze(text, down);
        assert!(d.degraded.is_some(), "{text}");
        assert_eq!(d.level, CrisisLevel::Critical, "{text}: {:?}", d.rules);
    }
    let high = [
        "thinking about su1c1de all the time",
        "i want to k!ll myself",
        "honestly just want to unalive myself",
        "everyone would be better off without me",
    ];
    for text in high {
        let d = analyzer().analyze(text, down);
        assert!(
            d.level >= CrisisLevel::High,
            "{text}: {:?} {:?}",
            d.level,
            d.rules
        );
    }
    let friend = analyzer().analyze(
        "my friend sent me a goodbye text and now she isn't answering her phone",
        down,
    );
    assert!(friend.level >= CrisisLevel::High && friend.third_party);
    assert!(friend.rules.contains(&Rule::ThirdPartyAtRisk));
}

#[test]
fn a_crisis_told_from_safety_sets_no_floor_but_one_with_a_time_does() {
    let past = analyze(
        analyzer(),
        "two years ago i tried to kill myself. today i'm doing so much better",
        &[0.1, 0.1, 0.1],
    );
    // No floor: the level comes from the evidence (and, when it runs, the risk head).
    assert!(past.rules.contains(&Rule::FloorSuspendedByContext));
    assert!(!past.rules.contains(&Rule::ExplicitIntentFloor));
    assert!(past.level < CrisisLevel::Critical, "{:?}", past.rules);
    let again = analyze(
        analyzer(),
        "years ago i tried to kill myself and tonight i'm going to do it again",
        &[0.1, 0.1, 0.1],
    );
    assert_eq!(again.level, CrisisLevel::Critical, "{:?}", again.rules);
}

/// A tiny head that always answers `none` (two-dimensional embedding, shipped families).
fn calm_head(c: &mut ash_config::Config, floor_support: f64) {
    use ash_config::{Activation, HeadLayer, RiskHeadConfig};
    let families: Vec<String> = c.patterns.families.keys().cloned().collect();
    let inputs = 2 + families.len() + ash_config::FLAG_INPUTS;
    let mut head = RiskHeadConfig {
        version: "calm".into(),
        model: c.models.models.keys().next().cloned().unwrap_or_default(),
        levels: CrisisLevel::ALL.to_vec(),
        layers: vec![HeadLayer {
            activation: Activation::Identity,
            weights: vec![vec![0.0; inputs]; 5],
            bias: vec![8.0, 0.0, 0.0, 0.0, 0.0],
        }],
        temperature: 1.0,
        floor_support,
        ..RiskHeadConfig::default()
    };
    head.features.embedding_dim = 2;
    head.features.families = families;
    c.risk_head = std::sync::Arc::new(head);
}

fn with_embedding(scores: &[f64]) -> ModelOutputs {
    ModelOutputs {
        embedding: Some(vec![0.6, 0.8]),
        ..outputs(scores)
    }
}

#[test]
fn the_head_decides_and_the_zero_shot_ensemble_can_still_raise_to_high() {
    let raising = analyzer_with(|c| calm_head(c, 0.0));
    let calm = raising.analyze(
        "a quiet evening",
        ModelEvidence::Outputs(&with_embedding(&[0.0, 0.0, 0.0])),
    );
    assert_eq!(calm.level, CrisisLevel::None);
    assert!(calm.rules.contains(&Rule::RiskHead));
    assert_eq!(calm.head.as_ref().map(|h| h.version.as_str()), Some("calm"));
    let alarmed = raising.analyze(
        "a quiet evening",
        ModelEvidence::Outputs(&with_embedding(&[1.0, 1.0, 1.0])),
    );
    assert_eq!(alarmed.level, CrisisLevel::High);
    assert!(alarmed.rules.contains(&Rule::EnsembleRaisedToHigh));

    let not_raising = analyzer_with(|c| {
        calm_head(c, 0.0);
        let mut analysis = (*c.analysis).clone();
        analysis.risk_head.ensemble_raises_to_high = false;
        c.analysis = std::sync::Arc::new(analysis);
    });
    let d = not_raising.analyze(
        "a quiet evening",
        ModelEvidence::Outputs(&with_embedding(&[1.0, 1.0, 1.0])),
    );
    assert_eq!(d.level, CrisisLevel::None);
}

#[test]
fn floors_need_the_heads_support_only_when_the_artefact_asks_and_never_without_the_model() {
    let text = "i want to kill myself";
    let calm = ModelEvidence::Outputs(&with_embedding(&[0.0, 0.0, 0.0]));
    let always = analyzer_with(|c| calm_head(c, 0.0)).analyze(text, calm);
    assert!(always.level >= CrisisLevel::High);
    let supported = analyzer_with(|c| calm_head(c, 0.1));
    let d = supported.analyze(
        text,
        ModelEvidence::Outputs(&with_embedding(&[0.0, 0.0, 0.0])),
    );
    assert_eq!(d.level, CrisisLevel::None, "{:?}", d.rules);
    assert!(d.rules.contains(&Rule::FloorNotSupportedByHead));
    let down = supported.analyze(
        text,
        ModelEvidence::Unavailable {
            kind: ash_types::FailureKind::Timeout,
            detail: "",
        },
    );
    assert!(down.level >= CrisisLevel::High);
}

#[test]
fn shadow_mode_reports_the_head_but_decides_the_old_way() {
    let a = analyzer_with(|c| {
        calm_head(c, 0.0);
        let mut analysis = (*c.analysis).clone();
        analysis.risk_head.mode = ash_config::RiskHeadMode::Shadow;
        c.analysis = std::sync::Arc::new(analysis);
    });
    let d = a.analyze(
        "everything",
        ModelEvidence::Outputs(&with_embedding(&[1.0, 1.0, 1.0])),
    );
    assert_eq!(d.level, CrisisLevel::Critical);
    assert_eq!(d.head.as_ref().map(|h| h.level), Some(CrisisLevel::None));
    assert!(d.shadow_disagrees());
    assert!(!d.rules.contains(&Rule::RiskHead));
}

#[test]
fn calibrated_thresholds_reach_every_stage_role_levels_and_votes_included() {
    let a = with_mode(EnsembleMode::Majority);
    // Medium starts at 0.4 in the shipped configuration; calibrated, at 0.55.
    let calibrated = ash_analysis::LearnedAdjustment {
        threshold_offset: 0.15,
        ..Default::default()
    };
    let plain = a.analyze("so so", ModelEvidence::Outputs(&outputs(&[0.5, 0.5, 0.5])));
    assert!(plain.roles.values().all(|r| r.level == CrisisLevel::Medium));
    let d = a.analyze_adjusted(
        "so so",
        ModelEvidence::Outputs(&outputs(&[0.5, 0.5, 0.5])),
        Some(&calibrated),
    );
    assert!(
        d.roles.values().all(|r| r.level == CrisisLevel::Low),
        "{:?}",
        d.roles
    );
    assert!(d.rules.contains(&Rule::CalibratedThresholds));
}
