//! Analysis over HTTP: the bot's payload, input errors, batches.

use serde_json::json;

use crate::PILLS;
use crate::common::{self, Options, Server};

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
