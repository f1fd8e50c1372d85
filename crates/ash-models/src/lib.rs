//! Model coordination for Ash-NLP.
//!
//! ONNX Runtime sessions (loaded dynamically, see [`runtime`]), tokenizers, one dedicated
//! inference thread per model with dynamic batching ([`worker`]), three model kinds behind one
//! interface (embedding, NLI, classifier), label sets prepared off the request path and swapped
//! atomically ([`labels`]), and real warmup at start-up. The entry point is [`ModelCoordinator`].
//!
//! **Invariant:** no inference runs on an async runtime thread; async callers only wait on a
//! channel.

mod coordinator;
mod error;
mod kinds;
pub mod labels;
pub mod onnx;
mod plan;
pub mod runtime;
pub mod scoring;
pub mod worker;

pub use ash_types::{FailureKind, LabelScore, ModelFailure, ModelOutputs, RoleOutput};
pub use coordinator::{ModelCoordinator, ModelStatus, ModelsState, ModelsStatus, available_cores};
pub use error::ModelError;
pub use runtime::RuntimeInfo;
pub use worker::Priority;
