//! The Ash-NLP HTTP service.
//!
//! Start-up: configuration → logging → bind (so `/health` answers `starting` at once) → load and
//! warm the models off the async threads → ready. A model that fails to load stops the service,
//! unless `server.allow_degraded_start` lets it run pattern-only, loudly marked degraded.
//! Shutdown (SIGTERM/SIGINT): `/health` says `draining` (503) for `server.shutdown_drain_delay_ms`,
//! then idle connections close at once and in-flight requests finish within
//! `server.shutdown_grace_ms` (see `serve`).
//!
//! Entry points: [`main_with`] (the binary), [`app`] (the router, for tests).

mod admission;
mod auth;
pub mod cli;
mod error;
mod extract;
pub mod learning;
mod middleware;
mod reload;
mod router;
mod routes;
mod serve;
mod start;
mod state;
mod telemetry;

pub use error::ApiError;
pub use router::{ApiDoc, app, openapi};
pub use start::main_with;
pub use state::{AppState, Phase};
