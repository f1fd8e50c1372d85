//! Who may call the admin and feedback endpoints, and who the rate limit spares.
//!
//! Admin: the API key (`x-api-key` header or `Authorization: Bearer`), compared in constant time;
//! with no key configured, admin is disabled. Feedback: the key, or a client address in
//! `security.feedback_allowed_ips` (Ash-Bot v3.1 cannot send a key). The address is the TCP peer:
//! forwarded-for headers are not trusted, since any client can write them.

use std::net::SocketAddr;

use std::sync::Arc;

use ash_config::Config;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::extract::Snapshot;
use crate::state::AppState;

/// Proof that the caller presented the admin key: take it as a handler argument and the handler
/// only runs for admins.
#[derive(Debug)]
pub(crate) struct Admin;

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Snapshot(pipeline) = Snapshot::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        require_admin(&pipeline.config, &parts.headers).map(|()| Admin)
    }
}

/// The key a request presents, in any of the headers clients use.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-api-key")
        .or_else(|| headers.get("x-ash-internal-key"))
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
}

fn key_matches(config: &Config, headers: &HeaderMap) -> Option<bool> {
    let expected = config.server.security.api_key.as_ref()?;
    let presented = presented_key(headers)?;
    Some(bool::from(
        presented.as_bytes().ct_eq(expected.expose().as_bytes()),
    ))
}

/// Admin endpoints: a configured key, presented correctly.
fn require_admin(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    if config.server.security.api_key.is_none() {
        return Err(ApiError::Forbidden(
            "admin endpoints are disabled: set NLP_SECURITY_API_KEY to enable them",
        ));
    }
    match key_matches(config, headers) {
        Some(true) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Analysis endpoints: open unless `security.analyze_requires_key`, then the key.
pub(crate) fn require_analyze(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    if !config.server.security.analyze_requires_key || key_matches(config, headers) == Some(true) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Feedback endpoints: the key, or an allowed client address.
pub(crate) fn require_feedback(
    config: &Config,
    headers: &HeaderMap,
    client: SocketAddr,
) -> Result<&'static str, ApiError> {
    if key_matches(config, headers) == Some(true) {
        return Ok("api_key");
    }
    if address_allowed(config, client) {
        return Ok("allowed_ip");
    }
    if presented_key(headers).is_some() || config.server.security.api_key.is_some() {
        Err(ApiError::Unauthorized)
    } else {
        Err(ApiError::Forbidden(
            "feedback needs an API key or an allowed client address (GLOBAL_ALLOWED_IPS)",
        ))
    }
}

/// The client's address is in `security.feedback_allowed_ips`.
fn address_allowed(config: &Config, client: SocketAddr) -> bool {
    let ip = client.ip().to_canonical();
    config
        .server
        .security
        .feedback_allowed_ips
        .iter()
        .filter_map(|entry| ash_config::parse_ip_or_cidr(entry))
        .any(|net| net.contains(&ip))
}

/// A client the rate limit spares (`rate_limit.exempt_trusted_clients`): it presented the key, or
/// its address is allow-listed.
pub(crate) fn rate_limit_exempt(config: &Config, headers: &HeaderMap, client: SocketAddr) -> bool {
    config.server.rate_limit.exempt_trusted_clients
        && (key_matches(config, headers) == Some(true) || address_allowed(config, client))
}

/// Why a rate limit could throttle the bot, for a start-up warning; `None` when it cannot (off,
/// or the bot has a way to be exempt).
pub(crate) fn rate_limit_risk(config: &Config) -> Option<&'static str> {
    let server = &config.server;
    if !server.rate_limit.enabled {
        return None;
    }
    if !server.rate_limit.exempt_trusted_clients {
        return Some(
            "rate_limit.exempt_trusted_clients is off: the bot is limited like any client",
        );
    }
    (server.security.api_key.is_none() && server.security.feedback_allowed_ips.is_empty()).then_some(
        "no API key and no allowed addresses are configured, so no client can be exempt: the bot is limited like any client",
    )
}
