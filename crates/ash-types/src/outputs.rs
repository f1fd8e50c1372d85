//! What the model layer hands to the analysis: plain data, so the analysis can be tested without
//! any model.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{FailureKind, ModelKind};

/// One label's probability, with the severity the label set gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelScore {
    pub id: String,
    pub probability: f64,
    /// From the label set: 0 = no concern, 1 = imminent danger.
    pub severity: f64,
}

/// One role's result for one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleOutput {
    pub model: String,
    pub kind: ModelKind,
    /// Ensemble weight (from `models.yaml`).
    pub weight: f64,
    /// Labels judged independently (probabilities need not sum to one).
    pub multi_label: bool,
    /// In label-set order.
    pub labels: Vec<LabelScore>,
}

impl RoleOutput {
    /// The most probable label.
    pub fn top(&self) -> Option<&LabelScore> {
        self.labels
            .iter()
            .max_by(|a, b| a.probability.total_cmp(&b.probability))
    }
}

/// A model that gave no result for this message, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelFailure {
    pub model: String,
    pub roles: Vec<String>,
    pub kind: FailureKind,
    pub reason: String,
}

/// Every role's result for one message. Computed against one label-set snapshot, so a label-set
/// switch during the request cannot mix two sets in one answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ModelOutputs {
    pub label_set: String,
    pub roles: BTreeMap<String, RoleOutput>,
    pub failures: Vec<ModelFailure>,
    /// The message's sentence embedding from the first embedding model, when one answered (used
    /// to find staff corrections of similar messages without a second forward pass).
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
    /// Embeddings of the later windows of a message longer than the model reads at once (the
    /// first window is `embedding`); empty for short messages.
    #[serde(skip)]
    pub window_embeddings: Vec<Vec<f32>>,
}

impl ModelOutputs {
    /// True when some enabled role has no result.
    pub fn is_partial(&self) -> bool {
        !self.failures.is_empty()
    }
}
