//! One ONNX model with its tokenizer: tokenise → pad to the longest sequence of the batch →
//! `session.run` → one output vector per sequence.
//!
//! Owned by exactly one worker thread (`Session::run` takes `&mut self`), so no lock is needed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ash_config::{ExecutionProvider, ModelDefinition, ModelKind, ModelsConfig};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams, TruncationStrategy};

use crate::error::ModelError;
use crate::kinds;
use crate::runtime;

/// Text to run: a single text, or a (premise, hypothesis) pair for NLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceInput {
    Single(String),
    Pair(String, String),
}

/// Counters shared between the worker and status readers.
#[derive(Debug, Default)]
pub struct RunCounters {
    /// Forward passes (`session.run` calls).
    pub runs: AtomicU64,
    /// Sequences processed across all runs.
    pub sequences: AtomicU64,
}

/// What the model's config.json and the session tell about its labels and inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelSignature {
    /// `id2label` of the model (empty for embedding models).
    pub id2label: BTreeMap<usize, String>,
    pub has_token_type_ids: bool,
    pub output: String,
}

/// A loaded model.
pub struct OnnxModel {
    name: String,
    kind: ModelKind,
    session: Session,
    tokenizer: Tokenizer,
    signature: ModelSignature,
    counters: Arc<RunCounters>,
    /// `batching.max_tokens_per_run`.
    max_tokens_per_run: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("signature", &self.signature)
            .finish()
    }
}

impl OnnxModel {
    /// Loads `definition` (paths resolved against the cache directory).
    pub fn load(
        name: &str,
        definition: &ModelDefinition,
        models: &ModelsConfig,
        threads: usize,
        counters: Arc<RunCounters>,
    ) -> Result<Self, ModelError> {
        let fail = |reason: String| ModelError::Load {
            model: name.to_owned(),
            reason,
        };
        let environment =
            runtime::environment().ok_or_else(|| fail("ONNX Runtime is not loaded".into()))?;
        let model_path = models.resolve(&definition.path);
        let bytes = std::fs::read(&model_path).map_err(|e| {
            fail(format!(
                "cannot read {}: {e} (run `cargo xtask setup` for the embedded default model)",
                model_path.display()
            ))
        })?;
        if let Some(expected) = &definition.sha256 {
            let actual = hex::encode(Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(fail(format!(
                    "{} has sha256 {actual}, expected {expected}",
                    model_path.display()
                )));
            }
        }
        let builder = session_builder(environment, threads, models.runtime.cpu_memory_arena)
            .map_err(|e| fail(format!("cannot configure session: {e}")))?;
        let mut builder =
            with_execution_provider(builder, models.runtime.execution_provider).map_err(&fail)?;
        let session = builder
            .commit_from_memory(&bytes)
            .map_err(|e| fail(format!("cannot load {}: {e}", model_path.display())))?;

        let tokenizer = load_tokenizer(
            &models.resolve(&definition.tokenizer),
            definition.max_length,
        )
        .map_err(&fail)?;
        let signature = read_signature(&session, definition, models).map_err(&fail)?;
        Ok(Self {
            name: name.to_owned(),
            kind: definition.kind,
            session,
            tokenizer,
            signature,
            counters,
            max_tokens_per_run: models.batching.max_tokens_per_run.max(1),
        })
    }

    /// The model's signature (labels, inputs, output).
    pub fn signature(&self) -> &ModelSignature {
        &self.signature
    }

    /// Runs one batch: each output row is a pooled, normalised embedding (embedding models) or a
    /// logit row (nli, classifier).
    pub fn run(&mut self, inputs: &[SequenceInput]) -> Result<Vec<Vec<f32>>, ModelError> {
        let name = self.name.clone();
        let fail = |reason: String| ModelError::Inference {
            model: name.clone(),
            reason,
        };
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let mut encodings = Vec::with_capacity(inputs.len());
        for input in inputs {
            let encoded = match input {
                SequenceInput::Single(text) => self.tokenizer.encode(text.as_str(), true),
                SequenceInput::Pair(a, b) => self.tokenizer.encode((a.as_str(), b.as_str()), true),
            }
            .map_err(|e| fail(format!("tokenizer: {e}")))?;
            encodings.push(encoded);
        }
        // Sorting by length and cutting where padding would waste more than a third of the work
        // keeps one long message from making every short one in its batch pay for its length;
        // `max_tokens_per_run` bounds the memory of one pass.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; encodings.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            let mut real = encodings[order[start]].get_ids().len();
            while end < order.len() {
                let len = encodings[order[end]].get_ids().len();
                let padded = len * (end - start + 1);
                // Sorted by length, so `len` is the longest of the group: `padded` is exactly
                // what the pass would hold.
                if (padded as f64) > 1.5 * (real + len) as f64 || padded > self.max_tokens_per_run {
                    break;
                }
                real += len;
                end += 1;
            }
            let group: Vec<&tokenizers::Encoding> =
                order[start..end].iter().map(|&i| &encodings[i]).collect();
            for (&i, row) in order[start..end].iter().zip(self.run_padded(&group)?) {
                rows[i] = Some(row);
            }
            start = end;
        }
        rows.into_iter()
            .map(|r| r.ok_or_else(|| fail("a sequence got no output row".into())))
            .collect()
    }

    /// One forward pass over `encodings`, padded to the longest of them.
    fn run_padded(
        &mut self,
        encodings: &[&tokenizers::Encoding],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let fail = |reason: String| ModelError::Inference {
            model: self.name.clone(),
            reason,
        };
        let batch = encodings.len();
        let seq_len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![0i64; batch * seq_len];
        let mut mask = vec![0i64; batch * seq_len];
        let mut type_ids = vec![0i64; batch * seq_len];
        for (row, enc) in encodings.iter().enumerate() {
            let offset = row * seq_len;
            for (i, ((&id, &t), &m)) in enc
                .get_ids()
                .iter()
                .zip(enc.get_type_ids())
                .zip(enc.get_attention_mask())
                .enumerate()
            {
                ids[offset + i] = i64::from(id);
                type_ids[offset + i] = i64::from(t);
                mask[offset + i] = i64::from(m);
            }
        }
        let shape = [batch, seq_len];
        let tensor =
            |data: Vec<i64>| Tensor::from_array((shape, data)).map_err(|e| fail(e.to_string()));
        let mut feeds = vec![
            ("input_ids".to_owned(), tensor(ids)?.into_dyn()),
            (
                "attention_mask".to_owned(),
                tensor(mask.clone())?.into_dyn(),
            ),
        ];
        if self.signature.has_token_type_ids {
            feeds.push(("token_type_ids".to_owned(), tensor(type_ids)?.into_dyn()));
        }
        let outputs = self.session.run(feeds).map_err(|e| fail(e.to_string()))?;
        let (out_shape, data) = outputs[self.signature.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(format!("output `{}`: {e}", self.signature.output)))?;
        let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();
        let rows = kinds::of(self.kind)
            .rows(&dims, data, &mask, batch, seq_len)
            .ok_or_else(|| fail(format!("unexpected output shape {dims:?}")))?;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        self.counters
            .sequences
            .fetch_add(batch as u64, Ordering::Relaxed);
        Ok(rows)
    }
}

/// A session builder with the service's options. Benchmarks and `perf-validate` build their bare
/// sessions with it too, so that "bare `session.run`" means the same session settings.
pub fn session_builder(
    environment: &ort::environment::Environment,
    threads: usize,
    cpu_memory_arena: bool,
) -> Result<ort::session::builder::SessionBuilder, ort::Error> {
    Session::builder(environment)
        .and_then(|b| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(Into::into)
        })
        .and_then(|b| b.with_intra_threads(threads).map_err(Into::into))
        // Shapes change with every batch (dynamic padding), so memory-pattern planning would
        // only be thrown away.
        .and_then(|b| b.with_memory_pattern(false).map_err(Into::into))
        // Idle intra-op threads sleep instead of spinning: on a small machine spinning steals
        // the cores the HTTP and tokenizer work needs between runs.
        .and_then(|b| b.with_intra_op_spinning(false).map_err(Into::into))
        .and_then(|b| {
            b.with_execution_providers([ort::ep::CPU::default()
                .with_arena_allocator(cpu_memory_arena)
                .build()])
                .map_err(Into::into)
        })
}

fn with_execution_provider(
    builder: ort::session::builder::SessionBuilder,
    provider: ExecutionProvider,
) -> Result<ort::session::builder::SessionBuilder, String> {
    match provider {
        ExecutionProvider::Cpu => Ok(builder),
        #[cfg(feature = "cuda")]
        ExecutionProvider::Cuda | ExecutionProvider::Auto => builder
            .with_execution_providers([ort::ep::CUDA::default().build()])
            .map_err(|e| format!("cannot enable CUDA: {e}")),
        #[cfg(not(feature = "cuda"))]
        ExecutionProvider::Auto => Ok(builder),
        #[cfg(not(feature = "cuda"))]
        ExecutionProvider::Cuda => Err(
            "execution_provider is `cuda` but this build has no CUDA support (build with `--features cuda`)".into(),
        ),
    }
}

/// Loads `tokenizer.json` and replaces any padding fixed in it (the default model's pads every
/// message to 128 tokens, ten times the work of a chat message): padding is done per batch, to
/// its longest sequence.
fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| {
        format!(
            "cannot load tokenizer {}: {e} (run `cargo xtask setup` for the embedded default model)",
            path.display()
        )
    })?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            ..TruncationParams::default()
        }))
        .map_err(|e| format!("cannot set truncation: {e}"))?;
    Ok(tokenizer)
}

fn read_signature(
    session: &Session,
    definition: &ModelDefinition,
    models: &ModelsConfig,
) -> Result<ModelSignature, String> {
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    for required in ["input_ids", "attention_mask"] {
        if !inputs.contains(&required) {
            return Err(format!(
                "the model has no `{required}` input (inputs: {inputs:?})"
            ));
        }
    }
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    let kind = kinds::of(definition.kind);
    let preferred = kind.preferred_outputs();
    let output = preferred
        .iter()
        .find(|p| outputs.contains(p))
        .or(outputs.first())
        .ok_or("the model has no outputs")?
        .to_string();
    let id2label = if kind.names_classes() {
        read_id2label(definition, models)?
    } else {
        BTreeMap::new()
    };
    Ok(ModelSignature {
        id2label,
        has_token_type_ids: inputs.contains(&"token_type_ids"),
        output,
    })
}

/// `id2label` from the classifier override, else from `config.json`.
fn read_id2label(
    definition: &ModelDefinition,
    models: &ModelsConfig,
) -> Result<BTreeMap<usize, String>, String> {
    if let Some(map) = definition
        .classifier
        .as_ref()
        .and_then(|c| c.id2label.clone())
    {
        return Ok(map);
    }
    let Some(path) = &definition.config_json else {
        return Ok(BTreeMap::new());
    };
    let path = models.resolve(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct HfConfig {
        #[serde(default)]
        id2label: BTreeMap<String, String>,
    }
    let config: HfConfig = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a model config.json: {e}", path.display()))?;
    config
        .id2label
        .into_iter()
        .map(|(k, v)| {
            k.parse::<usize>()
                .map(|i| (i, v))
                .map_err(|_| format!("{}: id2label key `{k}` is not an index", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_fixed_in_tokenizer_json_is_replaced_by_batch_padding() {
        // The fixture tokenizer pads to 64 like the default model's pads to 128.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer.json");
        let raw = Tokenizer::from_file(&path).expect("fixture tokenizer");
        assert_eq!(
            raw.encode("i want", true).expect("encode").get_ids().len(),
            64
        );
        let ours = load_tokenizer(&path, 8).expect("load");
        assert_eq!(
            ours.encode("i want", true).expect("encode").get_ids().len(),
            4
        );
        // Truncation to max_length.
        let long = "i want to die ".repeat(10);
        assert_eq!(
            ours.encode(long.as_str(), true)
                .expect("encode")
                .get_ids()
                .len(),
            8
        );
    }
}
