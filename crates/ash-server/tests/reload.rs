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
