//! The project's labelled corpus (`data/corpus/*.jsonl`, format in `docs/taxonomy.md`): reading
//! it, its fixed train / validation / test split, and its fingerprint.
//!
//! The split depends only on a message's own text, so adding messages never moves old ones
//! between splits, and the test split stays unseen while the head and the patterns are designed.

use std::collections::BTreeSet;
use std::path::Path;

use ash_config::CrisisLevel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::eval::{DatasetError, Phrase, files_with_extension, io_error};

/// Which part of the corpus a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    /// The split of `text`: the first byte of SHA-256 of its folded form (lower case, single
    /// spaces); below 179 train (70%), below 217 validation (15%), else test (15%).
    pub fn of(text: &str) -> Split {
        let digest = Sha256::digest(fold(text).as_bytes());
        match digest[0] {
            0..179 => Split::Train,
            179..217 => Split::Validation,
            _ => Split::Test,
        }
    }

    /// Parses `train`, `validation` or `test`.
    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "validation" | "val" => Some(Split::Validation),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

/// Lower case with whitespace collapsed: two messages that differ only in case or spacing are one.
fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One corpus line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusMessage {
    pub text: String,
    /// The level it is trained toward.
    pub level: CrisisLevel,
    /// `branch.subcategory` from the taxonomy.
    pub category: String,
    /// The person at risk is someone else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub third_party: bool,
    /// Levels an evaluation accepts, when the message honestly sits between two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<CrisisLevel>,
    /// The pass it was written in (its file's stem): each pass is one voice, so cross-validation
    /// that holds out whole passes estimates how the head reads a voice it has never seen.
    #[serde(skip)]
    pub source: String,
}

impl CorpusMessage {
    /// The taxonomy branch (`suicide`, `safe_context`, …).
    pub fn branch(&self) -> &str {
        self.category.split('.').next().unwrap_or(&self.category)
    }

    /// The split it belongs to.
    pub fn split(&self) -> Split {
        Split::of(&self.text)
    }

    /// Levels counted as correct.
    pub fn expected(&self) -> Vec<CrisisLevel> {
        if self.accept.is_empty() {
            vec![self.level]
        } else {
            self.accept.clone()
        }
    }

    /// As an evaluation phrase: the category is the branch, the subcategory the full category.
    pub fn to_phrase(&self) -> Phrase {
        Phrase {
            category: self.branch().to_owned(),
            subcategory: self.category.clone(),
            expected: self.expected(),
            message: self.text.clone(),
        }
    }
}

/// The corpus, with its fingerprint.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub messages: Vec<CorpusMessage>,
    /// SHA-256 over the files' names and contents, in name order.
    pub sha256: String,
    /// Lines dropped because their folded text repeats an earlier line.
    pub duplicates: usize,
}

/// Reads every `*.jsonl` file of `dir` (in name order). Repeated texts keep their first line.
pub fn read_corpus(dir: &Path) -> Result<Corpus, DatasetError> {
    let files = files_with_extension(dir, "jsonl")?;
    let mut hasher = Sha256::new();
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    let mut duplicates = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io_error(&file))?;
        if let Some(name) = file.file_name() {
            hasher.update(name.as_encoded_bytes());
        }
        hasher.update(text.as_bytes());
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut message: CorpusMessage =
                serde_json::from_str(line).map_err(|e| DatasetError::Format {
                    path: file.clone(),
                    message: format!("line {}: {e}", number + 1),
                })?;
            message.source = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !message.accept.is_empty() && !message.accept.contains(&message.level) {
                return Err(DatasetError::Format {
                    path: file.clone(),
                    message: format!("line {}: `accept` must contain `level`", number + 1),
                });
            }
            if seen.insert(fold(&message.text)) {
                messages.push(message);
            } else {
                duplicates += 1;
            }
        }
    }
    if messages.is_empty() {
        return Err(DatasetError::Empty(dir.to_owned()));
    }
    Ok(Corpus {
        messages,
        sha256: hex::encode(hasher.finalize()),
        duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_depends_on_the_folded_text_only() {
        assert_eq!(Split::of("Hello  World"), Split::of("hello world"));
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            counts[Split::of(&format!("message number {i}")) as usize] += 1;
        }
        // 70 / 15 / 15 within sampling noise.
        assert!((1950..2250).contains(&counts[0]), "{counts:?}");
        assert!((330..570).contains(&counts[1]), "{counts:?}");
        assert!((330..570).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn accept_must_contain_the_level_repeats_are_dropped_and_the_pass_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            "{\"text\":\"Hi there\",\"level\":\"none\",\"category\":\"everyday.neutral\"}\n\
             {\"text\":\"hi  there\",\"level\":\"none\",\"category\":\"everyday.neutral\"}\n",
        )
        .expect("write");
        let corpus = read_corpus(dir.path()).expect("corpus");
        assert_eq!((corpus.messages.len(), corpus.duplicates), (1, 1));
        assert_eq!(
            corpus.messages[0].source, "a",
            "the pass is the file's stem"
        );
        std::fs::write(
            &path,
            "{\"text\":\"x\",\"level\":\"high\",\"category\":\"a.b\",\"accept\":[\"low\",\"medium\"]}\n",
        )
        .expect("write");
        assert!(matches!(
            read_corpus(dir.path()),
            Err(DatasetError::Format { .. })
        ));
    }
}
