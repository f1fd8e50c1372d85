//! The active label set, prepared for each model: label embeddings (embedding models), hypotheses
//! (NLI models), label-index mappings (classifiers).
//!
//! A `LabelIndex` is built whole, off the request path, and swapped in atomically; a request reads
//! one `Arc<LabelIndex>` and uses it for every role.

use std::collections::BTreeMap;

use ash_config::{LabelDefinition, LabelsConfig, ModelKind, ModelsConfig};

use crate::error::ModelError;
use crate::onnx::{ModelSignature, SequenceInput};

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
    let fail = |reason: String| ModelError::LabelSet {
        set: set_name.to_owned(),
        reason,
    };
    let set = labels.sets.get(set_name).ok_or_else(|| {
        fail(format!(
            "no such label set (defined: {})",
            labels.sets.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut index = LabelIndex {
        set: set_name.to_owned(),
        models: BTreeMap::new(),
    };
    for (model_name, signature) in signatures {
        let Some(definition) = models.models.get(model_name) else {
            continue;
        };
        let roles: Vec<(&String, f64, &Vec<LabelDefinition>)> = models
            .enabled_roles()
            .filter(|(_, r)| &r.model == model_name)
            .map(|(role, r)| {
                set.roles
                    .get(role)
                    .map(|defs| (role, r.weight, defs))
                    .ok_or_else(|| fail(format!("role `{role}` has no labels in this set")))
            })
            .collect::<Result<_, _>>()?;
        let nli = definition.nli.clone().unwrap_or_default();
        let mut prepared = ModelLabels {
            kind: definition.kind,
            roles: Vec::new(),
            similarity_scale: definition
                .embedding
                .as_ref()
                .map_or(20.0, |e| e.similarity_scale),
            exemplar_weight: definition
                .embedding
                .as_ref()
                .map_or(0.5, |e| e.exemplar_weight),
            entailment: 0,
            contradiction: None,
            multi_label: nli.multi_label,
        };
        match definition.kind {
            ModelKind::Embedding => {
                // One call embeds every description and exemplar of every role of this model.
                let mut texts = Vec::new();
                for (_, _, defs) in &roles {
                    for d in defs.iter() {
                        if d.baseline_similarity.is_none() {
                            texts.push(SequenceInput::Single(description(d, set_name)?));
                        }
                        texts.extend(d.exemplars.iter().map(|e| SequenceInput::Single(e.clone())));
                    }
                }
                let vectors = embed(model_name, texts)?;
                let mut next = vectors.into_iter();
                for (role, weight, defs) in &roles {
                    let mut out = Vec::new();
                    for d in defs.iter() {
                        let mut take = || {
                            next.next()
                                .ok_or_else(|| fail("embedding count mismatch".into()))
                        };
                        let vector = match d.baseline_similarity {
                            Some(_) => Vec::new(),
                            None => take()?,
                        };
                        let exemplars = d
                            .exemplars
                            .iter()
                            .map(|_| take())
                            .collect::<Result<Vec<_>, _>>()?;
                        out.push(PreparedLabel {
                            exemplars,
                            ..label(d, vector, String::new(), 0)
                        });
                    }
                    prepared.roles.push(role_labels(role, *weight, out));
                }
            }
            ModelKind::Nli => {
                let (entailment, contradiction) =
                    nli_indices(signature, &nli).map_err(|r| ModelError::Load {
                        model: model_name.clone(),
                        reason: r,
                    })?;
                if prepared.multi_label && contradiction.is_none() {
                    return Err(ModelError::Load {
                        model: model_name.clone(),
                        reason: "multi_label needs a contradiction (or not_entailment) label in id2label or `nli.contradiction_index`".into(),
                    });
                }
                prepared.entailment = entailment;
                prepared.contradiction = contradiction;
                let template = nli
                    .hypothesis_template
                    .as_deref()
                    .unwrap_or(&labels.hypothesis_template);
                for (role, weight, defs) in &roles {
                    let out = defs
                        .iter()
                        .map(|d| {
                            Ok(label(
                                d,
                                Vec::new(),
                                hypothesis(template, &description(d, set_name)?),
                                0,
                            ))
                        })
                        .collect::<Result<Vec<_>, ModelError>>()?;
                    prepared.roles.push(role_labels(role, *weight, out));
                }
            }
            ModelKind::Classifier => {
                let by_name: BTreeMap<&str, usize> = signature
                    .id2label
                    .iter()
                    .map(|(i, l)| (l.as_str(), *i))
                    .collect();
                if by_name.is_empty() {
                    return Err(ModelError::Load {
                        model: model_name.clone(),
                        reason:
                            "a classifier needs id2label (in config_json or `classifier.id2label`)"
                                .into(),
                    });
                }
                for (role, weight, defs) in &roles {
                    let mut out = Vec::new();
                    for d in defs.iter() {
                        let idx = by_name.get(d.id.as_str()).copied().ok_or_else(|| {
                            fail(format!(
                                "role `{role}`: label `{}` is not one of the model's labels ({})",
                                d.id,
                                signature
                                    .id2label
                                    .values()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?;
                        out.push(label(d, Vec::new(), String::new(), idx));
                    }
                    if out.len() != by_name.len() {
                        return Err(fail(format!(
                            "role `{role}` gives severities for {} of the model's {} labels; every label needs one",
                            out.len(),
                            by_name.len()
                        )));
                    }
                    prepared.roles.push(role_labels(role, *weight, out));
                }
            }
        }
        index.models.insert(model_name.clone(), prepared);
    }
    Ok(index)
}

fn description(d: &LabelDefinition, set: &str) -> Result<String, ModelError> {
    d.description.clone().ok_or_else(|| ModelError::LabelSet {
        set: set.to_owned(),
        reason: format!(
            "label `{}` needs a description for embedding and nli models",
            d.id
        ),
    })
}

fn label(
    d: &LabelDefinition,
    vector: Vec<f32>,
    hypothesis: String,
    class_index: usize,
) -> PreparedLabel {
    PreparedLabel {
        id: d.id.clone(),
        severity: d.severity,
        vector,
        exemplars: Vec::new(),
        baseline_similarity: d.baseline_similarity.map(|b| b as f32),
        hypothesis,
        class_index,
    }
}

fn role_labels(role: &str, weight: f64, labels: Vec<PreparedLabel>) -> RoleLabels {
    RoleLabels {
        role: role.to_owned(),
        weight,
        labels,
    }
}

/// Fills the template: `{label}` (or `{}`) becomes the label description.
pub fn hypothesis(template: &str, description: &str) -> String {
    if template.contains("{label}") {
        template.replace("{label}", description)
    } else {
        template.replacen("{}", description, 1)
    }
}

/// Entailment and contradiction indices: explicit config wins, else `id2label` names
/// (`entailment`, `contradiction`, or `not_entailment` for two-way models).
pub fn nli_indices(
    signature: &ModelSignature,
    options: &ash_config::NliOptions,
) -> Result<(usize, Option<usize>), String> {
    let find = |pred: &dyn Fn(&str) -> bool| {
        signature
            .id2label
            .iter()
            .find(|(_, name)| pred(&name.to_ascii_lowercase().replace([' ', '-'], "_")))
            .map(|(i, _)| *i)
    };
    let entailment = options
        .entailment_index
        .or_else(|| find(&|n| n.starts_with("entail")))
        .ok_or("cannot find the entailment label: set `nli.entailment_index` or give config_json with id2label")?;
    let contradiction = options
        .contradiction_index
        .or_else(|| find(&|n| n.starts_with("contradict") || n == "not_entailment"));
    Ok((entailment, contradiction))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(labels: &[(usize, &str)]) -> ModelSignature {
        ModelSignature {
            id2label: labels.iter().map(|(i, l)| (*i, (*l).to_owned())).collect(),
            ..ModelSignature::default()
        }
    }

    #[test]
    fn hypotheses_fill_either_placeholder() {
        assert_eq!(
            hypothesis("This is {label}.", "despair"),
            "This is despair."
        );
        assert_eq!(hypothesis("About {}.", "food"), "About food.");
    }

    #[test]
    fn nli_indices_come_from_id2label_in_any_order_and_case() {
        let s = sig(&[(0, "ENTAILMENT"), (1, "neutral"), (2, "Contradiction")]);
        assert_eq!(nli_indices(&s, &Default::default()), Ok((0, Some(2))));
        let two_way = sig(&[(0, "entailment"), (1, "not_entailment")]);
        assert_eq!(nli_indices(&two_way, &Default::default()), Ok((0, Some(1))));
        let none = sig(&[(0, "LABEL_0"), (1, "LABEL_1")]);
        assert!(nli_indices(&none, &Default::default()).is_err());
        let explicit = ash_config::NliOptions {
            entailment_index: Some(1),
            contradiction_index: Some(0),
            ..Default::default()
        };
        assert_eq!(nli_indices(&none, &explicit), Ok((1, Some(0))));
    }
}
