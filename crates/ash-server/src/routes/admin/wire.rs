//! What the admin endpoints answer, as types: the OpenAPI description shows each body, and a
//! field cannot be renamed in one handler and forgotten in another.
//!
//! Types owned by lower layers (configuration status, cache counters, thresholds) are described
//! as objects; their fields are documented where they are defined.

use ash_config::{CacheStats, ReloadOutcome, ReloadStatus};
use ash_types::{CorrectionKind, CrisisLevel};
use serde::Serialize;
use utoipa::ToSchema;

use crate::learning::{CalibrationStatus, Correction};

/// One label set that can be switched to.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelSetSummary {
    pub name: String,
    pub description: String,
}

/// `GET /admin/label-sets`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelSetsResponse {
    /// The set in use now (a switch may have changed it since start).
    pub active: String,
    /// The set `labels.yaml` names.
    pub configured: String,
    pub allow_switching: bool,
    pub sets: Vec<LabelSetSummary>,
}

/// `POST /admin/label-sets/switch`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelSetSwitched {
    pub active: String,
}

/// `POST /admin/config/reload`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReloadResponse {
    #[schema(value_type = Object)]
    pub outcome: ReloadOutcome,
    #[schema(value_type = Object)]
    pub status: ReloadStatus,
    /// Settings changed in the files that take effect only at the next start.
    pub restart_required: Vec<&'static str>,
}

/// `GET /admin/config`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConfigResponse {
    /// The effective configuration, secrets redacted.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    #[schema(value_type = Object)]
    pub reload: ReloadStatus,
    pub restart_required: Vec<&'static str>,
    /// `NLP_*` variables set in the environment that no setting reads (likely typos).
    pub unused_variables: Vec<String>,
}

/// `GET /admin/config/cache`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CacheResponse {
    pub enabled: bool,
    #[schema(value_type = Option<Object>)]
    pub stats: Option<CacheStats>,
}

/// A stored correction as the listing shows it: without its embedding, and with the text only
/// when `storage.retain_message_text` kept it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CorrectionSummary {
    pub id: String,
    #[schema(value_type = String, example = "false_positive")]
    pub kind: CorrectionKind,
    #[schema(value_type = String, example = "high")]
    pub detected_level: CrisisLevel,
    #[schema(value_type = String, example = "none")]
    pub correct_level: CrisisLevel,
    /// Unix seconds.
    pub received_at: u64,
    /// `api_key`, `allowed_ip` or `import`.
    pub source: String,
    /// Keyed hash of the normalised text.
    pub message_hash: String,
    pub message_chars: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// It is an exemplar (an embedding was stored with it).
    pub has_embedding: bool,
}

impl From<Correction> for CorrectionSummary {
    fn from(c: Correction) -> Self {
        Self {
            has_embedding: c.embedding.is_some(),
            id: c.id,
            kind: c.kind,
            detected_level: c.detected_level,
            correct_level: c.correct_level,
            received_at: c.received_at,
            source: c.source,
            message_hash: c.message_hash,
            message_chars: c.message_chars,
            message: c.message,
        }
    }
}

/// `GET /admin/corrections`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CorrectionsResponse {
    /// Where corrections are kept.
    pub store: String,
    pub count: usize,
    pub corrections: Vec<CorrectionSummary>,
    pub calibration: CalibrationStatus,
}

/// `DELETE /admin/corrections/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CorrectionDeleted {
    pub deleted: String,
}

/// `GET /admin/corrections/export`: what import takes back.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CorrectionsExport {
    #[schema(value_type = Vec<Object>)]
    pub corrections: Vec<Correction>,
}

/// `POST /admin/corrections/import`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CorrectionsImported {
    pub imported: usize,
}

/// `POST /admin/calibration/reset`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CalibrationResponse {
    pub calibration: CalibrationStatus,
}
