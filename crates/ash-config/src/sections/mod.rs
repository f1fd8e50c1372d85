//! Typed configuration sections, one per file under `config/`.
//!
//! Defaults live here, in code, and only here: a file may leave out any key that has a default,
//! and the shipped `config/` files carry only what a deployment is expected to read or change
//! (models, label sets, pattern vocabularies, thresholds).

mod analysis;
mod context;
mod features;
mod labels;
mod logging;
mod models;
mod patterns;
mod performance;
mod risk_head;
mod server;
mod storage;

pub use analysis::*;
pub use context::*;
pub use features::*;
pub use labels::*;
pub use logging::*;
pub use models::*;
pub use patterns::*;
pub use performance::*;
pub use risk_head::*;
pub use server::*;
pub use storage::*;

use std::fmt;

use serde::{Deserialize, Serialize};

/// The crisis levels, in increasing order of concern.
///
/// `critical` exists only inside the service and in the richer API fields: Ash-Bot v3.1 accepts
/// only `none|low|medium|high`, so the response layer reports `critical` to it as `high`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CrisisLevel {
    #[default]
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl CrisisLevel {
    /// Every level, lowest first.
    pub const ALL: [CrisisLevel; 5] = [
        CrisisLevel::None,
        CrisisLevel::Low,
        CrisisLevel::Medium,
        CrisisLevel::High,
        CrisisLevel::Critical,
    ];

    /// The lowercase name used in config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CrisisLevel::None => "none",
            CrisisLevel::Low => "low",
            CrisisLevel::Medium => "medium",
            CrisisLevel::High => "high",
            CrisisLevel::Critical => "critical",
        }
    }

    /// Position in [`CrisisLevel::ALL`] (for distances between levels).
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// Parses a level name; `safe` is accepted as `none` (the v5 API's word for it).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "safe" => Some(CrisisLevel::None),
            "low" => Some(CrisisLevel::Low),
            "medium" => Some(CrisisLevel::Medium),
            "high" => Some(CrisisLevel::High),
            "critical" => Some(CrisisLevel::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for CrisisLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that must never be printed: API keys, connection strings with passwords.
///
/// It serialises as `"<redacted>"`, so printing the effective configuration (logs, `/admin/config`,
/// `--check-config`) cannot leak it, and its `Debug` output is redacted too.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must compare or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}
