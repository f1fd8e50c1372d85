//! A request sees one configuration from start to end, even while reloads land around it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{API_KEY, Server, repo_root};
use serde_json::json;

#[test]
fn each_answer_comes_from_one_configuration_generation_during_a_reload_storm() {
    let server = Server::start();
    let original =
        std::fs::read_to_string(repo_root().join("config/analysis.yaml")).expect("analysis.yaml");
    // Generation 1 is the shipped file (head deciding); every reload flips the head's mode, so
    // odd generations decide and even ones shadow.
    let shadow = format!("{original}\nrisk_head:\n  mode: shadow\n");
    let stop = AtomicBool::new(false);
    let key = [("x-api-key", API_KEY)];
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut flips = 0u64;
            while !stop.load(Ordering::Relaxed) && flips < 400 {
                let content = if flips.is_multiple_of(2) {
                    &shadow
                } else {
                    &original
                };
                common::write_config(&server.config_dir(), "analysis.yaml", content);
                let reply = server.post_with("/admin/config/reload", &json!({}), &key);
                assert_eq!(reply.status, 200, "{}", reply.text);
                flips += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let mut generations = std::collections::BTreeSet::new();
        for i in 0..150 {
            let reply = server.post(
                "/analyze",
                &json!({"message": format!("rough week, not sleeping much ({i})")}),
            );
            assert_eq!(reply.status, 200, "{}", reply.text);
            let generation = reply.json["config_generation"]
                .as_u64()
                .expect("generation");
            let mode = reply.json["risk_head"]["mode"].as_str().expect("head mode");
            let expected = if !generation.is_multiple_of(2) {
                "decide"
            } else {
                "shadow"
            };
            assert_eq!(
                mode, expected,
                "generation {generation} answered with another generation's settings"
            );
            generations.insert(generation);
        }
        stop.store(true, Ordering::Relaxed);
        assert!(
            generations.len() >= 5,
            "the reloads landed during the requests: {generations:?}"
        );
    });
}

/// A change to one config file's text.
type Edit = fn(&str) -> String;

/// Rewrites `file` in the server's configuration with `edit` and reloads on demand.
fn reload_with(server: &Server, file: &str, edit: impl Fn(&str) -> String) -> serde_json::Value {
    let path = server.config_dir().join(file);
    let original = std::fs::read_to_string(&path).expect("config file");
    let edited = edit(&original);
    assert_ne!(edited, original, "the edit of {file} changes it");
    common::write_config(&server.config_dir(), file, &edited);
    let reply = server.post_with(
        "/admin/config/reload",
        &json!({}),
        &[("x-api-key", API_KEY)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    common::write_config(&server.config_dir(), file, &original);
    reply.json
}

#[test]
fn a_reload_reports_every_start_only_setting_it_cannot_apply() {
    let server = Server::start();
    let key = [("x-api-key", API_KEY)];
    let cases: [(&str, &str, Edit); 9] = [
        ("server.yaml", "server.max_concurrent_requests", |s| {
            s.replace(
                "max_concurrent_requests: 256",
                "max_concurrent_requests: 64",
            )
        }),
        ("server.yaml", "server.allow_degraded_start", |s| {
            s.replace("allow_degraded_start: false", "allow_degraded_start: true")
        }),
        ("server.yaml", "server.shutdown_grace_ms", |s| {
            format!("{s}\nshutdown_grace_ms: 1234\n")
        }),
        ("server.yaml", "server.cors", |s| {
            format!("{s}\ncors:\n  enabled: true\n")
        }),
        ("server.yaml", "server.rate_limit", |s| {
            s.replace("rate_limit:\n", "rate_limit:\n  requests_per_minute: 7\n")
        }),
        ("models.yaml", "models", |s| {
            s.replace("max_wait_us: 0", "max_wait_us: 250")
        }),
        ("logging.yaml", "logging.format", |s| {
            s.replace("format: human", "format: json")
        }),
        ("performance.yaml", "performance.reload", |s| {
            s.replace("poll_interval_ms: 2000", "poll_interval_ms: 3000")
        }),
        ("storage.yaml", "storage.backend", |s| {
            s.replace(
                "backend: embedded",
                "backend: redis\nredis_url: redis://127.0.0.1:1",
            )
        }),
    ];
    for (file, setting, edit) in cases {
        let reply = reload_with(&server, file, edit);
        let pending = reply["restart_required"]
            .as_array()
            .expect("restart_required");
        assert!(
            pending.iter().any(|k| k == setting),
            "{setting} changed but was not reported: {reply}"
        );
        let admin = server.get_with("/admin/config", &key);
        assert!(
            admin.json["restart_required"]
                .as_array()
                .is_some_and(|a| a.iter().any(|k| k == setting)),
            "{setting}: {}",
            admin.text
        );
        // Put back, the setting is no longer pending.
        let back = server.post_with("/admin/config/reload", &json!({}), &key);
        assert_eq!(back.json["restart_required"], json!([]), "{}", back.text);
    }
}

#[test]
fn request_limits_apply_on_reload() {
    let server = Server::start();
    let key = [("x-api-key", API_KEY)];
    let body = json!({"message": "x".repeat(3000)});
    assert_eq!(server.post("/analyze", &body).status, 200);
    let path = server.config_dir().join("server.yaml");
    let original = std::fs::read_to_string(&path).expect("server.yaml");
    common::write_config(
        &server.config_dir(),
        "server.yaml",
        &format!("{original}\nmax_body_bytes: 2048\n"),
    );
    let reply = server.post_with("/admin/config/reload", &json!({}), &key);
    assert_eq!(reply.json["restart_required"], json!([]), "{}", reply.text);
    assert_eq!(
        server.post("/analyze", &body).status,
        413,
        "body limit applied live"
    );
    common::write_config(
        &server.config_dir(),
        "server.yaml",
        &original.replace("max_message_chars: 10000", "max_message_chars: 1000"),
    );
    server.post_with("/admin/config/reload", &json!({}), &key);
    assert_eq!(
        server.post("/analyze", &body).status,
        422,
        "message limit applied live"
    );
    common::write_config(&server.config_dir(), "server.yaml", &original);
    server.post_with("/admin/config/reload", &json!({}), &key);
    assert_eq!(server.post("/analyze", &body).status, 200);
}

#[test]
fn connection_timeouts_apply_to_new_connections_on_reload() {
    use std::io::{Read, Write};
    let server = Server::start();
    let reply = reload_with(&server, "server.yaml", |s| {
        format!(
            "{s}\nheader_read_timeout_ms: 400\nidle_timeout_ms: 90000\nbody_read_timeout_ms: 3000\nshutdown_drain_delay_ms: 0\n"
        )
    });
    assert_eq!(reply["restart_required"], json!([]), "{reply}");
    // The edit is undone on disk but not reloaded: the server still runs with 400 ms.
    let mut stalled = std::net::TcpStream::connect(server.address()).expect("connect");
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: te")
        .expect("write");
    // The shipped header timeout is 10 s; closing within 5 s shows the reloaded one applies.
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    match stalled.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the half-sent request was not closed: {other:?}"),
    }
}
