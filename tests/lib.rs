//! Shared helpers for the cross-layer tests (the tests are the other files in this folder).

use std::path::PathBuf;

use ash_config::{Config, ConfigLoader, Environment};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `cargo xtask setup` put the runtime and the default model.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("NLP_MODEL_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"))
}

/// The shipped configuration, pointed at the repository's model cache.
pub fn shipped_config() -> Config {
    let env = Environment::from_pairs([("NLP_MODEL_CACHE_DIR", cache_dir().display().to_string())]);
    ConfigLoader::new(repo_root().join("config"), env)
        .and_then(|l| l.load())
        .expect("the shipped configuration is valid")
}
