//! Shared helpers for the benchmarks (the benchmarks themselves are the `[[bench]]` targets).
