//! The Ash-NLP analysis pipeline: normalise → patterns → ensemble → decision → explanation.
//!
//! Pure and synchronous: given the text and the model layer's outputs (plain data, see
//! [`ash_types::ModelOutputs`]) it returns a [`Decision`], so it is tested without models. The
//! formula and the safety rules are documented in [`decision`].
//!
//! **Invariants:** the safety rules only raise a level; a degraded analysis says so and never
//! turns crisis patterns into `none`; no output contains the message text.

mod analyzer;
pub mod context;
pub mod corpus;
pub mod decision;
pub mod ensemble;
pub mod eval;
mod explain;
pub mod head;
pub mod learning;
pub mod normalize;
pub mod patterns;
pub mod scale;

pub use analyzer::{AnalysisError, Analyzer};
pub use ash_types::ModelEvidence;

pub use context::{ContextAnalysis, HistoryEntry};
pub use decision::{
    Contributions, Decision, Degradation, LearnedInfo, PatternFloor, Rule, Stages,
    recommended_action,
};
pub use ensemble::RoleResult;
pub use explain::{ExplainedPattern, ExplainedRole, Explanation, MAX_KEY_FACTORS};
pub use head::HeadResult;
pub use learning::LearnedAdjustment;
pub use patterns::{PatternEngine, PatternMatch};
