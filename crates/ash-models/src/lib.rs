//! ash-models
