//! What the model layer reports about itself: readiness per model and overall, with counters,
//! for `/health`, `/status` and start-up decisions.

use std::sync::atomic::Ordering;

use ash_config::ModelKind;
use serde::Serialize;

use super::{ModelCoordinator, lock};
use crate::runtime::RuntimeInfo;
use crate::worker::Worker;

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

impl ModelCoordinator {
    /// Which models serve requests, e.g. `minilm (embedding)`; unavailable ones are marked.
    /// Fixed after start-up, so it is cheap to call per request.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The description [`ModelCoordinator::describe`] returns, built once at start-up.
    pub(super) fn describe_models(&self) -> String {
        self.status()
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
            .join(", ")
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
