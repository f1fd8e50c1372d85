//! The real ONNX Runtime and the embedded default model (all-MiniLM-L6-v2 int8).

mod common;

use std::sync::Arc;
use std::time::Duration;

use ash_config::Config;
use ash_models::onnx::{OnnxModel, RunCounters, SequenceInput};
use ash_models::{ModelCoordinator, ModelOutputs, ModelsState, runtime};
use common::shipped_config;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn probability(out: &ModelOutputs, role: &str, label: &str) -> f64 {
    out.roles[role]
        .labels
        .iter()
        .find(|l| l.id == label)
        .unwrap_or_else(|| panic!("{role} has no label {label}"))
        .probability
}

#[test]
fn embeddings_match_the_independent_reference() {
    let config = shipped_config();
    runtime::init(&config.models.runtime).expect("runtime");
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/reference_embeddings.json")).expect("json");
    let sentences: Vec<String> =
        serde_json::from_value(reference["sentences"].clone()).expect("sentences");
    let expected: Vec<Vec<f32>> =
        serde_json::from_value(reference["embeddings"].clone()).expect("embeddings");
    let mut model = OnnxModel::load(
        "minilm",
        &config.models.models["minilm"],
        &config.models,
        1,
        Arc::new(RunCounters::default()),
    )
    .expect("load default model");
    // Alone and all together (padding must not change anything).
    let batch: Vec<SequenceInput> = sentences
        .iter()
        .map(|s| SequenceInput::Single(s.clone()))
        .collect();
    let together = model.run(&batch).expect("batch");
    for (i, sentence) in sentences.iter().enumerate() {
        let alone = model
            .run(&[SequenceInput::Single(sentence.clone())])
            .expect("single");
        assert_eq!(alone[0].len(), 384);
        for got in [&alone[0], &together[i]] {
            let similarity = cosine(got, &expected[i]);
            assert!(similarity > 0.999, "{sentence:?}: cosine {similarity}");
        }
    }
}

#[test]
fn warmup_runs_real_inference_and_the_status_reports_it() {
    let coordinator = ModelCoordinator::start(&shipped_config());
    let status = coordinator.status();
    assert_eq!(status.state, ModelsState::Ready, "{status:#?}");
    let model = &status.models[0];
    assert!(model.loaded);
    assert!(model.warmup_runs >= 3, "{model:?}");
    assert!(model.warmup_ms > 0.0);
    assert!(model.inference_runs >= model.warmup_runs);
    let before = model.inference_runs;
    coordinator.infer_batch_blocking(&["hello there"]);
    assert_eq!(coordinator.status().models[0].inference_runs, before + 1);
}

#[test]
fn a_crisis_message_is_closer_to_crisis_labels_than_to_neutral_ones() {
    let coordinator = ModelCoordinator::start(&shipped_config());
    let outs = coordinator.infer_batch_blocking(&[
        "I'm going to take all these pills tonight, this is goodbye",
        "just got back from the beach, the weather was lovely",
    ]);
    let crisis = &outs[0];
    assert!(crisis.failures.is_empty(), "{:?}", crisis.failures);
    assert_eq!(crisis.roles.len(), 3);
    assert!(
        probability(crisis, "depression", "suicidal_intent")
            > probability(crisis, "depression", "doing_well")
    );
    assert!(
        probability(crisis, "depression", "suicidal_intent")
            > probability(&outs[1], "depression", "suicidal_intent"),
        "the crisis message must score higher on suicidal intent than the beach one"
    );
    assert!(
        probability(&outs[1], "emotional_distress", "calm")
            > probability(&outs[1], "emotional_distress", "acute_crisis")
    );
    for role in crisis.roles.values() {
        let sum: f64 = role.labels.iter().map(|l| l.probability).sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }
}

fn assert_same(a: &ModelOutputs, b: &ModelOutputs) {
    assert_eq!(a.label_set, b.label_set);
    for (role, ra) in &a.roles {
        for (la, lb) in ra.labels.iter().zip(&b.roles[role].labels) {
            assert_eq!(la.id, lb.id);
            assert!(
                (la.probability - lb.probability).abs() < 1e-4,
                "{role}/{}: {} vs {}",
                la.id,
                la.probability,
                lb.probability
            );
        }
    }
}

const MESSAGES: [&str; 6] = [
    "i want to die",
    "lol that boss fight killed me five times",
    "my parents kicked me out after i came out and i have nowhere to sleep",
    "good morning everyone!",
    "I have been feeling so empty for months, like nothing will ever change and there is no point in anything anymore, honestly I am so tired of pretending",
    "ok",
];

#[test]
fn batch_results_equal_single_results() {
    let coordinator = ModelCoordinator::start(&shipped_config());
    let together = coordinator.infer_batch_blocking(&MESSAGES);
    for (i, message) in MESSAGES.iter().enumerate() {
        let alone = coordinator.infer_batch_blocking(&[message]);
        assert_same(&alone[0], &together[i]);
    }
}

#[test]
fn sixty_four_concurrent_callers_get_their_own_answers() {
    let coordinator = Arc::new(ModelCoordinator::start(&shipped_config()));
    let texts: Vec<String> = (0..64)
        .map(|i| format!("{} (message number {i})", MESSAGES[i % MESSAGES.len()]))
        .collect();
    let expected: Vec<ModelOutputs> = texts
        .iter()
        .map(|t| coordinator.infer_batch_blocking(&[t.as_str()]).remove(0))
        .collect();
    let runs_before = coordinator.status().models[0].inference_runs;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("rt");
    let results: Vec<ModelOutputs> = rt.block_on(async {
        let tasks: Vec<_> = texts
            .iter()
            .cloned()
            .map(|t| {
                let c = Arc::clone(&coordinator);
                tokio::spawn(async move { c.infer(&t).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    for (got, want) in results.iter().zip(&expected) {
        assert!(got.failures.is_empty(), "{:?}", got.failures);
        assert_same(got, want);
    }
    let runs = coordinator.status().models[0].inference_runs - runs_before;
    assert!(
        runs < 64,
        "concurrent requests should have been batched, got {runs} runs for 64 messages"
    );
}

#[test]
fn a_full_queue_is_refused_with_an_overload_error_not_a_wait() {
    let base = shipped_config();
    let mut models = (*base.models).clone();
    models.batching.queue_capacity = 1;
    models.batching.max_batch_size = 1;
    let config = Config {
        models: Arc::new(models),
        ..base
    };
    let coordinator = Arc::new(ModelCoordinator::start(&config));
    assert_eq!(
        coordinator.status().state,
        ModelsState::Ready,
        "a small queue must not break start-up"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    // All 100 requests are submitted in one poll, far faster than inference drains the queue.
    let outs: Vec<ModelOutputs> = rt.block_on(async {
        let texts: Vec<String> = (0..100)
            .map(|i| format!("message {i} about my day"))
            .collect();
        let all = futures::future::join_all(texts.iter().map(|t| coordinator.infer(t)));
        tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("never hangs")
    });
    let overloaded = outs
        .iter()
        .filter(|o| {
            o.failures
                .iter()
                .any(|f| f.kind == ash_models::FailureKind::Overloaded)
        })
        .count();
    let answered = outs
        .iter()
        .filter(|o| o.failures.is_empty() && o.roles.len() == 3)
        .count();
    assert!(
        overloaded > 0,
        "some requests must be refused: {:?}",
        outs.iter()
            .map(|o| (o.roles.len(), o.failures.len()))
            .collect::<Vec<_>>()
    );
    assert!(answered > 0, "the others must be answered");
    assert_eq!(overloaded + answered, outs.len());
}

#[test]
fn switching_the_label_set_during_traffic_never_mixes_two_sets() {
    let config = shipped_config();
    let sets: Vec<(String, Vec<String>)> = ["enhanced_crisis", "safety_first"]
        .iter()
        .map(|s| {
            let ids = config.labels.sets[*s].roles["depression"]
                .iter()
                .map(|l| l.id.clone())
                .collect();
            ((*s).to_owned(), ids)
        })
        .collect();
    let coordinator = Arc::new(ModelCoordinator::start(&config));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let c = Arc::clone(&coordinator);
            let stop = Arc::clone(&stop);
            let sets = sets.clone();
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = c
                        .infer_batch_blocking(&["everything feels pointless lately"])
                        .remove(0);
                    let ids: Vec<String> = out.roles["depression"]
                        .labels
                        .iter()
                        .map(|l| l.id.clone())
                        .collect();
                    let expected = &sets
                        .iter()
                        .find(|(s, _)| *s == out.label_set)
                        .expect("known set")
                        .1;
                    assert_eq!(
                        &ids, expected,
                        "labels of one set reported under {}",
                        out.label_set
                    );
                    seen.insert(out.label_set);
                }
                seen
            })
        })
        .collect();
    for i in 0..8 {
        coordinator
            .switch_label_set(&sets[i % 2].0)
            .expect("switch");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: std::collections::BTreeSet<String> = readers
        .into_iter()
        .flat_map(|r| r.join().expect("reader"))
        .collect();
    assert_eq!(
        seen.len(),
        2,
        "both sets were used during the test: {seen:?}"
    );
    assert!(coordinator.switch_label_set("no_such_set").is_err());
}
