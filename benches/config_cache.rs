//! Cached section lookup vs an uncached read + parse + validate of the same file.
//!
//! The ratio of the two is the figure that matters (v3.1 reported 6.4×–111× for its cache); the
//! absolute times depend on the machine.

use std::path::PathBuf;

use ash_config::{ConfigLoader, Environment, LabelsConfig, PatternsConfig};
use criterion::{Criterion, black_box, criterion_group, criterion_main};

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config")
}

fn bench(c: &mut Criterion) {
    let dir = shipped();
    let env = Environment::default();
    let loader = ConfigLoader::new(&dir, env.clone()).expect("shipped config loads");
    let mut group = c.benchmark_group("config_lookup");
    group.bench_function("labels/cached", |b| {
        b.iter(|| black_box(loader.section::<LabelsConfig>().expect("cached")))
    });
    group.bench_function("labels/uncached", |b| {
        b.iter(|| {
            black_box(ConfigLoader::load_uncached::<LabelsConfig>(&dir, &env).expect("uncached"))
        })
    });
    group.bench_function("patterns/cached", |b| {
        b.iter(|| black_box(loader.section::<PatternsConfig>().expect("cached")))
    });
    group.bench_function("patterns/uncached", |b| {
        b.iter(|| {
            black_box(ConfigLoader::load_uncached::<PatternsConfig>(&dir, &env).expect("uncached"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
