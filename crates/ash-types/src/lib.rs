//! The contract between the Ash-NLP layers: plain data types that more than one layer speaks.
//!
//! Kept free of heavy dependencies (serde only), so the analysis can depend on what the model
//! layer produces without building ONNX Runtime, tokenizers or an async runtime, and so the
//! response layer can name levels without reading configuration.

mod correction;
mod evidence;
mod level;
mod model;
mod outputs;
pub mod vector;

pub use correction::CorrectionKind;
pub use evidence::{Evidence, ModelEvidence};
pub use level::CrisisLevel;
pub use model::{FailureKind, ModelKind};
pub use outputs::{LabelScore, ModelFailure, ModelOutputs, RoleOutput};
