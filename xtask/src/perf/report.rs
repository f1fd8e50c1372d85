//! The results: a summary on stdout, and `report.json`, `report.md`, `latency.svg` and
//! `throughput.svg` in the output folder.

use std::path::Path;

use anyhow::Result;

use super::Report;
use super::budget::Check;
use crate::svg;

/// The budget table, then the headline figures.
pub(super) fn print_summary(checks: &[Check<'_>], r: &Report) {
    println!("\n{:<24} {:>12} {:>12}  ok", "figure", "value", "budget");
    for c in checks {
        println!(
            "{:<24} {:>12.3} {:>12}  {}",
            c.metric,
            c.value,
            c.bound,
            if c.ok { "yes" } else { "NO" }
        );
    }
    println!(
        "\nHTTP latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; in the handler p50 {:.2} ms; bare session.run p50 {:.2} ms; first request {:.2} ms (same message warm {:.2} ms)",
        r.http_p50_ms,
        r.http_p95_ms,
        r.http_p99_ms,
        r.server_p50_ms,
        r.bare_p50_ms,
        r.first_request_ms,
        r.warm_same_message_ms
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
        "RSS: after warmup {} MiB, after {} sequential requests {} MiB, after the largest legal inputs {} MiB, peak {} MiB; /analyze/batch(100) {:.1} ms vs 100 singles {:.1} ms",
        r.rss_after_warmup_kb / 1024,
        r.requests_for_rss,
        r.rss_after_10k_kb / 1024,
        r.rss_worst_case_kb / 1024,
        r.rss_peak_kb / 1024,
        r.batch_endpoint_ms,
        r.singles_100_ms
    );
    println!(
        "under bulk load ({} batches of 100 long messages sent): single /analyze p99 {:.1} ms (idle p99 {:.1} ms) over {} probes, {} degraded, {} refused; goodput (full analyses/s) at 1x/4x/16x the limit: {}; answers not full: {}",
        r.bulk_batches_during_probe,
        r.realtime_under_bulk_p99_ms,
        r.http_p99_ms,
        r.realtime_under_bulk_probes,
        r.realtime_under_bulk_degraded,
        r.realtime_under_bulk_refused,
        r.goodput_per_s
            .values()
            .map(|g| format!("{g:.0}"))
            .collect::<Vec<_>>()
            .join(" / "),
        r.goodput_not_full
            .values()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" / "),
    );
    println!(
        "scaling at 64 clients (sessions x threads: req/s): {}",
        r.scaling
            .iter()
            .map(|row| format!(
                "{}x{}: {:.0}{}",
                row.sessions,
                row.threads,
                row.requests_per_s,
                if row.errors > 0 {
                    format!(" ({} errors)", row.errors)
                } else {
                    String::new()
                }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Writes the JSON, Markdown and SVG reports into `out_dir`.
pub(super) fn write_files(out_dir: &Path, checks: &[Check<'_>], r: &Report) -> Result<()> {
    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(r)?,
    )?;
    std::fs::write(out_dir.join("report.md"), markdown(checks, r))?;
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
    Ok(())
}

fn markdown(checks: &[Check<'_>], r: &Report) -> String {
    let mut table = String::from("| figure | value | budget | ok | why |\n|---|---|---|---|---|\n");
    for c in checks {
        table.push_str(&format!(
            "| {} | {:.3} | {} | {} | {} |\n",
            c.metric,
            c.value,
            c.bound,
            if c.ok { "yes" } else { "**no**" },
            c.reason
        ));
    }
    format!(
        "# perf-validate{}\n\nMachine: {} cores. HTTP p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; bare session.run p50 {:.2} ms.\n\n{table}\n\
         Throughput (requests/s): {}. Bare batched (32): {:.0} messages/s.\n\nRSS after warmup {} KiB, after {} requests {} KiB, peak {} KiB.\n",
        if r.quick { " (quick)" } else { "" },
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
    )
}
