//! Snapshots of every response shape, so a change to the wire format is always deliberate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ash_analysis::{Analyzer, ModelEvidence};
use ash_config::{ConfigLoader, Environment, ModelKind};
use ash_response::*;
use ash_types::{LabelScore, ModelOutputs, RoleOutput};

fn analyzer() -> Analyzer {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let config = ConfigLoader::new(dir, Environment::default())
        .and_then(|l| l.load())
        .expect("config");
    Analyzer::new(Arc::new(config)).expect("analyzer")
}

fn outputs(p: f64) -> ModelOutputs {
    let role = |w: f64| RoleOutput {
        model: "minilm".into(),
        kind: ModelKind::Embedding,
        weight: w,
        multi_label: false,
        labels: vec![
            LabelScore {
                id: "suicidal_intent".into(),
                probability: p,
                severity: 1.0,
            },
            LabelScore {
                id: "doing_well".into(),
                probability: 1.0 - p,
                severity: 0.0,
            },
        ],
    };
    ModelOutputs {
        label_set: "enhanced_crisis".into(),
        roles: BTreeMap::from([
            ("depression".into(), role(0.4)),
            ("sentiment".into(), role(0.3)),
            ("emotional_distress".into(), role(0.3)),
        ]),
        failures: Vec::new(),
        embedding: None,
        window_embeddings: Vec::new(),
    }
}

fn now() -> jiff::Timestamp {
    "2026-06-01T22:00:00.125Z".parse().expect("timestamp")
}

fn meta(id: &str, explain: bool) -> RequestMeta {
    RequestMeta {
        config_generation: 1,
        request_id: id.into(),
        received_at: now(),
        processing_time_ms: 3.25,
        include_explanation: explain,
        verbosity: Verbosity::Standard,
        include_context_analysis: false,
        model_info: "ash-nlp: minilm (embedding); label set enhanced_crisis".into(),
    }
}

#[test]
fn analyze_response_shape() {
    let a = analyzer();
    let d = a.analyze(
        "I'm going to take all these pills tonight, this is goodbye",
        ModelEvidence::Outputs(&outputs(0.4)),
    );
    insta::assert_json_snapshot!(
        "analyze_critical",
        analyze_response(&d, &meta("req-1", false))
    );
    let calm = a.analyze(
        "anyone up for pizza?",
        ModelEvidence::Outputs(&outputs(0.02)),
    );
    insta::assert_json_snapshot!(
        "analyze_none_with_explanation",
        analyze_response(&calm, &meta("req-2", true))
    );
}

#[test]
fn nothing_to_analyze_and_minimal_explanation_shapes() {
    let a = analyzer();
    let empty = ash_analysis::Decision::nothing_to_analyze(a.config());
    let r = analyze_response(&empty, &meta("req-5", false));
    assert!(!r.analyzed);
    assert_eq!(r.severity, Severity::Safe);
    insta::assert_json_snapshot!("analyze_nothing_to_analyze", r);
    let d = a.analyze("I want to die", ModelEvidence::Outputs(&outputs(0.6)));
    let mut m = meta("req-6", true);
    m.verbosity = Verbosity::Minimal;
    let r = analyze_response(&d, &m);
    insta::assert_json_snapshot!("explanation_minimal", r.explanation);
}

#[test]
fn context_analysis_shape() {
    let a = analyzer();
    let stamp = |minutes: i64| (now() - jiff::SignedDuration::from_mins(minutes)).to_string();
    let stamps = [stamp(40), stamp(150), stamp(300)];
    let history: Vec<ash_analysis::HistoryEntry<'_>> = [(0.45, 0), (0.3, 1), (0.1, 2)]
        .iter()
        .map(|&(score, i)| ash_analysis::HistoryEntry {
            text: Some("earlier"),
            timestamp: Some(stamps[i].as_str()),
            crisis_score: Some(score),
        })
        .collect();
    let d = a.analyze_in_context(
        "I can't do this anymore",
        ModelEvidence::Outputs(&outputs(0.3)),
        None,
        &history,
        now(),
    );
    let r = analyze_response(&d, &meta("req-7", false));
    insta::assert_json_snapshot!("context_analysis", r.context_analysis);
}

#[test]
fn degraded_analyze_response_shape() {
    let a = analyzer();
    let d = a.analyze(
        "I have nobody to talk to",
        ModelEvidence::Unavailable {
            kind: ash_types::FailureKind::Timeout,
            detail: "minilm: timeout",
        },
    );
    let r = analyze_response(&d, &meta("req-3", false));
    assert!(r.is_degraded);
    insta::assert_json_snapshot!("analyze_degraded", r);
}

#[test]
fn batch_response_shape() {
    let a = analyzer();
    let results = ["hello", "I want to die"]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            analyze_response(
                &a.analyze(t, ModelEvidence::Outputs(&outputs(0.1))),
                &meta(&format!("req-4/{i}"), false),
            )
        })
        .collect::<Vec<_>>();
    insta::assert_json_snapshot!(
        "batch",
        BatchResponse {
            count: results.len(),
            results,
            processing_time_ms: 7.5,
            request_id: "req-4".into(),
        }
    );
}

#[test]
fn health_in_each_state_and_stats() {
    for status in [
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Starting,
        HealthStatus::Draining,
    ] {
        let body = HealthResponse {
            status,
            ready: matches!(status, HealthStatus::Healthy | HealthStatus::Degraded),
            version: "0.1.0".into(),
            uptime_seconds: 12.5,
            label_set: (status != HealthStatus::Starting).then(|| "enhanced_crisis".into()),
            models: serde_json::json!({"state": format!("{status:?}").to_lowercase()}),
            config: serde_json::json!({"generation": 1, "last_error": null}),
        };
        insta::assert_json_snapshot!(format!("health_{status:?}").to_lowercase(), body);
    }
    insta::assert_json_snapshot!(
        "stats",
        StatsResponse {
            model_loaded: true,
            total_requests: 10,
            successful_analyses: 9,
            failed_analyses: 1,
            uptime_seconds: 60.0,
            model_version: "minilm@enhanced_crisis".into(),
            degraded_analyses: 0,
            levels: BTreeMap::from([("none".into(), 7), ("high".into(), 2)]),
            feedback_received: 1,
        }
    );
}

#[test]
fn error_shape() {
    insta::assert_json_snapshot!(
        "error_with_field",
        error(
            "empty_message",
            "`message` is empty",
            Some("message".into())
        )
    );
    insta::assert_json_snapshot!(
        "error_without_field",
        error(
            "overloaded",
            "the service is at capacity; retry shortly",
            None
        )
    );
}
