//! The three model kinds, each in its own module owning everything that differs between them:
//! which output tensor to read and how it becomes one row per sequence, how a label set is
//! prepared for the model, which sequences a message becomes, and how a role's rows become a
//! label distribution. The rest of the layer (loading, batching, planning, assembling) is written
//! once against [`Kind`]; [`of`] is the only place that matches on [`ModelKind`].

mod classifier;
mod embedding;
mod nli;

use std::collections::BTreeMap;

use ash_config::{LabelDefinition, LabelsConfig, ModelDefinition, ModelKind};

use crate::error::ModelError;
use crate::labels::{ModelLabels, PreparedLabel, RoleLabels};
use crate::onnx::{ModelSignature, SequenceInput};

pub use nli::{hypothesis, nli_indices};

/// Runs texts through one model and returns one row each (label preparation embeds with it).
pub(crate) type Embed<'a> =
    dyn FnMut(&str, Vec<SequenceInput>) -> Result<Vec<Vec<f32>>, ModelError> + 'a;

/// One role's label definitions on a model: (role, weight, labels).
pub(crate) type RoleDefinitions<'a> = (&'a String, f64, &'a [LabelDefinition]);

/// What label preparation knows about the model and the set.
pub(crate) struct LabelContext<'a> {
    pub set_name: &'a str,
    pub labels: &'a LabelsConfig,
    pub model_name: &'a str,
    pub definition: &'a ModelDefinition,
    pub signature: &'a ModelSignature,
}

impl LabelContext<'_> {
    pub(crate) fn set_error(&self, reason: String) -> ModelError {
        ModelError::LabelSet {
            set: self.set_name.to_owned(),
            reason,
        }
    }

    pub(crate) fn load_error(&self, reason: String) -> ModelError {
        ModelError::Load {
            model: self.model_name.to_owned(),
            reason,
        }
    }

    /// A label's description, which embedding and NLI models need.
    pub(crate) fn description(&self, d: &LabelDefinition) -> Result<String, ModelError> {
        d.description.clone().ok_or_else(|| {
            self.set_error(format!(
                "label `{}` needs a description for embedding and nli models",
                d.id
            ))
        })
    }
}

/// What differs between model kinds.
pub(crate) trait Kind: Sync {
    /// Output names to read, most preferred first (else the model's first output). By default
    /// the logits of a sequence classifier.
    fn preferred_outputs(&self) -> &'static [&'static str] {
        &["logits"]
    }

    /// Whether the output classes need names (`id2label`); classifiers' do.
    fn names_classes(&self) -> bool {
        true
    }

    /// One row per sequence from the output tensor (`dims` its shape, `mask` the attention mask of
    /// the `[batch, seq_len]` input); `None` when the shape is not what this kind produces. By
    /// default one row of logits per sequence.
    fn rows(
        &self,
        dims: &[usize],
        data: &[f32],
        _mask: &[i64],
        batch: usize,
        _seq_len: usize,
    ) -> Option<Vec<Vec<f32>>> {
        match dims {
            [b, c] if *b == batch => Some(data.chunks_exact(*c).map(<[f32]>::to_vec).collect()),
            _ => None,
        }
    }

    /// Prepares the model's roles for the label set (fills `prepared.roles`, and any index the
    /// kind needs).
    fn prepare(
        &self,
        cx: &LabelContext<'_>,
        roles: &[RoleDefinitions<'_>],
        prepared: &mut ModelLabels,
        embed: &mut Embed<'_>,
    ) -> Result<(), ModelError>;

    /// Whether the model embeds a message: its first row is the message's embedding, and a long
    /// message's later windows are embedded too.
    fn embeds(&self) -> bool {
        false
    }

    /// The sequences one message becomes.
    fn sequences(&self, prepared: &ModelLabels, text: &str) -> Vec<SequenceInput>;

    /// How many sequences (and so rows) one message becomes.
    fn rows_per_text(&self, _prepared: &ModelLabels) -> usize {
        1
    }

    /// One role's label probabilities from the message's rows; `offset` walks the rows for
    /// kinds that give each role rows of its own.
    fn probabilities(
        &self,
        prepared: &ModelLabels,
        role: &RoleLabels,
        text_rows: &[Vec<f32>],
        offset: &mut usize,
    ) -> Vec<f32>;

    /// A sequence for warming the model up with real inference.
    fn warm_up_input(&self, text: &str) -> SequenceInput {
        SequenceInput::Single(text.to_owned())
    }
}

/// The behaviour of one model kind.
pub(crate) fn of(kind: ModelKind) -> &'static dyn Kind {
    match kind {
        ModelKind::Embedding => &embedding::Embedding,
        ModelKind::Nli => &nli::Nli,
        ModelKind::Classifier => &classifier::Classifier,
    }
}

/// A prepared label with nothing kind-specific filled in yet.
pub(crate) fn label(d: &LabelDefinition) -> PreparedLabel {
    PreparedLabel {
        id: d.id.clone(),
        severity: d.severity,
        vector: Vec::new(),
        exemplars: Vec::new(),
        baseline_similarity: d.baseline_similarity.map(|b| b as f32),
        hypothesis: String::new(),
        class_index: 0,
    }
}

pub(crate) fn role_labels(role: &str, weight: f64, labels: Vec<PreparedLabel>) -> RoleLabels {
    RoleLabels {
        role: role.to_owned(),
        weight,
        labels,
    }
}

/// Class names keyed by index, for readable errors.
pub(crate) fn class_names(id2label: &BTreeMap<usize, String>) -> String {
    id2label.values().cloned().collect::<Vec<_>>().join(", ")
}
