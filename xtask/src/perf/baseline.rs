//! The in-process baselines the service is compared against: the same ONNX model run bare (same
//! session options, no HTTP, no analysis), and the configuration loader with and without its
//! cache.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ash_config::{ConfigLoader, Environment, LabelsConfig};
use ash_models::runtime;
use ort::session::Session;
use ort::value::Tensor;

use super::{MESSAGES, Report, spinner};

/// The service's model as a bare session, with the message mix already tokenised.
pub(super) struct BareModel {
    pub(super) session: Session,
    /// Token ids of each of `MESSAGES`, unpadded.
    pub(super) ids: Vec<Vec<i64>>,
}

/// Opens the bare model and measures its batched throughput (batches of 32 for `load_s`); the
/// model is returned for the sequential comparison with the service.
pub(super) fn bare_model(root: &Path, load_s: u64, r: &mut Report) -> Result<BareModel> {
    let bar = spinner("bare session.run (same model, same options)");
    let (mut session, ids) = bare_session(root)?;
    for row in &ids {
        run_bare(&mut session, &[row])?;
    }
    let t = Instant::now();
    let mut batched = 0usize;
    while t.elapsed() < Duration::from_secs(load_s) {
        let rows: Vec<&Vec<i64>> = (0..32).map(|k| &ids[(batched + k) % ids.len()]).collect();
        run_bare(&mut session, &rows)?;
        batched += 32;
    }
    r.bare_batched_per_s = batched as f64 / t.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(BareModel { session, ids })
}

/// Times the configuration loader with its cache and without (a cold read and parse each time).
pub(super) fn config_cache(root: &Path, r: &mut Report) -> Result<()> {
    let bar = spinner("configuration cache");
    let (cached, uncached) = config_cache_ratio(root)?;
    r.config_cached_ns = cached;
    r.config_uncached_ns = uncached;
    bar.finish_and_clear();
    Ok(())
}

fn bare_session(root: &Path) -> Result<(Session, Vec<Vec<i64>>)> {
    let env = Environment::from_pairs([(
        "NLP_MODEL_CACHE_DIR",
        crate::setup::cache_dir(root).display().to_string(),
    )]);
    let config = ConfigLoader::new(root.join("config"), env)?.load()?;
    runtime::init(&config.models.runtime).map_err(|e| anyhow::anyhow!("{e}"))?;
    let definition = config
        .models
        .models
        .values()
        .next()
        .context("no model configured")?;
    // The same session options as the service's.
    let session = ash_models::onnx::session_builder(
        runtime::environment().context("runtime")?,
        // One session's threads, as each of the service's sessions has.
        config.models.runtime.pool(ash_models::available_cores()).1,
        config.models.runtime.cpu_memory_arena,
    )
    .and_then(|mut b| b.commit_from_file(config.models.resolve(&definition.path)))
    .map_err(|e| anyhow::anyhow!("bare session: {e}"))?;
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(config.models.resolve(&definition.tokenizer))
            .map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
    tokenizer.with_padding(None);
    let ids = MESSAGES
        .iter()
        .map(|m| {
            tokenizer
                .encode(*m, true)
                .map(|e| e.get_ids().iter().map(|&i| i64::from(i)).collect())
                .map_err(|e| anyhow::anyhow!("encode: {e}"))
        })
        .collect::<Result<Vec<Vec<i64>>>>()?;
    Ok((session, ids))
}

/// One forward pass over `rows`, padded to the longest.
pub(super) fn run_bare(session: &mut Session, rows: &[&Vec<i64>]) -> Result<()> {
    let batch = rows.len();
    let len = rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let mut ids = vec![0i64; batch * len];
    let mut mask = vec![0i64; batch * len];
    for (r, row) in rows.iter().enumerate() {
        ids[r * len..r * len + row.len()].copy_from_slice(row);
        mask[r * len..r * len + row.len()]
            .iter_mut()
            .for_each(|m| *m = 1);
    }
    let feeds = ort::inputs![
        "input_ids" => Tensor::from_array(([batch, len], ids))?,
        "attention_mask" => Tensor::from_array(([batch, len], mask))?,
        "token_type_ids" => Tensor::from_array(([batch, len], vec![0i64; batch * len]))?,
    ];
    let outputs = session.run(feeds)?;
    let _ = outputs["last_hidden_state"].try_extract_tensor::<f32>()?;
    Ok(())
}

fn config_cache_ratio(root: &Path) -> Result<(f64, f64)> {
    let dir = root.join("config");
    let env = Environment::default();
    let loader = ConfigLoader::new(&dir, env.clone())?;
    let n_cached = 200_000;
    let t = Instant::now();
    for _ in 0..n_cached {
        std::hint::black_box(loader.section::<LabelsConfig>()?);
    }
    let cached = t.elapsed().as_nanos() as f64 / f64::from(n_cached);
    let n_uncached = 300;
    let t = Instant::now();
    for _ in 0..n_uncached {
        std::hint::black_box(ConfigLoader::load_uncached::<LabelsConfig>(&dir, &env)?);
    }
    let uncached = t.elapsed().as_nanos() as f64 / f64::from(n_uncached);
    Ok((cached, uncached))
}
