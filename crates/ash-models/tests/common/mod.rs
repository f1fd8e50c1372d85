//! Helpers shared by the model tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use ash_config::{Config, ConfigLoader, Environment};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `cargo xtask setup` put the runtime and default model.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("NLP_MODEL_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"))
}

/// The shipped configuration, pointed at the repository's model cache.
pub fn shipped_config() -> Config {
    let env = Environment::from_pairs([("NLP_MODEL_CACHE_DIR", cache_dir().display().to_string())]);
    let loader = ConfigLoader::new(repo_root().join("config"), env).expect("config dir");
    let config = loader.load().expect("shipped config is valid");
    let runtime = ash_models::runtime::library_path(&config.models.runtime);
    assert!(
        runtime.is_file(),
        "{} is missing: run `cargo xtask setup` (or `cargo xtask test`, which runs it) first",
        runtime.display()
    );
    config
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shipped configuration with models and labels replaced by YAML (paths relative to the
/// fixtures folder are made absolute), still using the repository's ONNX Runtime.
pub fn fixture_config(models_yaml: &str, labels_yaml: &str) -> Config {
    let base = shipped_config();
    let fixtures = fixtures_dir().display().to_string();
    let mut models: ash_config::ModelsConfig =
        serde_yaml::from_str(&models_yaml.replace("FIXTURES", &fixtures)).expect("models yaml");
    models.runtime = base.models.runtime.clone();
    let labels: ash_config::LabelsConfig = serde_yaml::from_str(labels_yaml).expect("labels yaml");
    Config {
        models: Arc::new(models),
        labels: Arc::new(labels),
        ..base
    }
}
