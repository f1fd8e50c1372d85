//! The answer to a message, in v3.1 and v5 shapes at once, batches, and errors.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

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
    /// 0–1 on the clients' fixed scale: critical ≥ 0.85, high ≥ 0.55, medium ≥ 0.28, low ≥ 0.16,
    /// else safe. Graded with those bands it gives back `severity` exactly (see docs/analysis.md).
    pub crisis_score: f64,
    /// How sure the service is of `severity`, 0–1 (the same value as `confidence_score`).
    pub confidence: f64,
    /// Level medium or above.
    pub crisis_detected: bool,
    /// Level high or above: a person should act now.
    pub requires_intervention: bool,
    /// `none|passive_monitoring|standard_monitoring|priority_response|immediate_outreach`.
    pub recommended_action: String,
    /// The same advice in staff terms:
    /// `none|monitor|staff_check_in|urgent_staff_response|immediate_intervention`.
    pub staff_action: String,
    /// When the answer was made (RFC 3339, UTC).
    pub timestamp: String,
    /// The names of the signals that took part (the keys of `signals`).
    pub models_used: Vec<String>,
    /// Per signal: the label it read, its confidence in it, and how far it points to crisis.
    pub signals: BTreeMap<String, Signal>,
    /// How far the zero-shot roles agree, when any answered.
    pub consensus: Option<Consensus>,
    pub conflict_analysis: ConflictAnalysis,
    /// Present when the request carried `message_history` or asked for it
    /// (`include_context_analysis: true`).
    #[schema(value_type = Option<Object>)]
    pub context_analysis: Option<ash_analysis::ContextAnalysis>,
    /// False when there was nothing to analyse (an empty or blank message): the answer is `safe`.
    pub analyzed: bool,
    /// Present when the request asked for it (`include_explanation: true`): `decision_summary`,
    /// `key_factors` (at most 5 short strings, never message text) and, unless the verbosity is
    /// `minimal`, the full breakdown.
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
    /// Windows of the message it read: more than one for a message longer than the model reads
    /// at once (the worst window decides).
    pub windows: usize,
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

/// One entry of `signals`: a zero-shot role, or the risk head when it decides.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Signal {
    pub label: String,
    /// The signal's confidence in its label, 0–1.
    pub score: f64,
    /// How much this signal points to crisis, 0–1.
    pub crisis_signal: f64,
}

/// Agreement among the zero-shot roles.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Consensus {
    /// The level most roles read.
    pub level: Severity,
    /// Share of roles that read that level.
    pub agreement: f64,
    pub roles: usize,
}

/// Whether the evidence disagrees (gap detection).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConflictAnalysis {
    pub has_conflicts: bool,
    /// Why, in words (no message text).
    pub reasons: Vec<String>,
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
    /// `error.message` again, where clients that log a top-level `message` find it.
    pub message: String,
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
