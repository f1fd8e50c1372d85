//! Under overload a single message still gets an answer (pattern-only, marked degraded, safety
//! floors included); refusals are counted, not logged one by one.

mod common;

use std::time::Duration;

use common::{Options, Server};
use serde_json::json;

#[test]
fn at_the_concurrency_limit_single_messages_get_degraded_answers_not_refusals() {
    // No admission wait: a single message over the limit is answered degraded at once.
    let server = Server::start_with(
        Options::default()
            .env("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1")
            .env("NLP_SERVER_ADMISSION_WAIT_MS", "0"),
    );
    let message = "i'm going to take all the pills tonight, this is goodbye";
    let replies: Vec<common::Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|_| scope.spawn(|| server.post("/analyze", &json!({ "message": message }))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut degraded = 0;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["severity"], "critical", "{}", reply.text);
        if reply.json["is_degraded"] == true {
            degraded += 1;
            assert_eq!(reply.json["degraded_reason"], "model_overloaded");
        }
    }
    assert!(degraded > 0, "24 concurrent requests against a limit of 1");
    // Batches are refused first.
    let batches: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    server
                        .post("/analyze/batch", &json!({"messages": [message, "hello"]}))
                        .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        batches.iter().all(|s| matches!(s, 200 | 503)),
        "{batches:?}"
    );
    let log = server.log();
    assert!(log.contains("status=200"), "plain log lines:\n{log}");
    let refusal_lines = log.lines().filter(|l| l.contains("status=503")).count();
    assert_eq!(refusal_lines, 0, "no per-request refusal lines:\n{log}");
}

#[test]
fn within_the_admission_wait_single_messages_queue_for_a_full_analysis() {
    let server = Server::start_with(
        Options::default()
            .env("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1")
            .env("NLP_SERVER_ADMISSION_WAIT_MS", "60000")
            // The request deadline must outlast the admission wait plus inference.
            .env("GLOBAL_REQUEST_TIMEOUT", "120"),
    );
    let replies: Vec<common::Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    server.post(
                        "/analyze",
                        &json!({ "message": format!("{i} i feel so alone") }),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["is_degraded"], false, "{}", reply.text);
    }
}

#[test]
fn a_client_over_its_fair_share_is_answered_at_once_while_another_client_waits() {
    let server = Server::start_with(
        Options::default()
            .env("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "1")
            .env("NLP_SERVER_ADMISSION_WAIT_MS", "20000")
            .env("GLOBAL_REQUEST_TIMEOUT", "120"),
    );
    let a = [("x-ash-internal-key", "client-a")];
    let b = [("x-ash-internal-key", "client-b")];
    let long = "i keep going over the same things in my head and it never stops. ".repeat(60);
    let batch = json!({ "messages": (0..100).map(|i| format!("{i} {long}")).collect::<Vec<_>>() });
    std::thread::scope(|scope| {
        // A holds the only place with a long batch.
        let a_batch = scope.spawn(|| server.post_with("/analyze/batch", &batch, &a));
        std::thread::sleep(Duration::from_millis(500));
        // B waits for the place.
        let b_single = scope
            .spawn(|| server.post_with("/analyze", &json!({"message": "i feel so alone"}), &b));
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !a_batch.is_finished() && !b_single.is_finished(),
            "the batch must still hold the place"
        );
        // A already holds its share (the whole limit) while B waits: answered at once, degraded.
        let a_single = server.post_with("/analyze", &json!({"message": "i feel so alone"}), &a);
        assert_eq!(a_single.status, 200, "{}", a_single.text);
        assert_eq!(a_single.json["is_degraded"], true, "{}", a_single.text);
        assert_eq!(a_single.json["degraded_reason"], "model_overloaded");
        assert!(
            !a_batch.is_finished(),
            "A was answered before its batch gave the place back"
        );
        // B gets the place when the batch is done, and a full analysis.
        let b_single = b_single.join().expect("thread");
        assert_eq!(b_single.json["is_degraded"], false, "{}", b_single.text);
        assert_eq!(a_batch.join().expect("thread").status, 200);
    });
    let metrics = server.get("/metrics").text;
    assert!(
        metrics.contains(r#"ash_rejected_total{reason="fair_share"} 1"#),
        "{metrics}"
    );
}
