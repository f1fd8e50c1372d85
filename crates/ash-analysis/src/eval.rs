//! Accuracy evaluation on labelled phrase files (the v3.1 test-phrase format): reading the files
//! and scoring outcomes. Running the phrases (in-process or over HTTP) is the caller's business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ash_config::CrisisLevel;
use serde::{Deserialize, Serialize};

/// Why a dataset cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a phrase file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("no phrases in {0}")]
    Empty(PathBuf),
}

/// One labelled phrase.
#[derive(Clone, Debug, Serialize)]
pub struct Phrase {
    pub category: String,
    pub subcategory: String,
    pub expected: Vec<CrisisLevel>,
    pub message: String,
}

#[derive(Deserialize)]
struct PhraseFile {
    category: Category,
}

#[derive(Deserialize)]
struct Category {
    name: String,
    expected_priority: Vec<String>,
    subcategories: BTreeMap<String, Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    message: String,
}

/// A reader error that names `path`.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError {
    let path = path.to_owned();
    move |source| DatasetError::Io { path, source }
}

/// The files of `dir` with extension `ext`, in name order.
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, DatasetError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every `*.json` phrase file of `dir`.
pub fn read_dataset(dir: &Path) -> Result<Vec<Phrase>, DatasetError> {
    let mut phrases = Vec::new();
    for file in files_with_extension(dir, "json")? {
        let text = std::fs::read_to_string(&file).map_err(io_error(&file))?;
        let format = |message: String| DatasetError::Format {
            path: file.clone(),
            message,
        };
        let parsed: PhraseFile = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
        let expected = parsed
            .category
            .expected_priority
            .iter()
            .map(|p| CrisisLevel::parse(p).ok_or_else(|| format(format!("unknown level {p:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        for (sub, entries) in parsed.category.subcategories {
            for e in entries {
                phrases.push(Phrase {
                    category: parsed.category.name.clone(),
                    subcategory: sub.clone(),
                    expected: expected.clone(),
                    message: e.message,
                });
            }
        }
    }
    if phrases.is_empty() {
        return Err(DatasetError::Empty(dir.to_owned()));
    }
    Ok(phrases)
}

/// One phrase's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub phrase: Phrase,
    pub level: CrisisLevel,
    pub score: f64,
    pub degraded: bool,
    /// Per-role crisis scores (in-process runs).
    pub roles: BTreeMap<String, f64>,
    pub pattern_score: f64,
}

/// Whether answering `level` is right when `expected` are the acceptable levels: `critical` for
/// a `high` message is no miss (clients that know four levels receive it as `high`), `high` for a
/// `critical` one is.
pub fn accepted(level: CrisisLevel, expected: &[CrisisLevel]) -> bool {
    expected.contains(&level)
        || (level == CrisisLevel::Critical && expected.contains(&CrisisLevel::High))
}

impl Outcome {
    /// `critical` counts as `high` (the API reports it so).
    pub fn correct(&self) -> bool {
        accepted(self.level, &self.phrase.expected)
    }

    /// Steps to the nearest expected level (0 when correct).
    pub fn distance(&self) -> u8 {
        let level = if self.level == CrisisLevel::Critical {
            CrisisLevel::High
        } else {
            self.level
        };
        self.phrase
            .expected
            .iter()
            .map(|e| e.rank().abs_diff(level.rank()))
            .min()
            .unwrap_or(0)
    }
}

/// Per-category accuracy.
#[derive(Clone, Debug, Serialize)]
pub struct CategoryReport {
    pub category: String,
    pub expected: String,
    pub total: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Predicted level → count.
    pub predicted: BTreeMap<String, usize>,
}

pub fn categories(outcomes: &[Outcome]) -> Vec<CategoryReport> {
    let mut by: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by.entry(&o.phrase.category).or_default().push(o);
    }
    by.into_iter()
        .map(|(category, os)| {
            let correct = os.iter().filter(|o| o.correct()).count();
            let mut predicted = BTreeMap::new();
            for o in &os {
                *predicted.entry(o.level.to_string()).or_default() += 1;
            }
            CategoryReport {
                category: category.to_owned(),
                expected: os[0]
                    .phrase
                    .expected
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("|"),
                total: os.len(),
                correct,
                accuracy: correct as f64 / os.len() as f64,
                predicted,
            }
        })
        .collect()
}
