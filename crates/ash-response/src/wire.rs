//! Wire types. Field names and nesting are the contract; see the crate documentation.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// `POST /analyze`. Unknown fields are ignored (clients may send more).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct AnalyzeRequest {
    /// The chat message. Required, not blank, at most the configured number of characters.
    pub message: Option<String>,
    /// Sender id (string or number). Never echoed; logged only as a hash at debug level.
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<String>,
    /// Channel id (string or number).
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<String>,
    /// Include the structured `explanation` in the response.
    #[serde(default)]
    pub include_explanation: bool,
}

/// Discord ids arrive as strings or numbers; both are accepted, anything else is an error.
fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    }))
}

/// One message of `POST /analyze/batch`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct BatchItem {
    pub message: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<String>,
}

/// `POST /analyze/batch`: 1 to the configured maximum (100) messages, answered in order.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub messages: Option<Vec<BatchItem>>,
    #[serde(default)]
    pub include_explanation: bool,
}

/// The four levels Ash-Bot v3.1 understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WireLevel {
    None,
    Low,
    Medium,
    High,
}

/// The finer grade (v5 naming: `safe` is no concern).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Safe,
    Low,
    Medium,
    High,
    Critical,
}

/// The answer to one message.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AnalyzeResponse {
    pub needs_response: bool,
    /// `none|low|medium|high`; a critical result is reported as `high` (see `severity`).
    pub crisis_level: WireLevel,
    /// How sure the service is of this level, 0–1 (agreement and margin, not the score).
    pub confidence_score: f64,
    pub detected_categories: Vec<String>,
    /// Which stages produced the answer, e.g. `ensemble_weighted+patterns` or
    /// `patterns_only;degraded=model_timeout`.
    pub method: String,
    pub processing_time_ms: f64,
    pub model_info: String,
    /// One sentence: level, score, evidence, rules. Never the message text.
    pub reasoning: String,
    pub analysis: AnalysisEnvelope,
    /// `safe|low|medium|high|critical`.
    pub severity: Severity,
    /// Level medium or above.
    pub crisis_detected: bool,
    /// Level high or above: a person should act now.
    pub requires_intervention: bool,
    /// `none|monitor|staff_check_in|urgent_staff_response|immediate_intervention`.
    pub recommended_action: String,
    /// Per role: the label it read and its score.
    pub signals: BTreeMap<String, RoleSignal>,
    /// Present when the request asked for it (`include_explanation: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<serde_json::Value>,
    /// True when models were missing (starting, failed, timed out, overloaded, switched off):
    /// the answer then rests on patterns alone, or on fewer models.
    pub is_degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_reason: Option<String>,
    pub request_id: String,
    /// Someone other than the writer is at risk now (a friend's goodbye, an attempt).
    pub third_party_risk: bool,
    /// The trained risk head's answer, when it ran (deciding or in shadow mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_head: Option<RiskHeadSignal>,
    /// The configuration generation that answered (with `risk_head.version`, traces a decision).
    pub config_generation: u64,
}

/// What the trained risk head said.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RiskHeadSignal {
    /// Artefact version (`config/risk_head.yaml`).
    pub version: String,
    /// `decide` or `shadow`.
    pub mode: String,
    pub level: Severity,
    /// Calibrated probability of each level.
    pub probabilities: BTreeMap<String, f64>,
}

/// `analysis` (v3.1 nesting).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AnalysisEnvelope {
    pub complete_analysis: CompleteAnalysis,
}

/// `analysis.complete_analysis` (v3.1 nesting; no message, no ids).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompleteAnalysis {
    pub crisis_score: f64,
    pub crisis_level: Severity,
    pub confidence_score: f64,
    pub needs_response: bool,
    pub requires_staff_review: bool,
    pub staff_review_reasons: Vec<String>,
    /// Weighted (or voted) model score; absent when no model answered.
    pub ensemble_score: Option<f64>,
    pub pattern_score: f64,
    pub gaps_detected: bool,
    pub ensemble_mode: String,
    pub label_set: Option<String>,
    pub patterns_matched: Vec<PatternSignal>,
    pub rules_fired: Vec<String>,
    pub ai_model_details: AiModelDetails,
}

/// `ai_model_details` (v3.1 nesting).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AiModelDetails {
    /// Keyed by role (`depression`, `sentiment`, `emotional_distress`, …).
    pub individual_results: BTreeMap<String, IndividualResult>,
    pub models_used: Vec<String>,
}

/// One role's result.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IndividualResult {
    /// The role's crisis score, 0–1.
    pub score: f64,
    pub label: String,
    pub probability: f64,
    pub level: Severity,
    pub model: String,
    pub weight: f64,
}

/// One role in `signals`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoleSignal {
    pub label: String,
    pub probability: f64,
    pub score: f64,
}

/// One matched pattern.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PatternSignal {
    pub family: String,
    pub id: String,
    pub negated: bool,
}

/// `POST /analyze/batch` answer: one result per message, in order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<AnalyzeResponse>,
    pub count: usize,
    pub processing_time_ms: f64,
    pub request_id: String,
}

/// Every error has this shape.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable, stable (`empty_message`, `message_too_long`, `invalid_json`, …).
    pub code: String,
    /// For people; never contains internals or message text.
    pub message: String,
    /// The request field at fault, when there is one (`message`, `messages[3].message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /health` status (`healthy|operational|ready` are what Ash-Bot accepts as up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Ready, every model loaded.
    Healthy,
    /// Answering, but some models are missing: answers are marked degraded.
    Degraded,
    /// Loading models; answers are pattern-only and marked degraded.
    Starting,
    /// Not able to answer properly.
    Unhealthy,
}

/// `GET /health`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: HealthStatus,
    pub ready: bool,
    pub version: String,
    pub uptime_seconds: f64,
    pub label_set: Option<String>,
    #[schema(value_type = Object)]
    pub models: serde_json::Value,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// `GET /stats` (the fields Ash-Bot reads first).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub model_loaded: bool,
    /// Analysis requests (`/analyze`, `/analyze/batch`; a batch counts once).
    pub total_requests: u64,
    /// Messages analysed (a batch of 10 counts 10).
    pub successful_analyses: u64,
    /// Analysis requests answered with an error.
    pub failed_analyses: u64,
    pub uptime_seconds: f64,
    pub model_version: String,
    pub degraded_analyses: u64,
    pub levels: BTreeMap<String, u64>,
    pub feedback_received: u64,
}

/// `POST /analyze_false_positive` (Ash-Bot's payload).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct FalsePositiveRequest {
    pub message: Option<String>,
    pub detected_level: Option<String>,
    pub correct_level: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    #[serde(default)]
    pub severity_score: Option<f64>,
}

/// `POST /analyze_false_negative` (Ash-Bot's payload).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct FalseNegativeRequest {
    pub message: Option<String>,
    pub should_detect_level: Option<String>,
    pub actually_detected: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    #[serde(default)]
    pub severity_score: Option<f64>,
}

/// Acknowledgement of a staff correction.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub status: String,
    pub feedback_id: String,
    /// Corrections now in effect that this one added (0 when it changed nothing).
    pub patterns_discovered: u32,
    /// Adjustments made to thresholds or exemplars by this correction.
    pub confidence_adjustments: u32,
    pub message: String,
}
