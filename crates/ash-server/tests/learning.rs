//! Learning from staff corrections, end to end: the real binary, the real default model.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{API_KEY, Options, Server};
use serde_json::json;

const KEY: [(&str, &str); 1] = [("x-api-key", API_KEY)];

fn level(server: &Server, message: &str) -> (String, serde_json::Value) {
    let reply = server.post(
        "/analyze",
        &json!({"message": message, "include_explanation": true}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    (
        reply.json["severity"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reply.json,
    )
}

#[test]
fn a_false_negative_lifts_the_message_and_its_paraphrase_but_not_unrelated_ones() {
    let server = Server::start();
    let message = "the walls feel like they are closing in on me again";
    let paraphrase = "the walls feel like they're closing in on me again tonight";
    let unrelated = "what time does the pride parade start on saturday?";
    let (before, _) = level(&server, message);
    let (unrelated_before, _) = level(&server, unrelated);
    assert!(
        matches!(before.as_str(), "safe" | "low" | "medium"),
        "needs to start below the correction: {before}"
    );
    let ack = server.post_with(
        "/analyze_false_negative",
        &json!({"message": message, "should_detect_level": "high", "actually_detected": before, "context": {}, "severity_score": 0.9}),
        &KEY,
    );
    assert_eq!(ack.status, 200, "{}", ack.text);
    assert_eq!(ack.json["patterns_discovered"], 1);
    let id = ack.json["feedback_id"].as_str().expect("id").to_owned();

    let (after, body) = level(&server, message);
    assert_eq!(after, "high", "the corrected message itself: {body}");
    let learned = &body["explanation"]["learned"];
    assert_eq!(
        learned["exemplar_id"],
        id.as_str(),
        "the explanation names the correction"
    );
    assert_eq!(learned["repeat"], true);
    assert!(body["reasoning"].as_str().is_some_and(|r| r.contains(&id)));

    let (paraphrased, body) = level(&server, paraphrase);
    assert_eq!(paraphrased, "high", "a close paraphrase: {body}");
    assert_eq!(body["explanation"]["learned"]["exemplar_id"], id.as_str());

    let (unrelated_after, body) = level(&server, unrelated);
    assert_eq!(
        unrelated_after, unrelated_before,
        "an unrelated message is unaffected: {body}"
    );
    assert!(body["explanation"]["learned"]["exemplar_id"].is_null());

    // Deleting the correction removes its effect.
    let deleted = server
        .agent
        .delete(&server.url(&format!("/admin/corrections/{id}")))
        .header("x-api-key", API_KEY)
        .call()
        .expect("delete");
    assert_eq!(deleted.status(), 200);
    assert_eq!(level(&server, message).0, before);
}

#[test]
fn a_false_positive_never_lowers_explicit_intent_below_high() {
    let server = Server::start();
    let message = "I'm going to kill myself tonight";
    assert!(matches!(
        level(&server, message).0.as_str(),
        "high" | "critical"
    ));
    for _ in 0..3 {
        let ack = server.post_with(
            "/analyze_false_positive",
            &json!({"message": message, "detected_level": "critical", "correct_level": "none"}),
            &KEY,
        );
        assert_eq!(ack.status, 200, "{}", ack.text);
    }
    let (after, body) = level(&server, message);
    assert!(
        matches!(after.as_str(), "high" | "critical"),
        "explicit intent stays at high or above: {body}"
    );
    assert!(
        body["explanation"]["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "explicit_intent_floor"))
    );
}

#[test]
fn an_acknowledged_correction_survives_kill_minus_nine() {
    let mut first = Server::start();
    let message = "everything tastes like ash lately and I stopped eating";
    let ack = first.post_with(
        "/analyze_false_negative",
        &json!({"message": message, "should_detect_level": "high", "actually_detected": "low"}),
        &KEY,
    );
    assert_eq!(ack.status, 200, "{}", ack.text);
    let id = ack.json["feedback_id"].as_str().expect("id").to_owned();
    // SIGKILL: no shutdown code runs.
    first.child.kill().expect("kill -9");
    first.child.wait().expect("wait");
    // A new process on the same data directory.
    let data = first.data_dir();
    let second = Server::start_with(
        Options::default().env("NLP_STORAGE_DATA_DIR", data.to_str().expect("utf8")),
    );
    let listed = second.get_with("/admin/corrections", &KEY);
    assert_eq!(listed.json["count"], 1, "{}", listed.text);
    assert_eq!(listed.json["corrections"][0]["id"], id.as_str());
    let (after, body) = level(&second, message);
    assert_eq!(after, "high", "still applied after the restart: {body}");
}

#[test]
fn export_import_and_calibration_reset() {
    let server = Server::start();
    server.post_with(
        "/analyze_false_positive",
        &json!({"message": "ugh this homework is killing me", "detected_level": "medium", "correct_level": "none"}),
        &KEY,
    );
    let export = server.get_with("/admin/corrections/export", &KEY);
    assert_eq!(export.json["corrections"].as_array().map(Vec::len), Some(1));
    // What is stored is an embedding, a hash and a length: not the text (by default).
    assert!(!export.text.contains("homework"), "{}", export.text);
    assert!(
        export.json["corrections"][0]["embedding"]
            .as_array()
            .is_some_and(|e| e.len() == 384)
    );
    let listed = server.get_with("/admin/corrections", &KEY);
    assert!(
        listed.json["calibration"]["offset"]
            .as_f64()
            .is_some_and(|o| o > 0.0),
        "a false positive makes it less sensitive"
    );
    let reset = server.post_with("/admin/calibration/reset", &json!({}), &KEY);
    assert_eq!(reset.json["calibration"]["offset"], 0.0, "{}", reset.text);

    let other = Server::start();
    let imported = other.post_with("/admin/corrections/import", &export.json, &KEY);
    assert_eq!(imported.json["imported"], 1, "{}", imported.text);
    assert_eq!(other.get_with("/admin/corrections", &KEY).json["count"], 1);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The `redis-server` to start: `ASH_REDIS_SERVER`, else the one `cargo xtask setup` put in the
/// cache, else one on the PATH.
fn redis_server() -> PathBuf {
    if let Some(path) = std::env::var_os("ASH_REDIS_SERVER").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let cached = common::cache_dir().join("redis/redis-server");
    if cached.is_file() {
        return cached;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no redis-server: run `cargo xtask setup` (it fetches one into {}), or set \
                 ASH_REDIS_SERVER",
                cached.display()
            )
        })
}

/// A private redis-server on a free port, stopped when dropped.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Self {
        let port = free_port();
        let binary = redis_server();
        eprintln!("redis-server: {}", binary.display());
        let child = Command::new(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis(child, port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn with_redis_a_correction_on_one_replica_reaches_the_other_within_five_seconds() {
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    let options = || {
        Options::default()
            .env("NLP_STORAGE_BACKEND", "redis")
            .env("NLP_STORAGE_REDIS_URL", &url)
    };
    let a = Server::start_with(options());
    let b = Server::start_with(options());
    let message = "I keep giving my things away to friends, I won't need them";
    let message = &message[..message.find(',').unwrap_or(message.len())];
    let (before_b, _) = level(&b, message);
    let ack = a.post_with(
        "/analyze_false_negative",
        &json!({"message": message, "should_detect_level": "high", "actually_detected": before_b}),
        &KEY,
    );
    assert_eq!(ack.status, 200, "{}", ack.text);
    let posted = Instant::now();
    loop {
        let (now_b, body) = level(&b, message);
        if now_b == "high" {
            assert!(
                posted.elapsed() < Duration::from_secs(5),
                "took {:?}",
                posted.elapsed()
            );
            assert_eq!(
                body["explanation"]["learned"]["exemplar_id"],
                ack.json["feedback_id"]
            );
            break;
        }
        assert!(
            posted.elapsed() < Duration::from_secs(5),
            "replica B never saw the correction: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        b.get_with("/admin/corrections", &KEY).json["store"]
            .as_str()
            .map(|s| s.starts_with("redis")),
        Some(true)
    );
}
