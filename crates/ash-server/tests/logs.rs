//! Message text reaches no log line and no response, even with `RUST_LOG=trace` and
//! `GLOBAL_LOG_LEVEL=trace`: the service's own lines never carry it, and every dependency is capped
//! at `warn` (tokenizers, ort, hyper and the rest would print inputs at debug and trace).

mod common;

use common::{API_KEY, Options, Server};
use serde_json::json;

/// A string that appears nowhere unless a message's text leaks.
const MARKER: &str = "zqxmarker7731";

#[test]
fn no_log_line_and_no_response_carries_message_text_at_trace() {
    for format in ["human", "json"] {
        let mut server = Server::start_with(
            Options::default()
                .env("RUST_LOG", "trace")
                .env("GLOBAL_LOG_LEVEL", "trace")
                .env("NLP_LOG_FORMAT", format),
        );
        let message = format!("I can't keep going, {MARKER} is all I think about tonight");
        let mut replies = vec![
            server.post(
                "/analyze",
                &json!({"message": message, "user_id": "1", "channel_id": "2", "include_explanation": true}),
            ),
            server.post(
                "/analyze/batch",
                &json!({"messages": [
                    {"message": message, "user_id": "1"},
                    {"message": format!("hello {MARKER}, happy friday")},
                ]}),
            ),
            server.post_with(
                "/analyze_false_negative",
                &json!({"message": message, "should_detect_level": "high", "actually_detected": "low"}),
                &[("x-api-key", API_KEY)],
            ),
        ];
        for reply in &replies {
            assert_eq!(reply.status, 200, "{format}: {}", reply.text);
        }
        // An error path too: a message over the length limit.
        replies.push(server.post("/analyze", &json!({"message": MARKER.repeat(1_000)})));
        assert_eq!(replies[3].status, 422, "{}", replies[3].text);
        for reply in &replies {
            assert!(
                !reply.text.contains(MARKER),
                "{format}: a response echoes message text: {}",
                reply.text
            );
        }

        let status = server.terminate();
        assert!(status.success(), "{format}: {status}");
        let log = server.log();
        // The service's own lines go down to debug; without that the test would prove nothing.
        assert!(
            log.lines().any(|l| l.contains("DEBUG")),
            "{format}: verbose logging must be on for this test to mean anything:\n{log}"
        );
        assert!(
            log.lines().filter(|l| l.contains("request")).count() >= 4,
            "{format}: every request is logged:\n{log}"
        );
        if format == "json" {
            // Below warn, only the service's own crates speak: dependencies are capped.
            let uncapped: Vec<&str> = log
                .lines()
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                        !matches!(v["level"].as_str(), Some("WARN" | "ERROR"))
                            && !v["target"].as_str().is_some_and(|t| t.starts_with("ash_"))
                    })
                })
                .collect();
            assert!(
                uncapped.is_empty(),
                "{} dependency lines below warn:\n{}",
                uncapped.len(),
                uncapped
                    .iter()
                    .take(20)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(MARKER)).collect();
        assert!(
            leaks.is_empty(),
            "{format}: {} log lines carry message text:\n{}",
            leaks.len(),
            leaks.join("\n")
        );
    }
}
