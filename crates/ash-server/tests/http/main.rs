//! End-to-end over HTTP: the real binary, the real default model, a real port.

#[path = "../common/mod.rs"]
mod common;

mod analyze;
mod connections;
mod protected;
mod service;

/// A message with explicit intent and a goodbye: every configuration must flag it.
const PILLS: &str = "I'm going to take all these pills tonight, this is goodbye";
