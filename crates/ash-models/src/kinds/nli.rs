//! Natural-language-inference models used zero-shot: each label becomes a hypothesis paired with
//! the message, and the entailment logits across a role's hypotheses become its distribution
//! (or, multi-label, each hypothesis's entailment against its contradiction).

use super::{Embed, Kind, LabelContext, RoleDefinitions, label, role_labels};
use crate::error::ModelError;
use crate::labels::{ModelLabels, PreparedLabel, RoleLabels};
use crate::onnx::{ModelSignature, SequenceInput};
use crate::scoring;

/// The hypothesis paired with the warm-up text.
const WARM_UP_HYPOTHESIS: &str = "This message expresses distress.";

pub(crate) struct Nli;

impl Kind for Nli {
    fn prepare(
        &self,
        cx: &LabelContext<'_>,
        roles: &[RoleDefinitions<'_>],
        prepared: &mut ModelLabels,
        _embed: &mut Embed<'_>,
    ) -> Result<(), ModelError> {
        let nli = cx.definition.nli.clone().unwrap_or_default();
        let (entailment, contradiction) =
            nli_indices(cx.signature, &nli).map_err(|r| cx.load_error(r))?;
        if nli.multi_label && contradiction.is_none() {
            return Err(cx.load_error(
                "multi_label needs a contradiction (or not_entailment) label in id2label or `nli.contradiction_index`".into(),
            ));
        }
        prepared.multi_label = nli.multi_label;
        prepared.entailment = entailment;
        prepared.contradiction = contradiction;
        let template = nli
            .hypothesis_template
            .as_deref()
            .unwrap_or(&cx.labels.hypothesis_template);
        for (role, weight, defs) in roles {
            let out = defs
                .iter()
                .map(|d| {
                    Ok(PreparedLabel {
                        hypothesis: hypothesis(template, &cx.description(d)?),
                        ..label(d)
                    })
                })
                .collect::<Result<Vec<_>, ModelError>>()?;
            prepared.roles.push(role_labels(role, *weight, out));
        }
        Ok(())
    }

    /// One pair per label of every role, roles in order.
    fn sequences(&self, prepared: &ModelLabels, text: &str) -> Vec<SequenceInput> {
        prepared
            .roles
            .iter()
            .flat_map(|r| {
                r.labels
                    .iter()
                    .map(|l| SequenceInput::Pair(text.to_owned(), l.hypothesis.clone()))
            })
            .collect()
    }

    fn rows_per_text(&self, prepared: &ModelLabels) -> usize {
        prepared.roles.iter().map(|r| r.labels.len()).sum()
    }

    fn probabilities(
        &self,
        prepared: &ModelLabels,
        role: &RoleLabels,
        text_rows: &[Vec<f32>],
        offset: &mut usize,
    ) -> Vec<f32> {
        let slice = &text_rows[*offset..*offset + role.labels.len()];
        *offset += role.labels.len();
        match (prepared.multi_label, prepared.contradiction) {
            (true, Some(c)) => scoring::nli_multi_label(slice, prepared.entailment, c),
            _ => scoring::nli_single_label(slice, prepared.entailment),
        }
    }

    fn warm_up_input(&self, text: &str) -> SequenceInput {
        SequenceInput::Pair(text.to_owned(), WARM_UP_HYPOTHESIS.to_owned())
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
