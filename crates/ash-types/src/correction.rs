//! What a staff correction says.

use serde::{Deserialize, Serialize};

/// A staff correction's direction (the feedback endpoint it came through).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionKind {
    /// Flagged higher than it should have been.
    FalsePositive,
    /// Flagged lower than it should have been.
    FalseNegative,
}

impl CorrectionKind {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionKind::FalsePositive => "false_positive",
            CorrectionKind::FalseNegative => "false_negative",
        }
    }
}
