//! The router: every route, its layers, and the OpenAPI description of them.

use std::sync::Arc;

use ash_config::CorsConfig;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::middleware;
use crate::routes::{admin, analyze, feedback as feedback_routes, health};
use crate::state::AppState;

/// The OpenAPI description of the API (served at `/openapi.json`, committed as
/// `docs/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Ash-NLP",
        description = "Crisis detection for chat communities."
    ),
    paths(
        analyze::analyze,
        analyze::analyze_batch,
        health::health,
        health::status,
        health::ready,
        health::stats,
        health::metrics,
        feedback_routes::false_positive,
        feedback_routes::false_negative,
        admin::label_sets,
        admin::switch_label_set,
        admin::reload,
        admin::config,
        admin::cache,
        admin::corrections,
        admin::delete_correction,
        admin::export_corrections,
        admin::import_corrections,
        admin::reset_calibration,
    ),
    components(schemas(ash_response::ErrorResponse, ash_response::ErrorBody))
)]
pub struct ApiDoc;

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

fn cors_layer(cors: &CorsConfig) -> Option<CorsLayer> {
    if !cors.enabled {
        return None;
    }
    let origins = if cors.allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            cors.allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    let methods: Vec<Method> = cors
        .allowed_methods
        .iter()
        .filter_map(|m| m.parse().ok())
        .collect();
    let layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(methods);
    Some(if cors.allowed_headers.iter().any(|h| h == "*") {
        layer.allow_headers(tower_http::cors::Any)
    } else {
        layer.allow_headers(
            cors.allowed_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect::<Vec<_>>(),
        )
    })
}

/// The router with every route and layer.
pub fn app(state: Arc<AppState>) -> Router {
    let config = state.config();
    let router = Router::new()
        .route("/analyze", post(analyze::analyze))
        .route("/analyze/batch", post(analyze::analyze_batch))
        .route("/health", get(health::health))
        .route("/status", get(health::status))
        .route("/ready", get(health::ready))
        .route("/stats", get(health::stats))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi))
        .route(
            "/analyze_false_positive",
            post(feedback_routes::false_positive),
        )
        .route(
            "/analyze_false_negative",
            post(feedback_routes::false_negative),
        )
        .route("/admin/label-sets", get(admin::label_sets))
        .route("/admin/label-sets/switch", post(admin::switch_label_set))
        .route("/admin/config", get(admin::config))
        .route("/admin/config/reload", post(admin::reload))
        .route("/admin/config/cache", get(admin::cache))
        .route("/admin/corrections", get(admin::corrections))
        .route("/admin/corrections/export", get(admin::export_corrections))
        .route("/admin/corrections/import", post(admin::import_corrections))
        .route(
            "/admin/corrections/{id}",
            axum::routing::delete(admin::delete_correction),
        )
        .route("/admin/calibration/reset", post(admin::reset_calibration))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // The body limit is applied per request from the live configuration (`ApiJson`).
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            middleware::observe,
        ));
    let router = match cors_layer(&config.server.cors) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}
