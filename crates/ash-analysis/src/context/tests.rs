//! Escalation, raises and lenient reading of the history.

use super::*;

fn now() -> jiff::Timestamp {
    "2026-06-01T22:00:00Z".parse().expect("timestamp")
}

fn at(minutes_before: i64) -> String {
    (now() - jiff::SignedDuration::from_mins(minutes_before)).to_string()
}

fn run(history: &[(i64, Option<f64>)], current: (CrisisLevel, f64)) -> ContextAnalysis {
    run_to(history, current).0
}

/// The analysis and the level it raises to.
fn run_to(
    history: &[(i64, Option<f64>)],
    current: (CrisisLevel, f64),
) -> (ContextAnalysis, Option<CrisisLevel>) {
    // Newest first, as the clients send it.
    let stamps: Vec<String> = history.iter().map(|(m, _)| at(*m)).collect();
    let entries: Vec<HistoryEntry<'_>> = history
        .iter()
        .zip(&stamps)
        .map(|((_, s), t)| HistoryEntry {
            text: Some("x"),
            timestamp: Some(t),
            crisis_score: *s,
        })
        .collect();
    analyze(&entries, now(), current, &ContextConfig::default(), &|_| {
        0.0
    })
}

#[test]
fn an_evening_that_darkens_is_a_gradual_escalation_and_raises_one_level() {
    let history = [(60, Some(0.2)), (300, Some(0.1)), (420, Some(0.0))];
    let a = run(&history, (CrisisLevel::Low, 0.3));
    assert!(a.escalation_detected);
    assert_eq!(a.escalation_rate, EscalationRate::Gradual);
    assert_eq!(a.raised_from, Some(CrisisLevel::Low));
    assert_eq!(a.raised_by, Some(RaiseReason::Escalation));
    assert_eq!(a.trend.direction, TrendDirection::Rising);
    assert_eq!(a.trajectory.scores, vec![0.0, 0.1, 0.2, 0.3]);
}

#[test]
fn an_escalation_alone_raises_no_further_than_a_check_in() {
    let history = [(60, Some(0.3)), (300, Some(0.2)), (420, Some(0.17))];
    let a = run(&history, (CrisisLevel::Medium, 0.5));
    assert!(a.escalation_detected);
    assert_eq!(
        a.raised_from, None,
        "medium stays medium: the cap is medium"
    );
}

#[test]
fn a_turn_in_the_last_step_is_sudden() {
    let history = [(10, None), (30, None), (50, None)];
    let a = run(&history, (CrisisLevel::High, 0.6));
    assert_eq!(a.escalation_rate, EscalationRate::Sudden);
    assert_eq!(a.escalation_pattern, "sudden_turn");
    assert_eq!(
        a.raised_from, None,
        "a calm history does not inflate the answer"
    );
}

#[test]
fn a_calm_history_changes_nothing() {
    let history = [(10, None), (30, None), (50, None)];
    let a = run(&history, (CrisisLevel::None, 0.1));
    assert!(!a.escalation_detected);
    assert_eq!(a.raised_from, None);
    assert_eq!(a.escalation_pattern, "calm");
}

#[test]
fn never_above_the_cap_and_never_lower() {
    let history = [(20, Some(0.9)), (40, Some(0.2)), (60, Some(0.0))];
    let a = run(&history, (CrisisLevel::High, 0.6));
    assert_eq!(a.raised_from, None, "high stays high: the cap is high");
    let a = run(&history, (CrisisLevel::Critical, 0.9));
    assert_eq!(a.raised_from, None);
}

#[test]
fn recent_high_risk_carries_over_to_a_medium_message() {
    let history = [(30, Some(0.9)), (90, Some(0.7))];
    let (a, to) = run_to(&history, (CrisisLevel::Medium, 0.3));
    assert_eq!(a.raised_from, Some(CrisisLevel::Medium));
    assert_eq!(a.raised_by, Some(RaiseReason::RecentRisk));
    assert_eq!(to, Some(CrisisLevel::High), "capped at high, not critical");
    assert!(!a.escalation_detected);
}

#[test]
fn bad_items_are_ignored_and_noted_never_refused() {
    let entries = [
        HistoryEntry {
            text: Some("a"),
            timestamp: Some("yesterday"),
            crisis_score: Some(0.4),
        },
        HistoryEntry {
            text: Some("b"),
            timestamp: Some("2026-06-01T21:00:00"),
            crisis_score: Some(f64::NAN),
        },
        HistoryEntry {
            text: None,
            timestamp: Some("2026-06-01T21:30:00+00:00"),
            crisis_score: Some(1.7),
        },
    ];
    let (a, _) = analyze(
        &entries,
        now(),
        (CrisisLevel::None, 0.0),
        &ContextConfig::default(),
        &|_| 0.0,
    );
    assert_eq!(a.history_analyzed, 1);
    assert_eq!(a.history_ignored, 2);
    assert_eq!(
        a.notes,
        vec![
            "invalid_score",
            "invalid_timestamp",
            "score_outside_0_1_clamped"
        ]
    );
}

#[test]
fn items_beyond_the_maximum_are_ignored() {
    let history: Vec<(i64, Option<f64>)> = (0..25).map(|i| (i * 5 + 1, Some(0.1))).collect();
    let a = run(&history, (CrisisLevel::None, 0.0));
    assert_eq!(a.history_analyzed, 20);
    assert_eq!(a.notes, vec!["beyond_max_history"]);
}
