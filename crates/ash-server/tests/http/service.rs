//! The service's life: health and metrics, degraded and refused starts, overload, shutdown.

use std::time::Duration;

use serde_json::json;

use crate::PILLS;
use crate::common::{self, Options, Server};

#[test]
fn health_ready_stats_metrics_and_openapi() {
    let server = Server::start();
    server.post("/analyze", &json!({"message": PILLS}));
    server.post("/analyze", &json!({"user_id": "1"}));
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "healthy");
    assert_eq!(health.json["models"]["state"], "ready");
    assert!(
        health.json["models"]["models"][0]["warmup_runs"]
            .as_u64()
            .is_some_and(|n| n >= 3)
    );
    assert_eq!(health.json["config"]["generation"], 1);
    assert_eq!(server.get("/ready").status, 200);
    let stats = server.get("/stats").json;
    assert_eq!(stats["model_loaded"], true);
    assert_eq!(stats["total_requests"], 2);
    assert_eq!(stats["successful_analyses"], 1);
    assert_eq!(stats["failed_analyses"], 1);
    assert!(stats["uptime_seconds"].is_f64());
    assert!(stats["model_version"].is_string());
    let metrics = server.get("/metrics");
    assert!(
        metrics
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    for name in [
        "ash_http_requests_total",
        "ash_http_request_duration_seconds_bucket",
        "ash_decisions_total",
        "ash_model_batch_size",
        "ash_model_queue_depth",
        "ash_inference_duration_seconds",
    ] {
        assert!(
            metrics.text.contains(name),
            "{name} missing from /metrics:\n{}",
            metrics.text
        );
    }
    let openapi = server.get("/openapi.json").json;
    assert!(openapi["paths"]["/analyze"]["post"].is_object());
    assert!(openapi["paths"]["/analyze_false_negative"]["post"].is_object());
}

#[test]
fn a_degraded_start_answers_from_patterns_and_says_so() {
    let empty = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        Options::default()
            .env("NLP_MODEL_CACHE_DIR", empty.path().to_str().expect("utf8"))
            .env("NLP_SERVER_ALLOW_DEGRADED_START", "true"),
    );
    let health = server.get("/health").json;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["models"]["runtime_error"]
            .as_str()
            .is_some_and(|e| e.contains("cargo xtask setup"))
    );
    let reply = server.post("/analyze", &json!({"message": PILLS}));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["is_degraded"], true);
    assert!(
        reply.json["method"]
            .as_str()
            .is_some_and(|m| m.starts_with("patterns_only"))
    );
    assert_eq!(reply.json["crisis_level"], "high");
    assert!(server.log().contains("STARTED DEGRADED"));
    let metrics = server.get("/metrics").text;
    assert!(metrics.contains("ash_degraded_answers_total"), "{metrics}");
}

#[test]
fn a_model_that_cannot_load_stops_the_service_unless_degraded_start_is_allowed() {
    let empty = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_with(
        Options::default()
            .env("NLP_MODEL_CACHE_DIR", empty.path().to_str().expect("utf8"))
            .no_wait(),
    );
    let status = server.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{}", server.log());
    assert!(
        server.log().contains("refusing to start"),
        "{}",
        server.log()
    );
}

#[test]
fn overloaded_batches_get_503_with_retry_after_and_never_hang() {
    // Single messages are answered degraded instead (tests/overload.rs); batches are refused.
    let server =
        Server::start_with(Options::default().env("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1"));
    let url = server.url("/analyze/batch");
    let handles: Vec<_> = (0..24)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let agent = common::agent();
                let body = json!({"messages": [format!("long day at work, number {i}, feeling kind of tired and stressed about everything going on")]});
                let reply: common::Reply = agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(body.to_string())
                    .expect("request")
                    .into();
                reply
            })
        })
        .collect();
    let replies: Vec<common::Reply> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    let answered: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        refused.len() + answered.len(),
        replies.len(),
        "only 200 or 503"
    );
    assert!(
        !refused.is_empty(),
        "more concurrent requests than the limit must see 503s"
    );
    assert!(!answered.is_empty());
    for r in refused {
        assert_eq!(r.json["error"]["code"], "overloaded");
        assert_eq!(r.retry_after.as_deref(), Some("1"));
    }
    for r in answered {
        assert!(
            matches!(
                r.json["results"][0]["crisis_level"].as_str(),
                Some("none" | "low" | "medium")
            ),
            "{}",
            r.text
        );
    }
    assert_eq!(server.get("/health").json["status"], "healthy");
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let mut server = Server::start();
    assert_eq!(
        server.post("/analyze", &json!({"message": "hi"})).status,
        200
    );
    let status = server.terminate();
    assert!(status.success(), "{status}: {}", server.log());
    assert!(server.log().contains("stopped"));
}

#[test]
fn health_answers_starting_before_models_are_ready() {
    let mut server = Server::start_with(Options::default().no_wait());
    // Poll until the port answers; the first answers come while models load.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(r) = server.agent.get(&server.url("/health")).call() {
            let reply: common::Reply = r.into();
            let status = reply.json["status"].as_str().unwrap_or_default().to_owned();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "healthy" {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(seen.last().map(String::as_str), Some("healthy"), "{seen:?}");
    assert!(
        seen.iter().all(|s| s == "starting" || s == "healthy"),
        "{seen:?}"
    );
    server.wait_ready();
}

#[test]
fn a_risk_head_trained_with_other_patterns_runs_and_says_so() {
    const WARNING: &str = "trained with other patterns";
    let shipped = std::fs::read_to_string(common::repo_root().join("config/patterns.yaml"))
        .expect("patterns.yaml");
    let edited = shipped.replacen("    weight: 0.9\n", "    weight: 0.91\n", 1);
    assert_ne!(edited, shipped, "the edit must change the patterns");
    let server = Server::start_with(Options::default().file("patterns.yaml", &edited));
    assert_eq!(
        server.post("/analyze", &json!({"message": PILLS})).status,
        200
    );
    assert!(server.log().contains(WARNING), "{}", server.log());
    assert!(!Server::start().log().contains(WARNING));
}
