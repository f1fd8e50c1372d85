//! Pattern matching + decision for a typical message, with synthetic model outputs (no model
//! time): the cost the analysis layer adds to every request.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ash_analysis::{Analyzer, ModelEvidence};
use ash_config::{ConfigLoader, Environment, ModelKind};
use ash_models::{LabelScore, ModelOutputs, RoleOutput};
use criterion::{Criterion, black_box, criterion_group, criterion_main};

fn outputs() -> ModelOutputs {
    let role = |w: f64| RoleOutput {
        model: "minilm".into(),
        kind: ModelKind::Embedding,
        weight: w,
        multi_label: false,
        labels: (0..7)
            .map(|i| LabelScore {
                id: format!("label_{i}"),
                probability: 1.0 / 7.0,
                severity: f64::from(i) / 6.0,
            })
            .collect(),
    };
    ModelOutputs {
        label_set: "enhanced_crisis".into(),
        roles: BTreeMap::from([
            ("depression".to_owned(), role(0.4)),
            ("sentiment".to_owned(), role(0.3)),
            ("emotional_distress".to_owned(), role(0.3)),
        ]),
        failures: Vec::new(),
        embedding: None,
        window_embeddings: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config");
    let config = ConfigLoader::new(dir, Environment::default())
        .and_then(|l| l.load())
        .expect("config");
    let analyzer = Analyzer::new(Arc::new(config)).expect("analyzer");
    let out = outputs();
    let mut group = c.benchmark_group("analysis");
    for (name, text) in [
        (
            "typical",
            "ugh today was rough, my boss yelled at me and I can't stop thinking about it lol",
        ),
        (
            "crisis",
            "I can't do this anymore, I'm going to take all my pills tonight. goodbye everyone",
        ),
        (
            "long",
            "I have been feeling really low for weeks and honestly it is hard to explain, every day I wake up tired and nothing I used to enjoy feels good anymore, my friends keep asking if I am okay and I just say I am fine because I do not want to be a burden to anyone",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(analyzer.analyze(black_box(text), ModelEvidence::Outputs(&out))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
