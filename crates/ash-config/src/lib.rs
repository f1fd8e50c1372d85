//! Configuration for Ash-NLP: typed YAML files under `config/`, environment overrides with the
//! v3.1 variable names, validation that names the file, key and variable, a parsed-file cache,
//! and hot reload behind `arc-swap`.
//!
//! Entry points: [`ConfigStore::open`] for the server (current config, reload, watcher, status),
//! [`ConfigLoader`] for one-shot loading, [`ENV_BINDINGS`] for every environment variable.
//!
//! Precedence, for every value: environment variable > file > default in code. Defaults live only
//! in the section types (`sections`).

mod bindings;
mod cache;
mod config;
mod env;
mod error;
mod file;
mod load;
mod loader;
mod sections;
mod store;
mod validate;

pub use bindings::{ENV_BINDINGS, EnvBinding, ValueKind, env_table_markdown, parse_bool};
pub use cache::{CacheStats, ConfigCache, Freshness};
pub use config::Config;
pub use env::{Environment, strip_inline_comment};
pub use error::{ConfigError, Problem};
pub use file::ConfigFile;
pub use load::Section;
pub use loader::ConfigLoader;
pub use sections::*;
pub use store::{ConfigStore, ReloadOutcome, ReloadStatus, Watcher};
pub use validate::{Validate, Validator};
