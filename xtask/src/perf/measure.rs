//! The running service, measured over HTTP: start-up, sequential latency (interleaved with the
//! bare model), memory, throughput under concurrency, the batch endpoint and the cost of history.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::baseline::{BareModel, run_bare};
use super::{MESSAGES, Plan, Report, long_text, spinner};
use crate::server::{Server, agent, start_server};

/// Starts the release binary and takes every service figure. The bare model is dropped after
/// the sequential comparison so it does not compete with the load tests. Returns the service's
/// data folder, removed by the caller once the reports are written.
pub(super) fn service(
    root: &Path,
    target: &Path,
    out_dir: &Path,
    plan: Plan,
    mut bare: BareModel,
    r: &mut Report,
) -> Result<PathBuf> {
    let bar = spinner("start-up to ready, and the first request (five starts)");
    let data = tempfile_dir(out_dir)?;
    let launcher = Launcher {
        binary: target.join("release/ash-nlp"),
        root,
        data: data.clone(),
    };
    let agent = agent();
    // A process has one first request: one sample is at the mercy of whatever else the machine
    // did in that millisecond, so the figures are medians over five starts (the last start
    // stays up for the rest).
    let mut ready = Vec::new();
    let mut first = Vec::new();
    let mut cold_start = || -> Result<Server> {
        let (server, ready_s) = launcher.start(&[])?;
        // The connection is opened first, as the warm requests' is: what is compared is the
        // first analysis, not the first TCP handshake. The body is read to its end, or the
        // agent could not keep the connection for the next request.
        agent
            .get(&format!("{}/health", server.base))
            .call()?
            .body_mut()
            .read_to_vec()?;
        let t = Instant::now();
        if !analyze(&agent, &server.base, MESSAGES[1])? {
            bail!("the first request failed");
        }
        first.push(t.elapsed().as_secs_f64() * 1000.0);
        ready.push(ready_s);
        Ok(server)
    };
    for _ in 0..4 {
        let mut server = cold_start()?;
        server.terminate()?;
    }
    let mut server = cold_start()?;
    r.startup_to_ready_s = median(&mut ready);
    r.first_request_ms = median(&mut first);
    // The same message warm, reported beside the first request (the budget compares the first
    // with the steady p50 of the mix). The mean, not the median: on a shared 2-core machine warm
    // latencies of one message fall into two modes (about 4.4 and 6 ms, in runs), and a median
    // flips between them with the proportions.
    let mut warm = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        if !analyze(&agent, &server.base, MESSAGES[1])? {
            bail!("a warm request failed");
        }
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    r.warm_same_message_ms = warm.iter().sum::<f64>() / warm.len() as f64;
    let pid = server.child.id();
    bar.set_message(format!(
        "sequential latency ({} requests, interleaved with bare runs)",
        plan.sequential
    ));
    sequential_latency(&agent, &server.base, &mut bare, plan.sequential, r)?;
    drop(bare);
    r.rss_after_warmup_kb = rss_kb(pid, "VmRSS:");

    let rss_requests = plan.rss_requests;
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

    let load_s = plan.load_s;
    for c in [1usize, 8, 32, 64] {
        bar.set_message(format!("throughput at concurrency {c} ({load_s} s)"));
        let (rps, _, errors) = load(&server.base, c, Duration::from_secs(load_s), u64::MAX);
        r.throughput.insert(c, rps);
        r.errors.insert(c, errors);
    }

    bar.set_message("/analyze/batch of 100 vs 100 single requests");
    (r.batch_endpoint_ms, r.singles_100_ms) = batch_vs_singles(&agent, &server.base)?;

    bar.set_message("/analyze with 20 history items vs without");
    (r.history_p50_ms, r.no_history_p50_ms) =
        history_latency(&agent, &server.base, plan.sequential / 2)?;

    bar.set_message("single messages while 4 clients send batches of 100 long messages");
    super::pressure::realtime_under_bulk(&server.base, Duration::from_secs(load_s * 3), r)?;

    bar.set_message("the largest legal inputs (batches of 100 x 10,000 characters, 32 at once)");
    worst_case_memory(&server.base)?;
    r.rss_worst_case_kb = settled_rss_kb(pid);

    r.rss_peak_kb = rss_kb(pid, "VmHWM:");
    server.terminate()?;

    bar.set_message(format!(
        "goodput at 1x, 4x and 16x a concurrency limit of {}",
        super::pressure::GOODPUT_LIMIT
    ));
    super::pressure::goodput(&launcher, Duration::from_secs(load_s.max(2)), r)?;

    bar.set_message("throughput for each split of the cores into sessions x threads");
    super::scaling::table(&launcher, Duration::from_secs(load_s), r)?;
    bar.finish_and_clear();
    Ok(data)
}

/// How the steps start the release binary: logs at `warn`, the concurrency limit out of the way
/// unless a step sets its own, and the step's settings.
pub(super) struct Launcher<'a> {
    binary: PathBuf,
    root: &'a Path,
    data: PathBuf,
}

impl Launcher<'_> {
    /// A server with `env` on top of the defaults above, once `/ready`; and the seconds that took.
    pub(super) fn start(&self, env: &[(&str, &str)]) -> Result<(Server, f64)> {
        let mut all = vec![("GLOBAL_LOG_LEVEL", "warn")];
        if !env
            .iter()
            .any(|(k, _)| *k == "NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS")
        {
            all.push(("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1024"));
        }
        all.extend_from_slice(env);
        start_server(&self.binary, self.root, &self.data, &all)
    }
}

/// Sequential latency over HTTP and of the bare model, and the overhead between them.
///
/// Blocks of bare runs and HTTP requests over the same messages alternate, so both sides of the
/// overhead ratio see the same machine conditions (a noisy neighbour hits both), while each
/// block keeps its own model's weights warm in the caches.
fn sequential_latency(
    agent: &ureq::Agent,
    base: &str,
    bare: &mut BareModel,
    n: usize,
    r: &mut Report,
) -> Result<()> {
    const BLOCK: usize = 24;
    let ids = &bare.ids;
    let mut lat = Vec::with_capacity(n);
    let mut bare_ms = Vec::with_capacity(n);
    let mut server_ms = Vec::with_capacity(n);
    let mut block_ratio = Vec::new();
    let mut block_gap = Vec::new();
    let mut i = 0;
    while i < n {
        let (bare_start, http_start) = (bare_ms.len(), lat.len());
        for k in i..(i + BLOCK).min(n) {
            let t = Instant::now();
            run_bare(&mut bare.session, &[&ids[k % ids.len()]])?;
            bare_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        for k in i..(i + BLOCK).min(n) {
            let t = Instant::now();
            let body = serde_json::json!({"message": MESSAGES[k % MESSAGES.len()], "user_id": "perf", "channel_id": "perf"}).to_string();
            let (_, bytes) = post_json(agent, &format!("{base}/analyze"), &body)?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let value: serde_json::Value = serde_json::from_slice(&bytes)?;
            server_ms.push(
                value["processing_time_ms"]
                    .as_f64()
                    .context("a sequential request failed")?,
            );
        }
        let mut b: Vec<f64> = bare_ms[bare_start..].to_vec();
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
    bare_ms.sort_by(f64::total_cmp);
    server_ms.sort_by(f64::total_cmp);
    r.bare_p50_ms = percentile(&bare_ms, 50.0);
    r.server_p50_ms = percentile(&server_ms, 50.0);
    r.latencies_ms = lat.clone();
    lat.sort_by(f64::total_cmp);
    r.http_p50_ms = percentile(&lat, 50.0);
    r.http_p95_ms = percentile(&lat, 95.0);
    r.http_p99_ms = percentile(&lat, 99.0);
    Ok(())
}

/// The largest inputs the service accepts: two batches of 100 messages of 10,000 characters (the
/// most sequences in the bulk lane) and, meanwhile, 32 single messages of 10,000 characters at
/// once (each read in windows: the largest real-time runs).
/// Text varies per message so nothing is shared between them.
fn worst_case_memory(base: &str) -> Result<()> {
    let long = |seed: usize| long_text(seed, 10_000);
    let batch = |offset: usize| {
        let messages: Vec<String> = (0..100).map(|i| long(offset + i)).collect();
        serde_json::json!({ "messages": messages }).to_string()
    };
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        // One after the other: together they would outlast the request deadline, and with one
        // session per model they run one piece at a time anyway.
        handles.push(scope.spawn(move || -> Result<u16> {
            for b in 0..2 {
                let (status, _) =
                    post_json(&agent(), &format!("{base}/analyze/batch"), &batch(b * 100))?;
                if status != 200 {
                    return Ok(status);
                }
            }
            Ok(200)
        }));
        for i in 0..32 {
            let body = serde_json::json!({ "message": long(1_000 + i) }).to_string();
            handles.push(scope.spawn(move || -> Result<u16> {
                Ok(post_json(&agent(), &format!("{base}/analyze"), &body)?.0)
            }));
        }
        for h in handles {
            let status = h
                .join()
                .map_err(|_| anyhow::anyhow!("a request thread panicked"))??;
            if status != 200 {
                bail!("a worst-case request was answered {status}");
            }
        }
        Ok(())
    })
}

/// Best of three: one `/analyze/batch` of 100 messages (ms), and 100 sequential `/analyze` (ms).
fn batch_vs_singles(agent: &ureq::Agent, base: &str) -> Result<(f64, f64)> {
    let messages: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"message": MESSAGES[i % MESSAGES.len()]}))
        .collect();
    let batch_body = serde_json::json!({ "messages": messages }).to_string();
    let mut best_batch = f64::MAX;
    let mut best_singles = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (status, _) = post_json(agent, &format!("{base}/analyze/batch"), &batch_body)?;
        if status != 200 {
            bail!("/analyze/batch failed with {status}");
        }
        best_batch = best_batch.min(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        for i in 0..100 {
            analyze(agent, base, MESSAGES[i % MESSAGES.len()])?;
        }
        best_singles = best_singles.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((best_batch, best_singles))
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
            let (status, _) = post_json(agent, &format!("{base}/analyze"), &body.to_string())?;
            if status != 200 {
                bail!("/analyze with history failed with {status}");
            }
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    Ok((percentile(&with, 50.0), percentile(&without, 50.0)))
}

/// The middle value (the upper one of an even count); sorts `values`.
pub(super) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Requests per second at `concurrency`, for `duration` (and at most `max_requests`): the rate,
/// the count, and how many failed.
pub(super) fn load(
    base: &str,
    concurrency: usize,
    duration: Duration,
    max_requests: u64,
) -> (f64, u64, u64) {
    let run = closed_loop(
        base,
        concurrency,
        Window {
            settle: Duration::ZERO,
            measure: duration,
        },
        max_requests,
        |agent, base, message| matches!(analyze(agent, base, message), Ok(true)),
    );
    (run.rate(), run.total, run.failed)
}

/// The time a closed-loop run counts: answers that arrive in the first `settle` (connections
/// opening, the first queue filling) or after `measure` (the queue draining as clients stop) are
/// not the steady state the rate is meant to describe.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub settle: Duration,
    pub measure: Duration,
}

/// What a closed-loop run did.
pub(super) struct ClosedLoop {
    /// Every answer, in or out of the window.
    pub total: u64,
    /// Answers `check` refused, in or out of the window.
    pub failed: u64,
    /// Answers `check` accepted that arrived inside the window.
    pub passed_in_window: u64,
    /// Every answer that arrived inside the window.
    pub answered_in_window: u64,
    /// How long the window lasted (shorter than `measure` when `max_requests` ended the run).
    pub seconds: f64,
}

impl ClosedLoop {
    /// Answers per second inside the window.
    pub(super) fn rate(&self) -> f64 {
        self.answered_in_window as f64 / self.seconds
    }

    /// Accepted answers per second inside the window.
    pub(super) fn passed_rate(&self) -> f64 {
        self.passed_in_window as f64 / self.seconds
    }
}

/// `clients` threads sending the message mix one request after another until the window ends
/// (and at most `max_requests` in all), each answer judged by `check`.
pub(super) fn closed_loop(
    base: &str,
    clients: usize,
    window: Window,
    max_requests: u64,
    check: fn(&ureq::Agent, &str, &str) -> bool,
) -> ClosedLoop {
    let end = window.settle + window.measure;
    #[derive(Default)]
    struct Counts {
        total: AtomicU64,
        failed: AtomicU64,
        answered_in_window: AtomicU64,
        passed_in_window: AtomicU64,
    }
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (counts, base) = (Arc::clone(&counts), base.to_owned());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = t;
                while started.elapsed() < end && counts.total.load(Ordering::Relaxed) < max_requests
                {
                    let accepted = check(&agent, &base, MESSAGES[i % MESSAGES.len()]);
                    let at = started.elapsed();
                    counts.total.fetch_add(1, Ordering::Relaxed);
                    if !accepted {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if at >= window.settle && at < end {
                        counts.answered_in_window.fetch_add(1, Ordering::Relaxed);
                        if accepted {
                            counts.passed_in_window.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += clients;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let closed = started.elapsed().min(end);
    let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
    ClosedLoop {
        total: read(&counts.total),
        failed: read(&counts.failed),
        passed_in_window: read(&counts.passed_in_window),
        answered_in_window: read(&counts.answered_in_window),
        seconds: closed.saturating_sub(window.settle).as_secs_f64(),
    }
}

/// One `/analyze` request; whether it was answered 200.
fn analyze(agent: &ureq::Agent, base: &str, message: &str) -> Result<bool> {
    let body = serde_json::json!({"message": message, "user_id": "perf", "channel_id": "perf"});
    Ok(post_json(agent, &format!("{base}/analyze"), &body.to_string())?.0 == 200)
}

/// POSTs a JSON body and reads the whole answer: its status and body.
pub(super) fn post_json(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u16, Vec<u8>)> {
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)?;
    let bytes = response.body_mut().read_to_vec()?;
    Ok((response.status().as_u16(), bytes))
}

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A memory field (`VmRSS:`, `VmHWM:`) of `/proc/<pid>/status`, in KiB; 0 where unreadable.
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

/// RSS once the load is over: the lowest of readings every 100 ms for 3 s. A request answered
/// at its deadline can leave a bulk piece still running, and glibc returns freed blocks of busy
/// threads late, so a single reading counts whatever transient memory is in use at that instant
/// (single readings ranged 242–585 MiB over runs here); what the process keeps is what stays.
fn settled_rss_kb(pid: u32) -> u64 {
    (0..30)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            rss_kb(pid, "VmRSS:")
        })
        .min()
        .unwrap_or(0)
}

/// The service's own data folder, beside the reports, so parallel runs do not share one.
fn tempfile_dir(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("data-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
