//! Staff corrections received on the feedback endpoints, kept durably: each one is appended to
//! `<data_dir>/feedback.jsonl` and flushed to disk (fsync) before it is acknowledged.
//!
//! The message text is not stored unless `storage.retain_message_text` is on; a keyed hash (the
//! key lives beside the log, so hashes cannot be reversed by guessing common messages elsewhere)
//! identifies repeats.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ash_config::CrisisLevel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A correction's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionKind {
    FalsePositive,
    FalseNegative,
}

/// One stored correction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub id: String,
    pub kind: CorrectionKind,
    pub detected_level: CrisisLevel,
    pub correct_level: CrisisLevel,
    pub received_at: u64,
    pub message_hash: String,
    pub message_chars: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub source: String,
}

/// The durable log.
#[derive(Debug)]
pub struct FeedbackLog {
    path: PathBuf,
    key: [u8; 32],
    retain_text: bool,
    file: Mutex<File>,
    count: AtomicU64,
}

impl FeedbackLog {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path, retain_text: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join("feedback.key");
        let key = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                k
            }
            _ => {
                let mut k = [0u8; 32];
                k[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                k[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                std::fs::write(&key_path, k)?;
                k
            }
        };
        let path = dir.join("feedback.jsonl");
        let existing = match File::open(&path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.trim().is_empty())
                .count() as u64,
            Err(_) => 0,
        };
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            key,
            retain_text,
            file: Mutex::new(file),
            count: AtomicU64::new(existing),
        })
    }

    /// Keyed hash of a message (for de-duplication without keeping the text).
    pub fn hash(&self, message: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(message.trim().to_lowercase().as_bytes());
        hex::encode(h.finalize())
    }

    /// Stores a correction durably; returns it once it is on disk.
    pub fn record(
        &self,
        kind: CorrectionKind,
        message: &str,
        detected_level: CrisisLevel,
        correct_level: CrisisLevel,
        source: &str,
    ) -> std::io::Result<Correction> {
        let correction = Correction {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            detected_level,
            correct_level,
            received_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            message_hash: self.hash(message),
            message_chars: message.chars().count(),
            message: self.retain_text.then(|| message.to_owned()),
            source: source.to_owned(),
        };
        let mut line = serde_json::to_vec(&correction).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line)?;
        file.sync_data()?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(correction)
    }

    /// Corrections stored so far (including earlier runs).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
