//! `cargo xtask perf-validate`: measures the release service against the committed budget
//! (`xtask/perf-budget.yaml`) and writes JSON, Markdown and SVG reports under `perf/` in
//! cargo's target directory (`target/perf/` by default).
//!
//! All figures come from one run on one machine, and the budget is expressed as ratios where it
//! can be, so a noisy shared machine moves both sides of each comparison together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ash_config::{ConfigLoader, Environment, LabelsConfig};
use ash_models::runtime;
use indicatif::{ProgressBar, ProgressStyle};
use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};

use crate::server::{agent, start_server};
use crate::svg;

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

#[derive(Debug, Deserialize)]
struct BudgetEntry {
    metric: String,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    reason: String,
}

/// Everything measured.
#[derive(Debug, Default, Serialize)]
struct Report {
    date_unix: u64,
    quick: bool,
    machine_cores: usize,
    startup_to_ready_s: f64,
    first_request_ms: f64,
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
    config_cached_ns: f64,
    config_uncached_ns: f64,
    /// p50 of `/analyze` with 20 history items, and without, measured alternately.
    history_p50_ms: f64,
    no_history_p50_ms: f64,
    latencies_ms: Vec<f64>,
    metrics: BTreeMap<String, f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

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

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn analyze(agent: &ureq::Agent, base: &str, message: &str) -> Result<bool> {
    let body = serde_json::json!({"message": message, "user_id": "perf", "channel_id": "perf"})
        .to_string();
    let mut response = agent
        .post(&format!("{base}/analyze"))
        .header("content-type", "application/json")
        .send(body)?;
    let ok = response.status() == 200;
    let _ = response.body_mut().read_to_vec()?;
    Ok(ok)
}

/// Requests per second at `concurrency`, for `duration` (and at most `max_requests`).
fn load(base: &str, concurrency: usize, duration: Duration, max_requests: u64) -> (f64, u64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|t| {
            let (done, errors, base) = (Arc::clone(&done), Arc::clone(&errors), base.to_owned());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = t;
                while started.elapsed() < duration && done.load(Ordering::Relaxed) < max_requests {
                    match analyze(&agent, &base, MESSAGES[i % MESSAGES.len()]) {
                        Ok(true) => {}
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += concurrency;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let n = done.load(Ordering::Relaxed);
    (
        n as f64 / started.elapsed().as_secs_f64(),
        n,
        errors.load(Ordering::Relaxed),
    )
}

fn bare_session(root: &Path) -> Result<(Session, Vec<Vec<i64>>)> {
    let env = Environment::from_pairs([(
        "NLP_MODEL_CACHE_DIR",
        crate::setup::cache_dir(root).display().to_string(),
    )]);
    let config = ConfigLoader::new(root.join("config"), env)?.load()?;
    runtime::init(&config.models.runtime).map_err(|e| anyhow::anyhow!("{e}"))?;
    let definition = config
        .models
        .models
        .values()
        .next()
        .context("no model configured")?;
    // The same session options as the service's.
    let session = ash_models::onnx::session_builder(
        runtime::environment().context("runtime")?,
        // One session's threads, as each of the service's sessions has.
        config.models.runtime.pool(ash_models::available_cores()).1,
    )
    .and_then(|mut b| b.commit_from_file(config.models.resolve(&definition.path)))
    .map_err(|e| anyhow::anyhow!("bare session: {e}"))?;
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(config.models.resolve(&definition.tokenizer))
            .map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
    tokenizer.with_padding(None);
    let ids = MESSAGES
        .iter()
        .map(|m| {
            tokenizer
                .encode(*m, true)
                .map(|e| e.get_ids().iter().map(|&i| i64::from(i)).collect())
                .map_err(|e| anyhow::anyhow!("encode: {e}"))
        })
        .collect::<Result<Vec<Vec<i64>>>>()?;
    Ok((session, ids))
}

fn run_bare(session: &mut Session, rows: &[&Vec<i64>]) -> Result<()> {
    let batch = rows.len();
    let len = rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let mut ids = vec![0i64; batch * len];
    let mut mask = vec![0i64; batch * len];
    for (r, row) in rows.iter().enumerate() {
        ids[r * len..r * len + row.len()].copy_from_slice(row);
        mask[r * len..r * len + row.len()]
            .iter_mut()
            .for_each(|m| *m = 1);
    }
    let feeds = ort::inputs![
        "input_ids" => Tensor::from_array(([batch, len], ids))?,
        "attention_mask" => Tensor::from_array(([batch, len], mask))?,
        "token_type_ids" => Tensor::from_array(([batch, len], vec![0i64; batch * len]))?,
    ];
    let outputs = session.run(feeds)?;
    let _ = outputs["last_hidden_state"].try_extract_tensor::<f32>()?;
    Ok(())
}

fn config_cache_ratio(root: &Path) -> Result<(f64, f64)> {
    let dir = root.join("config");
    let env = Environment::default();
    let loader = ConfigLoader::new(&dir, env.clone())?;
    let n_cached = 200_000;
    let t = Instant::now();
    for _ in 0..n_cached {
        std::hint::black_box(loader.section::<LabelsConfig>()?);
    }
    let cached = t.elapsed().as_nanos() as f64 / f64::from(n_cached);
    let n_uncached = 300;
    let t = Instant::now();
    for _ in 0..n_uncached {
        std::hint::black_box(ConfigLoader::load_uncached::<LabelsConfig>(&dir, &env)?);
    }
    let uncached = t.elapsed().as_nanos() as f64 / f64::from(n_uncached);
    Ok((cached, uncached))
}

/// The whole task.
pub(crate) fn run(root: &Path, quick: bool) -> Result<()> {
    let target = crate::target_dir(root)?;
    let out_dir = target.join("perf");
    std::fs::create_dir_all(&out_dir)?;
    crate::setup::run(root, false)?;
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
    let (seq_n, load_s, rss_requests) = if quick {
        (480usize, 3u64, 10_000u64)
    } else {
        (2_400, 10, 10_000)
    };
    let mut r = Report {
        date_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        quick,
        machine_cores: std::thread::available_parallelism().map_or(1, usize::from),
        ..Report::default()
    };

    let bar = spinner("bare session.run (same model, same options)");
    let (mut session, ids) = bare_session(root)?;
    for row in &ids {
        run_bare(&mut session, &[row])?;
    }
    let t = Instant::now();
    let mut batched = 0usize;
    while t.elapsed() < Duration::from_secs(load_s) {
        let rows: Vec<&Vec<i64>> = (0..32).map(|k| &ids[(batched + k) % ids.len()]).collect();
        run_bare(&mut session, &rows)?;
        batched += 32;
    }
    r.bare_batched_per_s = batched as f64 / t.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let bar = spinner("configuration cache");
    let (cached, uncached) = config_cache_ratio(root)?;
    r.config_cached_ns = cached;
    r.config_uncached_ns = uncached;
    bar.finish_and_clear();

    let bar = spinner("start-up to ready");
    let data = tempfile_dir(&out_dir)?;
    let (server, ready_s) = start_server(
        &target.join("release/ash-nlp"),
        root,
        &data,
        &[
            ("GLOBAL_LOG_LEVEL", "warn"),
            ("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1024"),
        ],
    )?;
    r.startup_to_ready_s = ready_s;
    let pid = server.child.id();
    let agent = agent();
    let t = Instant::now();
    if !analyze(&agent, &server.base, MESSAGES[1])? {
        bail!("the first request failed");
    }
    r.first_request_ms = t.elapsed().as_secs_f64() * 1000.0;
    bar.set_message(format!(
        "sequential latency ({seq_n} requests, interleaved with bare runs)"
    ));
    // Blocks of bare runs and HTTP requests over the same messages alternate, so both sides of
    // the overhead ratio see the same machine conditions (a noisy neighbour hits both), while
    // each block keeps its own model's weights warm in the caches.
    const BLOCK: usize = 24;
    let mut lat = Vec::with_capacity(seq_n);
    let mut bare = Vec::with_capacity(seq_n);
    let mut server_ms = Vec::with_capacity(seq_n);
    let mut block_ratio = Vec::new();
    let mut block_gap = Vec::new();
    let mut i = 0;
    while i < seq_n {
        let (bare_start, http_start) = (bare.len(), lat.len());
        for k in i..(i + BLOCK).min(seq_n) {
            let t = Instant::now();
            run_bare(&mut session, &[&ids[k % ids.len()]])?;
            bare.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        for k in i..(i + BLOCK).min(seq_n) {
            let t = Instant::now();
            let body = serde_json::json!({"message": MESSAGES[k % MESSAGES.len()], "user_id": "perf", "channel_id": "perf"}).to_string();
            let mut response = agent
                .post(&format!("{}/analyze", server.base))
                .header("content-type", "application/json")
                .send(body)?;
            let bytes = response.body_mut().read_to_vec()?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let value: serde_json::Value = serde_json::from_slice(&bytes)?;
            server_ms.push(
                value["processing_time_ms"]
                    .as_f64()
                    .context("a sequential request failed")?,
            );
        }
        let mut b: Vec<f64> = bare[bare_start..].to_vec();
        let mut h: Vec<f64> = lat[http_start..].to_vec();
        b.sort_by(f64::total_cmp);
        h.sort_by(f64::total_cmp);
        block_ratio.push(percentile(&h, 50.0) / percentile(&b, 50.0));
        block_gap.push(percentile(&h, 50.0) - percentile(&b, 50.0));
        i += BLOCK;
    }
    // The median over blocks: a burst of noise that hits a few blocks does not move it.
    block_ratio.sort_by(f64::total_cmp);
    block_gap.sort_by(f64::total_cmp);
    r.overhead_ratio = percentile(&block_ratio, 50.0);
    r.non_model_ms = percentile(&block_gap, 50.0).max(0.0);
    drop(session);
    bare.sort_by(f64::total_cmp);
    server_ms.sort_by(f64::total_cmp);
    r.bare_p50_ms = percentile(&bare, 50.0);
    r.server_p50_ms = percentile(&server_ms, 50.0);
    r.latencies_ms = lat.clone();
    lat.sort_by(f64::total_cmp);
    r.http_p50_ms = percentile(&lat, 50.0);
    r.http_p95_ms = percentile(&lat, 95.0);
    r.http_p99_ms = percentile(&lat, 99.0);
    r.rss_after_warmup_kb = rss_kb(pid, "VmRSS:");

    bar.set_message(format!(
        "{rss_requests} sequential requests for the memory check"
    ));
    for i in 0..rss_requests {
        if !analyze(&agent, &server.base, MESSAGES[i as usize % MESSAGES.len()])? {
            bail!("request {i} of the memory check failed");
        }
    }
    r.requests_for_rss = rss_requests;
    r.rss_after_10k_kb = rss_kb(pid, "VmRSS:");

    for c in [1usize, 8, 32, 64] {
        bar.set_message(format!("throughput at concurrency {c} ({load_s} s)"));
        let (rps, _, errors) = load(&server.base, c, Duration::from_secs(load_s), u64::MAX);
        r.throughput.insert(c, rps);
        r.errors.insert(c, errors);
    }

    bar.set_message("/analyze/batch of 100 vs 100 single requests");
    let messages: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"message": MESSAGES[i % MESSAGES.len()]}))
        .collect();
    let batch_body = serde_json::json!({ "messages": messages }).to_string();
    let mut best_batch = f64::MAX;
    let mut best_singles = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut resp = agent
            .post(&format!("{}/analyze/batch", server.base))
            .header("content-type", "application/json")
            .send(batch_body.as_str())?;
        let _ = resp.body_mut().read_to_vec()?;
        if resp.status() != 200 {
            bail!("/analyze/batch failed with {}", resp.status());
        }
        best_batch = best_batch.min(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        for i in 0..100 {
            analyze(&agent, &server.base, MESSAGES[i % MESSAGES.len()])?;
        }
        best_singles = best_singles.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    r.batch_endpoint_ms = best_batch;
    r.singles_100_ms = best_singles;

    bar.set_message("/analyze with 20 history items vs without");
    (r.history_p50_ms, r.no_history_p50_ms) = history_latency(&agent, &server.base, seq_n / 2)?;

    r.rss_peak_kb = rss_kb(pid, "VmHWM:");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    drop(server);
    bar.finish_and_clear();

    let m = &mut r.metrics;
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
        "config_cache_ratio".into(),
        r.config_uncached_ns / r.config_cached_ns,
    );
    m.insert(
        "history_20_ratio_p50".into(),
        r.history_p50_ms / r.no_history_p50_ms,
    );

    let budget: Vec<BudgetEntry> = serde_yaml::from_str(&std::fs::read_to_string(
        root.join("xtask/perf-budget.yaml"),
    )?)?;
    let mut broken = Vec::new();
    let mut table = String::from("| figure | value | budget | ok | why |\n|---|---|---|---|---|\n");
    println!("\n{:<24} {:>12} {:>12}  ok", "figure", "value", "budget");
    for b in &budget {
        let value = r.metrics.get(&b.metric).copied().unwrap_or(f64::NAN);
        let (ok, bound) = match (b.max, b.min) {
            (Some(max), _) => (value <= max, format!("<= {max}")),
            (_, Some(min)) => (value >= min, format!(">= {min}")),
            _ => (true, "-".into()),
        };
        if !ok {
            broken.push(b.metric.clone());
        }
        println!(
            "{:<24} {:>12.3} {:>12}  {}",
            b.metric,
            value,
            bound,
            if ok { "yes" } else { "NO" }
        );
        table.push_str(&format!(
            "| {} | {value:.3} | {bound} | {} | {} |\n",
            b.metric,
            if ok { "yes" } else { "**no**" },
            b.reason
        ));
    }
    println!(
        "\nHTTP latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; in the handler p50 {:.2} ms; bare session.run p50 {:.2} ms; first request {:.2} ms",
        r.http_p50_ms,
        r.http_p95_ms,
        r.http_p99_ms,
        r.server_p50_ms,
        r.bare_p50_ms,
        r.first_request_ms
    );
    println!(
        "throughput (req/s): {}; bare batched {:.0} msg/s",
        r.throughput
            .iter()
            .map(|(c, t)| format!("c{c} {t:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.bare_batched_per_s
    );
    println!(
        "RSS: after warmup {} MiB, after {} sequential requests {} MiB, peak (after the load tests) {} MiB; /analyze/batch(100) {:.1} ms vs 100 singles {:.1} ms",
        r.rss_after_warmup_kb / 1024,
        r.requests_for_rss,
        r.rss_after_10k_kb / 1024,
        r.rss_peak_kb / 1024,
        r.batch_endpoint_ms,
        r.singles_100_ms
    );

    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&r)?,
    )?;
    let md = format!(
        "# perf-validate{}\n\nMachine: {} cores. HTTP p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; bare session.run p50 {:.2} ms.\n\n{table}\n\
         Throughput (requests/s): {}. Bare batched (32): {:.0} messages/s.\n\nRSS after warmup {} KiB, after {} requests {} KiB, peak {} KiB.\n",
        if quick { " (quick)" } else { "" },
        r.machine_cores,
        r.http_p50_ms,
        r.http_p95_ms,
        r.http_p99_ms,
        r.bare_p50_ms,
        r.throughput
            .iter()
            .map(|(c, t)| format!("concurrency {c}: {t:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.bare_batched_per_s,
        r.rss_after_warmup_kb,
        r.requests_for_rss,
        r.rss_after_10k_kb,
        r.rss_peak_kb
    );
    std::fs::write(out_dir.join("report.md"), md)?;
    std::fs::write(
        out_dir.join("latency.svg"),
        svg::histogram("Sequential /analyze latency (ms)", &r.latencies_ms, 30),
    )?;
    let points: Vec<(f64, f64)> = r.throughput.iter().map(|(c, t)| (*c as f64, *t)).collect();
    std::fs::write(
        out_dir.join("throughput.svg"),
        svg::line_chart(
            "Throughput vs concurrency (requests/s)",
            &points,
            Some(("bare batched", r.bare_batched_per_s)),
        ),
    )?;
    eprintln!("perf-validate: reports in {}", out_dir.display());
    let _ = std::fs::remove_dir_all(&data);
    if broken.is_empty() {
        Ok(())
    } else {
        bail!("performance budget broken: {}", broken.join(", "))
    }
}

/// p50 latency of `/analyze` with the largest history the bot sends (20 items, half of them
/// scored) and without, alternating request by request so both see the same machine.
fn history_latency(agent: &ureq::Agent, base: &str, pairs: usize) -> Result<(f64, f64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let history: Vec<serde_json::Value> = (0..20u64)
        .map(|i| {
            let at = jiff::Timestamp::from_second((now - 600 * (i + 1)) as i64)
                .map(|t| t.to_string())
                .unwrap_or_default();
            let mut item = serde_json::json!({"message": MESSAGES[i as usize % MESSAGES.len()], "timestamp": at});
            if i % 2 == 0 {
                item["crisis_score"] = serde_json::json!(0.1 + 0.02 * i as f64);
            }
            item
        })
        .collect();
    let (mut with, mut without) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for k in 0..pairs.max(20) {
        let message = MESSAGES[k % MESSAGES.len()];
        for (history, into) in [(Some(&history), &mut with), (None, &mut without)] {
            let mut body = serde_json::json!({"message": message, "user_id": "perf"});
            if let Some(h) = history {
                body["message_history"] = serde_json::json!(h);
            }
            let t = Instant::now();
            let mut response = agent
                .post(&format!("{base}/analyze"))
                .header("content-type", "application/json")
                .send(body.to_string())?;
            let _ = response.body_mut().read_to_vec()?;
            if response.status() != 200 {
                bail!("/analyze with history failed with {}", response.status());
            }
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    Ok((percentile(&with, 50.0), percentile(&without, 50.0)))
}

fn tempfile_dir(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("data-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
