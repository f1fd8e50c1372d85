//! The training data: corpus messages, their embeddings (one forward pass each, cached), and the
//! features the served head will see (computed by `ash_analysis::head::features`, the same code
//! the server runs).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ash_analysis::corpus::{Corpus, CorpusMessage, Split};
use ash_analysis::normalize::normalize;
use ash_analysis::{PatternEngine, PatternFloor, head};
use ash_config::{Config, ConfigLoader, CrisisLevel, Environment, RiskHeadConfig};
use ash_models::ModelCoordinator;
use indicatif::{ProgressBar, ProgressStyle};
use tempfile::TempDir;

/// One labelled example.
#[derive(Clone, Debug)]
pub(crate) struct Example {
    pub x: Vec<f32>,
    pub y: usize,
    /// Levels counted as correct (rank).
    pub accept: Vec<usize>,
    pub category: String,
    /// The corpus pass (one voice) it was written in.
    pub source: String,
    pub split: Split,
    /// The lowest level the pattern floors allow (rank), as the decision applies them.
    pub floor: usize,
    /// Normalised embedding alone (for the nearest-exemplar baseline).
    pub embedding: Vec<f32>,
}

/// The configuration in `dir` without its current head: a stale or broken artefact must not
/// stop the training that replaces it. The copy lives in the returned folder; keep it for as
/// long as the configuration is used.
pub(crate) fn config_without_head(dir: &Path) -> Result<(TempDir, Arc<Config>)> {
    let root = std::env::current_dir()?;
    let env = Environment::from_process().with_var(
        "NLP_MODEL_CACHE_DIR",
        std::env::var("NLP_MODEL_CACHE_DIR")
            .unwrap_or_else(|_| root.join(".cache").display().to_string()),
    );
    let without_head = tempfile::tempdir()?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "risk_head.yaml") {
            std::fs::copy(
                &path,
                without_head
                    .path()
                    .join(path.file_name().unwrap_or_default()),
            )?;
        }
    }
    let config = Arc::new(ConfigLoader::new(without_head.path(), env)?.load()?);
    Ok((without_head, config))
}

/// Where the corpus embeddings are cached: keyed by the corpus and model fingerprints, so a
/// change to either re-embeds.
pub(crate) fn corpus_embedding_cache(
    out: &Path,
    corpus_sha256: &str,
    model_sha256: Option<&str>,
) -> PathBuf {
    out.join(format!(
        "embeddings-{}-{}.bin",
        &corpus_sha256[..16],
        model_sha256.unwrap_or("unpinned").get(..16).unwrap_or("x")
    ))
}

/// Embeds `texts` with the configured embedding model, caching the vectors under `cache`
/// (keyed by the caller: corpus and model fingerprints).
pub(crate) fn embeddings(config: &Config, texts: &[&str], cache: &Path) -> Result<Vec<Vec<f32>>> {
    if let Ok(bytes) = std::fs::read(cache)
        && let Some(vectors) = decode(&bytes, texts.len())
    {
        return Ok(vectors);
    }
    let coordinator = ModelCoordinator::start(config);
    let status = coordinator.status();
    if status.models.iter().any(|m| !m.loaded) {
        bail!("models not ready (run `cargo xtask setup`): {status:?}");
    }
    let bar = progress(texts.len() as u64, "embedding");
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(32) {
        for o in coordinator.infer_batch_blocking(chunk) {
            out.push(
                o.embedding
                    .context("the embedding model gave no embedding")?,
            );
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(cache, encode(&out))?;
    Ok(out)
}

fn encode(vectors: &[Vec<f32>]) -> Vec<u8> {
    let dim = vectors.first().map_or(0, Vec::len) as u32;
    let mut bytes = Vec::with_capacity(8 + vectors.len() * dim as usize * 4);
    bytes.extend_from_slice(&(vectors.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&dim.to_le_bytes());
    for v in vectors {
        for f in v {
            bytes.extend_from_slice(&f.to_le_bytes());
        }
    }
    bytes
}

fn decode(bytes: &[u8], expected: usize) -> Option<Vec<Vec<f32>>> {
    let n = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let dim = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    if n != expected || bytes.len() != 8 + n * dim * 4 {
        return None;
    }
    let floats: Vec<f32> = bytes[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(floats.chunks(dim).map(<[f32]>::to_vec).collect())
}

/// The feature specification of a new head: every pattern family, in name order.
pub(crate) fn head_spec(
    config: &Config,
    embedding_dim: usize,
    hashed_buckets: usize,
) -> RiskHeadConfig {
    let mut spec = RiskHeadConfig::default();
    spec.features.embedding_dim = embedding_dim;
    spec.features.families = config.patterns.families.keys().cloned().collect();
    spec.features.hashed_buckets = hashed_buckets;
    spec
}

/// Features of `texts` for `spec`, as the server computes them, with each message's pattern
/// floor (rank).
pub(crate) fn features(
    config: &Arc<Config>,
    spec: &RiskHeadConfig,
    texts: &[&str],
    embeddings: &[Vec<f32>],
) -> Result<Vec<(Vec<f32>, usize)>> {
    let engine = PatternEngine::compile(&config.patterns)?;
    Ok(texts
        .iter()
        .zip(embeddings)
        .map(|(text, embedding)| {
            let normalized = normalize(text);
            let patterns = engine.find(&normalized, &config.features);
            let floor = PatternFloor::of(&patterns).level().rank() as usize;
            (
                head::features(spec, embedding, &patterns, &normalized.key),
                floor,
            )
        })
        .collect())
}

/// Corpus messages as examples.
pub(crate) fn examples(
    corpus: &Corpus,
    features: Vec<(Vec<f32>, usize)>,
    embeddings: &[Vec<f32>],
) -> Vec<Example> {
    corpus
        .messages
        .iter()
        .zip(features)
        .zip(embeddings)
        .map(|((m, (x, floor)), e)| example(m, x, floor, e))
        .collect()
}

fn example(m: &CorpusMessage, x: Vec<f32>, floor: usize, embedding: &[f32]) -> Example {
    Example {
        x,
        floor,
        y: m.level.rank() as usize,
        accept: m.expected().iter().map(|l| l.rank() as usize).collect(),
        category: m.category.clone(),
        source: m.source.clone(),
        split: m.split(),
        embedding: embedding.to_vec(),
    }
}

/// Writes every example's features to `<out>/features.jsonl`, one JSON object a line, for
/// analysis outside the trainer.
pub(crate) fn dump_features(out: &Path, corpus: &Corpus, examples: &[Example]) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("features.jsonl"))?);
    for (m, e) in corpus.messages.iter().zip(examples) {
        let line = serde_json::json!({"x": e.x, "y": e.y, "accept": e.accept, "category": m.category, "split": e.split, "floor": e.floor});
        writeln!(file, "{line}")?;
    }
    Ok(())
}

/// A progress bar on stderr.
pub(crate) fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Level names in class order.
pub(crate) fn level_name(rank: usize) -> &'static str {
    CrisisLevel::ALL[rank].as_str()
}
