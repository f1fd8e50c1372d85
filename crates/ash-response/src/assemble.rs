//! Domain → wire: a [`Decision`] becomes an [`AnalyzeResponse`].

use ash_analysis::Decision;
use ash_config::CrisisLevel;

use crate::wire::*;

/// Per-request facts the decision does not know.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub processing_time_ms: f64,
    pub include_explanation: bool,
    /// What answered, for `model_info` (e.g. `minilm (embedding); label set enhanced_crisis`).
    pub model_info: String,
    /// The configuration generation the request was analysed under.
    pub config_generation: u64,
}

/// The level Ash-Bot v3.1 can read: `critical` becomes `high`.
pub fn wire_level(level: CrisisLevel) -> WireLevel {
    match level {
        CrisisLevel::None => WireLevel::None,
        CrisisLevel::Low => WireLevel::Low,
        CrisisLevel::Medium => WireLevel::Medium,
        CrisisLevel::High | CrisisLevel::Critical => WireLevel::High,
    }
}

fn severity(level: CrisisLevel) -> Severity {
    match level {
        CrisisLevel::None => Severity::Safe,
        CrisisLevel::Low => Severity::Low,
        CrisisLevel::Medium => Severity::Medium,
        CrisisLevel::High => Severity::High,
        CrisisLevel::Critical => Severity::Critical,
    }
}

/// Rounds for the wire (four decimals are plenty and keep snapshots stable across platforms).
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Builds the response for one analysed message.
pub fn analyze_response(decision: &Decision, meta: &RequestMeta) -> AnalyzeResponse {
    let individual_results = decision
        .roles
        .iter()
        .map(|(role, r)| {
            (
                role.clone(),
                IndividualResult {
                    score: round(r.score),
                    label: r.top_label.clone(),
                    probability: round(r.top_probability),
                    level: severity(r.level),
                    model: r.model.clone(),
                    weight: r.weight,
                },
            )
        })
        .collect();
    let mut models_used: Vec<String> = decision.roles.values().map(|r| r.model.clone()).collect();
    models_used.sort();
    models_used.dedup();
    let signals = decision
        .roles
        .iter()
        .map(|(role, r)| {
            (
                role.clone(),
                RoleSignal {
                    label: r.top_label.clone(),
                    probability: round(r.top_probability),
                    score: round(r.score),
                },
            )
        })
        .collect();
    let rules_fired = decision
        .rules
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    AnalyzeResponse {
        needs_response: decision.needs_response,
        crisis_level: wire_level(decision.level),
        confidence_score: round(decision.confidence),
        detected_categories: decision.detected_categories.clone(),
        method: decision.method.clone(),
        processing_time_ms: round(meta.processing_time_ms),
        model_info: meta.model_info.clone(),
        reasoning: decision.summary(),
        analysis: AnalysisEnvelope {
            complete_analysis: CompleteAnalysis {
                crisis_score: round(decision.crisis_score),
                crisis_level: severity(decision.level),
                confidence_score: round(decision.confidence),
                needs_response: decision.needs_response,
                requires_staff_review: decision.requires_staff_review,
                staff_review_reasons: decision.staff_review_reasons.clone(),
                ensemble_score: decision.ensemble_score.map(round),
                pattern_score: round(decision.pattern_score),
                gaps_detected: decision.gaps_detected,
                ensemble_mode: decision.ensemble_mode.as_str().to_owned(),
                label_set: decision.label_set.clone(),
                patterns_matched: decision
                    .patterns
                    .iter()
                    .map(|m| PatternSignal {
                        family: m.family.clone(),
                        id: m.id.clone(),
                        negated: m.negated,
                    })
                    .collect(),
                rules_fired,
                ai_model_details: AiModelDetails {
                    individual_results,
                    models_used,
                },
            },
        },
        severity: severity(decision.level),
        crisis_detected: decision.level >= CrisisLevel::Medium,
        requires_intervention: decision.level >= CrisisLevel::High,
        recommended_action: decision.recommended_action.to_owned(),
        signals,
        explanation: meta.include_explanation.then(|| {
            serde_json::to_value(decision.explanation()).unwrap_or(serde_json::Value::Null)
        }),
        is_degraded: decision.degraded.is_some(),
        degraded_reason: decision.degraded.as_ref().map(|d| d.reason.clone()),
        request_id: meta.request_id.clone(),
        third_party_risk: decision.third_party,
        risk_head: decision.head.as_ref().map(|h| RiskHeadSignal {
            version: h.version.clone(),
            mode: decision.head_mode.as_str().to_owned(),
            level: severity(h.level),
            probabilities: CrisisLevel::ALL
                .iter()
                .zip(h.probabilities)
                .map(|(l, p)| (l.as_str().to_owned(), round(p)))
                .collect(),
        }),
        config_generation: meta.config_generation,
    }
}

/// An error body.
pub fn error(code: &str, message: impl Into<String>, field: Option<String>) -> ErrorResponse {
    ErrorResponse {
        error: ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            field,
        },
    }
}
