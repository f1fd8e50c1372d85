//! Fine-tuned classifiers: the softmax of the logits, each label reading its class.

use std::collections::BTreeMap;

use super::{Embed, Kind, LabelContext, RoleDefinitions, class_names, label, role_labels};
use crate::error::ModelError;
use crate::labels::{ModelLabels, PreparedLabel, RoleLabels};
use crate::onnx::SequenceInput;
use crate::scoring;

pub(crate) struct Classifier;

impl Kind for Classifier {
    /// Every class must be given a severity: a class left out would silently carry probability
    /// that no label accounts for.
    fn prepare(
        &self,
        cx: &LabelContext<'_>,
        roles: &[RoleDefinitions<'_>],
        prepared: &mut ModelLabels,
        _embed: &mut Embed<'_>,
    ) -> Result<(), ModelError> {
        let id2label = &cx.signature.id2label;
        let by_name: BTreeMap<&str, usize> =
            id2label.iter().map(|(i, l)| (l.as_str(), *i)).collect();
        if by_name.is_empty() {
            return Err(cx.load_error(
                "a classifier needs id2label (in config_json or `classifier.id2label`)".into(),
            ));
        }
        for (role, weight, defs) in roles {
            let mut out = Vec::new();
            for d in defs.iter() {
                let class_index = by_name.get(d.id.as_str()).copied().ok_or_else(|| {
                    cx.set_error(format!(
                        "role `{role}`: label `{}` is not one of the model's labels ({})",
                        d.id,
                        class_names(id2label)
                    ))
                })?;
                out.push(PreparedLabel {
                    class_index,
                    ..label(d)
                });
            }
            if out.len() != by_name.len() {
                return Err(cx.set_error(format!(
                    "role `{role}` gives severities for {} of the model's {} labels; every label needs one",
                    out.len(),
                    by_name.len()
                )));
            }
            prepared.roles.push(role_labels(role, *weight, out));
        }
        Ok(())
    }

    fn sequences(&self, _prepared: &ModelLabels, text: &str) -> Vec<SequenceInput> {
        vec![SequenceInput::Single(text.to_owned())]
    }

    fn probabilities(
        &self,
        _prepared: &ModelLabels,
        role: &RoleLabels,
        text_rows: &[Vec<f32>],
        _offset: &mut usize,
    ) -> Vec<f32> {
        let p = scoring::softmax(&text_rows[0]);
        role.labels
            .iter()
            .map(|l| p.get(l.class_index).copied().unwrap_or(0.0))
            .collect()
    }
}
