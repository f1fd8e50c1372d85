//! Staff corrections and admin: who may call them, and what they change.

use serde_json::json;

use crate::PILLS;
use crate::common::{self, API_KEY, Options, Server};

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
fn the_rate_limit_spares_trusted_clients_and_warns_when_the_bot_cannot_be_spared() {
    const LIMITED: &str = "rate_limit:\n  enabled: true\n  requests_per_minute: 1\n  burst: 1\n";
    let body = json!({"message": "hello"});
    let keyed = [("x-ash-internal-key", API_KEY)];
    let server = Server::start_with(Options::default().file("server.yaml", LIMITED));
    assert_eq!(server.post("/analyze", &body).status, 200);
    let refused = server.post("/analyze", &body);
    assert_eq!(refused.status, 429, "{}", refused.text);
    for _ in 0..5 {
        assert_eq!(server.post_with("/analyze", &body, &keyed).status, 200);
    }
    assert!(!server.log().contains("could throttle the bot"));

    // The bot's address allow-listed: spared without a key.
    let allowed = Server::start_with(Options::default().file(
        "server.yaml",
        &format!("{LIMITED}security:\n  feedback_allowed_ips: [\"127.0.0.1\"]\n"),
    ));
    for _ in 0..5 {
        assert_eq!(allowed.post("/analyze", &body).status, 200);
    }

    // Exemption switched off: everyone is limited, and the start-up log says so.
    let strict = Server::start_with(Options::default().file(
        "server.yaml",
        &format!("{LIMITED}  exempt_trusted_clients: false\n"),
    ));
    assert_eq!(strict.post_with("/analyze", &body, &keyed).status, 200);
    assert_eq!(strict.post_with("/analyze", &body, &keyed).status, 429);
    assert!(
        strict.log().contains("could throttle the bot"),
        "{}",
        strict.log()
    );
}
