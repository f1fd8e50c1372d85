//! The budget (`xtask/perf-budget.yaml`): the figures it limits, derived from the raw
//! measurements, and each figure checked against its limit.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;

use super::Report;

/// One line of the budget: a limit on one figure, and why it is set there.
#[derive(Debug, Deserialize)]
pub(super) struct BudgetEntry {
    metric: String,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    reason: String,
}

/// One budget line as measured.
#[derive(Debug)]
pub(super) struct Check<'a> {
    pub(super) metric: &'a str,
    pub(super) value: f64,
    /// The limit as printed (`<= 2`, `>= 0.5`, or `-` for none).
    pub(super) bound: String,
    pub(super) ok: bool,
    pub(super) reason: &'a str,
}

pub(super) fn load(root: &Path) -> Result<Vec<BudgetEntry>> {
    Ok(serde_yaml::from_str(&std::fs::read_to_string(
        root.join("xtask/perf-budget.yaml"),
    )?)?)
}

/// The figures the budget limits. Mostly ratios of two measurements from the same run, so a
/// slower machine moves numerator and denominator together.
pub(super) fn derived_metrics(r: &Report) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert(
        "cold_start_ratio".into(),
        r.first_request_ms / r.http_p50_ms,
    );
    m.insert("startup_to_ready_s".into(), r.startup_to_ready_s);
    m.insert("overhead_ratio_p50".into(), r.overhead_ratio);
    m.insert("non_model_ms_p50".into(), r.non_model_ms);
    m.insert(
        "efficiency_c32".into(),
        r.throughput[&32] / r.bare_batched_per_s,
    );
    m.insert(
        "errors_up_to_c64".into(),
        r.errors.values().sum::<u64>() as f64,
    );
    m.insert(
        "batch_endpoint_speedup".into(),
        r.singles_100_ms / r.batch_endpoint_ms,
    );
    m.insert(
        "rss_growth_after_10k".into(),
        (r.rss_after_10k_kb as f64 - r.rss_after_warmup_kb as f64)
            / r.rss_after_warmup_kb.max(1) as f64,
    );
    m.insert(
        "rss_worst_case_mb".into(),
        r.rss_worst_case_kb as f64 / 1024.0,
    );
    m.insert(
        "realtime_under_bulk_p99_ratio".into(),
        r.realtime_under_bulk_p99_ms / r.http_p99_ms,
    );
    m.insert(
        "realtime_under_bulk_not_full".into(),
        (r.realtime_under_bulk_degraded + r.realtime_under_bulk_refused) as f64,
    );
    let goodput_ratio = |factor: usize| r.goodput_ratio.get(&factor).copied().unwrap_or(f64::NAN);
    m.insert("goodput_4x_ratio".into(), goodput_ratio(4));
    m.insert("goodput_16x_ratio".into(), goodput_ratio(16));
    m.insert(
        "config_cache_ratio".into(),
        r.config_uncached_ns / r.config_cached_ns,
    );
    m.insert(
        "history_20_ratio_p50".into(),
        r.history_p50_ms / r.no_history_p50_ms,
    );
    m
}

/// Every budget line against `metrics`, in budget order; a figure that was not measured is NaN
/// and so fails its limit.
pub(super) fn check<'a>(
    budget: &'a [BudgetEntry],
    metrics: &BTreeMap<String, f64>,
) -> Vec<Check<'a>> {
    budget
        .iter()
        .map(|b| {
            let value = metrics.get(&b.metric).copied().unwrap_or(f64::NAN);
            let (ok, bound) = match (b.max, b.min) {
                (Some(max), _) => (value <= max, format!("<= {max}")),
                (_, Some(min)) => (value >= min, format!(">= {min}")),
                _ => (true, "-".into()),
            };
            Check {
                metric: &b.metric,
                value,
                bound,
                ok,
                reason: &b.reason,
            }
        })
        .collect()
}

/// Fails the task when any line is over its limit, naming them.
pub(super) fn verdict(checks: &[Check<'_>]) -> Result<()> {
    let broken: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.metric).collect();
    if broken.is_empty() {
        Ok(())
    } else {
        bail!("performance budget broken: {}", broken.join(", "))
    }
}
