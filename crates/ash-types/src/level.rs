//! The crisis levels.

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
