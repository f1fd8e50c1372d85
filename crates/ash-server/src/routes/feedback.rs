//! `POST /analyze_false_positive` and `POST /analyze_false_negative`: staff corrections.

use std::net::SocketAddr;
use std::sync::Arc;

use ash_config::CrisisLevel;
use ash_response::{FalseNegativeRequest, FalsePositiveRequest, FeedbackResponse};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;

use crate::auth::require_feedback;
use crate::error::{ApiError, off_thread};
use crate::extract::{ApiJson, Snapshot};
use crate::learning::CorrectionKind;
use crate::routes::analyze::validate_message;
use crate::state::AppState;

fn level(value: Option<String>, field: &str) -> Result<CrisisLevel, ApiError> {
    let value = value.ok_or_else(|| ApiError::MissingField {
        field: field.to_owned(),
    })?;
    CrisisLevel::parse(&value).ok_or_else(|| ApiError::InvalidField {
        field: field.to_owned(),
        reason: "expected one of none, low, medium, high, critical".into(),
    })
}

async fn store(
    state: Arc<AppState>,
    kind: CorrectionKind,
    message: String,
    detected: CrisisLevel,
    correct: CrisisLevel,
    source: &'static str,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let config = state.config();
    // The embedding makes the correction findable for similar messages; without a loaded
    // embedding model it is still stored (and calibrates), just not as an exemplar.
    let embedding = match state.models.load_full() {
        Some(models) => models.infer(&message).await.embedding,
        None => None,
    };
    let writer = Arc::clone(&state);
    let (correction, effects) = off_thread(move || {
        writer.learning.record(
            &config, kind, &message, detected, correct, source, embedding,
        )
    })
    .await?;
    metrics::counter!("ash_feedback_total", "kind" => kind.as_str()).increment(1);
    tracing::info!(
        feedback_id = %correction.id,
        kind = kind.as_str(),
        detected = %detected,
        correct = %correct,
        source,
        exemplar = effects.exemplar,
        calibration_moved = effects.calibration_moved,
        "staff correction stored"
    );
    let mut what = Vec::new();
    if effects.exemplar {
        what.push("similar messages now follow it");
    }
    if effects.calibration_moved {
        what.push("thresholds were calibrated");
    }
    Ok(Json(FeedbackResponse {
        status: "recorded".into(),
        feedback_id: correction.id,
        patterns_discovered: u32::from(effects.exemplar),
        confidence_adjustments: u32::from(effects.calibration_moved),
        message: if what.is_empty() {
            "Correction stored durably; it changes nothing yet (no embedding model, calibration limit reached).".into()
        } else {
            format!("Correction stored durably; {}.", what.join(" and "))
        },
    }))
}

/// A message was flagged higher than it should have been.
#[utoipa::path(post, tag = "feedback", path = "/analyze_false_positive", request_body = FalsePositiveRequest,
    responses((status = 200, body = FeedbackResponse), (status = 401), (status = 403), (status = 422)))]
pub(crate) async fn false_positive(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<FalsePositiveRequest>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let source = require_feedback(&config, &headers, client)?;
    let message = validate_message(request.message, "message", config.server.max_message_chars)?;
    let detected = level(request.detected_level, "detected_level")?;
    let correct = level(request.correct_level, "correct_level")?;
    if correct >= detected {
        return Err(ApiError::InvalidField {
            field: "correct_level".into(),
            reason: "a false positive's correct level must be below the detected one".into(),
        });
    }
    store(
        state,
        CorrectionKind::FalsePositive,
        message,
        detected,
        correct,
        source,
    )
    .await
}

/// A message was flagged lower than it should have been.
#[utoipa::path(post, tag = "feedback", path = "/analyze_false_negative", request_body = FalseNegativeRequest,
    responses((status = 200, body = FeedbackResponse), (status = 401), (status = 403), (status = 422)))]
pub(crate) async fn false_negative(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<FalseNegativeRequest>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let source = require_feedback(&config, &headers, client)?;
    let message = validate_message(request.message, "message", config.server.max_message_chars)?;
    let correct = level(request.should_detect_level, "should_detect_level")?;
    let detected = level(request.actually_detected, "actually_detected")?;
    if correct <= detected {
        return Err(ApiError::InvalidField {
            field: "should_detect_level".into(),
            reason: "a false negative's correct level must be above the detected one".into(),
        });
    }
    store(
        state,
        CorrectionKind::FalseNegative,
        message,
        detected,
        correct,
        source,
    )
    .await
}

/// This module's routes, each with its OpenAPI path (declared once, by its `#[utoipa::path]`).
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<Arc<AppState>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(false_positive))
        .routes(utoipa_axum::routes!(false_negative))
}
