//! The contracts of today's clients, against the real binary: Ash-Bot v5 (top-level fields, its
//! re-grading of `crisis_score`, message history, empty messages, error logging) and Ash-Thrash v5
//! (`/status`, its response validator, plain-string batches). The v3.1 bot's contract is in
//! `http.rs`.

mod common;

use common::{Options, Server, repo_root};
use serde_json::{Value, json};

/// Ash-Bot's own grading of a score (its fixed bands).
fn bot_grade(score: f64) -> &'static str {
    match score {
        s if s >= 0.85 => "critical",
        s if s >= 0.55 => "high",
        s if s >= 0.28 => "medium",
        s if s >= 0.16 => "low",
        _ => "safe",
    }
}

/// Ash-Thrash's accepted `recommended_action` values.
const THRASH_ACTIONS: &[&str] = &[
    "none",
    "passive_monitoring",
    "standard_monitoring",
    "monitor",
    "check_in",
    "priority_response",
    "immediate_outreach",
];

/// Every message of the project's labelled sample (`tests/data/phrases`).
fn sample_messages() -> Vec<String> {
    let dir = repo_root().join("tests/data/phrases");
    let mut messages = Vec::new();
    for entry in std::fs::read_dir(dir).expect("sample dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("sample file");
        let file: Value = serde_json::from_str(&text).expect("sample json");
        for items in file["category"]["subcategories"]
            .as_object()
            .expect("subcategories")
            .values()
        {
            for item in items.as_array().expect("items") {
                messages.push(item["message"].as_str().expect("message").to_owned());
            }
        }
    }
    messages.sort();
    messages
}

/// What Ash-Bot v5 and Ash-Thrash read from one answer, checked the way they check it.
fn check_v5_fields(r: &Value) {
    for key in [
        "crisis_detected",
        "requires_intervention",
        "is_degraded",
        "analyzed",
    ] {
        assert!(r[key].is_boolean(), "{key}: {r}");
    }
    for key in ["confidence", "crisis_score", "processing_time_ms"] {
        let x = r[key].as_f64().unwrap_or(-1.0);
        assert!(
            (0.0..=1.0).contains(&x) || key == "processing_time_ms",
            "{key}: {r}"
        );
    }
    let severity = r["severity"].as_str().expect("severity");
    assert_eq!(
        bot_grade(r["crisis_score"].as_f64().expect("present")),
        severity
    );
    assert!(
        THRASH_ACTIONS.contains(&r["recommended_action"].as_str().expect("present")),
        "{r}"
    );
    assert!(r["request_id"].is_string());
    let stamp = r["timestamp"].as_str().expect("timestamp");
    assert!(
        stamp.ends_with('Z') && stamp.parse::<jiff::Timestamp>().is_ok(),
        "{stamp}"
    );
    let signals = r["signals"].as_object().expect("signals");
    let mut names: Vec<&str> = signals.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut used: Vec<&str> = r["models_used"]
        .as_array()
        .expect("models_used")
        .iter()
        .map(|v| v.as_str().expect("present"))
        .collect();
    used.sort_unstable();
    assert_eq!(names, used, "models_used names the signals");
    for (name, s) in signals {
        assert!(s["label"].is_string(), "{name}");
        for key in ["score", "crisis_signal"] {
            assert!(
                s[key].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)),
                "{name}.{key}"
            );
        }
    }
    assert!(r["conflict_analysis"]["has_conflicts"].is_boolean());
    assert_eq!(
        r["crisis_detected"].as_bool().expect("present"),
        matches!(severity, "medium" | "high" | "critical")
    );
    assert_eq!(
        r["requires_intervention"].as_bool().expect("present"),
        matches!(severity, "high" | "critical")
    );
}

#[test]
fn ash_bot_v5_reads_its_fields_at_the_top_level() {
    let server = Server::start();
    let reply = server.post(
        "/analyze",
        &json!({
            "message": "I'm going to take all these pills tonight, this is goodbye",
            "user_id": "123", "channel_id": "456",
            "include_explanation": true, "explanation_verbosity": "standard",
            "include_context_analysis": true,
        }),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let r = &reply.json;
    check_v5_fields(r);
    assert_eq!(r["severity"], "critical");
    assert_eq!(r["recommended_action"], "immediate_outreach");
    assert_eq!(
        r["crisis_level"], "high",
        "the v3.1 field keeps four levels"
    );
    let explanation = &r["explanation"];
    assert!(explanation["decision_summary"].is_string());
    let factors: Vec<&str> = explanation["key_factors"]
        .as_array()
        .expect("key_factors")
        .iter()
        .map(|f| f.as_str().expect("present"))
        .collect();
    assert!(!factors.is_empty() && factors.len() <= 5);
    assert!(factors.join("\n").chars().count() <= 1024);
    assert!(
        !reply.text.contains("pills"),
        "no message text in the answer"
    );
    assert_eq!(r["context_analysis"]["history_analyzed"], 0);
    assert_eq!(r["context_analysis"]["escalation_detected"], false);

    // Attachment-only messages: an answer, never an error.
    let empty = server.post("/analyze", &json!({"message": "", "user_id": "123"}));
    assert_eq!(empty.status, 200);
    check_v5_fields(&empty.json);
    assert_eq!(empty.json["severity"], "safe");
    assert_eq!(empty.json["analyzed"], false);

    // Errors carry a top-level `message` the bot logs, and never quote the input.
    let bad = server.post(
        "/analyze",
        &json!({"message": "zq-marker-7731", "include_explanation": "zq-marker-7731"}),
    );
    assert_eq!(bad.status, 422);
    assert!(bad.json["message"].is_string());
    assert_eq!(bad.json["message"], bad.json["error"]["message"]);
    assert_eq!(bad.json["error"]["field"], "include_explanation");
    assert!(!bad.text.contains("zq-marker"), "{}", bad.text);

    // Numbers no field can hold are the field's error, not "invalid JSON".
    for body in [
        format!("{{\"message\": \"hi\", \"user_id\": {}}}", "9".repeat(400)),
        "{\"message\": \"hi\", \"user_id\": 1e999}".to_owned(),
    ] {
        let reply = server.post_raw("/analyze", "application/json", &body, &[]);
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json["error"]["field"], "user_id", "{}", reply.text);
    }
}

#[test]
fn severity_is_the_bots_grading_of_crisis_score_under_every_configuration() {
    let messages = sample_messages();
    assert!(messages.len() >= 60, "the sample has {}", messages.len());
    let skewed = "thresholds:\n  consensus: { low: 0.05, medium: 0.5, high: 0.52, critical: 0.97 }\n  majority: { low: 0.05, medium: 0.5, high: 0.52, critical: 0.97 }\n  weighted: { low: 0.05, medium: 0.5, high: 0.52, critical: 0.97 }\n";
    let configurations = [
        Options::default(),
        Options::default().env("NLP_RISK_HEAD_MODE", "off"),
        Options::default()
            .env("NLP_RISK_HEAD_MODE", "shadow")
            .file("analysis.yaml", skewed),
    ];
    for options in configurations {
        let server = Server::start_with(options);
        let mut seen = std::collections::BTreeSet::new();
        for chunk in messages.chunks(100) {
            let reply = server.post("/analyze/batch", &json!({ "messages": chunk }));
            assert_eq!(reply.status, 200, "{}", reply.text);
            for r in reply.json["results"].as_array().expect("results") {
                check_v5_fields(r);
                let score = r["crisis_score"].as_f64().expect("present");
                let severity = r["severity"].as_str().expect("present");
                seen.insert(severity.to_owned());
                // A channel sensitivity moves the level the way staff expect.
                let rank = |s: &str| {
                    ["safe", "low", "medium", "high", "critical"]
                        .iter()
                        .position(|x| *x == s)
                        .expect("present")
                };
                assert!(rank(bot_grade((score * 1.5).min(1.0))) >= rank(severity));
                assert!(rank(bot_grade(score * 0.5)) <= rank(severity));
            }
        }
        assert!(seen.len() >= 3, "levels seen: {seen:?}");
    }
}

#[test]
fn ash_thrash_checks_status_then_sends_plain_string_batches() {
    let server = Server::start();
    let status = server.get("/status");
    assert_eq!(status.status, 200, "{}", status.text);
    for key in ["version", "uptime_seconds", "models", "config_generation"] {
        assert!(!status.json[key].is_null(), "{key}: {}", status.text);
    }
    assert_eq!(status.json["is_degraded"], false);
    assert!(matches!(
        server.get("/health").json["status"].as_str(),
        Some("ok" | "healthy")
    ));
    let reply = server.post(
        "/analyze/batch",
        &json!({
            "messages": ["had a great day at the park", "i want to end my life", ""],
            "include_explanation": true,
            "include_context_analysis": true,
        }),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let results = reply.json["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for r in results {
        check_v5_fields(r);
        assert!(r["explanation"]["key_factors"].is_array());
        assert!(r["context_analysis"].is_object());
    }
    assert_eq!(results[0]["severity"], "safe");
    assert!(matches!(
        results[1]["severity"].as_str(),
        Some("high" | "critical")
    ));
    assert_eq!(results[2]["analyzed"], false);
}

/// `n` minutes before now, as the bot writes timestamps.
fn minutes_ago(n: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(n)).to_string()
}

#[test]
fn message_history_raises_an_escalating_conversation_and_leaves_a_calm_one_alone() {
    let server = Server::start();
    let current = "i'm so tired of everything, i don't know how much longer i can do this";
    let alone = server.post("/analyze", &json!({ "message": current }));
    let alone_score = alone.json["crisis_score"].as_f64().expect("present");

    // Newest first, with the scores the service gave earlier: an evening that darkens.
    let darkening = json!([
        {"message": "nobody would even notice if i was gone", "timestamp": minutes_ago(40), "crisis_score": 0.5, "message_id": "3"},
        {"message": "everything keeps going wrong today", "timestamp": minutes_ago(120), "crisis_score": 0.3, "message_id": 2},
        {"message": "ugh work was long", "timestamp": minutes_ago(300)},
    ]);
    let escalated = server.post(
        "/analyze",
        &json!({ "message": current, "message_history": darkening, "user_timezone": "America/Chicago" }),
    );
    assert_eq!(escalated.status, 200, "{}", escalated.text);
    check_v5_fields(&escalated.json);
    let context = &escalated.json["context_analysis"];
    assert_eq!(context["escalation_detected"], true, "{context}");
    assert_eq!(context["history_analyzed"], 3);
    assert!(escalated.json["crisis_score"].as_f64().expect("present") >= alone_score);
    assert!(
        !escalated.text.contains("nobody would"),
        "history is never echoed"
    );

    // A calm history does not inflate the answer.
    let calm = json!([
        {"message": "pizza tonight?", "timestamp": minutes_ago(30)},
        {"message": "finished my essay finally", "timestamp": minutes_ago(90)},
        {"message": "good morning!", "timestamp": minutes_ago(400)},
    ]);
    let calm_reply = server.post(
        "/analyze",
        &json!({ "message": current, "message_history": calm }),
    );
    assert_eq!(calm_reply.json["severity"], alone.json["severity"]);
    assert!(calm_reply.json["context_analysis"]["raised_from"].is_null());

    // Whatever the history looks like, it is never a 422 (the bot's breaker counts those).
    let many: Vec<Value> = (0..25)
        .map(|i| json!({"message": "x", "timestamp": minutes_ago(i + 1), "crisis_score": 0.1}))
        .collect();
    for history in [
        json!(many),
        json!([{"message": "x", "timestamp": "last tuesday"}, 7, "text", null]),
        json!("not a list"),
        json!([{"message": "x", "timestamp": minutes_ago(5), "crisis_score": "high"}]),
    ] {
        let reply = server.post(
            "/analyze",
            &json!({ "message": current, "message_history": history, "user_timezone": 42 }),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        let notes = reply.json["context_analysis"]["notes"]
            .as_array()
            .expect("present");
        assert!(!notes.is_empty(), "{}", reply.text);
    }
}

#[test]
fn a_goodbye_at_the_end_of_a_long_vent_is_read() {
    let server = Server::start();
    let vent =
        "work was awful again and my manager yelled at me in front of everyone, then the bus \
                was late and i stood in the rain for forty minutes thinking about how tired i am. "
            .repeat(12);
    let message = format!(
        "{vent}i already wrote the letters and put them on my desk. tonight i am going to end it, i have the pills ready. goodbye"
    );
    let reply = server.post("/analyze", &json!({ "message": message }));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let windows = reply.json["risk_head"]["windows"]
        .as_u64()
        .expect("windows");
    assert!(windows > 1, "a long message is read in windows: {windows}");
    assert!(
        matches!(reply.json["severity"].as_str(), Some("high" | "critical")),
        "{}",
        reply.json["severity"]
    );
}

#[test]
fn analysis_can_require_the_key_which_ash_thrash_sends_as_x_ash_internal_key() {
    let server =
        Server::start_with(Options::default().env("NLP_SECURITY_ANALYZE_REQUIRES_KEY", "true"));
    let body = json!({"message": "hello there"});
    let refused = server.post("/analyze", &body);
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.json["error"]["code"], "unauthorized");
    for header in ["x-ash-internal-key", "x-api-key"] {
        let reply = server.post_with("/analyze", &body, &[(header, common::API_KEY)]);
        assert_eq!(reply.status, 200, "{header}: {}", reply.text);
        let batch = server.post_with(
            "/analyze/batch",
            &json!({"messages": ["hi"]}),
            &[(header, common::API_KEY)],
        );
        assert_eq!(batch.status, 200, "{header}: {}", batch.text);
    }
    assert_eq!(
        server
            .post_with(
                "/analyze",
                &body,
                &[("x-ash-internal-key", "not-the-key-at-all")]
            )
            .status,
        401
    );
    assert_eq!(server.get("/health").status, 200, "health stays open");
}
