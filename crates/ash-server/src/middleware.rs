//! Request-level layers: request id, deadline, one log line and metrics per request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ash_config::CrisisLevel;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};
use crate::extract::BodyRules;
use crate::state::AppState;

/// The request's id (`x-request-id` from the client, else a new UUID), echoed in the response.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string())))
    }
}

/// What a handler decided, for the request's log line (never the text).
#[derive(Clone, Debug)]
pub(crate) struct RequestOutcome {
    pub level: Option<CrisisLevel>,
    pub degraded: Option<String>,
    pub message_chars: usize,
    pub message_hash: String,
}

fn request_id_from(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Request id, deadline, log line and metrics, around every request.
pub(crate) async fn observe(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id_from(&req);
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let pipeline = state.pipeline();
    let config = Arc::clone(&pipeline.config);
    req.extensions_mut().insert(pipeline);
    req.extensions_mut().insert(RequestId(id.clone()));
    req.extensions_mut().insert(BodyRules {
        limit: config.server.max_body_bytes,
        read_timeout: Duration::from_millis(config.server.body_read_timeout_ms),
    });
    let deadline = Duration::from_millis(config.server.request_timeout_ms);
    // `/analyze` and `/analyze/batch` (not the feedback endpoints, which share the prefix).
    let analysis = endpoint == "/analyze" || endpoint == "/analyze/batch";
    let mut response = match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable {
            code: "timeout",
            reason: "the request took longer than the configured deadline",
            retry_after_secs: 1,
        }
        .into_response(),
    };
    let status = response.status();
    if analysis {
        // Every analysis request counts, also those refused before their body was read.
        state
            .stats
            .total_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if status.is_client_error() || status.is_server_error() {
            state
                .stats
                .failed_analyses
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let latency = started.elapsed();
    let status_label = status.as_u16().to_string();
    metrics::counter!("ash_http_requests_total", "endpoint" => endpoint.clone(), "status" => status_label).increment(1);
    metrics::histogram!("ash_http_request_duration_seconds", "endpoint" => endpoint.clone())
        .record(latency.as_secs_f64());
    let outcome = response.extensions().get::<RequestOutcome>().cloned();
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    let quiet = method == Method::GET
        && matches!(
            endpoint.as_str(),
            "/health" | "/status" | "/ready" | "/metrics"
        );
    let latency_ms = (latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    match outcome {
        Some(o) => tracing::info!(
            request_id = %id,
            %method,
            endpoint = %endpoint,
            status = status.as_u16(),
            latency_ms,
            level = o.level.map(CrisisLevel::as_str),
            degraded = o.degraded.as_deref(),
            message_chars = o.message_chars,
            message_hash = %o.message_hash,
            "request"
        ),
        None if quiet => {
            tracing::debug!(request_id = %id, %method, endpoint = %endpoint, status = status.as_u16(), latency_ms, "request")
        }
        None if matches!(status.as_u16(), 429 | 503) => refusal_logged(code.unwrap_or("refused")),
        None => {
            tracing::info!(request_id = %id, %method, endpoint = %endpoint, status = status.as_u16(), latency_ms, error = code, "request")
        }
    }
    response
}

/// Refusals under overload are counted (`ash_http_requests_total` by status), not logged one by
/// one: at most one summary line per [`REFUSAL_LOG_EVERY`], with how many were refused since.
fn refusal_logged(code: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SINCE_LAST: AtomicU64 = AtomicU64::new(0);
    static LAST_LOGGED_S: AtomicU64 = AtomicU64::new(0);
    let refused = SINCE_LAST.fetch_add(1, Ordering::Relaxed) + 1;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_LOGGED_S.load(Ordering::Relaxed);
    if now_s >= last + REFUSAL_LOG_EVERY.as_secs()
        && LAST_LOGGED_S
            .compare_exchange(last, now_s, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        SINCE_LAST.store(0, Ordering::Relaxed);
        tracing::warn!(
            refused,
            last = code,
            "requests refused under load (counted; one line per interval)"
        );
    }
}

/// How often refusals under load are summarised in the log.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
