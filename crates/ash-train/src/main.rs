//! `ash-train`: trains the risk head on the project's corpus and writes `config/risk_head.yaml`
//! and a report under `target/train/`. Run it through `cargo xtask train`.
//!
//! Steps: embed the corpus once (cached); compute the served features; compare nearest
//! exemplars, logistic regression and an MLP by 5-fold cross-validation on train; fit the chosen
//! kind on train; calibrate a temperature and choose level thresholds on validation; report
//! validation, test, leave-one-subcategory-out on train, and optionally the v3.1 phrase set
//! (reported only: never used to fit or choose anything).

// A command-line report: printing is its job.
#![allow(clippy::print_stdout)]

mod data;
mod fit;
mod report;
mod select;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use ash_analysis::corpus::{Split, read_corpus};
use ash_analysis::eval::read_dataset;
use ash_config::{ConfigLoader, CrisisLevel, Environment, RiskHeadConfig};
use clap::Parser;

use crate::data::Example;
use crate::fit::{Kind, Params};
use crate::select::Scored;

#[derive(Parser)]
#[command(name = "ash-train", about = "Train the Ash-NLP risk head")]
struct Cli {
    /// Configuration directory (its models and patterns define the features).
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Corpus directory (`*.jsonl`, see docs/taxonomy.md).
    #[arg(long, default_value = "data/corpus")]
    corpus: PathBuf,
    /// Where the artefact is written.
    #[arg(long, default_value = "config/risk_head.yaml")]
    artefact: PathBuf,
    /// Report directory.
    #[arg(long, default_value = "target/train")]
    out: PathBuf,
    /// A phrase-file folder to report on (never trained or tuned on).
    #[arg(long)]
    report_on: Vec<PathBuf>,
    /// Hashed word / word-pair buckets beside the embedding (0: none).
    #[arg(long, default_value_t = 4096)]
    hashed_buckets: usize,
    /// Skip leave-one-subcategory-out (the slowest part).
    #[arg(long)]
    skip_loso: bool,
    /// Do not write the artefact (report only).
    #[arg(long)]
    dry_run: bool,
    /// Train, then compare with the committed artefact instead of writing it (fails on a
    /// difference beyond the stated tolerance).
    #[arg(long)]
    check: bool,
    /// Also write the features of every message to `<out>/features.jsonl` (for analysis).
    #[arg(long)]
    dump_features: bool,
}

const SEED: u64 = 20_261_130;
/// Scale of the embedding block relative to the other inputs (chosen by cross-validation).
const EMBEDDING_SCALE: f32 = 3.0;

fn params(kind: Kind, y: &[usize]) -> Params {
    // L2 of the logistic head ≈ 1 / (2·C·n) with C = 3, the strength cross-validation preferred.
    let (epochs, learning_rate, l2) = match kind {
        Kind::Mlp { .. } => (200, 0.01, 1e-4),
        _ => (500, 0.05, 4e-5),
    };
    Params {
        epochs,
        learning_rate,
        l2,
        class_weights: fit::class_weights(y, 1.2),
        seed: SEED,
    }
}

/// A trained head (logistic or MLP) fitted on `train`.
fn fit_head(kind: Kind, train: &[&Example]) -> Result<Vec<ash_config::HeadLayer>> {
    let x: Vec<&[f32]> = train.iter().map(|e| e.x.as_slice()).collect();
    let y: Vec<usize> = train.iter().map(|e| e.y).collect();
    let embedding_dim = train.first().map_or(0, |e| e.embedding.len());
    fit::fit_scaled(
        kind,
        &x,
        &y,
        &params(kind, &y),
        embedding_dim,
        EMBEDDING_SCALE,
    )
}

/// Logits of `kind` trained on `train`, for `query`.
fn train_and_score(kind: Kind, train: &[&Example], query: &[&Example]) -> Result<Vec<Vec<f64>>> {
    if let Kind::NearestExemplar { k } = kind {
        let pairs: Vec<(&[f32], usize)> = train
            .iter()
            .map(|e| (e.embedding.as_slice(), e.y))
            .collect();
        return Ok(query
            .iter()
            .map(|q| fit::nearest_exemplar_logits(&pairs, &q.embedding, k))
            .collect());
    }
    let layers = fit_head(kind, train)?;
    let head = RiskHeadConfig {
        layers,
        ..RiskHeadConfig::default()
    };
    Ok(query
        .iter()
        .map(|q| ash_analysis::head::logits(&head, &q.x))
        .collect())
}

fn scored<'a>(examples: &[&'a Example], logits: Vec<Vec<f64>>) -> Vec<Scored<'a>> {
    examples
        .iter()
        .zip(logits)
        .map(|(e, logits)| Scored {
            logits,
            y: e.y,
            accept: &e.accept,
            category: &e.category,
            floor: e.floor,
        })
        .collect()
}

/// Fits the temperature, then the thresholds and the floor support together (lowest cost; ties
/// go to the smaller support, which keeps more floors).
fn calibrated(set: &[Scored<'_>], base: &RiskHeadConfig) -> RiskHeadConfig {
    let temperature = select::temperature(set);
    let mut best: Option<(f64, f64, ash_config::HeadThresholds)> = None;
    for floor_support in FLOOR_SUPPORT_GRID {
        let (thresholds, cost) = select::thresholds(set, temperature, floor_support);
        if best.as_ref().is_none_or(|(c, _, _)| cost < *c - 1e-9) {
            best = Some((cost, floor_support, thresholds));
        }
    }
    let (_, floor_support, thresholds) = best.unwrap_or((0.0, 0.0, base.thresholds.clone()));
    RiskHeadConfig {
        temperature,
        thresholds,
        floor_support,
        ..base.clone()
    }
}

/// Floor supports tried on validation (the configuration caps it at 0.2).
const FLOOR_SUPPORT_GRID: [f64; 6] = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = std::env::current_dir()?;
    let env = Environment::from_process().with_var(
        "NLP_MODEL_CACHE_DIR",
        std::env::var("NLP_MODEL_CACHE_DIR")
            .unwrap_or_else(|_| root.join(".cache").display().to_string()),
    );
    // The configuration without its current head: a stale or broken artefact must not stop the
    // training that replaces it.
    let without_head = tempfile::tempdir()?;
    for entry in std::fs::read_dir(&cli.config)? {
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
    let corpus = read_corpus(&cli.corpus)?;
    println!(
        "corpus: {} messages ({} repeats dropped), sha256 {}",
        corpus.messages.len(),
        corpus.duplicates,
        &corpus.sha256[..16]
    );
    let (model_name, model) = config
        .models
        .models
        .iter()
        .find(|(_, m)| m.kind == ash_config::ModelKind::Embedding)
        .context("models.yaml has no embedding model")?;
    let texts: Vec<&str> = corpus.messages.iter().map(|m| m.text.as_str()).collect();
    let cache = cli.out.join(format!(
        "embeddings-{}-{}.bin",
        &corpus.sha256[..16],
        model
            .sha256
            .as_deref()
            .unwrap_or("unpinned")
            .get(..16)
            .unwrap_or("x")
    ));
    let embeddings = data::embeddings(&config, &texts, &cache)?;
    let dim = embeddings.first().map_or(0, Vec::len);
    let mut spec = data::head_spec(&config, dim, cli.hashed_buckets);
    spec.model = model_name.clone();
    spec.corpus_sha256 = corpus.sha256.clone();
    spec.levels = CrisisLevel::ALL.to_vec();
    let features = data::features(&config, &spec, &texts, &embeddings)?;
    let examples = data::examples(&corpus, features, &embeddings);
    if cli.dump_features {
        use std::io::Write as _;
        std::fs::create_dir_all(&cli.out)?;
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(cli.out.join("features.jsonl"))?);
        for (m, e) in corpus.messages.iter().zip(&examples) {
            let line = serde_json::json!({"x": e.x, "y": e.y, "accept": e.accept, "category": m.category, "split": e.split, "floor": e.floor});
            writeln!(file, "{line}")?;
        }
    }
    let part = |s: Split| examples.iter().filter(|e| e.split == s).collect::<Vec<_>>();
    let (train, val, test) = (
        part(Split::Train),
        part(Split::Validation),
        part(Split::Test),
    );
    println!(
        "split: train {} / validation {} / test {}",
        train.len(),
        val.len(),
        test.len()
    );

    // 1. Candidates by 5-fold cross-validation on train (pooled out-of-fold predictions).
    let candidates = [
        Kind::NearestExemplar { k: 10 },
        Kind::Logistic,
        Kind::Mlp { hidden: 64 },
    ];
    let mut md = String::from("# Risk head training report\n\n");
    md.push_str(&format!(
        "Corpus sha256 `{}`: {} messages (train {}, validation {}, test {}); features: {} embedding + {} families + {} flags + {} hashed.\n\n",
        corpus.sha256, examples.len(), train.len(), val.len(), test.len(), dim, spec.features.families.len(), ash_config::FLAG_INPUTS, cli.hashed_buckets
    ));
    md.push_str("## Candidates (5-fold cross-validation on train)\n\n| head | accuracy | high/critical recall | crisis answered none | cost |\n|---|---|---|---|---|\n");
    let bar = data::progress((candidates.len() * 5) as u64, "cross-val");
    let mut best: Option<(f64, Kind)> = None;
    for kind in candidates {
        let mut oof: Vec<Option<Vec<f64>>> = vec![None; train.len()];
        for fold in 0..5 {
            let (fit_on, held): (Vec<_>, Vec<_>) =
                train.iter().enumerate().partition(|(i, _)| i % 5 != fold);
            let fit_on: Vec<&Example> = fit_on.into_iter().map(|(_, e)| *e).collect();
            let held_idx: Vec<usize> = held.iter().map(|(i, _)| *i).collect();
            let held: Vec<&Example> = held.into_iter().map(|(_, e)| *e).collect();
            for (i, l) in held_idx
                .into_iter()
                .zip(train_and_score(kind, &fit_on, &held)?)
            {
                oof[i] = Some(l);
            }
            bar.inc(1);
        }
        let logits: Vec<Vec<f64>> = oof.into_iter().map(Option::unwrap_or_default).collect();
        let set = scored(&train, logits);
        let head = calibrated(&set, &spec);
        let (f, _) = select::figures(&head, &set);
        md.push_str(&format!(
            "| {} | {:.1}% | {:.1}% | {} | {:.0} |\n",
            kind.name(),
            f.accuracy * 100.0,
            f.crisis_recall * 100.0,
            f.crisis_as_none,
            f.cost
        ));
        if kind != (Kind::NearestExemplar { k: 10 }) && best.is_none_or(|(c, _)| f.cost < c) {
            best = Some((f.cost, kind));
        }
    }
    bar.finish_and_clear();
    let kind = best.map_or(Kind::Logistic, |(_, k)| k);
    md.push_str(&format!(
        "\nChosen: **{}** (lowest cost among the trained heads).\n\n",
        kind.name()
    ));

    // 2. Fit on train; calibrate and choose thresholds on validation.
    let layers = fit_head(kind, &train)?;
    let fitted = RiskHeadConfig {
        layers,
        temperature: 1.0,
        ..spec.clone()
    };
    let logits_of = |set: &[&Example]| -> Vec<Vec<f64>> {
        set.iter()
            .map(|e| ash_analysis::head::logits(&fitted, &e.x))
            .collect()
    };
    let val_set = scored(&val, logits_of(&val));
    let mut head = calibrated(&val_set, &fitted);
    let (val_f, _) = select::figures(&head, &val_set);
    let test_set = scored(&test, logits_of(&test));
    let (test_f, _) = select::figures(&head, &test_set);
    md.push_str(&format!(
        "Temperature {:.3}; floor support {:.2}; thresholds on P(level or above): low {:.2}, medium {:.2}, high {:.2}, critical {:.2}.\n\n",
        head.temperature, head.floor_support, head.thresholds.low, head.thresholds.medium, head.thresholds.high, head.thresholds.critical
    ));
    md.push_str(&report::markdown(
        "Validation (thresholds chosen here)",
        &val_f,
    ));
    md.push_str(&report::markdown("Test (held out)", &test_f));

    // 3. Leave one subcategory out (train only): phrasing the corpus has never seen.
    let mut metrics = std::collections::BTreeMap::new();
    if !cli.skip_loso {
        let categories: BTreeSet<&str> = train.iter().map(|e| e.category.as_str()).collect();
        let bar = data::progress(categories.len() as u64, "loso");
        let mut all: Vec<&Example> = Vec::new();
        let mut logits = Vec::new();
        for category in &categories {
            let (held, rest): (Vec<&Example>, Vec<&Example>) =
                train.iter().partition(|e| e.category == *category);
            logits.extend(train_and_score(kind, &rest, &held)?);
            all.extend(held);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let (f, _) = select::figures(&head, &scored(&all, logits));
        md.push_str(&report::markdown(
            "Leave one subcategory out (train; the final thresholds)",
            &f,
        ));
        metrics.insert("loso_accuracy".to_owned(), round(f.accuracy));
        metrics.insert("loso_crisis_recall".to_owned(), round(f.crisis_recall));
    }

    // 4. Other phrase sets: reported only.
    for dir in &cli.report_on {
        let phrases = read_dataset(dir)?;
        let texts: Vec<&str> = phrases.iter().map(|p| p.message.as_str()).collect();
        let name = dir
            .file_name()
            .map_or("phrases".into(), |n| n.to_string_lossy().into_owned());
        let cache = cli.out.join(format!("embeddings-{name}.bin"));
        let emb = data::embeddings(&config, &texts, &cache)?;
        let feats = data::features(&config, &spec, &texts, &emb)?;
        let accepts: Vec<Vec<usize>> = phrases
            .iter()
            .map(|p| p.expected.iter().map(|l| l.rank() as usize).collect())
            .collect();
        let set: Vec<Scored<'_>> = phrases
            .iter()
            .zip(&feats)
            .zip(&accepts)
            .map(|((p, (x, floor)), accept)| Scored {
                logits: ash_analysis::head::logits(&fitted, x),
                y: accept.iter().copied().max().unwrap_or(0),
                accept,
                category: &p.category,
                floor: *floor,
            })
            .collect();
        let (f, _) = select::figures(&head, &set);
        md.push_str(&report::markdown(&format!("{name} (reported only)"), &f));
    }

    for (key, value) in [
        ("validation_accuracy", val_f.accuracy),
        ("validation_crisis_recall", val_f.crisis_recall),
        ("test_accuracy", test_f.accuracy),
        ("test_crisis_recall", test_f.crisis_recall),
    ] {
        metrics.insert(key.to_owned(), round(value));
    }
    head.metrics = metrics;
    head.version = format!("{}-{}", kind.name(), &corpus.sha256[..12]);
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(cli.out.join("report.md"), &md)?;
    std::fs::write(
        cli.out.join("confusion-test.svg"),
        report::confusion_svg("Test split", &test_f),
    )?;
    std::fs::write(
        cli.out.join("confusion-validation.svg"),
        report::confusion_svg("Validation split", &val_f),
    )?;
    std::fs::write(
        cli.out.join("reliability-validation.svg"),
        report::reliability_svg(
            "Reliability (validation)",
            &select::reliability(&head, &val_set, 10),
        ),
    )?;
    std::fs::write(
        cli.out.join("figures.json"),
        serde_json::to_string_pretty(&serde_json::json!({"validation": val_f, "test": test_f}))?,
    )?;
    println!("{md}");
    if cli.check {
        return check_artefact(&cli.artefact, &head);
    }
    if !cli.dry_run {
        write_artefact(&cli.artefact, &head)?;
        println!("wrote {} ({})", cli.artefact.display(), head.version);
    }
    Ok(())
}

/// Largest weight difference a retrain may show: ONNX Runtime's embeddings and the optimiser's
/// float sums can differ in the last bits across CPUs; on one machine a retrain is bit-exact.
const WEIGHT_TOLERANCE: f32 = 1e-3;

/// Compares a fresh head with the committed artefact.
fn check_artefact(path: &std::path::Path, fresh: &RiskHeadConfig) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let shipped: RiskHeadConfig = serde_yaml::from_str(&text)?;
    let mut problems = Vec::new();
    if shipped.version != fresh.version || shipped.corpus_sha256 != fresh.corpus_sha256 {
        problems.push(format!("version {} != {}", shipped.version, fresh.version));
    }
    if shipped.features != fresh.features {
        problems.push("feature specification differs (patterns changed?)".to_owned());
    }
    let max_diff = shipped
        .layers
        .iter()
        .zip(&fresh.layers)
        .flat_map(|(a, b)| {
            a.weights
                .iter()
                .flatten()
                .zip(b.weights.iter().flatten())
                .chain(a.bias.iter().zip(&b.bias))
        })
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    if shipped.layers.len() != fresh.layers.len() || max_diff > WEIGHT_TOLERANCE {
        problems.push(format!(
            "weights differ by up to {max_diff:e} (tolerance {WEIGHT_TOLERANCE:e})"
        ));
    }
    if shipped.thresholds != fresh.thresholds || shipped.floor_support != fresh.floor_support {
        problems.push(format!(
            "thresholds {:?} != {:?}",
            shipped.thresholds, fresh.thresholds
        ));
    }
    if problems.is_empty() {
        println!(
            "{} reproduces {} (largest weight difference {max_diff:e})",
            path.display(),
            shipped.version
        );
        Ok(())
    } else {
        anyhow::bail!(
            "{} is not what `cargo xtask train` produces from this checkout: {}",
            path.display(),
            problems.join("; ")
        )
    }
}

fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Writes the artefact with its layers (which the configuration's own serialisation leaves out
/// of printed configs).
fn write_artefact(path: &std::path::Path, head: &RiskHeadConfig) -> Result<()> {
    let mut value = serde_yaml::to_value(head)?;
    if let serde_yaml::Value::Mapping(map) = &mut value {
        map.insert("layers".into(), serde_yaml::to_value(&head.layers)?);
    }
    let text = format!(
        "# The trained risk head. Written by `cargo xtask train` from data/corpus; do not edit by hand.\n{}",
        serde_yaml::to_string(&value)?
    );
    std::fs::write(path, text)?;
    Ok(())
}
