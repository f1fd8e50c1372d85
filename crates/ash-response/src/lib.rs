//! The HTTP API contract of Ash-NLP: request and response types (serde + OpenAPI schemas) and
//! their assembly from domain types.
//!
//! **API boundary.** Ash-Bot v3.1 reads `needs_response`, `crisis_level` (only
//! `none|low|medium|high`; anything else it treats as `none`), `confidence_score`,
//! `detected_categories`, `method`, `processing_time_ms`, `model_info`, `reasoning`,
//! `analysis.complete_analysis.requires_staff_review` and
//! `analysis.complete_analysis.ai_model_details.individual_results.<model>.score`. Those names,
//! types and nestings must not change. `critical` reaches it as `crisis_level: "high"`, with the
//! finer grade in `severity`.

pub mod assemble;
pub mod wire;

pub use assemble::{RequestMeta, analyze_response, error, wire_level};
pub use wire::*;
