//! `models.yaml`: the ONNX Runtime, the model files, and which role each model plays.

use super::ModelKind;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Models, roles, runtime and batching.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    pub runtime: RuntimeConfig,
    pub batching: BatchingConfig,
    /// Model instances by name. Several roles may point at one instance.
    pub models: BTreeMap<String, ModelDefinition>,
    /// Ensemble roles (`depression`, `sentiment`, `emotional_distress`, …) by name.
    pub roles: BTreeMap<String, RoleDefinition>,
}

/// Where ONNX Runtime and the model files are, and how inference uses the CPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// The ONNX Runtime shared library. When unset, the copy that `cargo xtask setup` places in
    /// `cache_dir` is used.
    pub library_path: Option<PathBuf>,
    /// Directory for runtime and model files; relative model paths resolve against it.
    pub cache_dir: PathBuf,
    /// Threads each inference uses; 0: chosen with `sessions` (see [`RuntimeConfig::pool`]).
    pub intra_threads: usize,
    /// Sessions per model, each on its own inference thread fed from one queue; 0: chosen from
    /// the cores (see [`RuntimeConfig::pool`]).
    pub sessions: usize,
    pub execution_provider: ExecutionProvider,
    /// Longest an inference may take before the request is answered degraded. With
    /// `server.admission_wait_ms` it must stay under the clients' own timeout (the bot waits 5 s)
    /// so that they get the degraded answer rather than give up, and under
    /// `server.request_timeout_ms` (checked at load).
    pub inference_timeout_ms: u64,
    /// The same for batch work (the bulk lane), which waits behind real-time messages and runs in
    /// small pieces. Capped at nine tenths of `server.request_timeout_ms`, so a slow batch comes
    /// back with degraded answers rather than a timeout error.
    pub bulk_inference_timeout_ms: u64,
    /// ONNX Runtime's CPU memory arena: faster allocation, but it keeps the largest size any run
    /// needed for the life of the process (a batch of long messages grows it by hundreds of MB).
    /// Off, each run's memory is returned after it.
    pub cpu_memory_arena: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            library_path: None,
            cache_dir: PathBuf::from(".cache"),
            intra_threads: 0,
            sessions: 0,
            execution_provider: ExecutionProvider::Cpu,
            inference_timeout_ms: 3_000,
            bulk_inference_timeout_ms: 8_000,
            cpu_memory_arena: false,
        }
    }
}

impl RuntimeConfig {
    /// Sessions per model and threads per session on a machine with `cores` cores.
    ///
    /// A small encoder hardly parallelises inside one run but does across runs, so cores are
    /// spent on sessions of two threads each: 2 cores → 1 × 2, 12 → 6 × 2, 16 → 8 × 2 (on 12
    /// cores, six sessions of two threads ran the default model at about 0.95 of twelve
    /// single-thread sessions and three times one session of twelve; docs/performance.md). A
    /// value set in the configuration is kept, and the other one fills the remaining cores.
    pub fn pool(&self, cores: usize) -> (usize, usize) {
        let cores = cores.max(1);
        match (self.sessions, self.intra_threads) {
            (0, 0) => {
                let sessions = (cores / 2).max(1);
                (sessions, (cores / sessions).max(1))
            }
            (0, threads) => ((cores / threads).max(1), threads),
            (sessions, 0) => (sessions, (cores / sessions).max(1)),
            (sessions, threads) => (sessions, threads),
        }
    }
}

/// Which hardware runs inference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    /// CUDA when the build has it and a device answers, else CPU.
    Auto,
    #[default]
    Cpu,
    /// Requires the `cuda` cargo feature and an ONNX Runtime built with CUDA.
    Cuda,
}

/// Dynamic batching of concurrent requests for one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchingConfig {
    /// Most sequences in one forward pass.
    pub max_batch_size: usize,
    /// How long the first request of a batch may wait for company, in microseconds. Zero means
    /// "take what is queued now": no added latency at low load, natural batches under load.
    pub max_wait_us: u64,
    /// Requests waiting per model; beyond it callers get an overload error at once.
    pub queue_capacity: usize,
    /// Most sequences in one run of bulk work (batches): a single message someone just wrote
    /// waits at most for one such run per session.
    pub bulk_max_batch_size: usize,
    /// Most tokens in one run of bulk work, estimated from characters: long messages go a few at
    /// a time, so a real-time message waits at most for one short run.
    pub bulk_max_tokens_per_run: usize,
    /// Most tokens (sequences × the longest of them, padding included) in one forward pass; a
    /// larger batch is run in several passes. Bounds the memory one pass needs, which grows with
    /// batch × length (attention: with length squared): 32 long messages at once would need
    /// hundreds of MB more than short chat.
    pub max_tokens_per_run: usize,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 32,
            max_wait_us: 0,
            queue_capacity: 1024,
            bulk_max_batch_size: 8,
            bulk_max_tokens_per_run: 256,
            max_tokens_per_run: 4096,
        }
    }
}

/// One model instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDefinition {
    pub kind: ModelKind,
    /// The `.onnx` file (relative paths resolve against `runtime.cache_dir`).
    pub path: PathBuf,
    /// The `tokenizer.json` file.
    pub tokenizer: PathBuf,
    /// The Hugging Face `config.json` holding `id2label`, for `nli` and `classifier` models.
    #[serde(default)]
    pub config_json: Option<PathBuf>,
    /// Expected sha256 of `path`; checked at load when set.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Tokens per sequence; longer messages are truncated.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    #[serde(default)]
    pub embedding: Option<EmbeddingOptions>,
    #[serde(default)]
    pub nli: Option<NliOptions>,
    #[serde(default)]
    pub classifier: Option<ClassifierOptions>,
}

fn default_max_length() -> usize {
    256
}

/// Options of an `embedding` model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingOptions {
    /// Cosine similarities are multiplied by this before the softmax over labels (an inverse
    /// temperature): higher gives sharper distributions.
    pub similarity_scale: f32,
    /// Weight of the nearest exemplar's similarity against the description's (0 = description
    /// only).
    pub exemplar_weight: f32,
}

impl Default for EmbeddingOptions {
    fn default() -> Self {
        Self {
            similarity_scale: 20.0,
            exemplar_weight: 0.5,
        }
    }
}

/// Options of an `nli` model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NliOptions {
    /// Overrides `labels.hypothesis_template` for this model.
    pub hypothesis_template: Option<String>,
    /// Index of the entailment logit; read from `id2label` when unset.
    pub entailment_index: Option<usize>,
    /// Index of the contradiction logit; read from `id2label` when unset.
    pub contradiction_index: Option<usize>,
    /// Each label judged on its own (entailment vs contradiction) rather than one softmax across
    /// labels.
    pub multi_label: bool,
}

/// Options of a `classifier` model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierOptions {
    /// Overrides the `id2label` of `config_json` (index → label name).
    pub id2label: Option<BTreeMap<usize, String>>,
}

/// One ensemble role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// Name of the model instance in `models`.
    pub model: String,
    /// Weight in the weighted ensemble.
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_weight() -> f64 {
    1.0
}

fn default_true() -> bool {
    true
}

impl ModelsConfig {
    /// Roles that take part in analysis.
    pub fn enabled_roles(&self) -> impl Iterator<Item = (&String, &RoleDefinition)> {
        self.roles.iter().filter(|(_, r)| r.enabled)
    }

    /// Resolves a model-relative path against the cache directory.
    pub fn resolve(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.runtime.cache_dir.join(path)
        }
    }
}

impl Validate for ModelsConfig {
    fn validate(&self, v: &mut Validator) {
        v.at("runtime", |v| {
            v.range("intra_threads", self.runtime.intra_threads, 0, 1024);
            v.range("sessions", self.runtime.sessions, 0, 256);
            v.range(
                "inference_timeout_ms",
                self.runtime.inference_timeout_ms,
                1,
                600_000,
            );
            v.range(
                "bulk_inference_timeout_ms",
                self.runtime.bulk_inference_timeout_ms,
                1,
                600_000,
            );
        });
        v.at("batching", |v| {
            v.range("max_batch_size", self.batching.max_batch_size, 1, 1024);
            v.range("max_wait_us", self.batching.max_wait_us, 0, 1_000_000);
            v.range("queue_capacity", self.batching.queue_capacity, 1, 1_000_000);
            v.range(
                "bulk_max_batch_size",
                self.batching.bulk_max_batch_size,
                1,
                self.batching.max_batch_size.max(1),
            );
            v.range(
                "bulk_max_tokens_per_run",
                self.batching.bulk_max_tokens_per_run,
                16,
                1_048_576,
            );
            v.range(
                "max_tokens_per_run",
                self.batching.max_tokens_per_run,
                64,
                1_048_576,
            );
        });
        v.at("models", |v| {
            for (name, model) in &self.models {
                v.at(name, |v| validate_model(model, v));
            }
        });
        v.at("roles", |v| {
            if self.enabled_roles().next().is_none() {
                v.problem("", None, "at least one role must be enabled");
            }
            for (name, role) in &self.roles {
                v.at(name, |v| {
                    if !self.models.contains_key(&role.model) {
                        v.problem(
                            "model",
                            Some(role.model.clone()),
                            "names no model defined under `models`",
                        );
                    }
                    v.range("weight", role.weight, 0.0, 1.0);
                });
            }
        });
    }
}

fn validate_model(model: &ModelDefinition, v: &mut Validator) {
    v.range("max_length", model.max_length, 8, 8192);
    if let Some(hash) = &model.sha256 {
        v.ensure(
            hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "sha256",
            hash,
            "must be 64 hexadecimal characters",
        );
    }
    let stray = |v: &mut Validator, key: &str, present: bool, kind: &str| {
        if present {
            v.problem(key, None, format!("only applies to `kind: {kind}` models"));
        }
    };
    match model.kind {
        ModelKind::Embedding => {
            stray(v, "nli", model.nli.is_some(), "nli");
            stray(v, "classifier", model.classifier.is_some(), "classifier");
        }
        ModelKind::Nli => {
            stray(v, "embedding", model.embedding.is_some(), "embedding");
            stray(v, "classifier", model.classifier.is_some(), "classifier");
        }
        ModelKind::Classifier => {
            stray(v, "embedding", model.embedding.is_some(), "embedding");
            stray(v, "nli", model.nli.is_some(), "nli");
        }
    }
    if let Some(e) = &model.embedding {
        v.at("embedding", |v| {
            v.range("similarity_scale", e.similarity_scale, 0.1, 1000.0);
            v.range("exemplar_weight", e.exemplar_weight, 0.0, 1.0);
        });
    }
    if let Some(n) = &model.nli {
        v.at("nli", |v| {
            if let Some(t) = &n.hypothesis_template {
                check_template(v, "hypothesis_template", t);
            }
        });
    }
}

/// A hypothesis template must say where the label goes (`{label}` or `{}`).
pub(crate) fn check_template(v: &mut Validator, key: &str, template: &str) {
    v.ensure(
        template.contains("{label}") || template.contains("{}"),
        key,
        template,
        "must contain `{label}` (or `{}`) where the label goes",
    );
}
