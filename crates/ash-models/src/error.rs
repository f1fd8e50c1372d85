//! Errors of the model layer. Each says what failed and, where one exists, what to do about it.

use std::path::PathBuf;

use ash_types::FailureKind;

/// Why inference or loading failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The ONNX Runtime library is not where it should be.
    #[error(
        "ONNX Runtime library not found at {}. Run `cargo xtask setup` to fetch the pinned \
         runtime into the cache directory, or set ORT_DYLIB_PATH to a libonnxruntime.so of \
         version 1.31 or newer",
        path.display()
    )]
    RuntimeMissing { path: PathBuf },
    /// The library exists but could not be loaded (wrong version, wrong architecture, …).
    #[error(
        "cannot load ONNX Runtime from {}: {reason}. This build needs ONNX Runtime 1.31 or newer; \
         `cargo xtask setup` fetches a matching one",
        path.display()
    )]
    RuntimeLoad { path: PathBuf, reason: String },
    /// A model could not be loaded (file, tokenizer, signature or labels).
    #[error("model `{model}`: {reason}")]
    Load { model: String, reason: String },
    /// The label set cannot be used with the configured models.
    #[error("label set `{set}`: {reason}")]
    LabelSet { set: String, reason: String },
    /// Tokenisation or a forward pass failed.
    #[error("model `{model}`: inference failed: {reason}")]
    Inference { model: String, reason: String },
    /// The model's queue is full: answer 503 rather than wait without bound.
    #[error("model `{model}` is overloaded (queue full)")]
    Overloaded { model: String },
    /// No answer within the inference deadline.
    #[error("model `{model}` did not answer within {after_ms} ms")]
    Timeout { model: String, after_ms: u64 },
    /// The model is not loaded (failed at start-up) or its worker has stopped.
    #[error("model `{model}` is unavailable: {reason}")]
    Unavailable { model: String, reason: String },
}

impl ModelError {
    /// The kind of failure, for metrics labels, `method` strings and load shedding.
    pub fn kind(&self) -> FailureKind {
        match self {
            ModelError::RuntimeMissing { .. } | ModelError::RuntimeLoad { .. } => {
                FailureKind::Runtime
            }
            ModelError::Load { .. } => FailureKind::Load,
            ModelError::LabelSet { .. } => FailureKind::LabelSet,
            ModelError::Inference { .. } => FailureKind::Inference,
            ModelError::Overloaded { .. } => FailureKind::Overloaded,
            ModelError::Timeout { .. } => FailureKind::Timeout,
            ModelError::Unavailable { .. } => FailureKind::Unavailable,
        }
    }
}
