//! `ash-train`: trains the risk head on the project's corpus and writes `config/risk_head.yaml`
//! and a report under `target/train/`. Run it through `cargo xtask train`.
//!
//! Steps: embed the corpus once (cached); compute the served features; compare nearest
//! exemplars, logistic regression and an MLP by 5-fold cross-validation on train (folds grouped by
//! corpus pass, so each message is judged by a head that never saw its voice); fit the trained
//! kinds on train, calibrate a temperature and choose level thresholds for each on validation,
//! and ship the one with the lower validation cost; report
//! validation, test, leave-one-subcategory-out on train, and optionally the v3.1 phrase set
//! (reported only: never used to fit or choose anything).

// A command-line report: printing is its job.
#![allow(clippy::print_stdout)]

mod artefact;
mod data;
mod evaluate;
mod fit;
mod heads;
mod report;
mod select;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use ash_analysis::corpus::{Corpus, Split, read_corpus};
use ash_config::{Config, CrisisLevel, RiskHeadConfig};
use clap::Parser;

use crate::artefact::round_metric;
use crate::data::Example;
use crate::fit::Kind;
use crate::select::{Figures, Scored};

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
    /// Only compare the logistic head's L2 strengths (cross-validation grouped by corpus pass)
    /// and print the table; writes nothing.
    #[arg(long)]
    tune_l2: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // Held to the end of the run: the configuration was loaded from this copy.
    let (_without_head, config) = data::config_without_head(&cli.config)?;
    let corpus = read_corpus(&cli.corpus)?;
    println!(
        "corpus: {} messages ({} repeats dropped), sha256 {}",
        corpus.messages.len(),
        corpus.duplicates,
        &corpus.sha256[..16]
    );
    let (spec, examples) = corpus_examples(&cli, &config, &corpus)?;
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

    if cli.tune_l2 {
        println!("{}", evaluate::tune_l2(&train, &spec)?);
        return Ok(());
    }

    // 1. Candidates by 5-fold cross-validation on train, grouped by pass (pooled out-of-fold).
    let mut md = String::from("# Risk head training report\n\n");
    md.push_str(&format!(
        "Corpus sha256 `{}`: {} messages (train {}, validation {}, test {}); features: {} embedding + {} families + {} flags + {} hashed.\n\n",
        corpus.sha256, examples.len(), train.len(), val.len(), test.len(), spec.features.embedding_dim, spec.features.families.len(), ash_config::FLAG_INPUTS, cli.hashed_buckets
    ));
    md.push_str(&evaluate::compare_kinds(&train, &spec)?);

    let splits = Splits {
        train: &train,
        val: &val,
        test: &test,
    };
    let head = final_head(&cli, &config, &spec, splits, &corpus, &mut md)?;
    println!("{md}");
    if cli.check {
        return artefact::check(&cli.artefact, &head);
    }
    if !cli.dry_run {
        artefact::write(&cli.artefact, &head)?;
        println!("wrote {} ({})", cli.artefact.display(), head.version);
    }
    Ok(())
}

/// The corpus as examples with the served features, and the feature specification of the new
/// head. The embeddings are cached under `--out`, keyed by corpus and model.
fn corpus_examples(
    cli: &Cli,
    config: &Arc<Config>,
    corpus: &Corpus,
) -> Result<(RiskHeadConfig, Vec<Example>)> {
    let (model_name, model) = config
        .models
        .models
        .iter()
        .find(|(_, m)| m.kind == ash_config::ModelKind::Embedding)
        .context("models.yaml has no embedding model")?;
    let texts: Vec<&str> = corpus.messages.iter().map(|m| m.text.as_str()).collect();
    let cache = data::corpus_embedding_cache(&cli.out, &corpus.sha256, model.sha256.as_deref());
    let embeddings = data::embeddings(config, &texts, &cache)?;
    let dim = embeddings.first().map_or(0, Vec::len);
    let mut spec = data::head_spec(config, dim, cli.hashed_buckets);
    spec.model = model_name.clone();
    spec.corpus_sha256 = corpus.sha256.clone();
    spec.levels = CrisisLevel::ALL.to_vec();
    let features = data::features(config, &spec, &texts, &embeddings)?;
    let examples = data::examples(corpus, features, &embeddings);
    if cli.dump_features {
        data::dump_features(&cli.out, corpus, &examples)?;
    }
    Ok((spec, examples))
}

/// The corpus splits, as the examples of each.
struct Splits<'a, 'e> {
    train: &'a [&'e Example],
    val: &'a [&'e Example],
    test: &'a [&'e Example],
}

/// Steps 2 to 4: fits each trained kind on train and calibrates it on validation, keeps the one
/// with the lower validation cost, scores test, leave one subcategory out and the extra phrase
/// sets, and writes the report folder. Returns the head to ship, with its figures and version.
fn final_head(
    cli: &Cli,
    config: &Arc<Config>,
    spec: &RiskHeadConfig,
    splits: Splits<'_, '_>,
    corpus: &Corpus,
    md: &mut String,
) -> Result<RiskHeadConfig> {
    // 2. Fit on train; calibrate and choose thresholds on validation; the lower cost ships.
    md.push_str("## Trained kinds on validation (each calibrated there)\n\n| head | accuracy | high/critical recall | crisis answered none | cost |\n|---|---|---|---|---|\n");
    // The chosen kind's validation answers and figures are kept, not computed again.
    let mut best: Option<(
        Kind,
        RiskHeadConfig,
        RiskHeadConfig,
        Vec<Scored<'_>>,
        Figures,
    )> = None;
    for kind in evaluate::TRAINED_KINDS {
        let fitted = RiskHeadConfig {
            layers: heads::fit_head(kind, splits.train, None)?,
            temperature: 1.0,
            ..spec.clone()
        };
        let val_set = heads::scored(splits.val, logits_of(&fitted, splits.val));
        let head = heads::calibrated(&val_set, &fitted);
        let (f, _) = select::figures(&head, &val_set);
        md.push_str(&report::comparison_row(&kind.name(), &f));
        if best
            .as_ref()
            .is_none_or(|(.., best_f)| f.cost < best_f.cost)
        {
            best = Some((kind, fitted, head, val_set, f));
        }
    }
    let (kind, fitted, mut head, val_set, val_f) = best.context("no trained kind")?;
    md.push_str(&format!(
        "\nShipped: **{}** (the lower validation cost).\n\n",
        kind.name()
    ));
    let test_set = heads::scored(splits.test, logits_of(&fitted, splits.test));
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
    let mut metrics = BTreeMap::new();
    if !cli.skip_loso {
        let f = evaluate::leave_one_subcategory_out(kind, splits.train, &head)?;
        md.push_str(&report::markdown(
            "Leave one subcategory out (train; the final thresholds)",
            &f,
        ));
        metrics.insert("loso_accuracy".to_owned(), round_metric(f.accuracy));
        metrics.insert(
            "loso_crisis_recall".to_owned(),
            round_metric(f.crisis_recall),
        );
    }

    // 4. Other phrase sets: reported only.
    for dir in &cli.report_on {
        md.push_str(&evaluate::phrase_set(
            config, spec, &fitted, &head, dir, &cli.out,
        )?);
    }

    for (key, value) in [
        ("validation_accuracy", val_f.accuracy),
        ("validation_crisis_recall", val_f.crisis_recall),
        ("test_accuracy", test_f.accuracy),
        ("test_crisis_recall", test_f.crisis_recall),
    ] {
        metrics.insert(key.to_owned(), round_metric(value));
    }
    head.metrics = metrics;
    head.version = RiskHeadConfig::version_for(&kind.name(), &corpus.sha256, &config.patterns);
    report::write_files(&cli.out, md, &head, &val_set, &val_f, &test_f)?;
    Ok(head)
}

/// The head's logits for each example of `set`.
fn logits_of(head: &RiskHeadConfig, set: &[&Example]) -> Vec<Vec<f64>> {
    set.iter()
        .map(|e| ash_analysis::head::logits(head, &e.x))
        .collect()
}
