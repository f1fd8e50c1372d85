//! Calibration, thresholds and the figures every candidate is judged by. Levels are chosen with
//! the server's own code (`ash_analysis::head`), so what is measured here is what runs.

use ash_analysis::head;
use ash_config::{HeadThresholds, RiskHeadConfig};
use serde::Serialize;

/// What an example needs for scoring: its logits, its training level and the accepted levels.
#[derive(Clone, Debug)]
pub(crate) struct Scored<'a> {
    pub logits: Vec<f64>,
    pub y: usize,
    pub accept: &'a [usize],
    pub category: &'a str,
    /// The pattern floor (rank): the decision never answers below it.
    pub floor: usize,
}

/// The decision's level: the head's, raised to the pattern floor when the head supports it
/// (as `ash_analysis::decision` does).
fn decided(head: &RiskHeadConfig, p: &[f64; 5], floor: usize) -> usize {
    let floor = if head::supports_floor(head, p) {
        floor
    } else {
        0
    };
    (head::level_of(head, p).rank() as usize).max(floor)
}

/// As `ash_analysis::eval::Outcome::correct`: one of the accepted levels, where `critical` also
/// counts for `high` (four-level clients receive it as `high`); `high` for a `critical` message
/// is a miss (`crisis_recall` counts the two together).
pub(crate) fn correct(pred: usize, accept: &[usize]) -> bool {
    accept.contains(&pred) || (pred == 4 && accept.contains(&3))
}

/// What one level of a missed crisis costs, against one level of a false alarm.
const CRISIS_MISS_STEP: f64 = 4.0;
/// What a crisis answered `none` costs on top (no alert reaches anyone).
const CRISIS_AS_NONE: f64 = 6.0;

/// The cost of answering `pred` when `accept` is right: misses cost more than false alarms, and a
/// crisis answered `none` most of all.
fn cost(pred: usize, y: usize, accept: &[usize]) -> f64 {
    if correct(pred, accept) {
        return 0.0;
    }
    let lowest = accept.iter().copied().min().unwrap_or(y);
    if pred < lowest {
        let steps = (lowest - pred) as f64;
        let crisis = y >= 3;
        steps * if crisis { CRISIS_MISS_STEP } else { 1.0 }
            + if crisis && pred == 0 {
                CRISIS_AS_NONE
            } else {
                0.0
            }
    } else {
        // A false alarm that pages staff (high or above) costs a little more.
        (pred - accept.iter().copied().max().unwrap_or(y)) as f64
            + if pred >= 3 { 0.5 } else { 0.0 }
    }
}

/// Softmax temperature with the lowest negative log-likelihood on `val`.
pub(crate) fn temperature(val: &[Scored<'_>]) -> f64 {
    let mut best = (f64::INFINITY, 1.0);
    for i in 0..=60 {
        let t = 0.25 * (20f64).powf(f64::from(i) / 60.0);
        let head = RiskHeadConfig {
            temperature: t,
            ..RiskHeadConfig::default()
        };
        let nll: f64 = val
            .iter()
            .map(|s| -head::probabilities(&head, &s.logits)[s.y].max(1e-12).ln())
            .sum();
        if nll < best.0 {
            best = (nll, t);
        }
    }
    best.1
}

/// Thresholds on "this level or above" that minimise the cost on `val` (coordinate descent over
/// a grid, from 0.5 everywhere).
pub(crate) fn thresholds(
    val: &[Scored<'_>],
    temperature: f64,
    floor_support: f64,
) -> (HeadThresholds, f64) {
    let mut head = RiskHeadConfig {
        temperature,
        floor_support,
        ..RiskHeadConfig::default()
    };
    let probabilities: Vec<[f64; 5]> = val
        .iter()
        .map(|s| head::probabilities(&head, &s.logits))
        .collect();
    let total = |h: &RiskHeadConfig| -> f64 {
        val.iter()
            .zip(&probabilities)
            .map(|(s, p)| cost(decided(h, p, s.floor), s.y, s.accept))
            .sum()
    };
    for _ in 0..4 {
        for level in 1..5 {
            let mut best = (total(&head), get(&head.thresholds, level));
            for step in 1..100 {
                let tau = f64::from(step) / 100.0;
                set(&mut head.thresholds, level, tau);
                let c = total(&head);
                // Ties go to the lower threshold (more sensitive).
                if c < best.0 - 1e-9 || (c <= best.0 + 1e-9 && tau < best.1) {
                    best = (c, tau);
                }
            }
            set(&mut head.thresholds, level, best.1);
        }
    }
    let cost = total(&head);
    (head.thresholds, cost)
}

fn get(t: &HeadThresholds, level: usize) -> f64 {
    [0.0, t.low, t.medium, t.high, t.critical][level]
}

fn set(t: &mut HeadThresholds, level: usize, value: f64) {
    match level {
        1 => t.low = value,
        2 => t.medium = value,
        3 => t.high = value,
        _ => t.critical = value,
    }
}

/// The figures of one set of predictions.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Figures {
    pub n: usize,
    pub accuracy: f64,
    /// Correct / total per training level (none … critical).
    pub level_accuracy: [f64; 5],
    pub level_counts: [usize; 5],
    /// High and critical messages answered high or critical.
    pub crisis_recall: f64,
    /// High and critical messages answered none.
    pub crisis_as_none: usize,
    /// `confusion[true][predicted]`.
    pub confusion: [[usize; 5]; 5],
    /// Per category: (correct, total).
    pub categories: std::collections::BTreeMap<String, (usize, usize)>,
    pub cost: f64,
}

/// Figures of `head` (its temperature and thresholds) on `set`; also returns the predictions.
pub(crate) fn figures(head: &RiskHeadConfig, set: &[Scored<'_>]) -> (Figures, Vec<usize>) {
    let mut f = Figures {
        n: set.len(),
        ..Figures::default()
    };
    let mut right = [0usize; 5];
    let mut crisis = (0usize, 0usize);
    let mut preds = Vec::with_capacity(set.len());
    for s in set {
        let p = head::probabilities(head, &s.logits);
        let pred = decided(head, &p, s.floor);
        preds.push(pred);
        let ok = correct(pred, s.accept);
        f.confusion[s.y][pred] += 1;
        f.level_counts[s.y] += 1;
        right[s.y] += usize::from(ok);
        f.accuracy += f64::from(u8::from(ok));
        f.cost += cost(pred, s.y, s.accept);
        let entry = f.categories.entry(s.category.to_owned()).or_default();
        entry.0 += usize::from(ok);
        entry.1 += 1;
        if s.y >= 3 {
            crisis.1 += 1;
            crisis.0 += usize::from(pred >= 3);
            f.crisis_as_none += usize::from(pred == 0);
        }
    }
    f.accuracy /= set.len().max(1) as f64;
    for ((accuracy, right), count) in f.level_accuracy.iter_mut().zip(right).zip(f.level_counts) {
        *accuracy = right as f64 / count.max(1) as f64;
    }
    f.crisis_recall = crisis.0 as f64 / crisis.1.max(1) as f64;
    (f, preds)
}

/// Reliability bins of the top-class probability: (mean confidence, accuracy, count).
pub(crate) fn reliability(
    head: &RiskHeadConfig,
    set: &[Scored<'_>],
    bins: usize,
) -> Vec<(f64, f64, usize)> {
    let mut acc = vec![(0.0, 0.0, 0usize); bins];
    for s in set {
        let p = head::probabilities(head, &s.logits);
        let (top, conf) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or((0, 0.0), |(i, v)| (i, *v));
        let bin = ((conf * bins as f64) as usize).min(bins - 1);
        acc[bin].0 += conf;
        acc[bin].1 += f64::from(u8::from(top == s.y));
        acc[bin].2 += 1;
    }
    acc.into_iter()
        .map(|(c, a, n)| {
            if n == 0 {
                (0.0, 0.0, 0)
            } else {
                (c / n as f64, a / n as f64, n)
            }
        })
        .collect()
}
