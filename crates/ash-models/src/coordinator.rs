//! The model layer's façade: loads every model the enabled roles use, warms them, keeps the active
//! label set, and turns a message into per-role label distributions.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use ash_config::{Config, LabelsConfig, ModelKind, ModelsConfig};
use serde::Serialize;

use crate::error::ModelError;
use crate::labels::{self, LabelIndex};
use crate::onnx::{ModelSignature, OnnxModel, RunCounters, SequenceInput};
use crate::plan;
use crate::runtime::{self, RuntimeInfo};
use crate::worker::{Batching, Priority, Rows, Worker};
use ash_types::{ModelFailure, ModelOutputs};

/// Overall readiness of the model layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelsState {
    /// Every model is loaded and warmed.
    Ready,
    /// Some models failed; roles on them report failures (answers are marked degraded).
    Degraded,
    /// No model is usable.
    Failed,
}

/// One model's status, for `/health`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelStatus {
    pub name: String,
    pub kind: ModelKind,
    pub roles: Vec<String>,
    pub loaded: bool,
    pub load_ms: f64,
    pub warmup_ms: f64,
    /// Forward passes made by the warmup.
    pub warmup_runs: u64,
    /// Forward passes since start (warmup included).
    pub inference_runs: u64,
    pub sequences: u64,
    pub queue_depth: usize,
    pub last_error: Option<String>,
}

/// The model layer's status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelsStatus {
    pub state: ModelsState,
    pub runtime: Option<RuntimeInfo>,
    pub runtime_error: Option<String>,
    pub label_set: String,
    pub models: Vec<ModelStatus>,
}

struct LoadedModel {
    kind: ModelKind,
    roles: Vec<String>,
    worker: Result<Worker, ModelError>,
    signature: ModelSignature,
    counters: Arc<RunCounters>,
    load_ms: f64,
    warmup_ms: f64,
    warmup_runs: u64,
    last_error: Mutex<Option<String>>,
}

/// Loads, warms and runs the configured models.
pub struct ModelCoordinator {
    models: BTreeMap<String, LoadedModel>,
    models_config: Arc<ModelsConfig>,
    labels_config: ArcSwap<LabelsConfig>,
    index: ArcSwap<LabelIndex>,
    timeout: Duration,
    /// Deadline of bulk-lane work.
    bulk_timeout: Duration,
    runtime: Result<RuntimeInfo, ModelError>,
    /// Serialises label-set rebuilds (admin switch vs config reload).
    rebuild: Mutex<()>,
    description: String,
    /// Per embedding model: the characters one window of a long message holds (see `plan`).
    window_chars: BTreeMap<String, usize>,
}

impl std::fmt::Debug for ModelCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCoordinator")
            .field("status", &self.status())
            .finish()
    }
}

/// Texts used to warm a model: a short chat message and a long one.
const WARMUP_SHORT: &str = "hey, is anyone around tonight? rough day, could use someone to talk to";

impl ModelCoordinator {
    /// Loads the runtime and every model used by an enabled role, warms each with real inference
    /// at the batch sizes it will see, and prepares the active label set. Never fails as a whole:
    /// a model that cannot load is recorded (see [`ModelCoordinator::status`]) and its roles
    /// report failures, so the caller decides whether to run degraded.
    pub fn start(config: &Config) -> Self {
        let models_config = Arc::clone(&config.models);
        let runtime = runtime::init(&models_config.runtime);
        let batching = &models_config.batching;
        let (pool_sessions, pool_threads) = models_config.runtime.pool(available_cores());
        tracing::info!(
            sessions = pool_sessions,
            threads_per_session = pool_threads,
            "inference pool per model"
        );
        let mut models = BTreeMap::new();
        for (name, definition) in &models_config.models {
            let roles: Vec<String> = models_config
                .enabled_roles()
                .filter(|(_, r)| &r.model == name)
                .map(|(role, _)| role.clone())
                .collect();
            if roles.is_empty() {
                continue;
            }
            let counters = Arc::new(RunCounters::default());
            let started = Instant::now();
            let loaded = runtime.clone().and_then(|_| {
                let sessions = (0..pool_sessions)
                    .map(|_| {
                        OnnxModel::load(
                            name,
                            definition,
                            &models_config,
                            pool_threads,
                            Arc::clone(&counters),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let signature = sessions[0].signature().clone();
                let worker = Worker::spawn(
                    name,
                    sessions,
                    Batching {
                        max_batch_size: batching.max_batch_size,
                        bulk_max_batch_size: batching.bulk_max_batch_size,
                        max_wait: Duration::from_micros(batching.max_wait_us),
                        queue_capacity: batching.queue_capacity,
                    },
                )?;
                Ok((worker, signature))
            });
            let load_ms = ms(started.elapsed());
            let (worker, signature) = match loaded {
                Ok((w, s)) => (Ok(w), s),
                Err(e) => {
                    tracing::error!(model = %name, error = %e, "model failed to load");
                    (Err(e), ModelSignature::default())
                }
            };
            let mut model = LoadedModel {
                kind: definition.kind,
                roles,
                worker,
                signature,
                counters,
                load_ms,
                warmup_ms: 0.0,
                warmup_runs: 0,
                last_error: Mutex::new(None),
            };
            if let Ok(worker) = &model.worker {
                let before = model.counters.runs.load(Ordering::Relaxed);
                let started = Instant::now();
                if let Err(e) = warm_up(
                    worker,
                    definition.kind,
                    batching.max_batch_size,
                    definition.max_length,
                ) {
                    tracing::error!(model = %name, error = %e, "model failed its warmup");
                    model.worker = Err(e);
                }
                model.warmup_ms = ms(started.elapsed());
                model.warmup_runs = model.counters.runs.load(Ordering::Relaxed) - before;
                tracing::info!(
                    model = %name,
                    kind = ?definition.kind,
                    load_ms = model.load_ms,
                    warmup_ms = model.warmup_ms,
                    warmup_runs = model.warmup_runs,
                    "model ready"
                );
            }
            models.insert(name.clone(), model);
        }
        let labels_config = Arc::clone(&config.labels);
        let window_chars = models_config
            .models
            .iter()
            .map(|(name, d)| (name.clone(), plan::window_chars(d.max_length)))
            .collect();
        let coordinator = Self {
            window_chars,
            models,
            models_config,
            labels_config: ArcSwap::new(Arc::clone(&labels_config)),
            index: ArcSwap::from_pointee(LabelIndex {
                set: labels_config.active_set.clone(),
                models: BTreeMap::new(),
            }),
            timeout: Duration::from_millis(config.models.runtime.inference_timeout_ms),
            // Under the request deadline, so a slow batch is answered degraded, not refused.
            bulk_timeout: Duration::from_millis(
                config
                    .models
                    .runtime
                    .bulk_inference_timeout_ms
                    .min(config.server.request_timeout_ms * 9 / 10),
            ),
            runtime,
            rebuild: Mutex::new(()),
            description: String::new(),
        };
        coordinator.prepare_labels_or_mark_failed(&labels_config.active_set);
        let description = coordinator
            .status()
            .models
            .iter()
            .map(|m| {
                let kind = format!("{:?}", m.kind).to_lowercase();
                if m.loaded {
                    format!("{} ({kind})", m.name)
                } else {
                    format!("{} ({kind}, unavailable)", m.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        ModelCoordinator {
            description,
            ..coordinator
        }
    }

    /// Builds the index model by model, so that one model whose labels do not fit (a classifier
    /// whose id2label disagrees with the set) fails alone.
    fn prepare_labels_or_mark_failed(&self, set: &str) {
        let labels = self.labels_config.load_full();
        let mut index = LabelIndex {
            set: set.to_owned(),
            models: BTreeMap::new(),
        };
        for (name, model) in &self.models {
            if model.worker.is_err() {
                continue;
            }
            let one = BTreeMap::from([(name.clone(), model.signature.clone())]);
            match labels::build(set, &labels, &self.models_config, &one, |m, texts| {
                self.run_blocking(m, texts)
            }) {
                Ok(built) => index.models.extend(built.models),
                Err(e) => {
                    tracing::error!(model = %name, error = %e, "labels cannot be prepared for model");
                    *lock(&model.last_error) = Some(e.to_string());
                }
            }
        }
        self.index.store(Arc::new(index));
    }

    fn run_blocking(&self, model: &str, inputs: Vec<SequenceInput>) -> Result<Rows, ModelError> {
        self.worker(model)?.run_blocking(inputs)
    }

    fn worker(&self, model: &str) -> Result<&Worker, ModelError> {
        match self.models.get(model).map(|m| &m.worker) {
            Some(Ok(w)) => Ok(w),
            Some(Err(e)) => Err(ModelError::Unavailable {
                model: model.to_owned(),
                reason: e.to_string(),
            }),
            None => Err(ModelError::Unavailable {
                model: model.to_owned(),
                reason: "not configured".into(),
            }),
        }
    }

    /// Analyses one message someone just wrote (the real-time lane).
    pub async fn infer(&self, text: &str) -> ModelOutputs {
        self.infer_batch(&[text], Priority::RealTime)
            .await
            .pop()
            .unwrap_or_default()
    }

    /// Analyses several messages; each model runs them together (in batch-sized forward passes,
    /// or small pieces in the bulk lane).
    pub async fn infer_batch(&self, texts: &[&str], priority: Priority) -> Vec<ModelOutputs> {
        let index = self.index.load_full();
        let windows = (priority == Priority::RealTime).then_some(&self.window_chars);
        let plans = plan::plan(&index, texts, windows);
        let runs = plans.iter().map(|p| async move {
            match self.worker(&p.model) {
                Ok(w) => {
                    let deadline = match priority {
                        Priority::RealTime => self.timeout,
                        Priority::Bulk => self.bulk_timeout,
                    };
                    w.run(p.inputs.clone(), priority, deadline).await
                }
                Err(e) => Err(e),
            }
        });
        let results = futures::future::join_all(runs).await;
        self.assemble(&index, texts.len(), plans, results)
    }

    /// [`ModelCoordinator::infer_batch`] for plain threads (tools, benchmarks, label building).
    pub fn infer_batch_blocking(&self, texts: &[&str]) -> Vec<ModelOutputs> {
        let index = self.index.load_full();
        let plans = plan::plan(&index, texts, Some(&self.window_chars));
        let results = plans
            .iter()
            .map(|p| self.run_blocking(&p.model, p.inputs.clone()))
            .collect();
        self.assemble(&index, texts.len(), plans, results)
    }

    fn assemble(
        &self,
        index: &LabelIndex,
        count: usize,
        plans: Vec<plan::Plan>,
        results: Vec<Result<Rows, ModelError>>,
    ) -> Vec<ModelOutputs> {
        let mut outputs: Vec<ModelOutputs> = (0..count)
            .map(|_| ModelOutputs {
                label_set: index.set.clone(),
                ..ModelOutputs::default()
            })
            .collect();
        for (p, result) in plans.into_iter().zip(results) {
            let model = p.model.clone();
            let Some(prepared) = index.models.get(&model) else {
                continue;
            };
            match result {
                Ok(rows) => plan::score(&p, prepared, &rows, &mut outputs),
                Err(error) => {
                    if let Some(m) = self.models.get(&model) {
                        *lock(&m.last_error) = Some(error.to_string());
                    }
                    for out in &mut outputs {
                        out.failures.push(failure(
                            &model,
                            prepared.roles.iter().map(|r| r.role.clone()).collect(),
                            &error,
                        ));
                    }
                }
            }
        }
        // Models that never loaded (or whose labels could not be prepared) fail every request.
        for (name, model) in &self.models {
            if index.models.contains_key(name) {
                continue;
            }
            let error = match &model.worker {
                Err(e) => e.clone(),
                Ok(_) => ModelError::Unavailable {
                    model: name.clone(),
                    reason: lock(&model.last_error)
                        .clone()
                        .unwrap_or_else(|| "labels not prepared".into()),
                },
            };
            for out in &mut outputs {
                out.failures
                    .push(failure(name, model.roles.clone(), &error));
            }
        }
        outputs
    }

    /// Switches the active label set (labels re-embedded off the request path, then swapped in
    /// whole). Blocking: call it from a plain thread or `spawn_blocking`.
    pub fn switch_label_set(&self, set: &str) -> Result<(), ModelError> {
        let labels = self.labels_config.load_full();
        if !labels.allow_switching {
            return Err(ModelError::LabelSet {
                set: set.to_owned(),
                reason: "switching is disabled (labels.yaml: allow_switching)".into(),
            });
        }
        self.rebuild_index(set, &labels)
    }

    fn rebuild_index(&self, set: &str, labels: &LabelsConfig) -> Result<(), ModelError> {
        let _serial = lock(&self.rebuild);
        let signatures: BTreeMap<String, ModelSignature> = self
            .models
            .iter()
            .filter(|(_, m)| m.worker.is_ok())
            .map(|(n, m)| (n.clone(), m.signature.clone()))
            .collect();
        let index = labels::build(set, labels, &self.models_config, &signatures, |m, texts| {
            self.run_blocking(m, texts)
        })?;
        self.index.store(Arc::new(index));
        tracing::info!(label_set = %set, "label set active");
        Ok(())
    }

    /// Applies a reloaded configuration's label sets. The active set follows the file when the
    /// file changed it; otherwise a set chosen at run time stays. Model changes need a restart.
    pub fn apply_config(&self, config: &Config) -> Result<(), ModelError> {
        let old = self.labels_config.load_full();
        if *old == *config.labels {
            return Ok(());
        }
        let current = self.index.load().set.clone();
        let set = if old.active_set != config.labels.active_set
            || !config.labels.sets.contains_key(&current)
        {
            config.labels.active_set.clone()
        } else {
            current
        };
        self.rebuild_index(&set, &config.labels)?;
        self.labels_config.store(Arc::clone(&config.labels));
        if *self.models_config != *config.models {
            tracing::warn!("models.yaml changed; model changes take effect at the next restart");
        }
        Ok(())
    }

    /// Which models serve requests, e.g. `minilm (embedding)`; unavailable ones are marked.
    /// Fixed after start-up, so it is cheap to call per request.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The active label set's name.
    pub fn label_set(&self) -> String {
        self.index.load().set.clone()
    }

    /// Names of the label sets that can be switched to.
    pub fn label_sets(&self) -> Vec<String> {
        self.labels_config.load().sets.keys().cloned().collect()
    }

    /// Readiness and counters of every model.
    pub fn status(&self) -> ModelsStatus {
        let index = self.index.load();
        let models: Vec<ModelStatus> = self
            .models
            .iter()
            .map(|(name, m)| ModelStatus {
                name: name.clone(),
                kind: m.kind,
                roles: m.roles.clone(),
                loaded: m.worker.is_ok() && index.models.contains_key(name),
                load_ms: m.load_ms,
                warmup_ms: m.warmup_ms,
                warmup_runs: m.warmup_runs,
                inference_runs: m.counters.runs.load(Ordering::Relaxed),
                sequences: m.counters.sequences.load(Ordering::Relaxed),
                queue_depth: m.worker.as_ref().map_or(0, Worker::queue_depth),
                last_error: match &m.worker {
                    Err(e) => Some(e.to_string()),
                    Ok(_) => lock(&m.last_error).clone(),
                },
            })
            .collect();
        let ready = models.iter().filter(|m| m.loaded).count();
        let state = if ready == models.len() && ready > 0 {
            ModelsState::Ready
        } else if ready > 0 {
            ModelsState::Degraded
        } else {
            ModelsState::Failed
        };
        ModelsStatus {
            state,
            runtime: self.runtime.as_ref().ok().cloned(),
            runtime_error: self.runtime.as_ref().err().map(ToString::to_string),
            label_set: index.set.clone(),
            models,
        }
    }
}

/// Which sequences each model must run for `texts`, in text order.
fn failure(model: &str, roles: Vec<String>, error: &ModelError) -> ModelFailure {
    ModelFailure {
        model: model.to_owned(),
        roles,
        kind: error.kind(),
        reason: error.to_string(),
    }
}

/// Real inference at the batch sizes the model will see: one message, a few, a full batch, and
/// one message at the maximum length. (A full batch at the maximum length would grow ONNX
/// Runtime's arena by hundreds of MiB for a shape chat traffic rarely produces.)
fn warm_up(
    worker: &Worker,
    kind: ModelKind,
    max_batch: usize,
    max_length: usize,
) -> Result<(), ModelError> {
    let input = |text: &str| match kind {
        ModelKind::Nli => SequenceInput::Pair(
            text.to_owned(),
            "This message expresses distress.".to_owned(),
        ),
        _ => SequenceInput::Single(text.to_owned()),
    };
    let mut sizes = vec![1, 4.min(max_batch), max_batch];
    sizes.dedup();
    for size in sizes {
        worker.run_blocking(vec![input(WARMUP_SHORT); size])?;
    }
    let long = WARMUP_SHORT.repeat(max_length / 12 + 1);
    worker.run_blocking(vec![input(&long)])?;
    Ok(())
}

/// The cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
