//! Per request: which sequences each model runs (`plan`), and how its output rows become
//! per-role label distributions (`score`).
//!
//! **Long messages.** A model reads at most `max_length` tokens; the tokenizer keeps the first
//! ones. So that a goodbye at the end of a long vent is read too, an embedding model also embeds
//! the rest of a long message in overlapping windows of [`window_chars`] characters (cut at
//! whitespace); the extra embeddings go to `ModelOutputs::window_embeddings`, where the risk head
//! reads every window and the worst one decides. The zero-shot roles read the first window.
//! Windows are read for real-time work (a message someone just wrote); batch work reads the
//! first window only, so a batch of long messages costs one sequence each, not up to nine
//! (patterns and hashed words still read the whole text).

use std::collections::BTreeMap;

use ash_types::{LabelScore, ModelOutputs, RoleOutput};

use crate::kinds;
use crate::labels::{LabelIndex, ModelLabels};
use crate::onnx::SequenceInput;
use crate::worker::Rows;

/// Most extra windows one message gets. Eight cover a chat message without gaps up to about
/// 5,000 characters (Discord allows 4,000); beyond that they spread out, and the last always ends
/// with the text. Each window is a sequence the model runs, so this bounds what one long message
/// costs (nine sequences).
const MAX_EXTRA_WINDOWS: usize = 8;

/// One model's work for a request.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub model: String,
    /// One sequence per message (per message and label for NLI), then the extra windows.
    pub inputs: Vec<SequenceInput>,
    /// For each extra window, in order, the message it belongs to.
    pub window_of: Vec<usize>,
}

/// Characters that surely fit in `max_length` tokens: subword tokenizers average three to four
/// characters a token on chat text, so three keeps a window inside the model's limit.
pub(crate) fn window_chars(max_length: usize) -> usize {
    max_length.saturating_sub(2).max(16) * 3
}

/// The later windows of `text` (after the first, which the model reads anyway): overlapping by a
/// quarter, each starting at a word boundary, at most [`MAX_EXTRA_WINDOWS`], the last one ending
/// with the text.
pub(crate) fn extra_windows(text: &str, window: usize) -> Vec<&str> {
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let chars = boundaries.len();
    if chars <= window {
        return Vec::new();
    }
    let at = |c: usize| boundaries.get(c).copied().unwrap_or(text.len());
    let span = chars - window;
    let stride = (window * 3 / 4)
        .max(span.div_ceil(MAX_EXTRA_WINDOWS))
        .max(1);
    let mut starts: Vec<usize> = (1..)
        .map(|k| k * stride)
        .take_while(|s| *s < span)
        .collect();
    starts.push(span);
    starts
        .into_iter()
        .map(|start| {
            // Move the start forward to the next word, unless that loses too much of the window.
            let byte = at(start);
            let word = text[byte..]
                .find(char::is_whitespace)
                .filter(|off| *off < window / 8)
                .map_or(byte, |off| byte + off);
            let end = at((start + window).min(chars));
            text[word..end].trim()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The sequences each model runs for `texts`.
pub(crate) fn plan(
    index: &LabelIndex,
    texts: &[&str],
    window_chars: Option<&BTreeMap<String, usize>>,
) -> Vec<Plan> {
    index
        .models
        .iter()
        .map(|(name, prepared)| {
            let kind = kinds::of(prepared.kind);
            let mut inputs: Vec<SequenceInput> = texts
                .iter()
                .flat_map(|t| kind.sequences(prepared, t))
                .collect();
            let mut window_of = Vec::new();
            let window = window_chars
                .and_then(|w| w.get(name))
                .filter(|_| kind.embeds());
            if let Some(&window) = window {
                for (i, text) in texts.iter().enumerate() {
                    for w in extra_windows(text, window) {
                        inputs.push(SequenceInput::Single(w.to_owned()));
                        window_of.push(i);
                    }
                }
            }
            Plan {
                model: name.clone(),
                inputs,
                window_of,
            }
        })
        .collect()
}

/// Scores every role of one model for every text from its output rows.
pub(crate) fn score(
    plan: &Plan,
    prepared: &ModelLabels,
    rows: &Rows,
    outputs: &mut [ModelOutputs],
) {
    let kind = kinds::of(prepared.kind);
    let per_text = kind.rows_per_text(prepared);
    let first_window_rows = outputs.len() * per_text;
    for (i, out) in outputs.iter_mut().enumerate() {
        let Some(text_rows) = rows.get(i * per_text..(i + 1) * per_text) else {
            continue;
        };
        if kind.embeds() && out.embedding.is_none() {
            out.embedding = Some(text_rows[0].clone());
        }
        score_roles(&plan.model, prepared, text_rows, out);
    }
    if kind.embeds() {
        for (k, &owner) in plan.window_of.iter().enumerate() {
            if let (Some(row), Some(out)) =
                (rows.get(first_window_rows + k), outputs.get_mut(owner))
                && out.embedding.is_some()
            {
                out.window_embeddings.push(row.clone());
            }
        }
    }
}

/// One message's role distributions from its rows of one model.
fn score_roles(
    model: &str,
    prepared: &ModelLabels,
    text_rows: &[Vec<f32>],
    out: &mut ModelOutputs,
) {
    let kind = kinds::of(prepared.kind);
    let mut offset = 0;
    for role in &prepared.roles {
        let probabilities = kind.probabilities(prepared, role, text_rows, &mut offset);
        out.roles.insert(
            role.role.clone(),
            RoleOutput {
                model: model.to_owned(),
                kind: prepared.kind,
                weight: role.weight,
                multi_label: prepared.multi_label,
                labels: role
                    .labels
                    .iter()
                    .zip(probabilities)
                    .map(|(l, p)| LabelScore {
                        id: l.id.clone(),
                        probability: f64::from(p),
                        severity: l.severity,
                    })
                    .collect(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_have_no_extra_windows() {
        assert!(extra_windows("hello there", 100).is_empty());
        assert!(extra_windows(&"a".repeat(100), 100).is_empty());
    }

    #[test]
    fn the_end_of_a_long_message_is_always_in_a_window() {
        let vent = "so much happened today and none of it was good. ".repeat(40);
        let text = format!("{vent}anyway goodbye everyone, tonight is the night");
        let windows = extra_windows(&text, 300);
        assert!(!windows.is_empty());
        assert!(
            windows
                .last()
                .is_some_and(|w| w.ends_with("tonight is the night"))
        );
        assert!(windows.iter().all(|w| w.chars().count() <= 300));
    }

    #[test]
    fn a_long_chat_message_is_covered_without_gaps_by_a_bounded_number_of_windows() {
        // 4,000 characters (Discord's longest message) and the default model's window.
        let window = window_chars(256);
        let text = "word ".repeat(800);
        let windows = extra_windows(&text, window);
        assert!(windows.len() <= MAX_EXTRA_WINDOWS + 1);
        let span = text.chars().count() - window;
        let stride = (window * 3 / 4).max(span.div_ceil(MAX_EXTRA_WINDOWS));
        assert!(stride + window / 8 < window, "consecutive windows overlap");
        // The longest message the service accepts still costs a bounded number of sequences.
        assert!(extra_windows(&"word ".repeat(2000), window).len() <= MAX_EXTRA_WINDOWS + 1);
    }

    #[test]
    fn windows_respect_multibyte_characters() {
        let text = "ünïcödé ✨ ".repeat(200);
        for w in extra_windows(&text, 100) {
            assert!(w.chars().count() <= 100);
        }
    }
}
