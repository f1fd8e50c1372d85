//! The JSON body extractor: checks the content type, the size limit and the syntax, and reports
//! type errors with the path of the field at fault — all in the service's error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::{AppState, Pipeline};

/// The pipeline a request runs under, taken once by the request middleware (or here, for a
/// route outside it), so middleware and handler read the same configuration.
#[derive(Debug)]
pub(crate) struct Snapshot(pub std::sync::Arc<Pipeline>);

impl axum::extract::FromRequestParts<std::sync::Arc<AppState>> for Snapshot {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Snapshot(
            parts
                .extensions
                .get::<std::sync::Arc<Pipeline>>()
                .cloned()
                .unwrap_or_else(|| state.pipeline()),
        ))
    }
}

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let BodyRules {
            limit,
            read_timeout,
        } = req
            .extensions()
            .get::<BodyRules>()
            .copied()
            .unwrap_or(BodyRules::NONE);
        // The limit is the live configuration's (taken per request), not a layer's built at start.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::BodyTooLarge { limit });
        }
        let read = tokio::time::timeout(read_timeout, axum::body::to_bytes(req.into_body(), limit));
        let bytes: Bytes = read
            .await
            .map_err(|_| ApiError::BodyTimeout {
                limit_ms: read_timeout.as_millis() as u64,
            })?
            .map_err(|error| {
                // Reading fails on the length limit or a broken connection.
                let too_large = std::iter::successors(
                    Some(&error as &(dyn std::error::Error + 'static)),
                    |e| e.source(),
                )
                .any(|e| e.is::<http_body_util::LengthLimitError>());
                if too_large {
                    ApiError::BodyTooLarge { limit }
                } else {
                    ApiError::InvalidJson
                }
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// How a body is read under the live configuration (put in the request extensions by the
/// middleware, so a reload applies to the next request and errors can state the limit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyRules {
    /// `server.max_body_bytes`.
    pub limit: usize,
    /// `server.body_read_timeout_ms`: a body slower than this is answered 408.
    pub read_timeout: std::time::Duration,
}

impl BodyRules {
    /// For a route outside the middleware: no limit of its own (the request deadline still holds).
    const NONE: Self = Self {
        limit: usize::MAX,
        read_timeout: std::time::Duration::MAX,
    };
}

/// Parses `bytes` as `T` in one pass, telling syntax errors (400) from shape errors (422 with the
/// field's path).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would build a struct from a JSON array too; the API takes objects only.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::InvalidField {
                    field: "(body)".into(),
                    reason: "expected a JSON object".into(),
                },
                Err(_) => ApiError::InvalidJson,
            },
        );
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match result {
        Ok(value) => value,
        Err(e) => {
            let inner = e.inner();
            let path = e.path().to_string();
            // Valid JSON whose number no field can hold (`1e999`, a 400-digit id) is a field
            // error, not a syntax error.
            if inner.is_syntax() && inner.to_string().starts_with("number out of range") {
                return Err(ApiError::InvalidField {
                    field: if path == "." { "(body)".into() } else { path },
                    reason: "number out of range".into(),
                });
            }
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(ApiError::InvalidJson);
            }
            return Err(ApiError::InvalidField {
                field: if path == "." { "(body)".into() } else { path },
                reason: reason_without_input(&inner.to_string()),
            });
        }
    };
    deserializer.end().map_err(|_| ApiError::InvalidJson)?;
    Ok(value)
}

/// serde's message without the value it quotes (a message, an id) or its internals (type names,
/// positions): only what was expected.
fn reason_without_input(serde_message: &str) -> String {
    let message = serde_message
        .split(" at line ")
        .next()
        .unwrap_or(serde_message);
    if message.contains("did not match any variant") {
        return "expected a message string or an object".to_owned();
    }
    if message.starts_with("missing field") {
        return message.to_owned();
    }
    match message.rsplit_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None => "invalid value".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_was_expected_never_the_value() {
        for (message, reason) in [
            (
                "invalid type: string \"zq-marker\", expected a boolean at line 1 column 9",
                "expected a boolean",
            ),
            (
                "unknown variant `zq-marker`, expected one of `minimal`, `standard`, `detailed`",
                "expected one of `minimal`, `standard`, `detailed`",
            ),
            (
                "data did not match any variant of untagged enum BatchEntry",
                "expected a message string or an object",
            ),
            ("invalid value: zq-marker", "invalid value"),
        ] {
            let r = reason_without_input(message);
            assert_eq!(r, reason);
            assert!(!r.contains("zq-marker"));
        }
    }
}
