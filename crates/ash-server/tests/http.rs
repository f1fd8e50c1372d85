//! End-to-end over HTTP: the real binary, the real default model, a real port.

mod common;

use std::time::Duration;

use common::{API_KEY, Options, Server};
use serde_json::json;

const PILLS: &str = "I'm going to take all these pills tonight, this is goodbye";

#[test]
fn ash_bot_payload_gets_every_field_it_reads() {
    let server = Server::start();
    let reply = server.post(
        "/analyze",
        &json!({"message": PILLS, "user_id": "123456789012345678", "channel_id": 987654321}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let r = &reply.json;
    assert!(r["needs_response"].is_boolean());
    assert_eq!(
        r["crisis_level"], "high",
        "critical reaches Ash-Bot as high"
    );
    assert!(matches!(r["severity"].as_str(), Some("critical" | "high")));
    assert_eq!(r["needs_response"], true);
    assert!(
        r["confidence_score"]
            .as_f64()
            .is_some_and(|c| (0.0..=1.0).contains(&c))
    );
    assert!(r["detected_categories"].is_array());
    assert!(r["method"].is_string());
    assert!(r["processing_time_ms"].is_f64());
    assert!(r["model_info"].is_string());
    assert!(r["reasoning"].is_string());
    let complete = &r["analysis"]["complete_analysis"];
    assert_eq!(complete["requires_staff_review"], true);
    for role in ["depression", "sentiment", "emotional_distress"] {
        assert!(
            complete["ai_model_details"]["individual_results"][role]["score"].is_f64(),
            "{role}: {complete}"
        );
    }
    for key in [
        "crisis_score",
        "ensemble_score",
        "pattern_score",
        "gaps_detected",
    ] {
        assert!(!complete[key].is_null(), "{key}");
    }
    assert_eq!(r["crisis_detected"], true);
    assert_eq!(r["requires_intervention"], true);
    assert!(r["recommended_action"].is_string());
    assert!(r["signals"].is_object());
    assert_eq!(r["is_degraded"], false);
    assert_eq!(r["request_id"].as_str(), reply.request_id.as_deref());
    // Nothing of the message or the ids comes back.
    for secret in ["pills tonight", "123456789012345678", "987654321"] {
        assert!(!reply.text.contains(secret), "response echoes {secret}");
    }
    // A benign message is calm; unknown fields are ignored.
    let calm = server.post(
        "/analyze",
        &json!({"message": "anyone up for pizza later?", "extra_field": [1, 2]}),
    );
    assert_eq!(calm.status, 200);
    assert_eq!(calm.json["crisis_level"], "none");
    assert_eq!(calm.json["needs_response"], false);
    // The explanation is there when asked for.
    let explained = server.post(
        "/analyze",
        &json!({"message": PILLS, "include_explanation": true}),
    );
    assert!(
        explained.json["explanation"]["rules"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    // The log has lengths and hashes, never the text.
    let log = server.log();
    assert!(
        !log.contains("pills tonight") && !log.contains("pizza"),
        "message text in the log:\n{log}"
    );
    assert!(log.contains("message_chars"), "{log}");
}

#[test]
fn every_input_error_has_a_clear_code_status_and_field() {
    let server = Server::start_with(Options::default().file(
        "server.yaml",
        "max_body_bytes: 4096\nmax_message_chars: 500\n",
    ));
    let check = |reply: common::Reply, status: u16, code: &str, field: Option<&str>| {
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(reply.json["error"]["code"], code, "{}", reply.text);
        assert!(reply.json["error"]["message"].is_string());
        match field {
            Some(f) => assert_eq!(reply.json["error"]["field"], f, "{}", reply.text),
            None => assert!(reply.json["error"].get("field").is_none(), "{}", reply.text),
        }
    };
    // Nothing to analyse is an answer, not an error (clients count errors toward a breaker).
    for blank in ["", " \n\t "] {
        let reply = server.post("/analyze", &json!({"message": blank}));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["analyzed"], false);
        assert_eq!(reply.json["severity"], "safe");
        assert_eq!(reply.json["crisis_level"], "none");
        assert_eq!(reply.json["needs_response"], false);
    }
    check(
        server.post("/analyze", &json!({"user_id": "1"})),
        422,
        "missing_field",
        Some("message"),
    );
    check(
        server.post("/analyze", &json!({"message": 42})),
        422,
        "invalid_field",
        Some("message"),
    );
    check(
        server.post("/analyze", &json!({"message": "x".repeat(501)})),
        422,
        "message_too_long",
        Some("message"),
    );
    check(
        server.post_raw("/analyze", "application/json", "{\"message\": ", &[]),
        400,
        "invalid_json",
        None,
    );
    check(
        server.post_raw("/analyze", "application/json", "[1,2]", &[]),
        422,
        "invalid_field",
        Some("(body)"),
    );
    check(
        server.post_raw("/analyze", "text/plain", "{\"message\":\"hi\"}", &[]),
        415,
        "unsupported_media_type",
        None,
    );
    check(
        server.post("/analyze", &json!({"message": "y".repeat(5000)})),
        413,
        "body_too_large",
        None,
    );
    check(server.get("/no/such/route"), 404, "not_found", None);
    check(server.get("/analyze"), 405, "method_not_allowed", None);
    // Multi-byte characters count as characters, not bytes.
    assert_eq!(
        server
            .post("/analyze", &json!({"message": "é".repeat(500)}))
            .status,
        200
    );
    // Batch rules.
    check(
        server.post("/analyze/batch", &json!({"messages": []})),
        422,
        "invalid_batch_size",
        Some("messages"),
    );
    let many: Vec<_> = (0..101)
        .map(|i| json!({"message": format!("m{i}")}))
        .collect();
    check(
        server.post("/analyze/batch", &json!({"messages": many})),
        422,
        "invalid_batch_size",
        Some("messages"),
    );
    let blank_in_batch = server.post(
        "/analyze/batch",
        &json!({"messages": [{"message": "ok"}, {"message": "  "}]}),
    );
    assert_eq!(blank_in_batch.status, 200, "{}", blank_in_batch.text);
    assert_eq!(blank_in_batch.json["results"][1]["analyzed"], false);
    assert_eq!(blank_in_batch.json["results"][0]["analyzed"], true);
    check(
        server.post(
            "/analyze/batch",
            &json!({"messages": [{"message": "ok"}, {"user_id": 1}]}),
        ),
        422,
        "missing_field",
        Some("messages[1].message"),
    );
    // Every error was answered, none crashed the server.
    assert_eq!(server.get("/health").json["status"], "healthy");
}

#[test]
fn batch_answers_in_order_through_the_model_batcher() {
    let server = Server::start();
    let messages = [
        "hello friends, happy friday!",
        PILLS,
        "I feel a bit down today",
        "I want to kill myself",
    ];
    let reply = server.post(
        "/analyze/batch",
        &json!({"messages": messages.iter().map(|m| json!({"message": m, "user_id": "1"})).collect::<Vec<_>>()}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["count"], 4);
    let results = reply.json["results"].as_array().expect("results");
    assert_eq!(results[0]["crisis_level"], "none");
    assert_eq!(results[1]["crisis_level"], "high");
    assert_eq!(results[3]["crisis_level"], "high");
    // Each batch result equals the single answer for the same message.
    for (i, m) in messages.iter().enumerate() {
        let single = server.post("/analyze", &json!({"message": m}));
        assert_eq!(single.json["severity"], results[i]["severity"], "{m}");
        let (a, b) = (
            single.json["analysis"]["complete_analysis"]["crisis_score"]
                .as_f64()
                .unwrap_or(-1.0),
            results[i]["analysis"]["complete_analysis"]["crisis_score"]
                .as_f64()
                .unwrap_or(-2.0),
        );
        assert!((a - b).abs() < 1e-3, "{m}: {a} vs {b}");
    }
}

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
fn feedback_needs_a_key_or_an_allowed_address_and_is_stored() {
    let server = Server::start();
    let body = json!({"message": "I'm fine, just tired", "detected_level": "high", "correct_level": "none", "context": {}, "severity_score": 0.2});
    let anonymous = server.post("/analyze_false_positive", &body);
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let wrong = server.post_with(
        "/analyze_false_positive",
        &body,
        &[("x-api-key", "wrong-key-wrong-key")],
    );
    assert_eq!(wrong.status, 401);
    let ok = server.post_with("/analyze_false_positive", &body, &[("x-api-key", API_KEY)]);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.json["patterns_discovered"], 1,
        "stored with its embedding: {}",
        ok.text
    );
    assert_eq!(
        ok.json["confidence_adjustments"], 1,
        "the first correction moves the calibration"
    );
    let bad = server.post_with(
        "/analyze_false_negative",
        &json!({"message": "x", "should_detect_level": "urgent", "actually_detected": "none"}),
        &[("authorization", &format!("Bearer {API_KEY}"))],
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json["error"]["field"], "should_detect_level");
    let listed = server.get_with("/admin/corrections", &[("x-api-key", API_KEY)]);
    assert_eq!(listed.json["count"], 1);
    assert!(
        listed.json["corrections"][0].get("message").is_none(),
        "text is not retained by default"
    );
    let stored = std::fs::read(server.data_dir().join("corrections.redb")).expect("store file");
    assert!(
        !String::from_utf8_lossy(&stored).contains("just tired"),
        "text is not on disk either"
    );

    // Ash-Bot v3.1 sends no key: an allowed address is enough.
    let allowed = Server::start_with(
        Options::default()
            .without_env("NLP_SECURITY_API_KEY")
            .env("GLOBAL_ALLOWED_IPS", "10.0.0.0/8,127.0.0.1"),
    );
    let fneg = allowed.post(
        "/analyze_false_negative",
        &json!({"message": "everything is too much", "should_detect_level": "medium", "actually_detected": "low"}),
    );
    assert_eq!(fneg.status, 200, "{}", fneg.text);
    assert_eq!(allowed.get("/stats").json["feedback_received"], 1);
}

#[test]
fn admin_is_protected_and_switches_label_sets_and_reloads_config() {
    let server = Server::start();
    let key = [("x-api-key", API_KEY)];
    assert_eq!(server.get("/admin/label-sets").status, 401);
    assert_eq!(
        server
            .get_with("/admin/label-sets", &[("x-api-key", "not-the-key-at-all")])
            .status,
        401
    );
    let sets = server.get_with("/admin/label-sets", &key);
    assert_eq!(sets.status, 200);
    assert_eq!(sets.json["active"], "enhanced_crisis");
    let switched = server.post_with(
        "/admin/label-sets/switch",
        &json!({"label_set": "safety_first"}),
        &key,
    );
    assert_eq!(switched.status, 200, "{}", switched.text);
    let after = server.post("/analyze", &json!({"message": "hello"}));
    assert_eq!(
        after.json["analysis"]["complete_analysis"]["label_set"],
        "safety_first"
    );
    let unknown = server.post_with(
        "/admin/label-sets/switch",
        &json!({"label_set": "nope"}),
        &key,
    );
    assert_eq!(unknown.status, 404);

    let config = server.get_with("/admin/config", &key);
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json["config"]["server"]["security"]["api_key"],
        "<redacted>"
    );
    assert!(!config.text.contains(API_KEY));
    assert_eq!(
        server.get_with("/admin/config/cache", &key).json["enabled"],
        true
    );

    // A valid edit, reloaded on demand, changes what runs.
    common::write_config(&server.config_dir(), "features.yaml", "patterns: false\n");
    let reload = server.post_with("/admin/config/reload", &json!({}), &key);
    assert_eq!(reload.status, 200, "{}", reload.text);
    let no_patterns = server.post("/analyze", &json!({"message": PILLS}));
    assert_eq!(no_patterns.json["method"], "ensemble_weighted");
    // An invalid edit is refused and the last good configuration stays live.
    common::write_config(
        &server.config_dir(),
        "features.yaml",
        "patterns: sometimes\n",
    );
    let refused = server.post_with("/admin/config/reload", &json!({}), &key);
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("features.yaml"))
    );
    assert_eq!(
        server.post("/analyze", &json!({"message": PILLS})).json["method"],
        "ensemble_weighted"
    );
    let health = server.get("/health").json;
    assert!(health["config"]["last_error"].is_string());
}

#[test]
fn admin_is_refused_when_no_key_is_configured() {
    let server = Server::start_with(Options::default().without_env("NLP_SECURITY_API_KEY"));
    let reply = server.get_with("/admin/config", &[("x-api-key", "anything-at-all-here")]);
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json["error"]["code"], "forbidden");
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
