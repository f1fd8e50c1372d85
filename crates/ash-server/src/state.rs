//! Shared state of the service, and the steps every analysis request goes through.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use ash_analysis::{Analyzer, Decision};
use ash_config::{Config, ConfigStore, CrisisLevel};
use ash_models::{ModelCoordinator, ModelsState, Priority};
use ash_types::FailureKind;
use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota};
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::{Digest, Sha256};

use crate::admission::{Admission, Place};
use crate::error::ApiError;
use crate::learning::Learning;

/// Where the service is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Port open, models loading.
    Starting = 0,
    /// Answering with models (all or some, see the model status).
    Ready = 1,
    /// Shutting down: answering what arrives during the drain delay, then finishing in-flight
    /// requests.
    Draining = 2,
}

/// Counters behind `/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_requests: AtomicU64,
    pub successful_analyses: AtomicU64,
    pub failed_analyses: AtomicU64,
    pub degraded_analyses: AtomicU64,
    pub levels: [AtomicU64; 5],
}

pub(crate) use ash_types::Evidence;

/// Everything a request reads that a reload may change, built whole before it is swapped in, so a
/// request sees one configuration from the first middleware to its answer.
#[derive(Debug)]
pub struct Pipeline {
    pub config: Arc<Config>,
    /// Compiled from `config`.
    pub analyzer: Analyzer,
    /// The configuration generation `config` is (reported as `config_generation`).
    pub generation: u64,
}

impl Pipeline {
    /// Compiles the analyzer of `config`.
    pub fn build(config: Arc<Config>, generation: u64) -> Result<Self, String> {
        let analyzer = Analyzer::new(Arc::clone(&config)).map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            analyzer,
            generation,
        })
    }
}

/// Everything handlers share.
pub struct AppState {
    pub store: Arc<ConfigStore>,
    /// The configuration the server started with (what start-only settings still follow).
    pub start_config: Arc<Config>,
    /// The current pipeline; take it once per request ([`AppState::pipeline`]).
    pipeline: ArcSwap<Pipeline>,
    pub models: ArcSwapOption<ModelCoordinator>,
    phase: AtomicU8,
    pub started: Instant,
    /// Places under `server.max_concurrent_requests`, shared fairly between clients.
    pub(crate) admission: Arc<Admission>,
    pub stats: Stats,
    pub metrics: PrometheusHandle,
    pub learning: Learning,
    pub rate_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Per-process salt for message hashes in logs: repeated messages correlate within a run,
    /// but a hash cannot be reversed by guessing common messages.
    log_salt: [u8; 16],
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("phase", &self.phase())
            .finish()
    }
}

impl AppState {
    /// State for a freshly loaded configuration; models are attached later.
    pub fn new(
        store: Arc<ConfigStore>,
        metrics: PrometheusHandle,
        learning: Learning,
    ) -> Result<Self, String> {
        let config = store.current();
        let pipeline = Pipeline::build(Arc::clone(&config), store.status().generation)?;
        let rate_limiter = config.server.rate_limit.enabled.then(|| {
            let per_minute = NonZeroU32::new(config.server.rate_limit.requests_per_minute)
                .unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(config.server.rate_limit.burst).unwrap_or(NonZeroU32::MIN);
            governor::RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        Ok(Self {
            admission: Admission::new(config.server.max_concurrent_requests),
            pipeline: ArcSwap::from_pointee(pipeline),
            start_config: Arc::clone(&config),
            models: ArcSwapOption::empty(),
            phase: AtomicU8::new(Phase::Starting as u8),
            started: Instant::now(),
            stats: Stats::default(),
            metrics,
            learning,
            rate_limiter,
            log_salt: *uuid::Uuid::new_v4().as_bytes(),
            store,
        })
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Draining,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// The live configuration, for work outside a request (start-up, sync loops). A request
    /// takes its [`Snapshot`](crate::extract::Snapshot) instead.
    pub fn config(&self) -> Arc<Config> {
        self.pipeline.load().config.clone()
    }

    /// The current pipeline (configuration, analyzer and generation together).
    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.pipeline.load_full()
    }

    /// Start-only settings whose configured value differs from the one running (they apply at the
    /// next restart).
    pub fn restart_required(&self) -> Vec<&'static str> {
        crate::reload::restart_required(&self.start_config, &self.config())
    }

    /// Swaps in a pipeline built from a new configuration.
    pub fn replace_pipeline(&self, pipeline: Pipeline) {
        self.pipeline.store(Arc::new(pipeline));
    }

    /// Rate limit (per client address, unless `rate_exempt`), then a place under the concurrency
    /// limit: at once (`wait` zero: batches, refused first under pressure) or within `wait` (a
    /// single message, which queues briefly rather than being answered degraded: under a flood of
    /// clients the full analyses keep their pace instead of sharing the cores with a storm of
    /// quick degraded answers), unless its client already holds its fair share of the places
    /// while others wait (see `admission`).
    pub(crate) async fn admit(
        &self,
        headers: &HeaderMap,
        peer: SocketAddr,
        rate_exempt: bool,
        wait: std::time::Duration,
    ) -> Result<Place, ApiError> {
        if let Some(limiter) = self.rate_limiter.as_ref().filter(|_| !rate_exempt)
            && let Err(not_until) = limiter.check_key(&peer.ip())
        {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            metrics::counter!("ash_rejected_total", "reason" => "rate_limited").increment(1);
            return Err(ApiError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let client = self.admission.client_id(headers, peer);
        self.admission
            .enter(client, wait)
            .await
            .map_err(|no_place| {
                metrics::counter!("ash_rejected_total", "reason" => no_place.reason()).increment(1);
                ApiError::overloaded()
            })
    }

    /// Asks the models about `texts` (one call, batched by the model layer).
    pub async fn evidence(
        &self,
        config: &Config,
        texts: &[&str],
        priority: Priority,
    ) -> Result<Vec<Evidence>, ApiError> {
        let repeat =
            |make: &dyn Fn() -> Evidence| (0..texts.len()).map(|_| make()).collect::<Vec<_>>();
        if !config.features.ensemble_analysis {
            return Ok(repeat(&|| Evidence::Disabled));
        }
        let Some(models) = self.models.load_full() else {
            return Ok(repeat(&|| Evidence::Unavailable {
                kind: FailureKind::Starting,
                detail: "models are still loading".into(),
            }));
        };
        let outputs = models.infer_batch(texts, priority).await;
        // Every model refused because its queue is full: shed load rather than answer from
        // patterns alone under pressure.
        let all_overloaded = outputs.iter().all(|o| {
            o.roles.is_empty()
                && !o.failures.is_empty()
                && o.failures.iter().all(|f| f.kind == FailureKind::Overloaded)
        });
        if all_overloaded && !outputs.is_empty() {
            metrics::counter!("ash_rejected_total", "reason" => "model_queue").increment(1);
            return Err(ApiError::overloaded());
        }
        Ok(outputs.into_iter().map(Evidence::Outputs).collect())
    }

    /// Records a decision in the counters and metrics.
    pub fn record(&self, decision: &Decision) {
        self.stats
            .successful_analyses
            .fetch_add(1, Ordering::Relaxed);
        self.stats.levels[decision.level.rank() as usize].fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ash_decisions_total", "level" => decision.level.as_str()).increment(1);
        if let Some(d) = &decision.degraded {
            self.stats.degraded_analyses.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("ash_degraded_answers_total", "reason" => d.reason.clone())
                .increment(1);
        }
        if decision.requires_staff_review {
            metrics::counter!("ash_staff_reviews_total").increment(1);
        }
        if let Some(head) = &decision.head {
            let agrees = if head.level == decision.level {
                "yes"
            } else {
                "no"
            };
            metrics::counter!(
                "ash_risk_head_answers_total",
                "mode" => decision.head_mode.as_str(),
                "agrees" => agrees
            )
            .increment(1);
        }
        if decision.third_party {
            metrics::counter!("ash_third_party_risk_total").increment(1);
        }
    }

    /// A salted, truncated hash of a message for logs.
    pub fn message_hash(&self, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.log_salt);
        h.update(text.as_bytes());
        hex::encode(&h.finalize()[..6])
    }

    /// `model_info`: which models answered and the label set.
    pub fn model_info(&self) -> String {
        match self.models.load_full() {
            None => "models loading; patterns only".to_owned(),
            Some(m) => format!(
                "ash-nlp {}: {}; label set {}",
                env!("CARGO_PKG_VERSION"),
                m.describe(),
                m.label_set()
            ),
        }
    }

    /// Counts per level for `/stats`.
    pub fn level_counts(&self) -> BTreeMap<String, u64> {
        CrisisLevel::ALL
            .iter()
            .map(|l| {
                (
                    l.as_str().to_owned(),
                    self.stats.levels[l.rank() as usize].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Whether the model layer can answer (fully or partly).
    pub fn models_state(&self) -> Option<ModelsState> {
        self.models.load_full().map(|m| m.status().state)
    }
}
