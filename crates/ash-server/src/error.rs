//! One error type for every HTTP failure, mapped to a status, a stable code and the field at
//! fault. Internal details are logged, never returned.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON.
    #[error("the body is not valid JSON")]
    InvalidJson,
    /// 413: the body is larger than `server.max_body_bytes`.
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// 408: the body did not arrive within `server.body_read_timeout_ms`.
    #[error("the body did not arrive within {limit_ms} ms")]
    BodyTimeout { limit_ms: u64 },
    /// 415: not `application/json`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 422: a required field is missing.
    #[error("`{field}` is required")]
    MissingField { field: String },
    /// 422: a field has the wrong type or shape.
    #[error("`{field}` is invalid: {reason}")]
    InvalidField { field: String, reason: String },
    /// 422: a message is empty or only whitespace.
    #[error("`{field}` is empty")]
    EmptyMessage { field: String },
    /// 422: a message is longer than `server.max_message_chars` characters.
    #[error("`{field}` has {chars} characters; the limit is {limit}")]
    MessageTooLong {
        field: String,
        chars: usize,
        limit: usize,
    },
    /// 422: a batch is empty or larger than `server.max_batch_messages`.
    #[error("a batch needs 1 to {limit} messages, got {count}")]
    BatchSize { count: usize, limit: usize },
    /// 401: no or wrong API key.
    #[error("a valid API key is required (x-api-key header or Authorization: Bearer)")]
    Unauthorized,
    /// 403: the endpoint is disabled (no API key configured) or the caller is not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404.
    #[error("no such endpoint")]
    NotFound,
    /// 404: an unknown label set.
    #[error("{0}")]
    UnknownLabelSet(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the operation conflicts with configuration (switching disabled, invalid reload).
    #[error("{0}")]
    Conflict(String),
    /// 429: per-client rate limit.
    #[error("rate limit exceeded")]
    RateLimited { retry_after_secs: u64 },
    /// 503: too many requests in flight, the model queue is full, or the request timed out.
    #[error("{reason}")]
    Unavailable {
        code: &'static str,
        reason: &'static str,
        retry_after_secs: u64,
    },
    /// 500: a bug; details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The overload answer (concurrency limit or full model queue).
    pub fn overloaded() -> Self {
        ApiError::Unavailable {
            code: "overloaded",
            reason: "the service is at capacity; retry shortly",
            retry_after_secs: 1,
        }
    }

    /// True for the overload answer (see [`ApiError::overloaded`]).
    pub fn is_overloaded(&self) -> bool {
        matches!(
            self,
            ApiError::Unavailable {
                code: "overloaded",
                ..
            }
        )
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<String>) {
        match self {
            ApiError::InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json", None),
            ApiError::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None)
            }
            ApiError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout", None),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
            ),
            ApiError::MissingField { field } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_field",
                Some(field.clone()),
            ),
            ApiError::InvalidField { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some(field.clone()),
            ),
            ApiError::EmptyMessage { field } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_message",
                Some(field.clone()),
            ),
            ApiError::MessageTooLong { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "message_too_long",
                Some(field.clone()),
            ),
            ApiError::BatchSize { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_batch_size",
                Some("messages".into()),
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::UnknownLabelSet(_) => (
                StatusCode::NOT_FOUND,
                "unknown_label_set",
                Some("label_set".into()),
            ),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            ApiError::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code, None),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        let body = ash_response::error(code, self.to_string(), field);
        let mut response = (status, axum::Json(body)).into_response();
        let retry = match &self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// Runs blocking work (fsync, label re-embedding, store access) off the async threads; a failure
/// of the work itself is an internal error whose detail goes to the log only.
pub(crate) async fn off_thread<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The error code, carried to the request log line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(e: ApiError) -> serde_json::Value {
        let response = e.into_response();
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        serde_json::json!({ "status": status, "retry_after": retry, "body": body })
    }

    #[tokio::test]
    async fn every_error_has_its_status_code_and_shape() {
        let all = vec![
            ApiError::InvalidJson,
            ApiError::BodyTooLarge { limit: 4096 },
            ApiError::BodyTimeout { limit_ms: 5000 },
            ApiError::UnsupportedMediaType,
            ApiError::MissingField {
                field: "message".into(),
            },
            ApiError::InvalidField {
                field: "message".into(),
                reason: "invalid type: integer `42`, expected a string".into(),
            },
            ApiError::EmptyMessage {
                field: "message".into(),
            },
            ApiError::MessageTooLong {
                field: "message".into(),
                chars: 10_001,
                limit: 10_000,
            },
            ApiError::BatchSize {
                count: 101,
                limit: 100,
            },
            ApiError::Unauthorized,
            ApiError::Forbidden(
                "admin endpoints are disabled: set NLP_SECURITY_API_KEY to enable them",
            ),
            ApiError::NotFound,
            ApiError::UnknownLabelSet("no label set named `x`".into()),
            ApiError::MethodNotAllowed,
            ApiError::Conflict("configuration refused".into()),
            ApiError::RateLimited {
                retry_after_secs: 3,
            },
            ApiError::overloaded(),
            ApiError::Unavailable {
                code: "timeout",
                reason: "the request took longer than the configured deadline",
                retry_after_secs: 1,
            },
            ApiError::Internal("secret detail that must not leak".into()),
        ];
        let mut rendered = Vec::new();
        for e in all {
            rendered.push(render(e).await);
        }
        assert!(
            !serde_json::to_string(&rendered)
                .unwrap_or_default()
                .contains("secret detail")
        );
        insta::assert_json_snapshot!("errors", rendered);
    }
}
