//! The router: every route, its layers, and the OpenAPI description of them.

use std::sync::Arc;

use ash_config::CorsConfig;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::middleware;
use crate::routes::{admin, analyze, feedback as feedback_routes, health};
use crate::state::AppState;

/// The API's title, description and shared schemas; the paths come from the routes themselves
/// (see [`openapi`]).
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Ash-NLP",
        description = "Crisis detection for chat communities."
    ),
    components(schemas(ash_response::ErrorResponse, ash_response::ErrorBody))
)]
pub struct ApiDoc;

/// Every route with its OpenAPI path, from the routes modules.
fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(analyze::router())
        .merge(health::router())
        .merge(feedback_routes::router())
        .merge(admin::router())
}

/// The OpenAPI description of the API (served at `/openapi.json`, committed as
/// `docs/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
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
    let (routes, api) = routes().split_for_parts();
    let api = Arc::new(api);
    let router = routes
        .route(
            "/openapi.json",
            get(move || {
                let api = Arc::clone(&api);
                async move { axum::Json((*api).clone()) }
            }),
        )
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
