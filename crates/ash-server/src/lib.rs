//! The Ash-NLP HTTP service.
//!
//! Start-up: configuration → logging → bind (so `/health` answers `starting` at once) → load and
//! warm the models off the async threads → ready. A model that fails to load stops the service,
//! unless `server.allow_degraded_start` lets it run pattern-only, loudly marked degraded.
//! Shutdown (SIGTERM/SIGINT): `/health` turns unhealthy, in-flight requests drain within
//! `server.shutdown_grace_ms`.
//!
//! Entry points: [`main_with`] (the binary), [`app`] (the router, for tests).

mod auth;
pub mod cli;
mod error;
mod extract;
pub mod learning;
mod middleware;
mod reload;
mod router;
mod routes;
mod start;
mod state;
mod telemetry;

pub use error::ApiError;
pub use router::{ApiDoc, app, openapi};
pub use start::main_with;
pub use state::{AppState, Phase};
