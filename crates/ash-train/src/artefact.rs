//! The trained head as `config/risk_head.yaml`: written after a run, or compared with the
//! committed file (`--check`) to prove the artefact is what this checkout trains.

use std::path::Path;

use anyhow::{Context, Result};
use ash_config::RiskHeadConfig;

/// Largest weight difference a retrain may show: ONNX Runtime's embeddings and the optimiser's
/// float sums can differ in the last bits across CPUs; on one machine a retrain is bit-exact.
const WEIGHT_TOLERANCE: f32 = 1e-3;

/// A figure as the artefact stores it: four decimals, so a retrain diffs cleanly.
pub(crate) fn round_metric(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Compares a fresh head with the committed artefact.
pub(crate) fn check(path: &Path, fresh: &RiskHeadConfig) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let shipped: RiskHeadConfig = serde_yaml::from_str(&text)?;
    let mut problems = Vec::new();
    if shipped.version != fresh.version || shipped.corpus_sha256 != fresh.corpus_sha256 {
        problems.push(format!("version {} != {}", shipped.version, fresh.version));
    }
    if shipped.features != fresh.features {
        problems.push("feature specification differs (patterns changed?)".to_owned());
    }
    let max_diff = shipped
        .layers
        .iter()
        .zip(&fresh.layers)
        .flat_map(|(a, b)| {
            a.weights
                .iter()
                .flatten()
                .zip(b.weights.iter().flatten())
                .chain(a.bias.iter().zip(&b.bias))
        })
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    if shipped.layers.len() != fresh.layers.len() || max_diff > WEIGHT_TOLERANCE {
        problems.push(format!(
            "weights differ by up to {max_diff:e} (tolerance {WEIGHT_TOLERANCE:e})"
        ));
    }
    if shipped.thresholds != fresh.thresholds || shipped.floor_support != fresh.floor_support {
        problems.push(format!(
            "thresholds {:?} != {:?}",
            shipped.thresholds, fresh.thresholds
        ));
    }
    if problems.is_empty() {
        println!(
            "{} reproduces {} (largest weight difference {max_diff:e})",
            path.display(),
            shipped.version
        );
        Ok(())
    } else {
        anyhow::bail!(
            "{} is not what `cargo xtask train` produces from this checkout: {}",
            path.display(),
            problems.join("; ")
        )
    }
}

/// Writes the artefact with its layers (which the configuration's own serialisation leaves out
/// of printed configs).
pub(crate) fn write(path: &Path, head: &RiskHeadConfig) -> Result<()> {
    let mut value = serde_yaml::to_value(head)?;
    if let serde_yaml::Value::Mapping(map) = &mut value {
        map.insert("layers".into(), serde_yaml::to_value(&head.layers)?);
    }
    let text = format!(
        "# The trained risk head. Written by `cargo xtask train` from data/corpus; do not edit by hand.\n{}",
        serde_yaml::to_string(&value)?
    );
    std::fs::write(path, text)?;
    Ok(())
}
