//! The service under pressure: single messages while bulk clients send long batches, and goodput
//! when far more clients than the concurrency limit ask at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::measure::{Launcher, Window, closed_loop, median, post_json};
use super::{MESSAGES, Report};
use crate::server::agent;

/// How one `/analyze` came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// 200 with the models' analysis.
    Full,
    /// 200, but degraded (patterns and floors only).
    Degraded,
    /// Anything else (503, 429, a broken connection).
    Refused,
}

fn analyze(agent: &ureq::Agent, base: &str, message: &str) -> Outcome {
    let body = serde_json::json!({ "message": message }).to_string();
    match post_json(agent, &format!("{base}/analyze"), &body) {
        Ok((200, bytes)) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if v["is_degraded"] == false => Outcome::Full,
            Ok(_) => Outcome::Degraded,
            Err(_) => Outcome::Refused,
        },
        _ => Outcome::Refused,
    }
}

/// Bulk clients sending batches of this many messages of about this many characters each.
const BULK_CLIENTS: usize = 4;
const BULK_BATCH: usize = 100;
const BULK_CHARS: usize = 2_000;

/// Single `/analyze` requests, one after another for `duration`, while [`BULK_CLIENTS`] clients
/// send batches of long messages without pause: the probe's p99, and how many probes came back
/// degraded or refused.
pub(super) fn realtime_under_bulk(base: &str, duration: Duration, r: &mut Report) -> Result<()> {
    let long = super::long_text(8, BULK_CHARS);
    let batch = serde_json::json!({
        "messages": (0..BULK_BATCH).map(|i| format!("{i} {long}")).collect::<Vec<_>>()
    })
    .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let bulk: Vec<_> = (0..BULK_CLIENTS)
        .map(|_| {
            let (stop, batches, base, batch) = (
                Arc::clone(&stop),
                Arc::clone(&batches),
                base.to_owned(),
                batch.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                while !stop.load(Ordering::Relaxed) {
                    // Refused or timed-out batches are part of the load, not a failure here.
                    let _ = post_json(&agent, &format!("{base}/analyze/batch"), &batch);
                    batches.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Let the bulk lane fill before probing.
    std::thread::sleep(Duration::from_millis(500));
    let probe = agent();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < duration {
        let t = Instant::now();
        let outcome = analyze(&probe, base, MESSAGES[7 - i % 2]);
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        match outcome {
            Outcome::Full => {}
            Outcome::Degraded => r.realtime_under_bulk_degraded += 1,
            Outcome::Refused => r.realtime_under_bulk_refused += 1,
        }
        i += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in bulk {
        let _ = t.join();
    }
    latencies.sort_by(f64::total_cmp);
    r.realtime_under_bulk_p99_ms = super::measure::percentile(&latencies, 99.0);
    r.realtime_under_bulk_probes = latencies.len() as u64;
    r.bulk_batches_during_probe = batches.load(Ordering::Relaxed);
    Ok(())
}

/// The concurrency limit the goodput test runs under (small, so that 16 times it is reachable
/// from one load generator on the same machine).
pub(super) const GOODPUT_LIMIT: usize = 8;

/// Full analyses per second with 1×, 4× and 16× [`GOODPUT_LIMIT`] clients asking without pause,
/// on a server started with that limit. Beyond the limit a single message gets a fast degraded
/// answer; goodput counts only the full ones.
pub(super) fn goodput(launcher: &Launcher<'_>, duration: Duration, r: &mut Report) -> Result<()> {
    let limit = GOODPUT_LIMIT.to_string();
    let (mut server, _) =
        launcher.start(&[("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", limit.as_str())])?;
    // A shared machine's speed drifts within a minute, so the levels run in rounds, each round
    // in a rotated order, and each ratio is taken within a round (between runs seconds apart)
    // before the median over rounds; a ratio of figures taken far apart would measure the drift.
    const ROUNDS: usize = 7;
    const FACTORS: [usize; 3] = [1, 4, 16];
    let window = Window {
        settle: Duration::from_millis(500),
        measure: duration,
    };
    let mut rates: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut ratios: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut not_full: BTreeMap<usize, u64> = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut this_round = BTreeMap::new();
        for k in 0..FACTORS.len() {
            let factor = FACTORS[(round + k) % FACTORS.len()];
            let run = closed_loop(
                &server.base,
                GOODPUT_LIMIT * factor,
                window,
                u64::MAX,
                |agent, base, message| analyze(agent, base, message) == Outcome::Full,
            );
            this_round.insert(factor, run.passed_rate());
            *not_full.entry(factor).or_default() += run.failed;
        }
        for (&factor, &rate) in &this_round {
            rates.entry(factor).or_default().push(rate);
            ratios
                .entry(factor)
                .or_default()
                .push(rate / this_round[&1]);
        }
    }
    let medians = |m: BTreeMap<usize, Vec<f64>>| {
        m.into_iter()
            .map(|(factor, mut v)| (factor, median(&mut v)))
            .collect()
    };
    r.goodput_not_full = not_full;
    r.goodput_per_s = medians(rates);
    r.goodput_ratio = medians(ratios);
    server.terminate()?;
    Ok(())
}
