//! `POST /analyze` and `POST /analyze/batch`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ash_response::{
    AnalyzeRequest, AnalyzeResponse, BatchRequest, BatchResponse, RequestMeta, analyze_response,
};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::middleware::{RequestId, RequestOutcome};
use crate::state::AppState;

/// Checks one message: present, not blank, not too long.
pub(crate) fn validate_message(
    message: Option<String>,
    field: &str,
    limit: usize,
) -> Result<String, ApiError> {
    let message = message.ok_or_else(|| ApiError::MissingField {
        field: field.to_owned(),
    })?;
    if message.trim().is_empty() {
        return Err(ApiError::EmptyMessage {
            field: field.to_owned(),
        });
    }
    let chars = message.chars().count();
    if chars > limit {
        return Err(ApiError::MessageTooLong {
            field: field.to_owned(),
            chars,
            limit,
        });
    }
    Ok(message)
}

/// Analyse one message.
#[utoipa::path(
    post,
    path = "/analyze",
    request_body = AnalyzeRequest,
    responses(
        (status = 200, description = "The analysis", body = AnalyzeResponse),
        (status = 400, description = "Malformed JSON", body = ash_response::ErrorResponse),
        (status = 413, description = "Body over the byte limit", body = ash_response::ErrorResponse),
        (status = 415, description = "Not application/json", body = ash_response::ErrorResponse),
        (status = 422, description = "Missing, empty or too long message; wrong field type", body = ash_response::ErrorResponse),
        (status = 429, description = "Rate limited (when enabled)", body = ash_response::ErrorResponse),
        (status = 503, description = "Overloaded or timed out; see Retry-After", body = ash_response::ErrorResponse),
    )
)]
pub(crate) async fn analyze(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request_id: RequestId,
    ApiJson(request): ApiJson<AnalyzeRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let config = state.config();
    let message = validate_message(request.message, "message", config.server.max_message_chars)?;
    let _permit = state.admit(client)?;
    let analyzer = state.analyzer.load_full();
    let evidence = state.evidence(&config, &[message.as_str()]).await?;
    let adjustment = state.learning.adjustment(evidence[0].embedding(), &config);
    let decision = analyzer.analyze_adjusted(
        &message,
        evidence[0].as_model_evidence(),
        adjustment.as_ref(),
    );
    state.record(&decision);
    if config.logging.include_ids {
        tracing::debug!(request_id = %request_id.0, user_id = ?request.user_id, channel_id = ?request.channel_id, "request ids");
    }
    let meta = RequestMeta {
        request_id: request_id.0.clone(),
        processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        include_explanation: request.include_explanation,
        model_info: state.model_info(),
        config_generation: state.store.status().generation,
    };
    let body = analyze_response(&decision, &meta);
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(RequestOutcome {
        level: Some(decision.level),
        degraded: decision.degraded.as_ref().map(|d| d.reason.clone()),
        message_chars: message.chars().count(),
        message_hash: state.message_hash(&message),
    });
    Ok(response)
}

/// Analyse 1–100 messages in one call; results come back in order.
#[utoipa::path(
    post,
    path = "/analyze/batch",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One analysis per message, in order", body = BatchResponse),
        (status = 422, description = "Empty or oversized batch, or an invalid message (field names the index)", body = ash_response::ErrorResponse),
        (status = 503, description = "Overloaded or timed out; see Retry-After", body = ash_response::ErrorResponse),
    )
)]
pub(crate) async fn analyze_batch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request_id: RequestId,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let config = state.config();
    let items = request.messages.ok_or_else(|| ApiError::MissingField {
        field: "messages".into(),
    })?;
    let limit = config.server.max_batch_messages;
    if items.is_empty() || items.len() > limit {
        return Err(ApiError::BatchSize {
            count: items.len(),
            limit,
        });
    }
    let messages = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            validate_message(
                item.message,
                &format!("messages[{i}].message"),
                config.server.max_message_chars,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let _permit = state.admit(client)?;
    let analyzer = state.analyzer.load_full();
    let texts: Vec<&str> = messages.iter().map(String::as_str).collect();
    let evidence = state.evidence(&config, &texts).await?;
    let model_info = state.model_info();
    let config_generation = state.store.status().generation;
    let mut levels = Vec::with_capacity(texts.len());
    let results: Vec<_> = texts
        .iter()
        .zip(&evidence)
        .enumerate()
        .map(|(i, (text, ev))| {
            let adjustment = state.learning.adjustment(ev.embedding(), &config);
            let decision =
                analyzer.analyze_adjusted(text, ev.as_model_evidence(), adjustment.as_ref());
            state.record(&decision);
            levels.push(decision.level);
            analyze_response(
                &decision,
                &RequestMeta {
                    request_id: format!("{}/{i}", request_id.0),
                    processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
                    include_explanation: request.include_explanation,
                    model_info: model_info.clone(),
                    config_generation,
                },
            )
        })
        .collect();
    let body = BatchResponse {
        count: results.len(),
        results,
        processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        request_id: request_id.0.clone(),
    };
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(RequestOutcome {
        level: levels.iter().max().copied(),
        degraded: None,
        message_chars: messages.iter().map(|m| m.chars().count()).sum(),
        message_hash: String::new(),
    });
    Ok(response)
}
