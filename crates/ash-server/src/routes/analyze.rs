//! `POST /analyze` and `POST /analyze/batch`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ash_analysis::{Analyzer, Decision, HistoryEntry};
use ash_config::Config;
use ash_models::Priority;
use ash_response::{
    AnalyzeRequest, AnalyzeResponse, BatchEntry, BatchRequest, BatchResponse, RequestMeta,
    Verbosity, analyze_response,
};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::auth::{rate_limit_exempt, require_analyze};
use crate::error::ApiError;
use crate::extract::{ApiJson, Snapshot};
use crate::middleware::{RequestId, RequestOutcome};
use crate::state::{AppState, Evidence};

/// Checks a message to analyse: present and not too long. Blank is not an error here: it is
/// answered as "nothing to analyse" (`None`).
pub(crate) fn message_to_analyze(
    message: Option<String>,
    field: &str,
    limit: usize,
) -> Result<Option<String>, ApiError> {
    match message {
        Some(m) if m.trim().is_empty() => Ok(None),
        other => validate_message(other, field, limit).map(Some),
    }
}

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

/// What one message needs besides its text and evidence (shared by single and batch requests).
struct Context<'a> {
    state: &'a AppState,
    config: &'a Config,
    analyzer: &'a Analyzer,
    history: &'a [HistoryEntry<'a>],
    now: jiff::Timestamp,
}

impl Context<'_> {
    /// One message through learning, analysis (with its history) and the counters.
    fn analyze_one(&self, text: Option<&str>, evidence: Option<&Evidence>) -> Decision {
        let decision = match (text, evidence) {
            (Some(text), Some(evidence)) => {
                let adjustment = self
                    .state
                    .learning
                    .adjustment(evidence.embedding(), self.config);
                self.analyzer.analyze_in_context(
                    text,
                    evidence.as_model_evidence(),
                    adjustment.as_ref(),
                    self.history,
                    self.now,
                )
            }
            _ => Decision::nothing_to_analyze(self.config),
        };
        self.state.record(&decision);
        decision
    }
}

/// Asks the models about the messages that have text; `None` stays `None`.
async fn evidence_for(
    state: &AppState,
    config: &Config,
    messages: &[Option<String>],
    priority: Priority,
) -> Result<Vec<Option<Evidence>>, ApiError> {
    let texts: Vec<&str> = messages.iter().flatten().map(String::as_str).collect();
    let mut evidence = if texts.is_empty() {
        Vec::new()
    } else {
        state.evidence(config, &texts, priority).await?
    }
    .into_iter();
    Ok(messages
        .iter()
        .map(|m| m.as_ref().and_then(|_| evidence.next()))
        .collect())
}

/// Evidence for messages answered without the models because the service is at its limit.
fn overloaded_evidence(messages: &[Option<String>]) -> Vec<Option<Evidence>> {
    messages
        .iter()
        .map(|m| {
            m.as_ref().map(|_| Evidence::Unavailable {
                kind: ash_types::FailureKind::Overloaded,
                detail: "the service is at its limit; answered from patterns".to_owned(),
            })
        })
        .collect()
}

/// `message_history` read leniently: whatever is not a list of objects is noted, never refused.
fn history_entries(value: Option<&serde_json::Value>) -> (Vec<HistoryEntry<'_>>, Vec<String>) {
    let mut notes = Vec::new();
    let items = match value {
        None | Some(serde_json::Value::Null) => return (Vec::new(), notes),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => {
            notes.push("message_history_not_a_list".to_owned());
            return (Vec::new(), notes);
        }
    };
    let entries = items
        .iter()
        .map(|item| {
            if !item.is_object() {
                notes.push("history_item_not_an_object".to_owned());
            }
            if item
                .get("crisis_score")
                .is_some_and(|s| !s.is_number() && !s.is_null())
            {
                notes.push("history_score_not_a_number_read_as_unscored".to_owned());
            }
            HistoryEntry {
                text: item.get("message").and_then(serde_json::Value::as_str),
                timestamp: item.get("timestamp").and_then(serde_json::Value::as_str),
                crisis_score: item.get("crisis_score").and_then(serde_json::Value::as_f64),
            }
        })
        .collect();
    notes.sort();
    notes.dedup();
    (entries, notes)
}

/// Notes on `user_timezone` (accepted; an unknown name is noted, never refused).
fn timezone_notes(value: Option<&serde_json::Value>) -> Option<String> {
    match value {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) if jiff::tz::TimeZone::get(name).is_ok() => None,
        Some(_) => Some("user_timezone_unknown".to_owned()),
    }
}

/// Analyse one message.
#[utoipa::path(post, tag = "analyze",
    path = "/analyze",
    request_body = AnalyzeRequest,
    responses(
        (status = 200, description = "The analysis (an empty or blank message is answered `safe` with `analyzed: false`)", body = AnalyzeResponse),
        (status = 400, description = "Malformed JSON", body = ash_response::ErrorResponse),
        (status = 413, description = "Body over the byte limit", body = ash_response::ErrorResponse),
        (status = 401, description = "A key is required (`security.analyze_requires_key`) and was missing or wrong", body = ash_response::ErrorResponse),
        (status = 415, description = "Not application/json", body = ash_response::ErrorResponse),
        (status = 422, description = "Missing or too long message; wrong field type", body = ash_response::ErrorResponse),
        (status = 429, description = "Rate limited (when enabled)", body = ash_response::ErrorResponse),
        (status = 503, description = "Overloaded or timed out; see Retry-After", body = ash_response::ErrorResponse),
    )
)]
pub(crate) async fn analyze(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request_id: RequestId,
    ApiJson(request): ApiJson<AnalyzeRequest>,
) -> Result<Response, ApiError> {
    require_analyze(&pipeline.config, &headers)?;
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let config = &pipeline.config;
    let message = message_to_analyze(request.message, "message", config.server.max_message_chars)?;
    let messages = [message];
    // A single message is the last thing refused: at the concurrency limit it waits up to
    // `server.admission_wait_ms` for a permit; past that, or with every model queue full, it gets
    // a fast pattern-only answer (floors included, marked degraded) instead of a 503, which the
    // bot would count toward its breaker.
    let exempt = rate_limit_exempt(config, &headers, client);
    let wait = Duration::from_millis(config.server.admission_wait_ms);
    let permit = match state.admit(&headers, client, exempt, wait).await {
        Ok(permit) => Some(permit),
        Err(e) if e.is_overloaded() => None,
        Err(e) => return Err(e),
    };
    let evidence = match permit {
        Some(_) => match evidence_for(&state, config, &messages, Priority::RealTime).await {
            Ok(evidence) => evidence,
            Err(e) if e.is_overloaded() => overloaded_evidence(&messages),
            Err(e) => return Err(e),
        },
        None => overloaded_evidence(&messages),
    };
    let [message] = messages;
    let (history, mut notes) = history_entries(request.message_history.as_ref());
    notes.extend(timezone_notes(request.user_timezone.as_ref()));
    let context = Context {
        state: &state,
        config,
        analyzer: &pipeline.analyzer,
        history: &history,
        now,
    };
    let mut decision = context.analyze_one(message.as_deref(), evidence[0].as_ref());
    if let Some(c) = decision.context.as_mut() {
        c.notes.extend(notes);
    }
    if config.logging.include_ids {
        tracing::debug!(request_id = %request_id.0, user_id = ?request.user_id, channel_id = ?request.channel_id, "request ids");
    }
    let meta = RequestMeta {
        request_id: request_id.0.clone(),
        received_at: now,
        processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        include_explanation: request.include_explanation,
        verbosity: request.explanation_verbosity.unwrap_or_default(),
        include_context_analysis: request.include_context_analysis || !history.is_empty(),
        model_info: state.model_info(),
        config_generation: pipeline.generation,
    };
    let body = analyze_response(&decision, &meta);
    let mut response = Json(body).into_response();
    let text = message.as_deref().unwrap_or_default();
    response.extensions_mut().insert(RequestOutcome {
        level: Some(decision.level),
        degraded: decision.degraded.as_ref().map(|d| d.reason.clone()),
        message_chars: text.chars().count(),
        message_hash: state.message_hash(text),
    });
    Ok(response)
}

/// A batch's messages, checked: present, 1 to `server.max_batch_messages` of them, each present
/// and not too long (a blank one is answered as "nothing to analyse", `None`). Errors name the
/// index of the item at fault.
fn batch_messages(
    items: Option<Vec<BatchEntry>>,
    config: &Config,
) -> Result<Vec<Option<String>>, ApiError> {
    let items = items.ok_or_else(|| ApiError::MissingField {
        field: "messages".into(),
    })?;
    let limit = config.server.max_batch_messages;
    if items.is_empty() || items.len() > limit {
        return Err(ApiError::BatchSize {
            count: items.len(),
            limit,
        });
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            message_to_analyze(
                item.into_message(),
                &format!("messages[{i}].message"),
                config.server.max_message_chars,
            )
        })
        .collect()
}

/// Analyse 1–100 messages in one call; results come back in order.
#[utoipa::path(post, tag = "analyze",
    path = "/analyze/batch",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One analysis per message, in order", body = BatchResponse),
        (status = 401, description = "A key is required (`security.analyze_requires_key`) and was missing or wrong", body = ash_response::ErrorResponse),
        (status = 422, description = "Empty or oversized batch, or an invalid message (field names the index)", body = ash_response::ErrorResponse),
        (status = 503, description = "Overloaded or timed out; see Retry-After", body = ash_response::ErrorResponse),
    )
)]
pub(crate) async fn analyze_batch(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request_id: RequestId,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Response, ApiError> {
    require_analyze(&pipeline.config, &headers)?;
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let config = &pipeline.config;
    let messages = batch_messages(request.messages, config)?;
    let exempt = rate_limit_exempt(config, &headers, client);
    let _place = state
        .admit(&headers, client, exempt, Duration::ZERO)
        .await?;
    // Batches take the bulk lane: a single message someone just wrote goes first.
    let evidence = evidence_for(&state, config, &messages, Priority::Bulk).await?;
    let context = Context {
        state: &state,
        config,
        analyzer: &pipeline.analyzer,
        history: &[],
        now,
    };
    let model_info = state.model_info();
    let config_generation = pipeline.generation;
    let mut levels = Vec::with_capacity(messages.len());
    // A batch's analysis and answer are CPU work of up to tens of milliseconds: off the async
    // threads, so that a single message arriving meanwhile is not held behind it.
    let mut response = off_async_threads(|| {
        let results: Vec<_> = messages
            .iter()
            .zip(&evidence)
            .enumerate()
            .map(|(i, (text, ev))| {
                let decision = context.analyze_one(text.as_deref(), ev.as_ref());
                levels.push(decision.level);
                analyze_response(
                    &decision,
                    &RequestMeta {
                        request_id: format!("{}/{i}", request_id.0),
                        received_at: now,
                        processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
                        include_explanation: request.include_explanation,
                        verbosity: request.explanation_verbosity.unwrap_or(Verbosity::Standard),
                        include_context_analysis: request.include_context_analysis,
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
        Json(body).into_response()
    });
    response.extensions_mut().insert(RequestOutcome {
        level: levels.iter().max().copied(),
        degraded: None,
        message_chars: messages.iter().flatten().map(|m| m.chars().count()).sum(),
        message_hash: String::new(),
    });
    Ok(response)
}

/// Runs CPU-bound work without blocking the async worker it is on: tokio moves that worker's
/// other tasks elsewhere meanwhile (multi-threaded runtime; on a single-threaded one, in place).
fn off_async_threads<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// This module's routes, each with its OpenAPI path (declared once, by its `#[utoipa::path]`).
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<Arc<AppState>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(analyze))
        .routes(utoipa_axum::routes!(analyze_batch))
}
