//! `labels.yaml`: named label sets, per role, with each label's severity.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::models::check_template;
use crate::validate::{Validate, Validator};

/// Label sets and which one is active.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelsConfig {
    /// The set used for analysis; switchable at run time when `allow_switching`.
    pub active_set: String,
    /// Whether the admin API may switch the active set without a restart.
    pub allow_switching: bool,
    /// Turns a label description into an NLI hypothesis; `{label}` is replaced.
    pub hypothesis_template: String,
    pub sets: BTreeMap<String, LabelSet>,
}

impl Default for LabelsConfig {
    fn default() -> Self {
        Self {
            active_set: "enhanced_crisis".into(),
            allow_switching: true,
            hypothesis_template: "This message expresses {label}.".into(),
            sets: BTreeMap::new(),
        }
    }
}

/// One named set: for each role, the labels it distinguishes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelSet {
    /// What this set is for (shown by the admin API).
    pub description: String,
    pub roles: BTreeMap<String, Vec<LabelDefinition>>,
}

/// One label of one role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelDefinition {
    /// Stable identifier, reported in responses. For `classifier` models it is the model's own
    /// label name (`id2label`).
    pub id: String,
    /// Natural-language description compared with the message (embedding) or turned into a
    /// hypothesis (NLI). Not used by classifiers.
    #[serde(default)]
    pub description: Option<String>,
    /// How much this label says "crisis", from 0 (none) to 1 (imminent danger).
    pub severity: f64,
    /// Example messages of this label (embedding models compare the message with the nearest).
    #[serde(default)]
    pub exemplars: Vec<String>,
    /// Embedding models only: instead of a description, this label has a fixed similarity. It
    /// wins when no other label is at least this close, so a message about nothing in the set
    /// lands on this label instead of being spread evenly over all of them.
    #[serde(default)]
    pub baseline_similarity: Option<f64>,
}

impl LabelsConfig {
    /// The active set (validated to exist).
    pub fn active(&self) -> Option<&LabelSet> {
        self.sets.get(&self.active_set)
    }
}

impl Validate for LabelsConfig {
    fn validate(&self, v: &mut Validator) {
        check_template(v, "hypothesis_template", &self.hypothesis_template);
        if !self.sets.contains_key(&self.active_set) {
            v.problem(
                "active_set",
                Some(self.active_set.clone()),
                format!(
                    "names no label set; defined sets: {}",
                    self.sets.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        v.at("sets", |v| {
            for (name, set) in &self.sets {
                v.at(name, |v| {
                    v.at("roles", |v| {
                        for (role, labels) in &set.roles {
                            v.at(role, |v| validate_labels(labels, v));
                        }
                    });
                });
            }
        });
    }
}

fn validate_labels(labels: &[LabelDefinition], v: &mut Validator) {
    if labels.len() < 2 {
        v.problem("", None, "needs at least two labels to tell apart");
    }
    let mut seen = BTreeSet::new();
    for (i, label) in labels.iter().enumerate() {
        v.at(&format!("[{i}]"), |v| {
            v.ensure(
                !label.id.trim().is_empty(),
                "id",
                &label.id,
                "must not be empty",
            );
            v.ensure(
                seen.insert(label.id.as_str()),
                "id",
                &label.id,
                "is used twice",
            );
            v.unit("severity", label.severity);
            if let Some(d) = &label.description {
                v.ensure(!d.trim().is_empty(), "description", d, "must not be empty");
            }
            if let Some(b) = label.baseline_similarity {
                v.range("baseline_similarity", b, -1.0, 1.0);
                if label.description.is_some() || !label.exemplars.is_empty() {
                    v.problem(
                        "baseline_similarity",
                        None,
                        "a baseline label has no description or exemplars",
                    );
                }
            }
        });
    }
}
