//! Sentence-embedding models: a message is close to a label when its embedding is close to the
//! label's description (and its nearest exemplar); the similarities become a distribution.

use ash_types::vector;

use super::{Embed, Kind, LabelContext, RoleDefinitions, label, role_labels};
use crate::error::ModelError;
use crate::labels::{ModelLabels, PreparedLabel, RoleLabels};
use crate::onnx::SequenceInput;
use crate::scoring;

pub(crate) struct Embedding;

impl Kind for Embedding {
    fn preferred_outputs(&self) -> &'static [&'static str] {
        &[
            "last_hidden_state",
            "sentence_embedding",
            "token_embeddings",
        ]
    }

    fn names_classes(&self) -> bool {
        false
    }

    fn rows(
        &self,
        dims: &[usize],
        data: &[f32],
        mask: &[i64],
        batch: usize,
        seq_len: usize,
    ) -> Option<Vec<Vec<f32>>> {
        match dims {
            // Token states: mean-pooled over the attention mask (sentence-transformers pooling).
            [b, s, d] if *b == batch && *s == seq_len => Some(
                (0..batch)
                    .map(|r| {
                        let hidden = &data[r * s * d..(r + 1) * s * d];
                        scoring::mean_pool_normalized(
                            hidden,
                            &mask[r * seq_len..(r + 1) * seq_len],
                            *d,
                        )
                    })
                    .collect(),
            ),
            // Already pooled.
            [b, d] if *b == batch => Some(
                data.chunks_exact(*d)
                    .map(|row| {
                        let mut v = row.to_vec();
                        vector::normalize(&mut v);
                        v
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    fn prepare(
        &self,
        cx: &LabelContext<'_>,
        roles: &[RoleDefinitions<'_>],
        prepared: &mut ModelLabels,
        embed: &mut Embed<'_>,
    ) -> Result<(), ModelError> {
        // One call embeds every description and exemplar of every role of this model.
        let mut texts = Vec::new();
        for (_, _, defs) in roles {
            for d in defs.iter() {
                if d.baseline_similarity.is_none() {
                    texts.push(SequenceInput::Single(cx.description(d)?));
                }
                texts.extend(d.exemplars.iter().map(|e| SequenceInput::Single(e.clone())));
            }
        }
        let vectors = embed(cx.model_name, texts)?;
        let mut next = vectors.into_iter();
        for (role, weight, defs) in roles {
            let mut out = Vec::new();
            for d in defs.iter() {
                let mut take = || {
                    next.next()
                        .ok_or_else(|| cx.set_error("embedding count mismatch".into()))
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
                    vector,
                    exemplars,
                    ..label(d)
                });
            }
            prepared.roles.push(role_labels(role, *weight, out));
        }
        Ok(())
    }

    fn embeds(&self) -> bool {
        true
    }

    fn sequences(&self, _prepared: &ModelLabels, text: &str) -> Vec<SequenceInput> {
        vec![SequenceInput::Single(text.to_owned())]
    }

    fn probabilities(
        &self,
        prepared: &ModelLabels,
        role: &RoleLabels,
        text_rows: &[Vec<f32>],
        _offset: &mut usize,
    ) -> Vec<f32> {
        let similarities: Vec<f32> = role
            .labels
            .iter()
            .map(|l| match l.baseline_similarity {
                Some(fixed) => fixed,
                None => scoring::label_similarity(
                    &text_rows[0],
                    &l.vector,
                    &l.exemplars,
                    prepared.exemplar_weight,
                ),
            })
            .collect();
        scoring::embedding_distribution(&similarities, prepared.similarity_scale)
    }
}
