//! Per-message inference of the embedded default model through ash-models (tokenise, queue,
//! batch, run, pool, score three roles) against a bare `session.run` on the same, already
//! tokenised input, at batch 1 and batch 32. Needs `cargo xtask setup`.

use std::path::PathBuf;

use ash_config::{ConfigLoader, Environment};
use ash_models::{ModelCoordinator, runtime};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use ort::value::Tensor;
use tokenizers::Tokenizer;

const MESSAGE: &str =
    "honestly i don't know how much longer i can keep doing this, everything feels heavy";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bench(c: &mut Criterion) {
    let cache = std::env::var("NLP_MODEL_CACHE_DIR")
        .unwrap_or_else(|_| root().join(".cache").display().to_string());
    let env = Environment::from_pairs([("NLP_MODEL_CACHE_DIR", cache)]);
    let config = ConfigLoader::new(root().join("config"), env)
        .and_then(|l| l.load())
        .expect("config");
    let coordinator = ModelCoordinator::start(&config);
    assert!(
        coordinator.status().models.iter().all(|m| m.loaded),
        "run `cargo xtask setup` first"
    );

    let definition = &config.models.models["minilm"];
    let mut session = ash_models::onnx::session_builder(
        runtime::environment().expect("runtime"),
        // One session's threads, as each of the service's sessions has.
        config.models.runtime.pool(ash_models::available_cores()).1,
        config.models.runtime.cpu_memory_arena,
    )
    .and_then(|mut b| b.commit_from_file(config.models.resolve(&definition.path)))
    .expect("bare session");
    let mut tokenizer =
        Tokenizer::from_file(config.models.resolve(&definition.tokenizer)).expect("tokenizer");
    tokenizer.with_padding(None);
    let ids: Vec<i64> = tokenizer
        .encode(MESSAGE, true)
        .expect("encode")
        .get_ids()
        .iter()
        .map(|&i| i64::from(i))
        .collect();

    let mut group = c.benchmark_group("inference_per_message");
    for batch in [1usize, 32] {
        group.throughput(Throughput::Elements(batch as u64));
        let texts: Vec<&str> = vec![MESSAGE; batch];
        group.bench_with_input(BenchmarkId::new("ash_models", batch), &batch, |b, _| {
            b.iter(|| black_box(coordinator.infer_batch_blocking(&texts)))
        });
        let len = ids.len();
        let flat_ids: Vec<i64> = ids.iter().copied().cycle().take(len * batch).collect();
        group.bench_with_input(BenchmarkId::new("bare_session_run", batch), &batch, |b, _| {
            b.iter(|| {
                let feeds = ort::inputs![
                    "input_ids" => Tensor::from_array(([batch, len], flat_ids.clone())).expect("ids"),
                    "attention_mask" => Tensor::from_array(([batch, len], vec![1i64; batch * len])).expect("mask"),
                    "token_type_ids" => Tensor::from_array(([batch, len], vec![0i64; batch * len])).expect("types"),
                ];
                let outputs = session.run(feeds).expect("run");
                black_box(outputs["last_hidden_state"].try_extract_tensor::<f32>().map(|(_, d)| d[0]).expect("out"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
