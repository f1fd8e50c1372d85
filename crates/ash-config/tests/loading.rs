//! Loading, environment overrides, validation errors, the cache and hot reload, on real files in
//! temporary directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ash_config::{
    ConfigError, ConfigLoader, ConfigStore, EnsembleMode, Environment, FeaturesConfig,
    ReloadOutcome, ServerConfig,
};

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// A copy of the shipped configuration in a fresh temporary directory.
fn temp_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(shipped()).expect("config dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    dir
}

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::from_pairs(pairs.iter().copied())
}

fn load(dir: &Path, pairs: &[(&str, &str)]) -> Result<ash_config::Config, ConfigError> {
    ConfigLoader::new(dir, env(pairs))?.load()
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).expect("write");
}

#[test]
fn unset_variables_fall_back_to_file_then_default_never_to_a_placeholder() {
    let dir = temp_config();
    // server.yaml does not mention shutdown_grace_ms: the code default applies.
    let config = load(dir.path(), &[]).expect("load");
    assert_eq!(config.server.port, 8881);
    assert_eq!(
        config.server.shutdown_grace_ms,
        ServerConfig::default().shutdown_grace_ms
    );
    let printed = config.to_redacted_yaml();
    assert!(
        !printed.contains("${"),
        "no unresolved placeholder may survive:\n{printed}"
    );
    // A file that itself contains a v3.1-style placeholder is refused, not passed on as a string.
    write(dir.path(), "server.yaml", "port: ${GLOBAL_NLP_API_PORT}\n");
    let err = load(dir.path(), &[]).expect_err("placeholder is not a port");
    assert!(err.to_string().contains("port"), "{err}");
}

#[test]
fn environment_overrides_are_typed() {
    let dir = temp_config();
    let config = load(
        dir.path(),
        &[
            ("NLP_FEATURE_PATTERN_ANALYSIS", "false"),
            ("NLP_FEATURE_REDUCERS", "No"),
            ("NLP_FEATURE_GAP_DETECTION", "0"),
            ("GLOBAL_NLP_API_PORT", "9000"),
            ("NLP_ENSEMBLE_MODE", "Majority"),
            ("GLOBAL_REQUEST_TIMEOUT", "4.5"),
            ("GLOBAL_ALLOWED_IPS", "10.0.0.0/8, 127.0.0.1,,::1"),
        ],
    )
    .expect("load");
    assert!(!config.features.patterns);
    assert!(!config.features.reducers);
    assert!(!config.features.gap_detection);
    assert!(config.features.ensemble_analysis);
    assert_eq!(config.server.port, 9000);
    assert_eq!(config.analysis.ensemble.mode, EnsembleMode::Majority);
    assert_eq!(config.server.request_timeout_ms, 4500);
    assert_eq!(
        config.server.security.feedback_allowed_ips,
        vec!["10.0.0.0/8", "127.0.0.1", "::1"]
    );
}

#[test]
fn dotenv_inline_comments_are_not_part_of_values() {
    let dir = temp_config();
    let dotenv = dir.path().join(".env");
    std::fs::write(
        &dotenv,
        "GLOBAL_NLP_API_PORT=8990      # Primary API port\nNLP_CONFIG_CACHE_MAX_ENTRIES=20 # comment\n",
    )
    .expect("write");
    let env = Environment::from_dotenv_file(&dotenv).expect("dotenv");
    let config = ConfigLoader::new(dir.path(), env)
        .expect("loader")
        .load()
        .expect("load");
    assert_eq!(config.server.port, 8990);
    assert_eq!(config.performance.config_cache.max_entries, 20);
}

#[test]
fn bad_values_name_the_variable_the_key_and_the_file() {
    let dir = temp_config();
    let err = load(
        dir.path(),
        &[
            ("GLOBAL_NLP_API_PORT", "88a1"),
            ("NLP_FEATURE_PATTERN_ANALYSIS", "maybe"),
            ("NLP_THRESHOLD_WEIGHTED_ENSEMBLE_HIGH", "1.7"),
            ("NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS", "0"),
        ],
    )
    .expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "server.yaml",
        "GLOBAL_NLP_API_PORT=\"88a1\"",
        "key `port`",
        "features.yaml",
        "NLP_FEATURE_PATTERN_ANALYSIS=\"maybe\"",
        "key `patterns`",
        "analysis.yaml",
        "key `thresholds.weighted.high`",
        "NLP_THRESHOLD_WEIGHTED_ENSEMBLE_HIGH",
        "NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS",
        "key `max_concurrent_requests`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn unknown_keys_are_refused_and_every_problem_of_a_file_is_reported() {
    let dir = temp_config();
    write(
        dir.path(),
        "server.yaml",
        "port: 8881\nmax_concurent_requests: 10\ncors:\n  enabeld: true\nrequest_timeout_ms: soon\n",
    );
    let err = load(dir.path(), &[]).expect_err("typos");
    let keys: Vec<String> = err.problems().into_iter().map(|(_, p)| p.key).collect();
    assert!(
        keys.contains(&"max_concurent_requests".to_owned()),
        "{keys:?}"
    );
    assert!(keys.contains(&"cors.enabeld".to_owned()), "{keys:?}");
    assert!(keys.contains(&"request_timeout_ms".to_owned()), "{keys:?}");
    assert!(err.to_string().contains("unknown key"), "{err}");
}

#[test]
fn anchored_regexes_on_the_space_wrapped_form_are_refused() {
    let dir = temp_config();
    let shipped_patterns = std::fs::read_to_string(shipped().join("patterns.yaml")).expect("read");
    // The shipped families and one more; `[^a-z]` is a class, not an anchor.
    let family = |kind: &str| {
        format!(
            "{shipped_patterns}\n  opening:\n    effect: crisis\n    weight: 0.5\n    {kind}:\n      at_start: \"^my last\\\\b\"\n      in_class: \"[^a-z]my last\\\\b\"\n"
        )
    };
    write(dir.path(), "patterns.yaml", &family("regexes"));
    let err = load(dir.path(), &[]).expect_err("an anchor on the wrapped form");
    let keys: Vec<String> = err.problems().into_iter().map(|(_, p)| p.key).collect();
    assert_eq!(keys, ["families.opening.regexes.at_start"], "{err}");
    assert!(err.to_string().contains("patterns.yaml"), "{err}");
    // The text form is not wrapped: anchors are what text_regexes are for.
    write(dir.path(), "patterns.yaml", &family("text_regexes"));
    load(dir.path(), &[]).expect("anchors on the text form");
}

#[test]
fn secrets_never_appear_in_output_or_errors() {
    let dir = temp_config();
    let key = "s3cret-admin-key-value-123";
    let config = load(dir.path(), &[("NLP_SECURITY_API_KEY", key)]).expect("load");
    assert_eq!(
        config.server.security.api_key.as_ref().map(|k| k.expose()),
        Some(key)
    );
    assert!(!config.to_redacted_yaml().contains(key));
    assert!(!format!("{config:?}").contains(key));
    let err = load(dir.path(), &[("NLP_SECURITY_API_KEY", "short-secret")]).expect_err("too short");
    assert!(!err.to_string().contains("short-secret"), "{err}");
    assert!(err.to_string().contains("NLP_SECURITY_API_KEY"), "{err}");
}

#[test]
fn cross_file_references_are_checked() {
    let dir = temp_config();
    let err = load(dir.path(), &[("NLP_ZERO_SHOT_LABEL_SET", "no_such_set")]).expect_err("bad set");
    assert!(err.to_string().contains("labels.yaml"), "{err}");
    assert!(err.to_string().contains("NLP_ZERO_SHOT_LABEL_SET"), "{err}");
}

#[test]
fn a_request_deadline_shorter_than_the_degraded_fallback_is_refused() {
    let dir = temp_config();
    // 3 s is under the 1 s admission wait plus the 3 s inference timeout: a message that waited
    // for a place would get 503 instead of its degraded answer.
    let err = load(dir.path(), &[("GLOBAL_REQUEST_TIMEOUT", "3")]).expect_err("short deadline");
    let text = err.to_string();
    for part in [
        "server.yaml",
        "request_timeout_ms",
        "GLOBAL_REQUEST_TIMEOUT",
        "4000 ms",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
    load(dir.path(), &[("GLOBAL_REQUEST_TIMEOUT", "5")]).expect("5 s leaves room");
}

#[test]
fn cached_sections_are_shared_and_immutable() {
    let dir = temp_config();
    let loader = ConfigLoader::new(dir.path(), Environment::default()).expect("loader");
    let mut a = loader.section::<ServerConfig>().expect("a");
    let b = loader.section::<ServerConfig>().expect("b");
    assert!(
        Arc::ptr_eq(&a, &b),
        "a cache hit returns the same shared value"
    );
    // The cache keeps a reference, so no caller can get a mutable one.
    assert!(Arc::get_mut(&mut a).is_none());
    let stats = loader.cache_stats().expect("cache on by default");
    assert_eq!(stats.misses, 1);
    assert!(stats.hits >= 1);
}

#[test]
fn the_cache_can_be_switched_off_by_environment() {
    let dir = temp_config();
    let loader = ConfigLoader::new(
        dir.path(),
        env(&[("NLP_PERFORMANCE_ENABLE_CONFIG_CACHING", "false")]),
    )
    .expect("loader");
    assert!(loader.cache_stats().is_none());
    let a = loader.section::<ServerConfig>().expect("a");
    let b = loader.section::<ServerConfig>().expect("b");
    assert!(!Arc::ptr_eq(&a, &b), "uncached lookups parse afresh");
}

#[test]
fn the_cache_sees_same_size_edits_and_evicts_least_recently_used() {
    let dir = temp_config();
    write(
        dir.path(),
        "performance.yaml",
        "config_cache:\n  max_entries: 2\n  check_interval_ms: 0\n",
    );
    let loader = ConfigLoader::new(dir.path(), Environment::default()).expect("loader");
    write(dir.path(), "server.yaml", "port: 1111\n");
    assert_eq!(loader.section::<ServerConfig>().expect("s").port, 1111);
    // Same length, written within the same instant: only the content hash can tell.
    write(dir.path(), "server.yaml", "port: 2222\n");
    assert_eq!(loader.section::<ServerConfig>().expect("s").port, 2222);
    assert_eq!(loader.cache_stats().expect("stats").reloads, 1);

    loader.section::<FeaturesConfig>().expect("f");
    loader.section::<ash_config::LoggingConfig>().expect("l");
    let stats = loader.cache_stats().expect("stats");
    assert_eq!(stats.entries, 2);
    assert!(stats.evictions >= 1);
}

#[test]
fn a_changed_file_is_reloaded_and_an_invalid_edit_keeps_the_old_config() {
    let dir = temp_config();
    let store = ConfigStore::open(dir.path(), Environment::default()).expect("open");
    assert_eq!(store.reload().expect("no change"), ReloadOutcome::Unchanged);

    write(dir.path(), "features.yaml", "patterns: false\n");
    assert_eq!(
        store.reload().expect("valid edit"),
        ReloadOutcome::Applied { generation: 2 }
    );
    assert!(!store.current().features.patterns);

    write(dir.path(), "features.yaml", "patterns: nope\n");
    let err = store.reload().expect_err("invalid edit");
    assert!(err.to_string().contains("features.yaml"));
    assert!(
        !store.current().features.patterns,
        "the last good config stays live"
    );
    let status = store.status();
    assert_eq!(status.generation, 2);
    assert_eq!(status.reloads_failed, 1);
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("patterns"))
    );

    write(dir.path(), "features.yaml", "patterns: true\n");
    store.reload().expect("fixed");
    assert!(store.status().last_error.is_none());
}

#[test]
fn the_watcher_applies_edits_without_a_call() {
    let dir = temp_config();
    let store = ConfigStore::open(dir.path(), Environment::default()).expect("open");
    let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&seen);
    store.on_change(move |old, new| {
        assert!(old.features.reducers && !new.features.reducers);
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let _watcher = store.watch(Duration::from_millis(20));
    write(dir.path(), "features.yaml", "reducers: false\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.current().features.reducers && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!store.current().features.reducers);
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn concurrent_readers_never_see_a_half_applied_reload() {
    let dir = temp_config();
    // Two files change together: server.port = 10000 + i and logging.level cycles with i.
    let levels = ["trace", "debug", "info", "warn", "error"];
    let write_pair = |i: usize| {
        write(
            dir.path(),
            "server.yaml",
            &format!("port: {}\n", 10_000 + i),
        );
        write(
            dir.path(),
            "logging.yaml",
            &format!("level: {}\n", levels[i % levels.len()]),
        );
    };
    write_pair(0);
    let store = ConfigStore::open(dir.path(), Environment::default()).expect("open");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let config = store.current();
                    let i = usize::from(config.server.port) - 10_000;
                    assert_eq!(
                        config.logging.level,
                        levels[i % levels.len()],
                        "mixed generations"
                    );
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for i in 1..60 {
        write_pair(i);
        store.reload().expect("reload");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let checks: u64 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(checks > 0);
    assert_eq!(store.status().generation, 60);
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let err =
        ConfigLoader::new("/nonexistent/ash-config", Environment::default()).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/ash-config"), "{err}");
}

#[test]
fn unused_v31_variables_are_reported_by_name() {
    let dir = temp_config();
    let loader = ConfigLoader::new(
        dir.path(),
        env(&[
            ("NLP_MODEL_DEPRESSION_NAME", "x"),
            ("GLOBAL_NLP_API_PORT", "1"),
            ("PATH", "/bin"),
        ]),
    )
    .expect("loader");
    assert_eq!(
        loader.unused_variables(),
        vec!["NLP_MODEL_DEPRESSION_NAME".to_owned()]
    );
}

#[test]
fn effective_default_config_snapshot() {
    let config = load(&shipped(), &[]).expect("load");
    // The trained head changes with every retrain; its own checks are `cargo xtask train --check`.
    insta::assert_yaml_snapshot!("effective_default_config", config, {
        ".risk_head" => "[trained artefact: config/risk_head.yaml]"
    });
}
