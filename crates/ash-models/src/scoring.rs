//! Turning raw model outputs into label distributions. Pure functions, tested without a model.

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        // All -inf or NaN: no information, spread evenly rather than produce NaN.
        let n = logits.len().max(1) as f32;
        return vec![1.0 / n; logits.len()];
    }
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Mean of the token vectors where `mask` is 1, then L2-normalised (sentence-transformers
/// pooling). `hidden` is `[seq_len, dim]` row-major.
pub fn mean_pool_normalized(hidden: &[f32], mask: &[i64], dim: usize) -> Vec<f32> {
    let mut pooled = vec![0.0f32; dim];
    let mut count = 0.0f32;
    for (token, &m) in hidden.chunks_exact(dim).zip(mask) {
        if m != 0 {
            for (p, &h) in pooled.iter_mut().zip(token) {
                *p += h;
            }
            count += 1.0;
        }
    }
    if count > 0.0 {
        for p in &mut pooled {
            *p /= count;
        }
    }
    normalize(&mut pooled);
    pooled
}

pub use ash_types::vector::{dot, normalize};

/// How close a message is to a label: the cosine with its description, blended with the cosine
/// of the nearest exemplar (`exemplar_weight` of it) when the label has exemplars. The nearest
/// exemplar, not their centroid, so that a label can cover several ways of saying one thing.
pub fn label_similarity(
    message: &[f32],
    description: &[f32],
    exemplars: &[Vec<f32>],
    exemplar_weight: f32,
) -> f32 {
    let description = dot(message, description);
    let nearest = exemplars
        .iter()
        .map(|e| dot(message, e))
        .fold(f32::NEG_INFINITY, f32::max);
    if nearest.is_finite() {
        (1.0 - exemplar_weight) * description + exemplar_weight * nearest
    } else {
        description
    }
}

/// Bi-encoder zero-shot: softmax over `scale × similarity(message, label)`.
pub fn embedding_distribution(similarities: &[f32], scale: f32) -> Vec<f32> {
    let scaled: Vec<f32> = similarities.iter().map(|s| scale * s).collect();
    softmax(&scaled)
}

/// Cross-encoder zero-shot, one label is true: softmax over the entailment logits of the
/// (message, hypothesis) pairs. `pair_logits[i]` is the logit row of label `i`.
pub fn nli_single_label(pair_logits: &[Vec<f32>], entailment: usize) -> Vec<f32> {
    let entail: Vec<f32> = pair_logits
        .iter()
        .map(|row| row.get(entailment).copied().unwrap_or(f32::NEG_INFINITY))
        .collect();
    softmax(&entail)
}

/// Cross-encoder zero-shot, each label judged alone: for every pair, the softmax of
/// (contradiction, entailment) gives the probability that the label holds.
pub fn nli_multi_label(
    pair_logits: &[Vec<f32>],
    entailment: usize,
    contradiction: usize,
) -> Vec<f32> {
    pair_logits
        .iter()
        .map(|row| {
            let e = row.get(entailment).copied().unwrap_or(f32::NEG_INFINITY);
            let c = row.get(contradiction).copied().unwrap_or(f32::NEG_INFINITY);
            softmax(&[c, e])[1]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn softmax_is_a_distribution_and_stable() {
        let p = softmax(&[1000.0, 1000.0, 999.0]);
        assert!(close(p.iter().sum(), 1.0));
        assert!(close(p[0], p[1]) && p[2] < p[0]);
        assert_eq!(
            softmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]),
            vec![0.5, 0.5]
        );
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        // Two real tokens and one padding token with a huge value that must not count.
        let hidden = [1.0, 0.0, 3.0, 0.0, 1000.0, 1000.0];
        let pooled = mean_pool_normalized(&hidden, &[1, 1, 0], 2);
        assert!(close(pooled[0], 1.0) && close(pooled[1], 0.0));
    }

    #[test]
    fn single_label_nli_is_softmax_over_entailment_column() {
        // Rows: [contradiction, neutral, entailment].
        let rows = vec![vec![0.0, 0.0, 2.0], vec![5.0, 0.0, 0.0]];
        let p = nli_single_label(&rows, 2);
        let expected = softmax(&[2.0, 0.0]);
        assert!(close(p[0], expected[0]) && close(p[1], expected[1]));
    }

    #[test]
    fn multi_label_nli_judges_each_label_alone() {
        let rows = vec![vec![0.0, 9.0, 3.0], vec![3.0, 9.0, 0.0]];
        let p = nli_multi_label(&rows, 2, 0);
        assert!(close(p[0], softmax(&[0.0, 3.0])[1]));
        assert!(close(p[1], softmax(&[3.0, 0.0])[1]));
        // Independent: they need not sum to one.
        assert!(!close(p[0] + p[1], 2.0) && p[0] > 0.9 && p[1] < 0.1);
    }

    #[test]
    fn embedding_distribution_prefers_the_closest_label() {
        let msg = vec![1.0, 0.0];
        let sims: Vec<f32> = [vec![0.0, 1.0], vec![1.0, 0.0]]
            .iter()
            .map(|l| label_similarity(&msg, l, &[], 0.5))
            .collect();
        let p = embedding_distribution(&sims, 10.0);
        assert!(p[1] > 0.99);
    }

    #[test]
    fn the_nearest_exemplar_counts_not_the_centroid() {
        let msg = vec![1.0, 0.0];
        let description = vec![0.0, 1.0];
        let exemplars = vec![vec![1.0, 0.0], vec![-1.0, 0.0]];
        // Centroid of the exemplars is zero; the nearest one matches the message exactly.
        assert!(close(
            label_similarity(&msg, &description, &exemplars, 0.5),
            0.5
        ));
        assert!(close(label_similarity(&msg, &description, &[], 0.5), 0.0));
    }
}
