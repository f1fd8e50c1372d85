//! Start-up: the runtime, every model's session pool and worker, real warmup, and the first
//! label index. Nothing here fails the service as a whole; a model that cannot load is recorded
//! and its roles report failures.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use ash_config::{Config, ModelDefinition, ModelsConfig};

use super::{LoadedModel, ModelCoordinator};
use crate::error::ModelError;
use crate::kinds;
use crate::labels::LabelIndex;
use crate::onnx::{ModelSignature, OnnxModel, RunCounters};
use crate::plan;
use crate::runtime::{self, RuntimeInfo};
use crate::worker::{Batching, Worker};

/// Text used to warm a model: a short chat message (repeated for the long one).
const WARMUP_SHORT: &str = "hey, is anyone around tonight? rough day, could use someone to talk to";

impl ModelCoordinator {
    /// Loads the runtime and every model used by an enabled role, warms each with real inference
    /// at the batch sizes it will see, and prepares the active label set. Never fails as a whole:
    /// a model that cannot load is recorded (see [`ModelCoordinator::status`]) and its roles
    /// report failures, so the caller decides whether to run degraded.
    pub fn start(config: &Config) -> Self {
        let models_config = Arc::clone(&config.models);
        let runtime = runtime::init(&models_config.runtime);
        let (sessions, threads) = models_config.runtime.pool(available_cores());
        tracing::info!(
            sessions,
            threads_per_session = threads,
            "inference pool per model"
        );
        let pool = Pool { sessions, threads };
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
            let model = load_and_warm(name, definition, &models_config, &runtime, pool, roles);
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
        ModelCoordinator {
            description: coordinator.describe_models(),
            ..coordinator
        }
    }
}

/// Sessions per model and intra-op threads per session.
#[derive(Clone, Copy)]
struct Pool {
    sessions: usize,
    threads: usize,
}

/// One model's session pool and worker, warmed; a failure is kept in the model's record.
fn load_and_warm(
    name: &str,
    definition: &ModelDefinition,
    models_config: &ModelsConfig,
    runtime: &Result<RuntimeInfo, ModelError>,
    pool: Pool,
    roles: Vec<String>,
) -> LoadedModel {
    let counters = Arc::new(RunCounters::default());
    let started = Instant::now();
    let loaded = runtime
        .clone()
        .and_then(|_| load(name, definition, models_config, pool, &counters));
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
        if let Err(e) = warm_up(worker, definition, models_config.batching.max_batch_size) {
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
    model
}

/// The sessions of one model and the worker that runs them.
fn load(
    name: &str,
    definition: &ModelDefinition,
    models_config: &ModelsConfig,
    pool: Pool,
    counters: &Arc<RunCounters>,
) -> Result<(Worker, ModelSignature), ModelError> {
    let sessions = (0..pool.sessions)
        .map(|_| {
            OnnxModel::load(
                name,
                definition,
                models_config,
                pool.threads,
                Arc::clone(counters),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signature = sessions[0].signature().clone();
    let batching = &models_config.batching;
    let worker = Worker::spawn(
        name,
        sessions,
        Batching {
            max_batch_size: batching.max_batch_size,
            bulk_max_batch_size: batching.bulk_max_batch_size,
            bulk_max_tokens: batching.bulk_max_tokens_per_run,
            max_length: definition.max_length,
            max_wait: Duration::from_micros(batching.max_wait_us),
            queue_capacity: batching.queue_capacity,
        },
    )?;
    Ok((worker, signature))
}

/// Real inference at the batch sizes the model will see: one message, a few, a full batch, and
/// one message at the maximum length. (A full batch at the maximum length would grow ONNX
/// Runtime's arena by hundreds of MiB for a shape chat traffic rarely produces.)
fn warm_up(
    worker: &Worker,
    definition: &ModelDefinition,
    max_batch: usize,
) -> Result<(), ModelError> {
    let kind = kinds::of(definition.kind);
    let mut sizes = vec![1, 4.min(max_batch), max_batch];
    sizes.dedup();
    for size in sizes {
        worker.run_blocking(vec![kind.warm_up_input(WARMUP_SHORT); size])?;
    }
    let long = WARMUP_SHORT.repeat(definition.max_length / 12 + 1);
    worker.run_blocking(vec![kind.warm_up_input(&long)])?;
    Ok(())
}

/// The cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
