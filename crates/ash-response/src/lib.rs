//! ash-response
