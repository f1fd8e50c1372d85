//! `cargo xtask perf-validate`: measures the release service against the committed budget
//! (`xtask/perf-budget.yaml`) and writes JSON, Markdown and SVG reports under `perf/` in
//! cargo's target directory (`target/perf/` by default).
//!
//! All figures come from one run on one machine, and the budget is expressed as ratios where it
//! can be, so a noisy shared machine moves both sides of each comparison together.
//!
//! The steps live in submodules: `baseline` (the model and configuration alone, in process),
//! `measure` (the running service over HTTP), `pressure` (bulk load and overload), `scaling`
//! (sessions × threads), `budget` (derived figures and their limits) and `report` (terminal
//! summary and files).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

mod baseline;
mod budget;
mod measure;
mod pressure;
mod report;
mod scaling;

/// The fixed message mix: chat-length messages and a few long ones.
const MESSAGES: &[&str] = &[
    "hey everyone, how's your day going?",
    "I can't stop thinking about how pointless everything feels lately",
    "lol that boss fight destroyed me",
    "my parents found out and now they won't talk to me",
    "anyone want to play something tonight?",
    "I'm so tired of pretending I'm okay",
    "just finished my exams!! so relieved",
    "I don't think I can do this anymore",
    "I have been feeling really low for weeks and honestly it is hard to explain, every day I wake up tired and nothing I used to enjoy feels good anymore, my friends keep asking if I am okay and I just say I am fine because I do not want to be a burden to anyone",
    "so today at work my manager called me into a meeting and told me that the project I had been working on for three months was cancelled, and I don't even know what to feel, part of me is relieved but mostly I just feel like all that effort was for nothing and I'm exhausted",
    "I keep having panic attacks at night and I can't breathe, it's been like this for a month now and I'm scared it's never going to stop",
    "does anyone have recommendations for a good sci-fi book? I just finished the last one in the series and I need something new to read before my trip next week",
];

/// Everything measured.
#[derive(Debug, Default, Serialize)]
struct Report {
    date_unix: u64,
    quick: bool,
    machine_cores: usize,
    startup_to_ready_s: f64,
    first_request_ms: f64,
    /// Mean of the same message once warm (reported beside the first request).
    warm_same_message_ms: f64,
    http_p50_ms: f64,
    http_p95_ms: f64,
    http_p99_ms: f64,
    bare_p50_ms: f64,
    /// `processing_time_ms` the service reports (inside the handler).
    server_p50_ms: f64,
    /// Median over blocks of (HTTP p50 / bare p50) and (HTTP p50 − bare p50).
    overhead_ratio: f64,
    non_model_ms: f64,
    bare_batched_per_s: f64,
    throughput: BTreeMap<usize, f64>,
    errors: BTreeMap<usize, u64>,
    batch_endpoint_ms: f64,
    singles_100_ms: f64,
    rss_after_warmup_kb: u64,
    rss_after_10k_kb: u64,
    rss_peak_kb: u64,
    requests_for_rss: u64,
    /// RSS after the largest legal inputs (see `measure::worst_case_memory`).
    rss_worst_case_kb: u64,
    /// Single `/analyze` while bulk clients send long batches (`pressure::realtime_under_bulk`).
    realtime_under_bulk_p99_ms: f64,
    realtime_under_bulk_probes: u64,
    realtime_under_bulk_degraded: u64,
    realtime_under_bulk_refused: u64,
    bulk_batches_during_probe: u64,
    /// Full (not degraded) analyses per second at 1×, 4× and 16× the concurrency limit, each
    /// level's goodput as a share of the 1× goodput of the same round, and the answers that were
    /// not full ones (`pressure::goodput`; medians over rounds).
    goodput_per_s: BTreeMap<usize, f64>,
    goodput_ratio: BTreeMap<usize, f64>,
    goodput_not_full: BTreeMap<usize, u64>,
    /// Throughput for each split of the cores into sessions × threads (`scaling`).
    scaling: Vec<scaling::ScalingRow>,
    config_cached_ns: f64,
    config_uncached_ns: f64,
    /// p50 of `/analyze` with 20 history items, and without, measured alternately.
    history_p50_ms: f64,
    no_history_p50_ms: f64,
    latencies_ms: Vec<f64>,
    metrics: BTreeMap<String, f64>,
}

/// How much each measurement does; `--quick` shortens the timed runs for CI.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Sequential `/analyze` requests (and as many bare runs) for the latency figures.
    sequential: usize,
    /// Seconds of each timed load (bare batched, and each concurrency level).
    load_s: u64,
    /// Sequential requests between the two memory readings.
    rss_requests: u64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let (sequential, load_s, rss_requests) = if quick {
            (480usize, 3u64, 10_000u64)
        } else {
            (2_400, 10, 10_000)
        };
        Self {
            sequential,
            load_s,
            rss_requests,
        }
    }
}

/// The whole task.
pub(crate) fn run(root: &Path, quick: bool) -> Result<()> {
    let target = crate::target_dir(root)?;
    let out_dir = target.join("perf");
    std::fs::create_dir_all(&out_dir)?;
    crate::setup::run(root, false)?;
    build_release(root)?;
    let plan = Plan::new(quick);
    let mut r = Report {
        date_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        quick,
        machine_cores: std::thread::available_parallelism().map_or(1, usize::from),
        ..Report::default()
    };

    let bare = baseline::bare_model(root, plan.load_s, &mut r)?;
    baseline::config_cache(root, &mut r)?;
    let data = measure::service(root, &target, &out_dir, plan, bare, &mut r)?;

    r.metrics = budget::derived_metrics(&r);
    let limits = budget::load(root)?;
    let checks = budget::check(&limits, &r.metrics);
    report::print_summary(&checks, &r);
    report::write_files(&out_dir, &checks, &r)?;
    eprintln!("perf-validate: reports in {}", out_dir.display());
    let _ = std::fs::remove_dir_all(&data);
    budget::verdict(&checks)
}

/// Builds the binary under test: figures from a debug build would say nothing about production.
fn build_release(root: &Path) -> Result<()> {
    let bar = spinner("building the release binary");
    let status = Command::new(crate::cargo())
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "ash-server",
            "--bin",
            "ash-nlp",
        ])
        .status()?;
    bar.finish_and_clear();
    if !status.success() {
        bail!("release build failed");
    }
    Ok(())
}

/// `chars` characters of the message mix, from message `seed` on in steps of seven (every message
/// comes round: the mix has twelve), so texts of different seeds differ.
fn long_text(seed: usize, chars: usize) -> String {
    (0..)
        .map(|k| MESSAGES[(seed + 7 * k) % MESSAGES.len()])
        .flat_map(|m| m.chars().chain(std::iter::once(' ')))
        .take(chars)
        .collect()
}

/// A spinner on stderr, so stdout carries only the results.
fn spinner(msg: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(msg.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_texts_have_the_length_asked_and_differ_by_seed() {
        let a = super::long_text(0, 10_000);
        assert_eq!(a.chars().count(), 10_000);
        assert_ne!(a, super::long_text(1, 10_000));
        assert_eq!(super::long_text(8, 40), super::long_text(8, 2_000)[..40]);
    }
}
