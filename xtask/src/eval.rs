//! `cargo xtask eval`: accuracy on labelled phrase files (the v3.1 test-phrase format), in-process
//! with the configured models or against a running server.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ash_analysis::corpus::{Split, read_corpus};
use ash_analysis::eval::{CategoryReport, Outcome, Phrase, categories, read_dataset};
use ash_analysis::{Analyzer, ModelEvidence};
use ash_config::{ConfigLoader, CrisisLevel, Environment};
use ash_models::ModelCoordinator;

/// The models of the configuration in `config_dir`, loaded and ready, and its analyzer: what an
/// in-process evaluation runs.
pub(crate) fn in_process(root: &Path, config_dir: &Path) -> Result<(ModelCoordinator, Analyzer)> {
    // `cache_dir` already honours NLP_MODEL_CACHE_DIR; this only makes the default absolute.
    let env = Environment::from_process().with_var(
        "NLP_MODEL_CACHE_DIR",
        crate::setup::cache_dir(root).display().to_string(),
    );
    let config = Arc::new(ConfigLoader::new(config_dir, env)?.load()?);
    let coordinator = ModelCoordinator::start(&config);
    let status = coordinator.status();
    if status.models.iter().any(|m| !m.loaded) {
        bail!(
            "models not ready: {:?}",
            status
                .models
                .iter()
                .map(|m| (&m.name, &m.last_error))
                .collect::<Vec<_>>()
        );
    }
    let analyzer = Analyzer::new(Arc::clone(&config))?;
    Ok((coordinator, analyzer))
}

/// Runs every phrase in-process under the configuration in `config_dir`.
pub(crate) fn run_in_process(
    root: &Path,
    config_dir: &Path,
    phrases: &[Phrase],
) -> Result<Vec<Outcome>> {
    let (coordinator, analyzer) = in_process(root, config_dir)?;
    let mut outcomes = Vec::with_capacity(phrases.len());
    for chunk in phrases.chunks(32) {
        let texts: Vec<&str> = chunk.iter().map(|p| p.message.as_str()).collect();
        let outputs = coordinator.infer_batch_blocking(&texts);
        for (phrase, out) in chunk.iter().zip(&outputs) {
            let decision = analyzer.analyze(&phrase.message, ModelEvidence::Outputs(out));
            outcomes.push(Outcome {
                phrase: phrase.clone(),
                level: decision.level,
                score: decision.crisis_score,
                degraded: decision.degraded.is_some(),
                roles: decision
                    .roles
                    .iter()
                    .map(|(r, v)| (r.clone(), v.score))
                    .collect(),
                pattern_score: decision.pattern_score,
            });
        }
    }
    Ok(outcomes)
}

/// Runs every phrase against a server's `POST /analyze`.
pub(crate) fn run_against(url: &str, phrases: &[Phrase]) -> Result<Vec<Outcome>> {
    let endpoint = format!("{}/analyze", url.trim_end_matches('/'));
    let mut outcomes = Vec::with_capacity(phrases.len());
    for phrase in phrases {
        let body =
            serde_json::json!({"message": phrase.message, "user_id": "eval", "channel_id": "eval"});
        let mut response = ureq::post(&endpoint)
            .send_json(&body)
            .with_context(|| format!("POST {endpoint}"))?;
        let value: serde_json::Value = response.body_mut().read_json()?;
        let level_text = value["severity"]
            .as_str()
            .or_else(|| value["crisis_level"].as_str())
            .unwrap_or("none");
        outcomes.push(Outcome {
            phrase: phrase.clone(),
            level: CrisisLevel::parse(level_text).unwrap_or(CrisisLevel::None),
            score: value["analysis"]["complete_analysis"]["crisis_score"]
                .as_f64()
                .unwrap_or(0.0),
            degraded: value["is_degraded"].as_bool().unwrap_or(false),
            roles: BTreeMap::new(),
            pattern_score: value["analysis"]["complete_analysis"]["pattern_score"]
                .as_f64()
                .unwrap_or(0.0),
        });
    }
    Ok(outcomes)
}

fn print_report(outcomes: &[Outcome], cats: &[CategoryReport], show_misses: bool) {
    let levels = ["none", "low", "medium", "high", "critical"];
    println!(
        "\n{:<20} {:<12} {:>5} {:>8}   predicted none/low/medium/high/critical",
        "category", "expected", "n", "strict"
    );
    for c in cats {
        let row: Vec<String> = levels
            .iter()
            .map(|l| c.predicted.get(*l).copied().unwrap_or(0).to_string())
            .collect();
        println!(
            "{:<20} {:<12} {:>5} {:>7.1}%   {}",
            c.category,
            c.expected,
            c.total,
            c.accuracy * 100.0,
            row.join(" / ")
        );
    }
    let correct = outcomes.iter().filter(|o| o.correct()).count();
    println!(
        "{:<20} {:<12} {:>5} {:>7.1}%",
        "overall",
        "",
        outcomes.len(),
        correct as f64 * 100.0 / outcomes.len() as f64
    );
    let degraded = outcomes.iter().filter(|o| o.degraded).count();
    if degraded > 0 {
        println!("WARNING: {degraded} answers were degraded");
    }
    let crisis: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.phrase.expected.iter().all(|l| *l >= CrisisLevel::High))
        .collect();
    if !crisis.is_empty() {
        let caught = crisis
            .iter()
            .filter(|o| o.level >= CrisisLevel::High)
            .count();
        let as_none = crisis
            .iter()
            .filter(|o| o.level == CrisisLevel::None)
            .count();
        println!(
            "high/critical recall: {:.1}% ({caught}/{}), answered none: {as_none}",
            caught as f64 * 100.0 / crisis.len() as f64,
            crisis.len()
        );
    }
    if !show_misses {
        return;
    }
    let mut misses: Vec<&Outcome> = outcomes.iter().filter(|o| !o.correct()).collect();
    misses.sort_by(|a, b| {
        b.distance()
            .cmp(&a.distance())
            .then(b.score.total_cmp(&a.score))
    });
    println!("\nworst misses:");
    for o in misses.iter().take(15) {
        println!(
            "  {:<18} expected {:<12} got {:<8} ({:.2})  {:?}",
            o.phrase.category,
            o.phrase
                .expected
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("|"),
            o.level.to_string(),
            o.score,
            o.phrase.message
        );
    }
}

/// Phrases of `dataset`: a phrase-file folder, or a corpus folder (`*.jsonl`) restricted to
/// `split` (`all` for every split).
pub(crate) fn load_phrases(dataset: &Path, split: &str) -> Result<Vec<Phrase>> {
    let is_corpus = std::fs::read_dir(dataset)
        .with_context(|| format!("cannot read {}", dataset.display()))?
        .filter_map(|e| e.ok())
        .any(|e| e.path().extension().is_some_and(|x| x == "jsonl"));
    if !is_corpus {
        return Ok(read_dataset(dataset)?);
    }
    let wanted =
        match split {
            "all" => None,
            other => Some(Split::parse(other).with_context(|| {
                format!("--split {other:?}: use train, validation, test or all")
            })?),
        };
    Ok(read_corpus(dataset)?
        .messages
        .iter()
        .filter(|m| wanted.is_none_or(|s| m.split() == s))
        .map(|m| m.to_phrase())
        .collect())
}

/// The whole task.
pub(crate) fn run(
    root: &Path,
    dataset: &Path,
    split: &str,
    url: Option<&str>,
    config: &Path,
    compare: Option<&Path>,
    json: &Path,
) -> Result<()> {
    if crate::conversations::is_conversation_set(dataset) {
        if url.is_some() || compare.is_some() {
            bail!("a conversation set runs in-process only, without --url or --compare");
        }
        return crate::conversations::run(root, dataset, split, config, json);
    }
    let phrases = load_phrases(dataset, split)?;
    eprintln!("eval: {} phrases from {}", phrases.len(), dataset.display());
    let outcomes = match url {
        Some(url) => run_against(url, &phrases)?,
        None => run_in_process(root, config, &phrases)?,
    };
    let cats = categories(&outcomes);
    // The test split stays unread while designing: its figures are shown, its messages are not.
    print_report(&outcomes, &cats, split != "test");
    let mut report =
        serde_json::json!({ "dataset": dataset, "categories": cats, "outcomes": outcomes });
    if let Some(other) = compare {
        let other_outcomes = run_in_process(root, other, &phrases)?;
        let other_cats = categories(&other_outcomes);
        println!("\ncompare with {}:", other.display());
        println!(
            "{:<20} {:>8} {:>8} {:>8}",
            "category", "base", "other", "change"
        );
        for (a, b) in cats.iter().zip(&other_cats) {
            println!(
                "{:<20} {:>7.1}% {:>7.1}% {:>+7.1}",
                a.category,
                a.accuracy * 100.0,
                b.accuracy * 100.0,
                (b.accuracy - a.accuracy) * 100.0
            );
        }
        let changed: Vec<serde_json::Value> = outcomes
            .iter()
            .zip(&other_outcomes)
            .filter(|(a, b)| a.level != b.level)
            .map(|(a, b)| {
                println!("  {:<8} -> {:<8} [{}] {:?}", a.level.to_string(), b.level.to_string(), a.phrase.category, a.phrase.message);
                serde_json::json!({"message": a.phrase.message, "category": a.phrase.category, "base": a.level, "other": b.level})
            })
            .collect();
        println!("{} phrases changed level", changed.len());
        report["compare"] =
            serde_json::json!({"config": other, "categories": other_cats, "changed": changed});
    }
    if let Some(parent) = json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(json, serde_json::to_string_pretty(&report)?)?;
    eprintln!("eval: JSON report written to {}", json.display());
    Ok(())
}
