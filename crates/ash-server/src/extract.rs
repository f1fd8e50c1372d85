//! The JSON body extractor: checks the content type, the size limit and the syntax, and reports
//! type errors with the path of the field at fault — all in the service's error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            // The only way reading a body fails here is the length limit or a broken connection.
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge { limit }
            } else {
                ApiError::InvalidJson
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// The configured body limit, put in the request extensions so errors can state it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimit(pub usize);

/// Parses `bytes` as `T`, telling syntax errors (400) from shape errors (422 with the field).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| ApiError::InvalidJson)?;
    if !value.is_object() {
        return Err(ApiError::InvalidField {
            field: "(body)".into(),
            reason: "expected a JSON object".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let reason = e.inner().to_string();
        ApiError::InvalidField {
            field: if field == "." { "(body)".into() } else { field },
            reason,
        }
    })
}
