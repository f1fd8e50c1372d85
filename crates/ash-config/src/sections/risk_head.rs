//! `risk_head.yaml`: the trained risk head, written by `cargo xtask train` (not edited by hand).
//!
//! It is a configuration file rather than a model file because it is small, versioned with the
//! rest of `config/`, and must change together with the pattern families it reads: a reload swaps
//! head and patterns in one generation, so a request never mixes an old head with new features.
//! An absent file means "no head": the decision falls back to the ensemble and the patterns.

use serde::{Deserialize, Serialize};

use super::{CrisisLevel, PatternsConfig};
use crate::validate::{Validate, Validator};

/// A small feed-forward classifier over the message embedding and the pattern features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskHeadConfig {
    /// Artefact version (reported in every response, so a missed crisis can be traced).
    pub version: String,
    /// The embedding model whose output the head reads (`models.yaml: models`).
    pub model: String,
    /// SHA-256 of the corpus it was trained on.
    pub corpus_sha256: String,
    pub features: HeadFeatures,
    /// Output classes, in order (`none` … `critical`).
    pub levels: Vec<CrisisLevel>,
    /// Layers applied in order; the last one gives the class logits.
    #[serde(skip_serializing)]
    pub layers: Vec<HeadLayer>,
    /// Softmax temperature fitted on validation (calibration).
    pub temperature: f64,
    /// Lowest probability of "this level or above" at which each level is chosen.
    pub thresholds: HeadThresholds,
    /// While the head decides, a pattern floor (explicit intent, third party) applies only when
    /// the head gives at least this probability to `medium` or above: words like "kms" in
    /// "kms the wifi died lol" then stop paging staff, while any message the head reads as
    /// distress keeps its floor. Chosen on validation; 0 = floors always apply. Without the head
    /// (model down) floors always apply.
    pub floor_support: f64,
    /// Figures measured when it was trained (for `/status` and the docs; not used to decide).
    pub metrics: std::collections::BTreeMap<String, f64>,
}

impl RiskHeadConfig {
    /// True when a trained head is present.
    pub fn is_present(&self) -> bool {
        !self.layers.is_empty()
    }

    /// The version a trainer gives a head: `kind-corpus-patterns`. The corpus alone does not name
    /// a head, since the families' contents shape its features too (a changed regex trains a
    /// different head from the same corpus). Read back by [`RiskHeadConfig::trained_with`].
    pub fn version_for(kind: &str, corpus_sha256: &str, patterns: &PatternsConfig) -> String {
        let corpus = corpus_sha256.get(..12).unwrap_or(corpus_sha256);
        format!("{kind}-{corpus}-{}", patterns.digest())
    }

    /// Whether the head was trained with `patterns` as they are now: `None` for a version that
    /// does not name its patterns (`kind-corpus`, written before versions carried them). A head
    /// read with other patterns than it was trained with still runs, but its family inputs no
    /// longer mean what it learned.
    pub fn trained_with(&self, patterns: &PatternsConfig) -> Option<bool> {
        let mut parts = self.version.rsplitn(3, '-');
        let digest = parts.next()?;
        parts.nth(1)?;
        Some(digest == patterns.digest())
    }

    /// Length of the feature vector the first layer expects.
    pub fn input_len(&self) -> usize {
        self.layers.first().map_or(0, HeadLayer::input_len)
    }
}

/// The inputs beside the embedding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadFeatures {
    pub embedding_dim: usize,
    /// Pattern families (`patterns.yaml`), one 0/1 input each, in this order.
    pub families: Vec<String>,
    /// Hashed word and word-pair buckets of the normalised text (0 = none).
    pub hashed_buckets: usize,
}

/// One dense layer: `activation(weights · x + bias)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadLayer {
    pub activation: Activation,
    /// One row per output. Stored as little-endian `f32` in base64 with its shape: exact to the
    /// bit, and a hundred kilobytes instead of half a megabyte of YAML scalars to parse at every
    /// load.
    #[serde(with = "packed_matrix")]
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

impl HeadLayer {
    /// Number of inputs (columns).
    pub fn input_len(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }
}

mod packed_matrix {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Packed {
        rows: usize,
        cols: usize,
        f32le_base64: String,
    }

    pub(super) fn serialize<S: Serializer>(m: &[Vec<f32>], s: S) -> Result<S::Ok, S::Error> {
        let cols = m.first().map_or(0, Vec::len);
        let bytes: Vec<u8> = m.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        Packed {
            rows: m.len(),
            cols,
            f32le_base64: STANDARD.encode(bytes),
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f32>>, D::Error> {
        let p = Packed::deserialize(d)?;
        let bytes = STANDARD
            .decode(p.f32le_base64.as_bytes())
            .map_err(|e| D::Error::custom(format!("weights are not base64: {e}")))?;
        if bytes.len() != p.rows * p.cols * 4 || p.cols == 0 {
            return Err(D::Error::custom(format!(
                "weights hold {} bytes, not {} x {} f32",
                bytes.len(),
                p.rows,
                p.cols
            )));
        }
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(values.chunks(p.cols).map(<[f32]>::to_vec).collect())
    }
}

/// Activation after a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Identity,
    Relu,
}

/// Cumulative-probability thresholds: the level is the highest one whose "this level or above"
/// probability reaches its threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadThresholds {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
}

impl Default for HeadThresholds {
    fn default() -> Self {
        Self {
            low: 0.5,
            medium: 0.5,
            high: 0.5,
            critical: 0.5,
        }
    }
}

impl HeadThresholds {
    /// The threshold of `level` (`none` has none: 0).
    pub fn of(&self, level: CrisisLevel) -> f64 {
        match level {
            CrisisLevel::None => 0.0,
            CrisisLevel::Low => self.low,
            CrisisLevel::Medium => self.medium,
            CrisisLevel::High => self.high,
            CrisisLevel::Critical => self.critical,
        }
    }
}

impl Validate for RiskHeadConfig {
    fn validate(&self, v: &mut Validator) {
        if !self.is_present() {
            return;
        }
        v.ensure(
            self.levels == CrisisLevel::ALL,
            "levels",
            format!("{:?}", self.levels),
            "must list none, low, medium, high, critical in order",
        );
        v.range("temperature", self.temperature, 0.01, 100.0);
        // A cap, so that no artefact can switch the floors off.
        v.range("floor_support", self.floor_support, 0.0, 0.2);
        v.at("thresholds", |v| {
            for (key, value) in [
                ("low", self.thresholds.low),
                ("medium", self.thresholds.medium),
                ("high", self.thresholds.high),
                ("critical", self.thresholds.critical),
            ] {
                v.range(key, value, 0.001, 0.999);
            }
        });
        let expected_inputs = self.features.embedding_dim
            + self.features.families.len()
            + self.features.hashed_buckets
            + FLAG_INPUTS;
        let mut inputs = expected_inputs;
        v.at("layers", |v| {
            for (i, layer) in self.layers.iter().enumerate() {
                let key = format!("[{i}]");
                let rows_ok = layer.weights.iter().all(|r| r.len() == inputs)
                    && layer.weights.len() == layer.bias.len()
                    && !layer.bias.is_empty();
                v.ensure(
                    rows_ok,
                    &key,
                    format!("{}x{}", layer.weights.len(), layer.input_len()),
                    &format!("weights must be outputs x {inputs} and match the bias"),
                );
                let finite = layer
                    .weights
                    .iter()
                    .flatten()
                    .chain(&layer.bias)
                    .all(|w| w.is_finite());
                v.ensure(
                    finite,
                    &key,
                    "non-finite weight",
                    "every weight must be finite",
                );
                inputs = layer.bias.len();
            }
        });
        v.ensure(
            inputs == CrisisLevel::ALL.len(),
            "layers",
            inputs,
            "the last layer must have one output per level",
        );
    }
}

/// Inputs after the families: the pattern floor reaches high, it reaches critical, a negated
/// crisis match, and `ln(1 + words) / 5` (how much text there is).
pub const FLAG_INPUTS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_weights_round_trip_exactly_and_bad_shapes_are_refused() {
        let layer = HeadLayer {
            activation: Activation::Identity,
            weights: vec![vec![0.1, -2.5e-7, f32::MAX], vec![1.0, 2.0, 3.0]],
            bias: vec![0.5, -0.5],
        };
        let yaml = serde_yaml::to_string(&layer).expect("serialise");
        let back: HeadLayer = serde_yaml::from_str(&yaml).expect("deserialise");
        assert_eq!(back, layer);
        let broken = yaml.replace("cols: 3", "cols: 4");
        let error = serde_yaml::from_str::<HeadLayer>(&broken).expect_err("shape mismatch");
        assert!(error.to_string().contains("not 2 x 4"), "{error}");
    }
}
