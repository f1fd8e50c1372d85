//! What the service says about itself: health, readiness, status, counters.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /health` status (`healthy|operational|ready` are what Ash-Bot accepts as up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Ready, every model loaded.
    Healthy,
    /// Answering, but some models are missing: answers are marked degraded.
    Degraded,
    /// Loading models; answers are pattern-only and marked degraded.
    Starting,
    /// Shutting down (HTTP 503): finishing in-flight requests; send new ones elsewhere.
    Draining,
}

/// `GET /ready`: what an orchestrator's readiness probe reads.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// Requests are served (with all models, or degraded when a degraded start was allowed).
    pub ready: bool,
    pub status: HealthStatus,
}

/// `GET /health`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: HealthStatus,
    pub ready: bool,
    pub version: String,
    pub uptime_seconds: f64,
    pub label_set: Option<String>,
    #[schema(value_type = Object)]
    pub models: serde_json::Value,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// `GET /status`: what is running, for clients that check before a run (Ash-Thrash does).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub service: String,
    pub version: String,
    pub build: BuildInfo,
    /// The same status as `/health`.
    pub status: HealthStatus,
    /// True when answers are, or would be, marked degraded (models missing or loading).
    pub is_degraded: bool,
    pub uptime_seconds: f64,
    pub label_set: Option<String>,
    /// Each model with its load and warmup status.
    #[schema(value_type = Object)]
    pub models: serde_json::Value,
    pub config_generation: u64,
    /// The risk head artefact in use, when one is configured.
    pub risk_head_version: Option<String>,
}

/// How the running binary was built.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BuildInfo {
    /// `release` or `debug`.
    pub profile: String,
    pub target_arch: String,
    pub target_os: String,
}

/// `GET /stats` (the fields Ash-Bot reads first).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub model_loaded: bool,
    /// Analysis requests (`/analyze`, `/analyze/batch`; a batch counts once).
    pub total_requests: u64,
    /// Messages analysed (a batch of 10 counts 10).
    pub successful_analyses: u64,
    /// Analysis requests answered with an error.
    pub failed_analyses: u64,
    pub uptime_seconds: f64,
    pub model_version: String,
    pub degraded_analyses: u64,
    pub levels: BTreeMap<String, u64>,
    pub feedback_received: u64,
}
