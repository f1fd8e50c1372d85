//! `GET /health`, `/ready`, `/stats`, `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ash_models::ModelsState;
use ash_response::{
    BuildInfo, HealthResponse, HealthStatus, ReadyResponse, StatsResponse, StatusResponse,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::{AppState, Phase};

pub(crate) fn health_status(state: &AppState) -> HealthStatus {
    match (state.phase(), state.models_state()) {
        (Phase::Draining, _) => HealthStatus::Draining,
        (Phase::Starting, _) | (Phase::Ready, None) => HealthStatus::Starting,
        (Phase::Ready, Some(ModelsState::Ready)) => HealthStatus::Healthy,
        (Phase::Ready, Some(ModelsState::Degraded | ModelsState::Failed)) => HealthStatus::Degraded,
    }
}

/// Liveness and detail: model, warmup and config-reload status. 200 unless draining (503).
#[utoipa::path(get, tag = "health", path = "/health", responses((status = 200, body = HealthResponse), (status = 503, body = HealthResponse)))]
pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Response {
    let status = health_status(&state);
    let models = state.models.load_full();
    let body = HealthResponse {
        status,
        ready: matches!(status, HealthStatus::Healthy | HealthStatus::Degraded),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        label_set: models.as_ref().map(|m| m.label_set()),
        models: models_json(models.as_deref()),
        config: serde_json::to_value(state.store.status()).unwrap_or_default(),
    };
    let code = if status == HealthStatus::Draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// Each model's status, or `loading` before the models are attached.
fn models_json(models: Option<&ash_models::ModelCoordinator>) -> serde_json::Value {
    models.map_or_else(
        || serde_json::json!({"state": "loading"}),
        |m| serde_json::to_value(m.status()).unwrap_or_default(),
    )
}

/// What is running: version, build, uptime, models, label set, configuration generation.
#[utoipa::path(get, tag = "health", path = "/status", responses((status = 200, body = StatusResponse)))]
pub(crate) async fn status(State(state): State<Arc<AppState>>) -> Json<StatusResponse> {
    let status = health_status(&state);
    let models = state.models.load_full();
    let pipeline = state.pipeline();
    let config = &pipeline.config;
    Json(StatusResponse {
        service: "ash-nlp".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        build: BuildInfo {
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
            target_arch: std::env::consts::ARCH.to_owned(),
            target_os: std::env::consts::OS.to_owned(),
        },
        is_degraded: status != HealthStatus::Healthy,
        status,
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        label_set: models.as_ref().map(|m| m.label_set()),
        models: models_json(models.as_deref()),
        config_generation: pipeline.generation,
        risk_head_version: config
            .risk_head
            .is_present()
            .then(|| config.risk_head.version.clone()),
    })
}

/// Readiness: 200 once models are loaded (or a degraded start was allowed), else 503.
#[utoipa::path(get, tag = "health", path = "/ready", responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
pub(crate) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let status = health_status(&state);
    let ready = matches!(status, HealthStatus::Healthy | HealthStatus::Degraded);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(ReadyResponse { ready, status })).into_response()
}

/// Counters Ash-Bot reads.
#[utoipa::path(get, tag = "health", path = "/stats", responses((status = 200, body = StatsResponse)))]
pub(crate) async fn stats(State(state): State<Arc<AppState>>) -> Json<StatsResponse> {
    let s = &state.stats;
    let model_version = match state.models.load_full() {
        Some(m) => {
            let st = m.status();
            let names: Vec<String> = st.models.iter().map(|m| m.name.clone()).collect();
            format!("{}@{}", names.join("+"), st.label_set)
        }
        None => "loading".to_owned(),
    };
    Json(StatsResponse {
        model_loaded: matches!(
            state.models_state(),
            Some(ModelsState::Ready | ModelsState::Degraded)
        ),
        total_requests: s.total_requests.load(Ordering::Relaxed),
        successful_analyses: s.successful_analyses.load(Ordering::Relaxed),
        failed_analyses: s.failed_analyses.load(Ordering::Relaxed),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        model_version,
        degraded_analyses: s.degraded_analyses.load(Ordering::Relaxed),
        levels: state.level_counts(),
        feedback_received: state.learning.count(),
    })
}

/// Prometheus text exposition.
#[utoipa::path(get, tag = "health", path = "/metrics", responses((status = 200, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Some(m) = state.models.load_full() {
        for model in m.status().models {
            metrics::gauge!("ash_model_queue_depth", "model" => model.name.clone())
                .set(model.queue_depth as f64);
            metrics::gauge!("ash_model_loaded", "model" => model.name).set(if model.loaded {
                1.0
            } else {
                0.0
            });
        }
    }
    metrics::gauge!("ash_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// This module's routes, each with its OpenAPI path (declared once, by its `#[utoipa::path]`).
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<Arc<AppState>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(health))
        .routes(utoipa_axum::routes!(status))
        .routes(utoipa_axum::routes!(ready))
        .routes(utoipa_axum::routes!(stats))
        .routes(utoipa_axum::routes!(metrics))
}
