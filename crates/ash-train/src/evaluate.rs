//! The evaluation steps around the final fit: candidate kinds compared by cross-validation on
//! train, leave one subcategory out (phrasing the corpus has never seen), and phrase sets that
//! are reported only.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use ash_analysis::eval::read_dataset;
use ash_config::{Config, RiskHeadConfig};
use indicatif::ProgressBar;

use crate::data::{self, Example};
use crate::fit::Kind;
use crate::heads::{calibrated, scored, train_and_score};
use crate::report;
use crate::select::{self, Figures, Scored};

/// Folds of the candidate comparison.
const FOLDS: usize = 5;

/// Compares the candidate kinds by 5-fold cross-validation on `train` (pooled out-of-fold
/// predictions, calibrated on themselves). Returns the Markdown section and the trained kind
/// with the lowest cost; nearest exemplars are a baseline, reported but never chosen.
pub(crate) fn choose_kind(train: &[&Example], spec: &RiskHeadConfig) -> Result<(String, Kind)> {
    let candidates = [
        Kind::NearestExemplar { k: 10 },
        Kind::Logistic,
        Kind::Mlp { hidden: 64 },
    ];
    let mut md = String::from(
        "## Candidates (5-fold cross-validation on train)\n\n| head | accuracy | high/critical recall | crisis answered none | cost |\n|---|---|---|---|---|\n",
    );
    let bar = data::progress((candidates.len() * FOLDS) as u64, "cross-val");
    let mut best: Option<(f64, Kind)> = None;
    for kind in candidates {
        let logits = out_of_fold_logits(kind, train, &bar)?;
        let set = scored(train, logits);
        let head = calibrated(&set, spec);
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
    Ok((md, kind))
}

/// Logits of every train example from the fold that held it out, in train order.
fn out_of_fold_logits(kind: Kind, train: &[&Example], bar: &ProgressBar) -> Result<Vec<Vec<f64>>> {
    let mut oof: Vec<Option<Vec<f64>>> = vec![None; train.len()];
    for fold in 0..FOLDS {
        let (fit_on, held): (Vec<_>, Vec<_>) = train
            .iter()
            .enumerate()
            .partition(|(i, _)| i % FOLDS != fold);
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
    Ok(oof.into_iter().map(Option::unwrap_or_default).collect())
}

/// Each train subcategory scored by `kind` fitted on all the others, judged with the final
/// head's temperature and thresholds.
pub(crate) fn leave_one_subcategory_out(
    kind: Kind,
    train: &[&Example],
    head: &RiskHeadConfig,
) -> Result<Figures> {
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
    let (f, _) = select::figures(head, &scored(&all, logits));
    Ok(f)
}

/// The Markdown section for a phrase-file folder, scored by the fitted head and judged with the
/// calibrated one (never fitted or tuned on). Its embeddings are cached in `out`.
pub(crate) fn phrase_set(
    config: &Arc<Config>,
    spec: &RiskHeadConfig,
    fitted: &RiskHeadConfig,
    head: &RiskHeadConfig,
    dir: &Path,
    out: &Path,
) -> Result<String> {
    let phrases = read_dataset(dir)?;
    let texts: Vec<&str> = phrases.iter().map(|p| p.message.as_str()).collect();
    let name = dir
        .file_name()
        .map_or("phrases".into(), |n| n.to_string_lossy().into_owned());
    let cache = out.join(format!("embeddings-{name}.bin"));
    let emb = data::embeddings(config, &texts, &cache)?;
    let feats = data::features(config, spec, &texts, &emb)?;
    let accepts: Vec<Vec<usize>> = phrases
        .iter()
        .map(|p| p.expected.iter().map(|l| l.rank() as usize).collect())
        .collect();
    let set: Vec<Scored<'_>> = phrases
        .iter()
        .zip(&feats)
        .zip(&accepts)
        .map(|((p, (x, floor)), accept)| Scored {
            logits: ash_analysis::head::logits(fitted, x),
            y: accept.iter().copied().max().unwrap_or(0),
            accept,
            category: &p.category,
            floor: *floor,
        })
        .collect();
    let (f, _) = select::figures(head, &set);
    Ok(report::markdown(&format!("{name} (reported only)"), &f))
}
