//! The model layer's façade: loads every model the enabled roles use, warms them, keeps the active
//! label set, and turns a message into per-role label distributions.

mod start;
mod status;

pub use start::available_cores;
pub use status::{ModelStatus, ModelsState, ModelsStatus};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use ash_config::{Config, LabelsConfig, ModelKind, ModelsConfig};

use crate::error::ModelError;
use crate::labels::{self, LabelIndex};
use crate::onnx::{ModelSignature, RunCounters, SequenceInput};
use crate::plan;
use crate::runtime::RuntimeInfo;
use crate::worker::{Priority, Rows, Worker};
use ash_types::{ModelFailure, ModelOutputs};

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

impl ModelCoordinator {
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
}

/// A model's failure, as each answer it affects reports it.
fn failure(model: &str, roles: Vec<String>, error: &ModelError) -> ModelFailure {
    ModelFailure {
        model: model.to_owned(),
        roles,
        kind: error.kind(),
        reason: error.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
