//! Helpers shared by the model tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use ash_config::Config;

/// The shipped configuration, pointed at the repository's model cache, with the runtime present.
pub fn shipped_config() -> Config {
    let config = ash_tests::shipped_config();
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
