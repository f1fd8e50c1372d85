//! The active label set, prepared for each model: label embeddings (embedding models), hypotheses
//! (NLI models), label-index mappings (classifiers).
//!
//! A `LabelIndex` is built whole, off the request path, and swapped in atomically; a request reads
//! one `Arc<LabelIndex>` and uses it for every role.

use std::collections::BTreeMap;

use ash_config::{LabelsConfig, ModelKind, ModelsConfig};

use crate::error::ModelError;
use crate::kinds::{self, LabelContext, RoleDefinitions};
use crate::onnx::{ModelSignature, SequenceInput};

pub use crate::kinds::{hypothesis, nli_indices};

/// One label as a model uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedLabel {
    pub id: String,
    pub severity: f64,
    /// Embedding models: the description's unit vector.
    pub vector: Vec<f32>,
    /// Embedding models: the exemplars' unit vectors.
    pub exemplars: Vec<Vec<f32>>,
    /// Embedding models: a fixed similarity instead of a description (the "none of these" label).
    pub baseline_similarity: Option<f32>,
    /// NLI models: the hypothesis paired with the message.
    pub hypothesis: String,
    /// Classifiers: the model's output index for this label.
    pub class_index: usize,
}

/// One role's labels on one model.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleLabels {
    pub role: String,
    pub weight: f64,
    pub labels: Vec<PreparedLabel>,
}

/// How one model scores its roles.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelLabels {
    pub kind: ModelKind,
    pub roles: Vec<RoleLabels>,
    pub similarity_scale: f32,
    /// Weight of the nearest exemplar against the description (embedding models).
    pub exemplar_weight: f32,
    pub entailment: usize,
    pub contradiction: Option<usize>,
    pub multi_label: bool,
}

/// The active label set, prepared for every loaded model.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelIndex {
    pub set: String,
    pub models: BTreeMap<String, ModelLabels>,
}

/// Builds the index for `set` over the models in `signatures`, embedding texts with `embed`
/// (called once per embedding model with every description and exemplar).
pub fn build(
    set_name: &str,
    labels: &LabelsConfig,
    models: &ModelsConfig,
    signatures: &BTreeMap<String, ModelSignature>,
    mut embed: impl FnMut(&str, Vec<SequenceInput>) -> Result<Vec<Vec<f32>>, ModelError>,
) -> Result<LabelIndex, ModelError> {
    let set = labels
        .sets
        .get(set_name)
        .ok_or_else(|| ModelError::LabelSet {
            set: set_name.to_owned(),
            reason: format!(
                "no such label set (defined: {})",
                labels.sets.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })?;
    let mut index = LabelIndex {
        set: set_name.to_owned(),
        models: BTreeMap::new(),
    };
    for (model_name, signature) in signatures {
        let Some(definition) = models.models.get(model_name) else {
            continue;
        };
        let cx = LabelContext {
            set_name,
            labels,
            model_name,
            definition,
            signature,
        };
        let roles: Vec<RoleDefinitions<'_>> = models
            .enabled_roles()
            .filter(|(_, r)| &r.model == model_name)
            .map(|(role, r)| {
                set.roles
                    .get(role)
                    .map(|defs| (role, r.weight, defs.as_slice()))
                    .ok_or_else(|| cx.set_error(format!("role `{role}` has no labels in this set")))
            })
            .collect::<Result<_, _>>()?;
        // Only embedding models read these; the defaults keep the others' values meaningful.
        let embedding = definition.embedding.clone().unwrap_or_default();
        let mut prepared = ModelLabels {
            kind: definition.kind,
            roles: Vec::new(),
            similarity_scale: embedding.similarity_scale,
            exemplar_weight: embedding.exemplar_weight,
            entailment: 0,
            contradiction: None,
            multi_label: false,
        };
        kinds::of(definition.kind).prepare(&cx, &roles, &mut prepared, &mut embed)?;
        index.models.insert(model_name.clone(), prepared);
    }
    Ok(index)
}
