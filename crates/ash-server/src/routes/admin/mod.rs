//! `/admin/*`: label sets, configuration reload, effective configuration, cache statistics.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::error::{ApiError, off_thread};
use crate::extract::{ApiJson, Snapshot};
use crate::state::AppState;

mod wire;

use wire::{
    CacheResponse, CalibrationResponse, ConfigResponse, CorrectionDeleted, CorrectionSummary,
    CorrectionsExport, CorrectionsImported, CorrectionsResponse, LabelSetSummary, LabelSetSwitched,
    LabelSetsResponse, ReloadResponse,
};

/// The label sets and the active one.
#[utoipa::path(get, tag = "admin", path = "/admin/label-sets", responses((status = 200, body = LabelSetsResponse), (status = 401), (status = 403)))]
pub(crate) async fn label_sets(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
) -> Result<Json<LabelSetsResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let active = state.models.load_full().map(|m| m.label_set());
    let sets = config
        .labels
        .sets
        .iter()
        .map(|(name, set)| LabelSetSummary {
            name: name.clone(),
            description: set.description.clone(),
        })
        .collect();
    Ok(Json(LabelSetsResponse {
        active: active.unwrap_or_else(|| config.labels.active_set.clone()),
        configured: config.labels.active_set.clone(),
        allow_switching: config.labels.allow_switching,
        sets,
    }))
}

/// `POST /admin/label-sets/switch` body.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SwitchRequest {
    label_set: Option<String>,
}

/// Switches the active label set (labels re-embedded, then swapped in atomically).
#[utoipa::path(post, tag = "admin", path = "/admin/label-sets/switch", request_body = SwitchRequest,
    responses((status = 200, body = LabelSetSwitched), (status = 401), (status = 403), (status = 404), (status = 409), (status = 503)))]
pub(crate) async fn switch_label_set(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
    ApiJson(request): ApiJson<SwitchRequest>,
) -> Result<Json<LabelSetSwitched>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let set = request.label_set.ok_or_else(|| ApiError::MissingField {
        field: "label_set".into(),
    })?;
    if !config.labels.sets.contains_key(&set) {
        return Err(ApiError::UnknownLabelSet(format!(
            "no label set named `{set}`"
        )));
    }
    let models = state.models.load_full().ok_or(ApiError::Unavailable {
        code: "starting",
        reason: "models are still loading",
        retry_after_secs: 5,
    })?;
    let target = set.clone();
    tokio::task::spawn_blocking(move || models.switch_label_set(&target))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    tracing::info!(label_set = %set, "label set switched by admin");
    Ok(Json(LabelSetSwitched { active: set }))
}

/// Re-reads the configuration now; an invalid one is refused and the live one stays.
#[utoipa::path(post, tag = "admin", path = "/admin/config/reload", responses((status = 200, body = ReloadResponse), (status = 401), (status = 403), (status = 409)))]
pub(crate) async fn reload(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Json<ReloadResponse>, ApiError> {
    let store = Arc::clone(&state.store);
    let outcome = tokio::task::spawn_blocking(move || store.reload())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match outcome {
        Ok(outcome) => Ok(Json(ReloadResponse {
            outcome,
            status: state.store.status(),
            restart_required: state.restart_required(),
        })),
        Err(error) => Err(ApiError::Conflict(format!(
            "configuration refused, previous one stays live: {error}"
        ))),
    }
}

/// The effective configuration, secrets redacted.
#[utoipa::path(get, tag = "admin", path = "/admin/config", responses((status = 200, body = ConfigResponse), (status = 401), (status = 403)))]
pub(crate) async fn config(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
) -> Result<Json<ConfigResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    Ok(Json(ConfigResponse {
        config: config.to_redacted_json(),
        reload: state.store.status(),
        restart_required: state.restart_required(),
        unused_variables: state.store.loader().unused_variables(),
    }))
}

/// Configuration-cache statistics.
#[utoipa::path(get, tag = "admin", path = "/admin/config/cache", responses((status = 200, body = CacheResponse), (status = 401), (status = 403)))]
pub(crate) async fn cache(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Json<CacheResponse>, ApiError> {
    let stats = state.store.cache_stats();
    Ok(Json(CacheResponse {
        enabled: stats.is_some(),
        stats,
    }))
}

/// The stored corrections (text only when retention is on; embeddings left out).
#[utoipa::path(get, tag = "admin", path = "/admin/corrections", responses((status = 200, body = CorrectionsResponse), (status = 401), (status = 403)))]
pub(crate) async fn corrections(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
) -> Result<Json<CorrectionsResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let worker = Arc::clone(&state);
    let list = off_thread(move || worker.learning.list()).await?;
    let corrections: Vec<CorrectionSummary> =
        list.into_iter().map(CorrectionSummary::from).collect();
    Ok(Json(CorrectionsResponse {
        store: state.learning.describe(),
        count: corrections.len(),
        corrections,
        calibration: state.learning.calibration(&config),
    }))
}

/// Deletes one correction and its effect (exemplar and calibration).
#[utoipa::path(delete, tag = "admin", path = "/admin/corrections/{id}", params(("id" = String, Path, description = "Correction id")),
    responses((status = 200, body = CorrectionDeleted), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn delete_correction(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<CorrectionDeleted>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let worker = Arc::clone(&state);
    let target = id.clone();
    let removed = off_thread(move || worker.learning.delete(&config, &target)).await?;
    if !removed {
        return Err(ApiError::NotFound);
    }
    tracing::info!(feedback_id = %id, "staff correction deleted");
    Ok(Json(CorrectionDeleted { deleted: id }))
}

/// Every correction with its embedding, for backup or moving to another store.
#[utoipa::path(get, tag = "admin", path = "/admin/corrections/export", responses((status = 200, body = CorrectionsExport), (status = 401), (status = 403)))]
pub(crate) async fn export_corrections(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Json<CorrectionsExport>, ApiError> {
    let worker = Arc::clone(&state);
    let list = off_thread(move || worker.learning.list()).await?;
    Ok(Json(CorrectionsExport { corrections: list }))
}

/// `POST /admin/corrections/import` body: what export produced.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ImportRequest {
    #[schema(value_type = Vec<Object>)]
    corrections: Option<Vec<crate::learning::Correction>>,
}

/// Adds exported corrections (an id that exists is replaced).
#[utoipa::path(post, tag = "admin", path = "/admin/corrections/import", request_body = ImportRequest,
    responses((status = 200, body = CorrectionsImported), (status = 401), (status = 403), (status = 422)))]
pub(crate) async fn import_corrections(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
    ApiJson(request): ApiJson<ImportRequest>,
) -> Result<Json<CorrectionsImported>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let corrections = request.corrections.ok_or_else(|| ApiError::MissingField {
        field: "corrections".into(),
    })?;
    let worker = Arc::clone(&state);
    let n = off_thread(move || worker.learning.import(&config, &corrections)).await?;
    Ok(Json(CorrectionsImported { imported: n }))
}

/// Forgets the threshold calibration (corrections stay as exemplars).
#[utoipa::path(post, tag = "admin", path = "/admin/calibration/reset", responses((status = 200, body = CalibrationResponse), (status = 401), (status = 403)))]
pub(crate) async fn reset_calibration(
    State(state): State<Arc<AppState>>,
    Snapshot(pipeline): Snapshot,
    _admin: Admin,
) -> Result<Json<CalibrationResponse>, ApiError> {
    let config = Arc::clone(&pipeline.config);
    let worker = Arc::clone(&state);
    let cfg = Arc::clone(&config);
    off_thread(move || worker.learning.reset_calibration(&cfg)).await?;
    Ok(Json(CalibrationResponse {
        calibration: state.learning.calibration(&config),
    }))
}

/// This module's routes, each with its OpenAPI path (declared once, by its `#[utoipa::path]`).
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<Arc<AppState>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(label_sets))
        .routes(utoipa_axum::routes!(switch_label_set))
        .routes(utoipa_axum::routes!(reload))
        .routes(utoipa_axum::routes!(config))
        .routes(utoipa_axum::routes!(cache))
        .routes(utoipa_axum::routes!(corrections))
        .routes(utoipa_axum::routes!(delete_correction))
        .routes(utoipa_axum::routes!(export_corrections))
        .routes(utoipa_axum::routes!(import_corrections))
        .routes(utoipa_axum::routes!(reset_calibration))
}
