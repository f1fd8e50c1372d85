//! The trained risk head: features of one message, and the head's level and score.
//!
//! The features are computed here, and only here, for serving and for training (`ash-train` calls
//! [`features`]), so the head always sees in production exactly what it was trained on:
//! the message embedding, one 0/1 input per pattern family, four flags (the pattern floor at
//! high, at critical, a negated crisis match, the length), and optionally hashed
//! word and word-pair buckets of the normalised text.
//!
//! The head gives a probability per level. The level is the highest one whose probability of
//! "this level or above" reaches its threshold (chosen on validation to favour recall of the
//! higher levels), and the score is placed inside that level's band of the request's thresholds,
//! so `level_for(score)` always gives the head's level back.

use ash_config::{Activation, CrisisLevel, LevelThresholds, RiskHeadConfig};
use serde::Serialize;

use crate::decision::PatternFloor;
use crate::patterns::PatternMatch;

/// What the head said about one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeadResult {
    /// Artefact version.
    pub version: String,
    pub level: CrisisLevel,
    /// On the request's score scale, inside `level`'s band.
    pub score: f64,
    /// Calibrated probability of each level, `none` … `critical`.
    pub probabilities: [f64; 5],
    /// Windows of the message the head read (more than one for a message longer than the model
    /// reads at once; the worst window decides).
    pub windows: usize,
}

impl HeadResult {
    /// Probability of `level` or above.
    pub fn at_or_above(&self, level: CrisisLevel) -> f64 {
        self.probabilities[level.rank() as usize..].iter().sum()
    }

    /// Probability of the level it chose.
    pub fn chosen_probability(&self) -> f64 {
        self.probabilities[self.level.rank() as usize]
    }
}

/// The feature vector of one message for `head`.
///
/// `embedding` must be the L2-normalised sentence embedding of the head's model; `key` is the
/// normalised key form of the text (only read when the head uses hashed buckets).
pub fn features(
    head: &RiskHeadConfig,
    embedding: &[f32],
    patterns: &[PatternMatch],
    key: &str,
) -> Vec<f32> {
    let spec = &head.features;
    let mut x = Vec::with_capacity(head.input_len());
    x.extend_from_slice(embedding);
    for family in &spec.families {
        let live = patterns.iter().any(|m| &m.family == family && !m.negated);
        x.push(f32::from(u8::from(live)));
    }
    // The floors as the decision computes them (a time word alone is not a plan).
    let floor = PatternFloor::of(patterns).level();
    let negated = patterns.iter().any(|m| m.negated);
    let words = key.split_whitespace().count();
    x.push(f32::from(u8::from(floor >= CrisisLevel::High)));
    x.push(f32::from(u8::from(floor == CrisisLevel::Critical)));
    x.push(f32::from(u8::from(negated)));
    x.push(((1.0 + words as f64).ln() / 5.0) as f32);
    if spec.hashed_buckets > 0 {
        let start = x.len();
        x.resize(start + spec.hashed_buckets, 0.0);
        let tokens: Vec<&str> = key.split_whitespace().collect();
        let mut active = 0usize;
        let mut mark = |gram: &[&str]| {
            let slot = start + (fnv1a(gram) % spec.hashed_buckets as u64) as usize;
            if x[slot] == 0.0 {
                x[slot] = 1.0;
                active += 1;
            }
        };
        for i in 0..tokens.len() {
            mark(&tokens[i..=i]);
            if i + 1 < tokens.len() {
                mark(&tokens[i..=i + 1]);
            }
        }
        if active > 0 {
            let scale = 1.0 / (active as f32).sqrt();
            for v in &mut x[start..] {
                *v *= scale;
            }
        }
    }
    x
}

/// 64-bit FNV-1a over the words of a gram, separated by a space. Hand-written because the bucket
/// of a word must never change between the trainer and the server or across toolchains, which
/// `std`'s hasher does not promise; FNV-1a is a few lines and fully specified.
fn fnv1a(gram: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, word) in gram.iter().enumerate() {
        if i > 0 {
            hash ^= u64::from(b' ');
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in word.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Class logits of the head for `x` (no temperature).
pub fn logits(head: &RiskHeadConfig, x: &[f32]) -> Vec<f64> {
    let mut current: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for layer in &head.layers {
        let next = layer
            .weights
            .iter()
            .zip(&layer.bias)
            .map(|(row, b)| {
                let dot: f64 = row
                    .iter()
                    .zip(&current)
                    .map(|(w, v)| f64::from(*w) * v)
                    .sum();
                let out = dot + f64::from(*b);
                match layer.activation {
                    Activation::Identity => out,
                    Activation::Relu => out.max(0.0),
                }
            })
            .collect();
        current = next;
    }
    current
}

/// Calibrated probabilities from logits.
pub fn probabilities(head: &RiskHeadConfig, logits: &[f64]) -> [f64; 5] {
    let t = head.temperature.max(1e-3);
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| ((l - max) / t).exp()).collect();
    let sum: f64 = exp.iter().sum();
    let mut p = [0.0; 5];
    for (slot, e) in p.iter_mut().zip(&exp) {
        *slot = e / sum;
    }
    p
}

/// The head's level for calibrated probabilities: the highest level whose "this level or above"
/// probability reaches its threshold.
pub fn level_of(head: &RiskHeadConfig, p: &[f64; 5]) -> CrisisLevel {
    let mut level = CrisisLevel::None;
    for candidate in &CrisisLevel::ALL[1..] {
        let at_or_above: f64 = p[candidate.rank() as usize..].iter().sum();
        if at_or_above >= head.thresholds.of(*candidate) {
            level = *candidate;
        }
    }
    level
}

/// Whether the head reads enough distress (probability of `medium` or above) for a pattern floor
/// to apply while it decides (`RiskHeadConfig::floor_support`). The decision and the trainer's
/// threshold search both ask this, so they cannot drift apart.
pub fn supports_floor(head: &RiskHeadConfig, p: &[f64; 5]) -> bool {
    p[CrisisLevel::Medium.rank() as usize..].iter().sum::<f64>() >= head.floor_support
}

/// Where inside `level`'s band of `t` the score lies: how close the next level came to its own
/// threshold (for `critical`, how far past its threshold it is). Monotone in the probabilities of
/// the higher levels, and always inside the band.
pub fn score_in_band(
    head: &RiskHeadConfig,
    p: &[f64; 5],
    level: CrisisLevel,
    t: &LevelThresholds,
) -> f64 {
    let rank = level.rank() as usize;
    let at_or_above = |r: usize| p[r..].iter().sum::<f64>();
    let fraction = if level == CrisisLevel::Critical {
        let tau = head.thresholds.critical;
        ((at_or_above(rank) - tau) / (1.0 - tau).max(1e-9)).clamp(0.0, 1.0)
    } else {
        let next = CrisisLevel::ALL[rank + 1];
        (at_or_above(rank + 1) / head.thresholds.of(next).max(1e-9)).clamp(0.0, 1.0)
    };
    let (lo, hi) = band(t, level);
    // Stay strictly below the next level's threshold.
    let width = (hi - lo) * 0.999;
    (lo + fraction * width).clamp(0.0, 1.0)
}

/// The score band `[lo, hi)` of a level under `t`.
pub fn band(t: &LevelThresholds, level: CrisisLevel) -> (f64, f64) {
    match level {
        CrisisLevel::None => (0.0, t.low),
        CrisisLevel::Low => (t.low, t.medium),
        CrisisLevel::Medium => (t.medium, t.high),
        CrisisLevel::High => (t.high, t.critical),
        CrisisLevel::Critical => (t.critical, 1.0),
    }
}

/// Runs the head on one message's features.
pub fn evaluate(head: &RiskHeadConfig, x: &[f32], t: &LevelThresholds) -> HeadResult {
    let p = probabilities(head, &logits(head, x));
    let level = level_of(head, &p);
    HeadResult {
        version: head.version.clone(),
        level,
        score: score_in_band(head, &p, level, t),
        probabilities: p,
        windows: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ash_config::{HeadFeatures, HeadLayer, HeadThresholds};

    fn head(bias: [f32; 5]) -> RiskHeadConfig {
        RiskHeadConfig {
            version: "test".into(),
            model: "m".into(),
            features: HeadFeatures {
                embedding_dim: 2,
                families: vec!["intent".into()],
                hashed_buckets: 0,
            },
            levels: CrisisLevel::ALL.to_vec(),
            layers: vec![HeadLayer {
                activation: Activation::Identity,
                weights: vec![vec![0.0; 2 + 1 + 4]; 5],
                bias: bias.to_vec(),
            }],
            temperature: 1.0,
            thresholds: HeadThresholds {
                low: 0.5,
                medium: 0.4,
                high: 0.3,
                critical: 0.3,
            },
            ..RiskHeadConfig::default()
        }
    }

    #[test]
    fn the_score_falls_in_the_band_of_the_level_for_any_thresholds() {
        let t = LevelThresholds {
            low: 0.16,
            medium: 0.28,
            high: 0.55,
            critical: 0.85,
        };
        for bias in [
            [5.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 3.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 2.0, 1.5],
            [0.0, 0.0, 0.0, 0.0, 9.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
        ] {
            let h = head(bias);
            let r = evaluate(&h, &[0.0; 7], &t);
            assert_eq!(t.level_for(r.score), r.level, "{bias:?} -> {r:?}");
        }
    }

    #[test]
    fn cumulative_thresholds_favour_the_higher_level() {
        // 32% high + critical is below the argmax but above the high threshold (0.3).
        let h = head([1.2, 0.0, 0.9, 0.6, 0.3]);
        let p = probabilities(&h, &logits(&h, &[0.0; 7]));
        let argmax = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert_eq!(argmax, Some(0));
        assert_eq!(level_of(&h, &p), CrisisLevel::High);
    }

    #[test]
    fn features_have_the_declared_length_and_read_live_families_only() {
        let mut h = head([0.0; 5]);
        h.features.hashed_buckets = 8;
        let m = |negated| PatternMatch {
            family: "intent".into(),
            id: "x".into(),
            effect: ash_config::PatternEffect::Crisis,
            weight: 0.9,
            explicit_intent: true,
            imminence: false,
            category: None,
            negated,
            suspends_floor: false,
            third_party: false,
        };
        let live = features(&h, &[0.6, 0.8], &[m(false)], " i want to die ");
        assert_eq!(live.len(), 2 + 1 + 4 + 8);
        // Family hit, floor at high, no critical floor (no imminence).
        assert_eq!(&live[2..5], &[1.0, 1.0, 0.0]);
        let negated = features(&h, &[0.6, 0.8], &[m(true)], " i dont want to die ");
        assert_eq!(&negated[2..6], &[0.0, 0.0, 0.0, 1.0]);
        let hashed: f32 = live[7..].iter().map(|v| v * v).sum();
        assert!((hashed - 1.0).abs() < 1e-5, "{hashed}");
    }
}
