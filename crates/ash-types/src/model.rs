//! Model kinds, and why a model gave no result.

use std::fmt;

use serde::{Deserialize, Serialize};

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
