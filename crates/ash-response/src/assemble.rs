//! Domain → wire: a [`Decision`] becomes an [`AnalyzeResponse`].

use std::collections::BTreeMap;

use ash_analysis::scale::round_for_clients as round;
use ash_analysis::{Decision, Rule};
use ash_config::{CrisisLevel, RiskHeadMode};

use crate::wire::*;

/// Per-request facts the decision does not know.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    /// When the request was analysed (also the `now` of its history).
    pub received_at: jiff::Timestamp,
    pub processing_time_ms: f64,
    pub include_explanation: bool,
    pub verbosity: Verbosity,
    /// Answer `context_analysis` even when the decision has none (no history was sent).
    pub include_context_analysis: bool,
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

/// Builds the response for one analysed message.
pub fn analyze_response(decision: &Decision, meta: &RequestMeta) -> AnalyzeResponse {
    let signals = signals(decision);
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
            complete_analysis: complete_analysis(decision),
        },
        severity: severity(decision.level),
        crisis_score: round(decision.crisis_score),
        confidence: round(decision.confidence),
        crisis_detected: decision.level >= CrisisLevel::Medium,
        requires_intervention: decision.level >= CrisisLevel::High,
        recommended_action: client_action(decision.level).to_owned(),
        staff_action: decision.recommended_action.to_owned(),
        timestamp: meta
            .received_at
            .round(jiff::Unit::Millisecond)
            .map_or_else(|_| meta.received_at.to_string(), |t| t.to_string()),
        models_used: signals.keys().cloned().collect(),
        signals,
        consensus: consensus(decision),
        conflict_analysis: ConflictAnalysis {
            has_conflicts: decision.gaps_detected,
            reasons: if decision.gaps_detected {
                vec![Rule::GapDetected.describe().to_owned()]
            } else {
                Vec::new()
            },
        },
        context_analysis: context_analysis(decision, meta),
        analyzed: decision.analyzed,
        explanation: meta
            .include_explanation
            .then(|| explanation(decision, meta.verbosity)),
        is_degraded: decision.degraded.is_some(),
        degraded_reason: decision.degraded.as_ref().map(|d| d.reason.clone()),
        request_id: meta.request_id.clone(),
        third_party_risk: decision.third_party,
        risk_head: risk_head(decision),
        config_generation: meta.config_generation,
    }
}

/// The v3.1 bot's detail block.
fn complete_analysis(decision: &Decision) -> CompleteAnalysis {
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
    let mut model_names: Vec<String> = decision.roles.values().map(|r| r.model.clone()).collect();
    model_names.sort();
    model_names.dedup();
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
    CompleteAnalysis {
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
            models_used: model_names,
        },
    }
}

/// The context analysis the decision carries, or (when the client asked for one) an empty one
/// saying why there is none.
fn context_analysis(
    decision: &Decision,
    meta: &RequestMeta,
) -> Option<ash_analysis::ContextAnalysis> {
    decision.context.clone().or_else(|| {
        let why = if decision.analyzed {
            "no_history"
        } else {
            "nothing_to_analyze"
        };
        meta.include_context_analysis.then(|| {
            ash_analysis::context::without_history(decision.level, decision.crisis_score, why)
        })
    })
}

fn risk_head(decision: &Decision) -> Option<RiskHeadSignal> {
    decision.head.as_ref().map(|h| RiskHeadSignal {
        version: h.version.clone(),
        mode: decision.head_mode.as_str().to_owned(),
        level: severity(h.level),
        probabilities: CrisisLevel::ALL
            .iter()
            .zip(h.probabilities)
            .map(|(l, p)| (l.as_str().to_owned(), round(p)))
            .collect(),
        windows: h.windows,
    })
}

/// An error body.
pub fn error(code: &str, message: impl Into<String>, field: Option<String>) -> ErrorResponse {
    let message = message.into();
    ErrorResponse {
        message: message.clone(),
        error: ErrorBody {
            code: code.to_owned(),
            message,
            field,
        },
    }
}

/// What the v5 clients expect to be done, by level (their names).
pub fn client_action(level: CrisisLevel) -> &'static str {
    match level {
        CrisisLevel::None => "none",
        CrisisLevel::Low => "passive_monitoring",
        CrisisLevel::Medium => "standard_monitoring",
        CrisisLevel::High => "priority_response",
        CrisisLevel::Critical => "immediate_outreach",
    }
}

/// `signals`: one entry per zero-shot role, and the risk head when it decides.
fn signals(decision: &Decision) -> BTreeMap<String, Signal> {
    let mut signals: BTreeMap<String, Signal> = decision
        .roles
        .iter()
        .map(|(role, r)| {
            (
                role.clone(),
                Signal {
                    label: r.top_label.clone(),
                    score: round(r.top_probability),
                    crisis_signal: round(r.score),
                },
            )
        })
        .collect();
    if let Some(h) = decision
        .head
        .as_ref()
        .filter(|_| decision.head_mode == RiskHeadMode::Decide)
    {
        let at_or_above_medium: f64 = h.probabilities[CrisisLevel::Medium.rank() as usize..]
            .iter()
            .sum();
        signals.insert(
            "risk_head".to_owned(),
            Signal {
                label: h.level.as_str().to_owned(),
                score: round(h.chosen_probability()),
                crisis_signal: round(at_or_above_medium),
            },
        );
    }
    signals
}

/// The level most roles read, and how many of them read it.
fn consensus(decision: &Decision) -> Option<Consensus> {
    let mut counts: BTreeMap<CrisisLevel, usize> = BTreeMap::new();
    for r in decision.roles.values() {
        *counts.entry(r.level).or_default() += 1;
    }
    // Ties go to the higher level.
    let (level, count) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)))?;
    Some(Consensus {
        level: severity(*level),
        agreement: round(*count as f64 / decision.roles.len() as f64),
        roles: decision.roles.len(),
    })
}

/// The explanation object at the requested verbosity.
fn explanation(decision: &Decision, verbosity: Verbosity) -> serde_json::Value {
    let full = decision.explanation();
    match verbosity {
        Verbosity::Minimal => serde_json::json!({
            "decision_summary": full.decision_summary,
            "key_factors": full.key_factors,
        }),
        Verbosity::Standard | Verbosity::Detailed => serde_json::to_value(full).unwrap_or_default(),
    }
}
