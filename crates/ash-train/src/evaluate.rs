//! The evaluation steps around the final fit: candidate kinds compared by cross-validation on
//! train, leave one subcategory out (phrasing the corpus has never seen), and phrase sets that
//! are reported only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use ash_analysis::eval::read_dataset;
use ash_config::{Config, RiskHeadConfig};
use indicatif::ProgressBar;

use crate::data::{self, Example};
use crate::fit::Kind;
use crate::heads::{LOGISTIC_L2_GRID, calibrated, scored, train_and_score};
use crate::report;
use crate::select::{self, Figures, Scored};

/// Folds of the candidate comparison.
const FOLDS: usize = 5;

/// The kinds that can ship: each is fitted on train and calibrated on validation, and the one
/// with the lower validation cost ships.
pub(crate) const TRAINED_KINDS: [Kind; 2] = [Kind::Logistic, Kind::Mlp { hidden: 64 }];

/// Compares the candidate kinds by 5-fold cross-validation on `train`, each corpus pass wholly in
/// one fold (pooled out-of-fold predictions, calibrated on themselves): every message is judged
/// by a head that never saw its voice, as messages from outside the corpus will be. Returns the
/// Markdown section; the choice between the trained kinds is made on validation
/// ([`TRAINED_KINDS`]), nearest exemplars are a baseline.
pub(crate) fn compare_kinds(train: &[&Example], spec: &RiskHeadConfig) -> Result<String> {
    let candidates = [
        Kind::NearestExemplar { k: 10 },
        TRAINED_KINDS[0],
        TRAINED_KINDS[1],
    ];
    let mut md = String::from(
        "## Candidates (5-fold cross-validation on train, folds grouped by corpus pass)\n\n| head | accuracy | high/critical recall | crisis answered none | cost |\n|---|---|---|---|---|\n",
    );
    let bar = data::progress((candidates.len() * FOLDS) as u64, "cross-val");
    let folds = pass_folds(train);
    for kind in candidates {
        let logits = out_of_fold_logits(kind, None, train, &folds, &bar)?;
        let set = scored(train, logits);
        let head = calibrated(&set, spec);
        let (f, _) = select::figures(&head, &set);
        md.push_str(&report::comparison_row(&kind.name(), &f));
    }
    bar.finish_and_clear();
    md.push('\n');
    Ok(md)
}

/// The logistic head's L2 strengths compared by the same grouped cross-validation: the table
/// that chose `heads::LOGISTIC_L2`.
pub(crate) fn tune_l2(train: &[&Example], spec: &RiskHeadConfig) -> Result<String> {
    let mut md = String::from(
        "## Logistic L2 (5-fold cross-validation on train, folds grouped by corpus pass)\n\n| l2 | accuracy | high/critical recall | crisis answered none | cost |\n|---|---|---|---|---|\n",
    );
    let bar = data::progress((LOGISTIC_L2_GRID.len() * FOLDS) as u64, "l2");
    let folds = pass_folds(train);
    for l2 in LOGISTIC_L2_GRID {
        let logits = out_of_fold_logits(Kind::Logistic, Some(l2), train, &folds, &bar)?;
        let set = scored(train, logits);
        let (f, _) = select::figures(&calibrated(&set, spec), &set);
        md.push_str(&report::comparison_row(&format!("{l2:e}"), &f));
    }
    bar.finish_and_clear();
    Ok(md)
}

/// The fold of each train example: whole corpus passes, largest first, each to the fold with the
/// fewest examples so far (ties to the lower fold), so folds are of similar size and no voice is
/// on both sides of a fold.
fn pass_folds(train: &[&Example]) -> Vec<usize> {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for e in train {
        *sizes.entry(e.source.as_str()).or_default() += 1;
    }
    let mut passes: Vec<(&str, usize)> = sizes.into_iter().collect();
    passes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut load = [0usize; FOLDS];
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (pass, size) in passes {
        let lightest = (0..FOLDS).min_by_key(|&f| (load[f], f)).unwrap_or(0);
        load[lightest] += size;
        fold_of.insert(pass, lightest);
    }
    train.iter().map(|e| fold_of[e.source.as_str()]).collect()
}

/// Logits of every train example from the fold that held it out, in train order.
fn out_of_fold_logits(
    kind: Kind,
    l2: Option<f64>,
    train: &[&Example],
    folds: &[usize],
    bar: &ProgressBar,
) -> Result<Vec<Vec<f64>>> {
    let mut oof: Vec<Option<Vec<f64>>> = vec![None; train.len()];
    for fold in 0..FOLDS {
        let (held_idx, fit_idx): (Vec<usize>, Vec<usize>) =
            (0..train.len()).partition(|&i| folds[i] == fold);
        if held_idx.is_empty() {
            bar.inc(1);
            continue;
        }
        let fit_on: Vec<&Example> = fit_idx.iter().map(|&i| train[i]).collect();
        let held: Vec<&Example> = held_idx.iter().map(|&i| train[i]).collect();
        for (i, l) in held_idx
            .into_iter()
            .zip(train_and_score(kind, l2, &fit_on, &held)?)
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
        logits.extend(train_and_score(kind, None, &rest, &held)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use ash_analysis::corpus::Split;

    fn example(source: &str) -> Example {
        Example {
            x: Vec::new(),
            y: 0,
            accept: vec![0],
            category: "everyday.neutral".to_owned(),
            source: source.to_owned(),
            split: Split::Train,
            floor: 0,
            embedding: Vec::new(),
        }
    }

    #[test]
    fn folds_keep_each_pass_whole_and_balance_their_sizes() {
        let sizes = [
            ("a", 40),
            ("b", 30),
            ("c", 20),
            ("d", 20),
            ("e", 10),
            ("f", 10),
            ("g", 10),
        ];
        let examples: Vec<Example> = sizes
            .iter()
            .flat_map(|&(pass, n)| (0..n).map(move |_| example(pass)))
            .collect();
        let refs: Vec<&Example> = examples.iter().collect();
        let folds = pass_folds(&refs);
        let mut fold_of_pass: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        let mut load = [0usize; FOLDS];
        for (e, &f) in refs.iter().zip(&folds) {
            fold_of_pass.entry(e.source.as_str()).or_default().insert(f);
            load[f] += 1;
        }
        assert!(
            fold_of_pass.values().all(|f| f.len() == 1),
            "{fold_of_pass:?}"
        );
        assert_eq!(
            load,
            [40, 30, 30, 20, 20],
            "largest first, each to the lightest fold"
        );
        assert_eq!(folds, pass_folds(&refs), "deterministic");
    }
}
