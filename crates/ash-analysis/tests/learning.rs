//! The maths of learning from staff corrections: calibration bounds, and the nearest exemplar.

use ash_analysis::learning::{
    self, CalibrationEvent, CorrectionKind, Exemplar, thresholds_in_effect,
};
use ash_config::{CalibrationConfig, CrisisLevel};

fn events(
    kind: CorrectionKind,
    times: impl Iterator<Item = u64>,
) -> Vec<(String, u64, CorrectionKind)> {
    times
        .enumerate()
        .map(|(i, at)| (format!("c{i:05}"), at, kind))
        .collect()
}

fn calibrate(
    all: &[(String, u64, CorrectionKind)],
    reset_at: u64,
    c: &CalibrationConfig,
) -> learning::Calibration {
    learning::calibrate(
        all.iter().map(|(id, at, kind)| CalibrationEvent {
            id,
            kind: *kind,
            received_at: *at,
        }),
        reset_at,
        c,
    )
}

fn config() -> CalibrationConfig {
    CalibrationConfig {
        enabled: true,
        step: 0.005,
        max_drift: 0.05,
        max_adjustments_per_day: 20,
    }
}

#[test]
fn a_thousand_identical_corrections_stay_within_the_drift_cap() {
    // Spread over many days so the daily limit is not what stops them.
    let fp = events(CorrectionKind::FalsePositive, (0..1000).map(|i| i * 3600));
    let c = calibrate(&fp, 0, &config());
    assert!((c.offset - 0.05).abs() < 1e-12, "{}", c.offset);
    let fneg = events(CorrectionKind::FalseNegative, (0..1000).map(|i| i * 3600));
    let c = calibrate(&fneg, 0, &config());
    assert!((c.offset + 0.05).abs() < 1e-12);
    assert_eq!(c.moved.values().filter(|m| **m != 0.0).count(), 10);
}

#[test]
fn false_positives_make_detection_less_sensitive_and_false_negatives_more() {
    let shipped = ash_tests::shipped_config();
    let base = thresholds_in_effect(&shipped, 0.0);
    let fp = calibrate(
        &events(CorrectionKind::FalsePositive, [10].into_iter()),
        0,
        &config(),
    );
    assert!(thresholds_in_effect(&shipped, fp.offset).high > base.high);
    let fneg = calibrate(
        &events(CorrectionKind::FalseNegative, [10].into_iter()),
        0,
        &config(),
    );
    assert!(thresholds_in_effect(&shipped, fneg.offset).high < base.high);
}

#[test]
fn the_daily_limit_and_the_reset_hold() {
    let same_day = events(CorrectionKind::FalseNegative, (0..100).map(|i| 1000 + i));
    let c = CalibrationConfig {
        max_drift: 1.0,
        ..config()
    };
    let offset = calibrate(&same_day, 0, &c).offset;
    assert!((offset + 20.0 * 0.005).abs() < 1e-9, "{offset}");
    assert_eq!(calibrate(&same_day, 2000, &c).offset, 0.0);
}

#[test]
fn calibration_that_is_switched_off_moves_nothing() {
    let c = CalibrationConfig {
        enabled: false,
        ..config()
    };
    let fp = events(CorrectionKind::FalsePositive, (0..10).map(|i| i * 3600));
    assert_eq!(calibrate(&fp, 0, &c), learning::Calibration::default());
}

#[test]
fn thresholds_stay_inside_the_unit_interval_however_far_they_move() {
    let shipped = ash_tests::shipped_config();
    for offset in [-2.0, -0.5, 0.5, 2.0] {
        let t = thresholds_in_effect(&shipped, offset);
        for v in [t.low, t.medium, t.high, t.critical] {
            assert!((0.01..=0.99).contains(&v), "{offset}: {t:?}");
        }
        assert!(t.low <= t.medium && t.medium <= t.high && t.high <= t.critical);
    }
}

#[test]
fn the_nearest_similar_correction_decides_and_a_repeat_takes_its_level() {
    let learning = ash_tests::shipped_config().analysis.learning.clone();
    let exemplars = vec![
        Exemplar::new("far".into(), vec![0.0, 1.0, 0.0], CrisisLevel::High),
        // Not unit length: normalised on the way in.
        Exemplar::new("near".into(), vec![3.0, 0.0, 0.0], CrisisLevel::None),
    ];
    let same = [1.0f32, 0.0, 0.0];
    let a = learning::adjustment(&exemplars, 0.0, Some(&same), &learning).expect("applies");
    assert_eq!(a.exemplar_id.as_deref(), Some("near"));
    assert_eq!(a.exemplar_level, Some(CrisisLevel::None));
    assert!(a.exact);
    assert!(!a.calibrated());
    let unrelated = [0.0f32, 0.0, 1.0];
    assert_eq!(
        learning::adjustment(&exemplars, 0.0, Some(&unrelated), &learning),
        None
    );
    let only_calibrated =
        learning::adjustment(&exemplars, 0.01, Some(&unrelated), &learning).expect("calibrated");
    assert!(only_calibrated.calibrated());
    assert_eq!(only_calibrated.exemplar_id, None);
}
