//! Fitting one kind of head on a set of examples and scoring others with it, and calibrating a
//! head on a scored set: the steps every stage of the training shares.

use anyhow::Result;
use ash_config::{HeadLayer, HeadThresholds, RiskHeadConfig};

use crate::data::Example;
use crate::fit::{self, Kind, Params};
use crate::select::{self, Scored};

/// Seeds every fit, so a retrain on the same corpus reproduces the artefact.
const SEED: u64 = 20_261_130;
/// Scale of the embedding block relative to the other inputs (chosen by cross-validation).
const EMBEDDING_SCALE: f32 = 3.0;
/// Floor supports tried on validation (the configuration caps it at 0.2).
const FLOOR_SUPPORT_GRID: [f64; 6] = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2];

/// L2 penalty of the logistic head on the mean weighted loss (≈ 1 / (2·C·n): C ≈ 2 at the
/// corpus's n ≈ 6,000), the strength with the lowest cost in cross-validation grouped by corpus
/// pass (`--tune-l2`: stronger penalties caught a few more crises there but cost more false
/// alarms than they saved).
const LOGISTIC_L2: f64 = 4e-5;
/// The strengths `--tune-l2` compares.
pub(crate) const LOGISTIC_L2_GRID: [f64; 4] = [4e-5, 2e-4, 1e-3, 4e-3];

fn params(kind: Kind, y: &[usize], l2: Option<f64>) -> Params {
    let (epochs, learning_rate, default_l2) = match kind {
        Kind::Mlp { .. } => (200, 0.01, 1e-4),
        _ => (500, 0.05, LOGISTIC_L2),
    };
    Params {
        epochs,
        learning_rate,
        l2: l2.unwrap_or(default_l2),
        class_weights: fit::class_weights(y, 1.2),
        seed: SEED,
    }
}

/// A trained head (logistic or MLP) fitted on `train`, with the kind's L2 unless `l2` is given.
pub(crate) fn fit_head(kind: Kind, train: &[&Example], l2: Option<f64>) -> Result<Vec<HeadLayer>> {
    let x: Vec<&[f32]> = train.iter().map(|e| e.x.as_slice()).collect();
    let y: Vec<usize> = train.iter().map(|e| e.y).collect();
    let embedding_dim = train.first().map_or(0, |e| e.embedding.len());
    fit::fit_scaled(
        kind,
        &x,
        &y,
        &params(kind, &y, l2),
        embedding_dim,
        EMBEDDING_SCALE,
    )
}

/// Logits of `kind` trained on `train` (with `l2` as in [`fit_head`]), for `query`.
pub(crate) fn train_and_score(
    kind: Kind,
    l2: Option<f64>,
    train: &[&Example],
    query: &[&Example],
) -> Result<Vec<Vec<f64>>> {
    if let Kind::NearestExemplar { k } = kind {
        let pairs: Vec<(&[f32], usize)> = train
            .iter()
            .map(|e| (e.embedding.as_slice(), e.y))
            .collect();
        return Ok(query
            .iter()
            .map(|q| fit::nearest_exemplar_logits(&pairs, &q.embedding, k))
            .collect());
    }
    let layers = fit_head(kind, train, l2)?;
    let head = RiskHeadConfig {
        layers,
        ..RiskHeadConfig::default()
    };
    Ok(query
        .iter()
        .map(|q| ash_analysis::head::logits(&head, &q.x))
        .collect())
}

/// Pairs each example with its logits, for the figures.
pub(crate) fn scored<'a>(examples: &[&'a Example], logits: Vec<Vec<f64>>) -> Vec<Scored<'a>> {
    examples
        .iter()
        .zip(logits)
        .map(|(e, logits)| Scored {
            logits,
            y: e.y,
            accept: &e.accept,
            category: &e.category,
            floor: e.floor,
        })
        .collect()
}

/// Fits the temperature, then the thresholds and the floor support together (lowest cost; ties
/// go to the smaller support, which keeps more floors).
pub(crate) fn calibrated(set: &[Scored<'_>], base: &RiskHeadConfig) -> RiskHeadConfig {
    let temperature = select::temperature(set);
    let mut best: Option<(f64, f64, HeadThresholds)> = None;
    for floor_support in FLOOR_SUPPORT_GRID {
        let (thresholds, cost) = select::thresholds(set, temperature, floor_support);
        if best.as_ref().is_none_or(|(c, _, _)| cost < *c - 1e-9) {
            best = Some((cost, floor_support, thresholds));
        }
    }
    let (_, floor_support, thresholds) = best.unwrap_or((0.0, 0.0, base.thresholds.clone()));
    RiskHeadConfig {
        temperature,
        thresholds,
        floor_support,
        ..base.clone()
    }
}
