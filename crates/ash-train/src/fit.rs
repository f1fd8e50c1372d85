//! The candidate heads: nearest exemplars, multinomial logistic regression and a small MLP. The
//! two trained ones are fitted with candle (autograd + AdamW) on a class-weighted cross-entropy,
//! full batch, from a seeded start, so a run is reproducible.

use anyhow::Result;
use ash_config::{Activation, HeadLayer};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which head to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Nearest exemplars by cosine similarity of the embeddings (no training).
    NearestExemplar {
        k: usize,
    },
    Logistic,
    Mlp {
        hidden: usize,
    },
}

impl Kind {
    pub(crate) fn name(self) -> String {
        match self {
            Kind::NearestExemplar { k } => format!("nearest_exemplar_k{k}"),
            Kind::Logistic => "logistic".to_owned(),
            Kind::Mlp { hidden } => format!("mlp_{hidden}"),
        }
    }
}

/// Optimisation settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub epochs: usize,
    pub learning_rate: f64,
    /// L2 penalty on the weights (not the biases), added to the mean loss.
    pub l2: f64,
    /// Per-class loss weight (none … critical).
    pub class_weights: [f32; 5],
    pub seed: u64,
}

/// Inverse-frequency ("balanced") class weights, times `recall_boost` for high and critical:
/// a missed crisis costs more than a false alarm.
pub(crate) fn class_weights(y: &[usize], recall_boost: f32) -> [f32; 5] {
    let mut counts = [0usize; 5];
    for &c in y {
        counts[c] += 1;
    }
    let n = y.len() as f32;
    let mut w = [0.0; 5];
    for c in 0..5 {
        w[c] = n / (5.0 * counts[c].max(1) as f32);
        if c >= 3 {
            w[c] *= recall_boost;
        }
    }
    w
}

/// Fits a trained head (logistic or MLP) and returns its layers.
pub(crate) fn fit(kind: Kind, x: &[&[f32]], y: &[usize], p: &Params) -> Result<Vec<HeadLayer>> {
    let dev = Device::Cpu;
    let n = x.len();
    let d = x.first().map_or(0, |r| r.len());
    let flat: Vec<f32> = x.iter().flat_map(|r| r.iter().copied()).collect();
    let xt = Tensor::from_vec(flat, (n, d), &dev)?;
    let labels: Vec<u32> = y.iter().map(|&c| c as u32).collect();
    let yt = Tensor::from_vec(labels, (n, 1), &dev)?;
    let sample: Vec<f32> = y.iter().map(|&c| p.class_weights[c]).collect();
    let total: f32 = sample.iter().sum();
    let wt = Tensor::from_vec(sample, n, &dev)?;
    let layers = initial_layers(kind, d, p.seed, &dev)?;
    let vars: Vec<Var> = layers
        .iter()
        .flat_map(|(w, b, _)| [w.clone(), b.clone()])
        .collect();
    let mut optimiser = AdamW::new(
        vars,
        ParamsAdamW {
            lr: p.learning_rate,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    for _ in 0..p.epochs {
        let mut h = xt.clone();
        for (w, b, activation) in &layers {
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            if *activation == Activation::Relu {
                h = h.relu()?;
            }
        }
        let log_p = candle_nn::ops::log_softmax(&h, D::Minus1)?;
        let picked = log_p.gather(&yt, 1)?.squeeze(1)?;
        let mut loss = (picked * &wt)?
            .sum_all()?
            .affine(-1.0 / f64::from(total), 0.0)?;
        for (w, _, _) in &layers {
            loss = (loss + w.as_tensor().sqr()?.sum_all()?.affine(p.l2, 0.0)?)?;
        }
        optimiser.backward_step(&loss)?;
    }
    layers
        .into_iter()
        .map(|(w, b, activation)| {
            Ok(HeadLayer {
                activation,
                weights: w.as_tensor().to_vec2::<f32>()?,
                bias: b.as_tensor().to_vec1::<f32>()?,
            })
        })
        .collect()
}

/// Each layer's starting weights (from `seed`) and zero bias, with its activation.
fn initial_layers(
    kind: Kind,
    d: usize,
    seed: u64,
    dev: &Device,
) -> Result<Vec<(Var, Var, Activation)>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut init = |rows: usize, cols: usize, scale: f32| -> Result<Var> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
            .collect();
        Ok(Var::from_tensor(&Tensor::from_vec(
            values,
            (rows, cols),
            dev,
        )?)?)
    };
    let shapes: Vec<(usize, usize, Activation)> = match kind {
        Kind::Logistic => vec![(5, d, Activation::Identity)],
        Kind::Mlp { hidden } => vec![
            (hidden, d, Activation::Relu),
            (5, hidden, Activation::Identity),
        ],
        Kind::NearestExemplar { .. } => anyhow::bail!("nearest exemplars are not fitted"),
    };
    let mut layers = Vec::new();
    for (i, &(rows, cols, activation)) in shapes.iter().enumerate() {
        // The logistic head starts at zero (a convex problem: the start does not matter); the
        // MLP's hidden layer needs a random, seeded start (Kaiming-uniform scale).
        let scale = if kind == Kind::Logistic {
            0.0
        } else {
            (6.0 / cols as f32).sqrt() * if i == 0 { 1.0 } else { 0.5 }
        };
        let w = init(rows, cols, scale)?;
        let b = Var::from_tensor(&Tensor::zeros(rows, DType::F32, dev)?)?;
        layers.push((w, b, activation));
    }
    Ok(layers)
}

/// Fits with the embedding block scaled by `embedding_scale` and folds the scale into the first
/// layer, so the served head reads the raw features. The embedding is unit-length while the other
/// inputs are 0/1 flags or unit-length hashed counts; the scale balances the blocks under one L2
/// penalty (chosen by cross-validation, see `heads::params`).
pub(crate) fn fit_scaled(
    kind: Kind,
    x: &[&[f32]],
    y: &[usize],
    p: &Params,
    embedding_dim: usize,
    embedding_scale: f32,
) -> Result<Vec<HeadLayer>> {
    let scaled: Vec<Vec<f32>> = x
        .iter()
        .map(|r| {
            let mut r = r.to_vec();
            for v in r.iter_mut().take(embedding_dim) {
                *v *= embedding_scale;
            }
            r
        })
        .collect();
    let refs: Vec<&[f32]> = scaled.iter().map(Vec::as_slice).collect();
    let mut layers = fit(kind, &refs, y, p)?;
    if let Some(first) = layers.first_mut() {
        for row in &mut first.weights {
            for w in row.iter_mut().take(embedding_dim) {
                *w *= embedding_scale;
            }
        }
    }
    Ok(layers)
}

/// Nearest-exemplar class scores (log of similarity-weighted votes), for the baseline.
pub(crate) fn nearest_exemplar_logits(
    train: &[(&[f32], usize)],
    query: &[f32],
    k: usize,
) -> Vec<f64> {
    let mut sims: Vec<(f32, usize)> = train
        .iter()
        .map(|(e, y)| (e.iter().zip(query).map(|(a, b)| a * b).sum::<f32>(), *y))
        .collect();
    sims.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut votes = [1e-3f64; 5];
    for (sim, y) in sims.into_iter().take(k) {
        votes[y] += (f64::from(sim) * 10.0).exp();
    }
    votes.iter().map(|v| v.ln()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<Vec<f32>>, Vec<usize>) {
        // Two separable classes on the first input (the second is noise), with classes 2–4
        // present once each so every class has a weight.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let c = i % 2;
            x.push(vec![
                if c == 0 { -1.0 } else { 1.0 },
                (i as f32 * 0.37).sin(),
            ]);
            y.push(c);
        }
        for c in 2..5 {
            x.push(vec![c as f32, 0.0]);
            y.push(c);
        }
        (x, y)
    }

    fn params() -> Params {
        Params {
            epochs: 200,
            learning_rate: 0.05,
            l2: 1e-4,
            class_weights: [1.0; 5],
            seed: 7,
        }
    }

    fn argmax(layers: &[HeadLayer], x: &[f32]) -> usize {
        let head = ash_config::RiskHeadConfig {
            layers: layers.to_vec(),
            ..Default::default()
        };
        let logits = ash_analysis::head::logits(&head, x);
        (0..5)
            .max_by(|a, b| logits[*a].total_cmp(&logits[*b]))
            .unwrap_or(0)
    }

    #[test]
    fn the_logistic_head_learns_a_separable_rule_and_is_reproducible() {
        let (x, y) = toy();
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let a = fit(Kind::Logistic, &refs, &y, &params()).expect("fit");
        let b = fit(Kind::Logistic, &refs, &y, &params()).expect("fit");
        assert_eq!(a, b, "same data and seed, same weights");
        assert_eq!(argmax(&a, &[-1.0, 0.3]), 0);
        assert_eq!(argmax(&a, &[1.0, -0.3]), 1);
    }

    #[test]
    fn scaling_the_embedding_block_is_folded_into_the_served_weights() {
        let (x, y) = toy();
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let layers = fit_scaled(Kind::Logistic, &refs, &y, &params(), 1, 3.0).expect("fit");
        // The served head reads raw features: the rule still holds without any scaling.
        assert_eq!(argmax(&layers, &[-1.0, 0.0]), 0);
        assert_eq!(argmax(&layers, &[1.0, 0.0]), 1);
    }

    #[test]
    fn balanced_weights_favour_rare_classes_and_crisis_recall() {
        let w = class_weights(&[0, 0, 0, 0, 1, 3], 1.5);
        assert!(w[1] > w[0]);
        assert!((w[3] - w[1] * 1.5).abs() < 1e-6);
    }
}
