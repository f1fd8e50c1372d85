//! Helpers: the shipped configuration and synthetic model outputs (no model needed).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ash_analysis::{Analyzer, Decision, ModelEvidence};
use ash_config::{Config, ModelKind};
use ash_types::{LabelScore, ModelOutputs, RoleOutput};

pub fn config() -> Config {
    ash_tests::shipped_config()
}

/// The analyzer of the shipped configuration, built once per test binary (pattern compilation is
/// the expensive part in debug builds).
pub fn analyzer() -> &'static Analyzer {
    static SHARED: std::sync::OnceLock<Analyzer> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| Analyzer::new(Arc::new(config())).expect("patterns compile"))
}

pub fn analyzer_with(edit: impl FnOnce(&mut Config)) -> Analyzer {
    let mut c = config();
    edit(&mut c);
    Analyzer::new(Arc::new(c)).expect("patterns compile")
}

/// A role whose distribution puts `p` on a label of severity `severity` and the rest on 0.
pub fn role(severity: f64, p: f64, weight: f64) -> RoleOutput {
    RoleOutput {
        model: "test".into(),
        kind: ModelKind::Embedding,
        weight,
        multi_label: false,
        labels: vec![
            LabelScore {
                id: "concern".into(),
                probability: p,
                severity,
            },
            LabelScore {
                id: "fine".into(),
                probability: 1.0 - p,
                severity: 0.0,
            },
        ],
    }
}

/// Outputs where every role reads `scores[i]` (as probability of a severity-1 label).
pub fn outputs(scores: &[f64]) -> ModelOutputs {
    let names = ["depression", "sentiment", "emotional_distress"];
    let weights = [0.4, 0.3, 0.3];
    ModelOutputs {
        label_set: "test".into(),
        roles: scores
            .iter()
            .enumerate()
            .map(|(i, s)| (names[i].to_owned(), role(1.0, *s, weights[i])))
            .collect::<BTreeMap<_, _>>(),
        failures: Vec::new(),
        embedding: None,
        window_embeddings: Vec::new(),
    }
}

pub fn analyze(a: &Analyzer, text: &str, scores: &[f64]) -> Decision {
    a.analyze(text, ModelEvidence::Outputs(&outputs(scores)))
}

pub fn patterns_only(a: &Analyzer, text: &str) -> Decision {
    a.analyze(
        text,
        ModelEvidence::Unavailable {
            kind: ash_types::FailureKind::Timeout,
            detail: "test",
        },
    )
}
