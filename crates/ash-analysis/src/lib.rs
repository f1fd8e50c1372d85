//! ash-analysis
