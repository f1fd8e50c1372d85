//! The contract between the Ash-NLP layers: plain data types that more than one layer speaks.
//!
//! Kept free of heavy dependencies (serde only), so the analysis can depend on what the model
//! layer produces without building ONNX Runtime, tokenizers or an async runtime, and so the
//! response layer can name levels without reading configuration.

mod evidence;
mod outputs;
pub mod vector;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use evidence::{Evidence, ModelEvidence};
pub use outputs::{LabelScore, ModelFailure, ModelOutputs, RoleOutput};

/// A staff correction's direction (the feedback endpoint it came through).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionKind {
    /// Flagged higher than it should have been.
    FalsePositive,
    /// Flagged lower than it should have been.
    FalseNegative,
}

impl CorrectionKind {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionKind::FalsePositive => "false_positive",
            CorrectionKind::FalseNegative => "false_negative",
        }
    }
}

/// The crisis levels, in increasing order of concern.
///
/// `critical` exists only inside the service and in the richer API fields: Ash-Bot v3.1 accepts
/// only `none|low|medium|high`, so the response layer reports `critical` to it as `high`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CrisisLevel {
    #[default]
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl CrisisLevel {
    /// Every level, lowest first.
    pub const ALL: [CrisisLevel; 5] = [
        CrisisLevel::None,
        CrisisLevel::Low,
        CrisisLevel::Medium,
        CrisisLevel::High,
        CrisisLevel::Critical,
    ];

    /// The lowercase name used in config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CrisisLevel::None => "none",
            CrisisLevel::Low => "low",
            CrisisLevel::Medium => "medium",
            CrisisLevel::High => "high",
            CrisisLevel::Critical => "critical",
        }
    }

    /// Position in [`CrisisLevel::ALL`] (for distances between levels).
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// Parses a level name; `safe` is accepted as `none` (the v5 API's word for it).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "safe" => Some(CrisisLevel::None),
            "low" => Some(CrisisLevel::Low),
            "medium" => Some(CrisisLevel::Medium),
            "high" => Some(CrisisLevel::High),
            "critical" => Some(CrisisLevel::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for CrisisLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three ways a model can produce a label distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Bi-encoder: the message is embedded once and compared with embedded label descriptions.
    Embedding,
    /// Cross-encoder zero-shot: one (message, hypothesis) pair per label.
    Nli,
    /// Sequence classification with fixed labels (`id2label`).
    Classifier,
}

/// Why a model gave no result for a message. Compared across layers (metrics, degradation
/// reasons, load shedding), so it is an enum, not a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The ONNX Runtime library is missing or could not be loaded.
    Runtime,
    /// The model or its tokenizer could not be loaded.
    Load,
    /// The label set could not be prepared.
    LabelSet,
    /// The runtime failed during a run.
    Inference,
    /// The model's queue is full.
    Overloaded,
    /// No answer within the inference deadline.
    Timeout,
    /// The model is not loaded, or its worker has stopped.
    Unavailable,
    /// The models are still loading.
    Starting,
}

impl FailureKind {
    /// The lowercase name used in metrics labels, `method` and `degraded_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Runtime => "runtime",
            FailureKind::Load => "load",
            FailureKind::LabelSet => "label_set",
            FailureKind::Inference => "inference",
            FailureKind::Overloaded => "overloaded",
            FailureKind::Timeout => "timeout",
            FailureKind::Unavailable => "unavailable",
            FailureKind::Starting => "starting",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
