//! `cargo xtask integration`: the end-to-end suites against the real binary.
//!
//! 1. The scenario suite (`crates/ash-server/tests/http.rs`): each scenario starts its own server
//!    (default model, temporary configuration) on a free port — errors, auth, degraded start,
//!    overload, reload, shutdown.
//! 2. A live server on the shipped configuration: the project's labelled sample over HTTP must
//!    give exactly the levels the in-process pipeline gives and meet the accuracy floors; the
//!    counters must add up; SIGTERM must stop it cleanly.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use ash_analysis::eval::{categories, read_dataset};

use crate::server::{agent, start_server};

struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
    seconds: f64,
}

fn step(steps: &mut Vec<Step>, name: &'static str, f: impl FnOnce() -> Result<String>) {
    let started = Instant::now();
    let (ok, detail) = match f() {
        Ok(detail) => (true, detail),
        Err(e) => (false, format!("{e:#}")),
    };
    eprintln!("integration: {name}: {}", if ok { "ok" } else { "FAILED" });
    steps.push(Step {
        name,
        ok,
        detail,
        seconds: started.elapsed().as_secs_f64(),
    });
}

/// The whole task.
pub(crate) fn run(root: &Path) -> Result<()> {
    crate::setup::run(root, false)?;
    let target = crate::target_dir(root)?;
    let binary = target.join("debug/ash-nlp");
    let mut steps = Vec::new();
    step(&mut steps, "build ash-nlp", || {
        let status = Command::new(crate::cargo())
            .current_dir(root)
            .args(["build", "--quiet", "-p", "ash-server", "--bin", "ash-nlp"])
            .status()?;
        if !status.success() {
            bail!("build failed");
        }
        Ok(binary.display().to_string())
    });
    step(
        &mut steps,
        "scenario suite (one server per scenario)",
        || {
            let output = Command::new(crate::cargo())
                .current_dir(root)
                .args([
                    "test",
                    "--quiet",
                    "-p",
                    "ash-server",
                    "--test",
                    "http",
                    "--test",
                    "openapi",
                ])
                .output()?;
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            let summary: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("test result:"))
                .collect();
            if !output.status.success() {
                let failures: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("FAILED") || l.contains("panicked"))
                    .collect();
                bail!("{}\n{}", summary.join("\n"), failures.join("\n"));
            }
            Ok(summary.join("; "))
        },
    );
    step(
        &mut steps,
        "live server: sample over HTTP equals in-process",
        || {
            let data = target.join(format!("integration-data-{}", std::process::id()));
            std::fs::create_dir_all(&data)?;
            let (mut server, ready) =
                start_server(&binary, root, &data, &[("GLOBAL_LOG_LEVEL", "warn")])?;
            let phrases = read_dataset(&root.join("tests/data/phrases"))?;
            let over_http = crate::eval::run_against(&server.base, &phrases)?;
            let in_process = crate::eval::run_in_process(root, &root.join("config"), &phrases)?;
            let mut mismatches = Vec::new();
            for (a, b) in over_http.iter().zip(&in_process) {
                if a.level != b.level || a.degraded {
                    mismatches.push(format!(
                        "{:?}: http {} vs in-process {}",
                        a.phrase.message, a.level, b.level
                    ));
                }
            }
            if !mismatches.is_empty() {
                bail!(
                    "{} phrases differ:\n{}",
                    mismatches.len(),
                    mismatches.join("\n")
                );
            }
            let floors = [
                ("high", 0.85),
                ("none", 0.9),
                ("medium", 0.75),
                ("low", 0.75),
            ];
            let report = categories(&over_http);
            for (category, floor) in floors {
                if let Some(c) = report.iter().find(|c| c.category == category)
                    && c.accuracy < floor
                {
                    bail!(
                        "{category}: {:.1}% below the {:.0}% floor",
                        c.accuracy * 100.0,
                        floor * 100.0
                    );
                }
            }
            let mut stats = agent().get(&format!("{}/stats", server.base)).call()?;
            let stats: serde_json::Value = stats.body_mut().read_json()?;
            if stats["successful_analyses"].as_u64() != Some(phrases.len() as u64)
                || stats["failed_analyses"] != 0
            {
                bail!("counters do not add up: {stats}");
            }
            let status = server.terminate()?;
            let _ = std::fs::remove_dir_all(&data);
            if !status.success() {
                bail!("SIGTERM exit status {status}");
            }
            Ok(format!(
                "{} phrases identical; ready in {ready:.2} s; clean shutdown",
                phrases.len()
            ))
        },
    );

    println!("\n{:<48} {:>6} {:>8}  detail", "step", "result", "seconds");
    for s in &steps {
        println!(
            "{:<48} {:>6} {:>8.1}  {}",
            s.name,
            if s.ok { "ok" } else { "FAILED" },
            s.seconds,
            s.detail.lines().next().unwrap_or("")
        );
    }
    let failed: Vec<&Step> = steps.iter().filter(|s| !s.ok).collect();
    for s in &failed {
        println!("\n--- {} ---\n{}", s.name, s.detail);
    }
    if failed.is_empty() {
        println!("{} passed, 0 failed", steps.len());
        Ok(())
    } else {
        bail!(
            "{} of {} integration steps failed",
            failed.len(),
            steps.len()
        )
    }
}
