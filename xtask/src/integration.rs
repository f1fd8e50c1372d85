//! `cargo xtask integration`: the end-to-end suites against the real binary.
//!
//! 1. The scenario suite (`crates/ash-server/tests/http.rs`): each scenario starts its own server
//!    (default model, temporary configuration) on a free port — errors, auth, degraded start,
//!    overload, reload, shutdown.
//! 2. A live server on the shipped configuration: the project's labelled sample over HTTP must
//!    give exactly the levels the in-process pipeline gives and meet the accuracy floors; the
//!    counters must add up; SIGTERM must stop it cleanly.
//! 3. Shutdown under open connections: with 300 idle keep-alive connections (a third of them
//!    having served a request), SIGTERM must end the process well inside the grace period; the
//!    time is reported.

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
    step(&mut steps, "shutdown with 300 idle connections", || {
        shutdown_with_idle_connections(&binary, root, &target)
    });

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

/// Opens 300 connections (every third serves one request first, so both never-used and
/// kept-alive connections are idle), sends SIGTERM and measures the exit.
fn shutdown_with_idle_connections(binary: &Path, root: &Path, target: &Path) -> Result<String> {
    use std::io::{Read, Write};
    const CONNECTIONS: usize = 300;
    /// Well inside the 10 s grace period, far above the tens of milliseconds it takes.
    const LIMIT_S: f64 = 3.0;
    let data = target.join(format!("integration-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let (mut server, _) = start_server(binary, root, &data, &[("GLOBAL_LOG_LEVEL", "warn")])?;
    let address = server.base.trim_start_matches("http://").to_owned();
    let body = r#"{"message":"hello"}"#;
    let request = format!(
        "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut open = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut stream = std::net::TcpStream::connect(&address)?;
        if i % 3 == 0 {
            stream.write_all(request.as_bytes())?;
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf)?;
            if !buf[..n].starts_with(b"HTTP/1.1 200") {
                bail!("a request before the shutdown failed");
            }
        }
        open.push(stream);
    }
    let started = Instant::now();
    let status = server.terminate()?;
    let seconds = started.elapsed().as_secs_f64();
    drop(open);
    let _ = std::fs::remove_dir_all(&data);
    if !status.success() {
        bail!("SIGTERM exit status {status}");
    }
    if seconds > LIMIT_S {
        bail!("exited {seconds:.2} s after SIGTERM (limit {LIMIT_S} s)");
    }
    Ok(format!(
        "{CONNECTIONS} idle connections: exited {:.0} ms after SIGTERM",
        seconds * 1000.0
    ))
}
