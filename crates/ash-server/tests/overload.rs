//! Under overload a single message still gets an answer (pattern-only, marked degraded, safety
//! floors included); refusals are counted, not logged one by one.

mod common;

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
