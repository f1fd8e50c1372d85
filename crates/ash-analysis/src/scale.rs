//! The score scale clients see.
//!
//! Ash-Bot v5 re-grades `crisis_score` itself in channels that staff gave a sensitivity: it
//! multiplies the score, caps it at 1 and maps it back to a level with fixed bands
//! ([`CLIENT_SCALE`]). Internally the level bands move (configured per ensemble mode, calibrated
//! from staff corrections), so the reported score is carried over: its position inside its level's
//! band under the thresholds in effect becomes the same position inside that level's band on the
//! client scale. The mapping is monotone within a level and always lands inside the level's
//! client band, so at sensitivity 1.0 the client's grading gives back exactly the service's level.

use ash_config::{CrisisLevel, LevelThresholds};

use crate::head::band;

/// The bands the clients grade `crisis_score` with: critical ≥ 0.85, high ≥ 0.55, medium ≥ 0.28,
/// low ≥ 0.16, else safe.
pub const CLIENT_SCALE: LevelThresholds = LevelThresholds {
    low: 0.16,
    medium: 0.28,
    high: 0.55,
    critical: 0.85,
};

/// `score` (on the scale of `t`) expressed on [`CLIENT_SCALE`] for a message at `level`.
///
/// The result lies in `[lo, lo + 0.999·width]` of `level`'s client band, so it stays below the
/// next band even after rounding to four decimals.
pub fn to_client_scale(score: f64, level: CrisisLevel, t: &LevelThresholds) -> f64 {
    let (lo, hi) = band(t, level);
    let fraction = if hi > lo {
        ((score - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let fraction = if fraction.is_finite() { fraction } else { 0.0 };
    let (client_lo, client_hi) = band(&CLIENT_SCALE, level);
    let width = if level == CrisisLevel::Critical {
        client_hi - client_lo
    } else {
        (client_hi - client_lo) * 0.999
    };
    client_lo + fraction * width
}

/// Rounds a number for the wire: four decimals keep answers stable across platforms, and
/// [`to_client_scale`] leaves room for this rounding below each band's top.
pub fn round_for_clients(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The level a client derives from a score on [`CLIENT_SCALE`] (Ash-Bot's own grading).
pub fn client_level(score: f64) -> CrisisLevel {
    CLIENT_SCALE.level_for(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_and_position_grades_back_to_its_level() {
        let skewed = LevelThresholds {
            low: 0.05,
            medium: 0.5,
            high: 0.52,
            critical: 0.99,
        };
        for t in [LevelThresholds::default(), skewed, CLIENT_SCALE] {
            for level in CrisisLevel::ALL {
                for i in 0..=200 {
                    let score = f64::from(i) / 200.0;
                    let client = to_client_scale(score, level, &t);
                    let rounded = round_for_clients(client);
                    assert_eq!(client_level(rounded), level, "{score} {level:?} {t:?}");
                }
            }
        }
    }

    #[test]
    fn monotone_within_a_level() {
        let t = LevelThresholds::default();
        for level in CrisisLevel::ALL {
            let mut previous = -1.0;
            for i in 0..=100 {
                let client = to_client_scale(f64::from(i) / 100.0, level, &t);
                assert!(client >= previous);
                previous = client;
            }
        }
    }

    #[test]
    fn identical_scales_leave_scores_in_place() {
        let s = to_client_scale(0.6, CrisisLevel::High, &CLIENT_SCALE);
        assert!((s - (0.55 + (0.05 / 0.3) * 0.3 * 0.999)).abs() < 1e-12);
    }
}
