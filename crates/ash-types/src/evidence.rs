//! The model layer's contribution to one message, as the analysis reads it.

use crate::{FailureKind, ModelOutputs};

/// What the model layer contributed to one message (borrowed, for the analysis).
#[derive(Clone, Copy, Debug)]
pub enum ModelEvidence<'a> {
    /// Per-role outputs (possibly partial: see their `failures`).
    Outputs(&'a ModelOutputs),
    /// The model layer could not answer at all.
    Unavailable { kind: FailureKind, detail: &'a str },
    /// The ensemble stage is switched off (`features.yaml: ensemble_analysis`).
    Disabled,
}

/// [`ModelEvidence`], owned: what a request holds between inference and analysis.
#[derive(Clone, Debug)]
pub enum Evidence {
    Outputs(ModelOutputs),
    Unavailable { kind: FailureKind, detail: String },
    Disabled,
}

impl Evidence {
    /// The message's embedding, when an embedding model answered.
    pub fn embedding(&self) -> Option<&[f32]> {
        match self {
            Evidence::Outputs(o) => o.embedding.as_deref(),
            _ => None,
        }
    }

    /// The borrowed form the analysis reads.
    pub fn as_model_evidence(&self) -> ModelEvidence<'_> {
        match self {
            Evidence::Outputs(o) => ModelEvidence::Outputs(o),
            Evidence::Unavailable { kind, detail } => ModelEvidence::Unavailable {
                kind: *kind,
                detail,
            },
            Evidence::Disabled => ModelEvidence::Disabled,
        }
    }
}
