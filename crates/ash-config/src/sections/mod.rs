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

pub use ash_types::{CrisisLevel, ModelKind};
use serde::{Deserialize, Serialize};

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
