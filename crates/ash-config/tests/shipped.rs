//! The shipped `config/` directory loads and validates.

use std::path::PathBuf;

use ash_config::{ConfigLoader, Environment, RiskHeadConfig};

#[test]
fn shipped_config_is_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let loader = ConfigLoader::new(&dir, Environment::default()).expect("loader");
    if let Err(e) = loader.load() {
        panic!("{e}");
    }
}

#[test]
fn the_shipped_head_was_trained_with_the_shipped_patterns() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let config = ConfigLoader::new(&dir, Environment::default())
        .expect("loader")
        .load()
        .expect("load");
    assert_eq!(
        config.risk_head.trained_with(&config.patterns),
        Some(true),
        "config/patterns.yaml changed since {} was trained: retrain with `cargo xtask train`",
        config.risk_head.version
    );
    let kind = config.risk_head.version.split('-').next().expect("a kind");
    assert_eq!(
        RiskHeadConfig::version_for(kind, &config.risk_head.corpus_sha256, &config.patterns),
        config.risk_head.version,
        "the version a trainer writes is the one read back"
    );
    let mut edited = (*config.patterns).clone();
    let family = edited.families.values_mut().next().expect("a family");
    family.weight /= 2.0;
    assert_eq!(config.risk_head.trained_with(&edited), Some(false));
    let mut unversioned = (*config.risk_head).clone();
    unversioned.version = "logistic-fefe37b5c5eb".into();
    assert_eq!(unversioned.trained_with(&config.patterns), None);
}
