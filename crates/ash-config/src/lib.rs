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
mod env;
mod error;
mod load;
mod sections;
mod store;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use bindings::{ENV_BINDINGS, EnvBinding, ValueKind, env_table_markdown, parse_bool};
pub use cache::{CacheStats, ConfigCache, Freshness};
pub use env::{Environment, strip_inline_comment};
pub use error::{ConfigError, Problem};
pub use load::Section;
pub use sections::*;
pub use store::{ConfigStore, ReloadOutcome, ReloadStatus, Watcher};
pub use validate::{Validate, Validator};

/// The files of a configuration directory, one per concern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigFile {
    Server,
    Models,
    Labels,
    Analysis,
    Patterns,
    Features,
    Logging,
    Storage,
    Performance,
    RiskHead,
}

impl ConfigFile {
    /// Every file, in load order.
    pub const ALL: [ConfigFile; 10] = [
        ConfigFile::Server,
        ConfigFile::Models,
        ConfigFile::Labels,
        ConfigFile::Analysis,
        ConfigFile::Patterns,
        ConfigFile::Features,
        ConfigFile::Logging,
        ConfigFile::Storage,
        ConfigFile::Performance,
        ConfigFile::RiskHead,
    ];

    /// The file name inside the configuration directory.
    pub fn file_name(self) -> &'static str {
        match self {
            ConfigFile::Server => "server.yaml",
            ConfigFile::Models => "models.yaml",
            ConfigFile::Labels => "labels.yaml",
            ConfigFile::Analysis => "analysis.yaml",
            ConfigFile::Patterns => "patterns.yaml",
            ConfigFile::Features => "features.yaml",
            ConfigFile::Logging => "logging.yaml",
            ConfigFile::Storage => "storage.yaml",
            ConfigFile::Performance => "performance.yaml",
            ConfigFile::RiskHead => "risk_head.yaml",
        }
    }
}

macro_rules! sections {
    ($($ty:ty => $file:ident),* $(,)?) => {
        $(impl Section for $ty { const FILE: ConfigFile = ConfigFile::$file; })*
    };
}

sections! {
    ServerConfig => Server,
    ModelsConfig => Models,
    LabelsConfig => Labels,
    AnalysisConfig => Analysis,
    PatternsConfig => Patterns,
    FeaturesConfig => Features,
    LoggingConfig => Logging,
    StorageConfig => Storage,
    PerformanceConfig => Performance,
    RiskHeadConfig => RiskHead,
}

/// The whole effective configuration. Sections are shared and immutable: a reload builds a new
/// `Config` and swaps it in; nobody can change one in place.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub server: Arc<ServerConfig>,
    pub models: Arc<ModelsConfig>,
    pub labels: Arc<LabelsConfig>,
    pub analysis: Arc<AnalysisConfig>,
    pub patterns: Arc<PatternsConfig>,
    pub features: Arc<FeaturesConfig>,
    pub logging: Arc<LoggingConfig>,
    pub storage: Arc<StorageConfig>,
    pub performance: Arc<PerformanceConfig>,
    /// The trained risk head (empty when `risk_head.yaml` is absent).
    pub risk_head: Arc<RiskHeadConfig>,
}

impl Config {
    /// The effective configuration as YAML, secrets shown as `<redacted>`.
    pub fn to_redacted_yaml(&self) -> String {
        serde_yaml::to_string(self)
            .unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }

    /// The effective configuration as JSON, secrets shown as `<redacted>`.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Checks that the files agree with each other (roles have labels, families name real
    /// switches). Problems are attributed to the file that should change.
    fn validate_across_files(&self, dir: &Path) -> Vec<ConfigError> {
        let mut labels = Validator::default();
        if let Some(set) = self.labels.active() {
            for (role, def) in self.models.enabled_roles() {
                let model_kind = self.models.models.get(&def.model).map(|m| m.kind);
                labels.at("sets", |v| {
                    v.at(&self.labels.active_set, |v| {
                        v.at("roles", |v| match set.roles.get(role) {
                            None => v.problem(
                                role,
                                None,
                                "enabled role (models.yaml) has no labels in the active label set",
                            ),
                            Some(defs) if model_kind != Some(ModelKind::Classifier) => {
                                for (i, d) in defs.iter().enumerate() {
                                    if d.baseline_similarity.is_some()
                                        && model_kind != Some(ModelKind::Embedding)
                                    {
                                        v.problem(
                                            &format!("{role}[{i}].baseline_similarity"),
                                            None,
                                            "only applies to embedding models",
                                        );
                                    }
                                    if d.description.is_none() && d.baseline_similarity.is_none() {
                                        v.problem(
                                            &format!("{role}[{i}].description"),
                                            None,
                                            "is required for embedding and nli models",
                                        );
                                    }
                                }
                            }
                            Some(_) => {}
                        });
                    });
                });
            }
        }
        let mut patterns = Validator::default();
        patterns.at("families", |v| {
            for (name, family) in &self.patterns.families {
                if let Some(feature) = &family.feature
                    && self.features.by_name(feature).is_none()
                {
                    v.problem(
                        &format!("{name}.feature"),
                        Some(feature.clone()),
                        "names no switch in features.yaml",
                    );
                }
            }
        });
        let mut head = Validator::default();
        if self.risk_head.is_present() {
            let model_kind = self
                .models
                .models
                .get(&self.risk_head.model)
                .map(|m| m.kind);
            head.ensure(
                model_kind == Some(ModelKind::Embedding),
                "model",
                &self.risk_head.model,
                "must name an embedding model of models.yaml (retrain with `cargo xtask train`)",
            );
            head.at("features", |v| {
                v.at("families", |v| {
                    for (i, family) in self.risk_head.features.families.iter().enumerate() {
                        if !self.patterns.families.contains_key(family) {
                            v.problem(
                                &format!("[{i}]"),
                                Some(family.clone()),
                                "names no family of patterns.yaml (retrain with `cargo xtask train`)",
                            );
                        }
                    }
                });
            });
        }
        [
            (ConfigFile::Labels, labels),
            (ConfigFile::Patterns, patterns),
            (ConfigFile::RiskHead, head),
        ]
        .into_iter()
        .filter_map(|(file, v)| {
            let problems = v.into_problems();
            (!problems.is_empty()).then(|| ConfigError::Invalid {
                file: dir.join(file.file_name()),
                problems,
            })
        })
        .collect()
    }
}

/// Loads a configuration directory, through the cache when it is enabled.
#[derive(Debug)]
pub struct ConfigLoader {
    dir: PathBuf,
    env: Environment,
    cache: Option<ConfigCache>,
}

impl ConfigLoader {
    /// A loader for `dir` under `env`. The cache settings come from `performance.yaml` (and
    /// `NLP_PERFORMANCE_ENABLE_CONFIG_CACHING`), read once here.
    pub fn new(dir: impl Into<PathBuf>, env: Environment) -> Result<Self, ConfigError> {
        let dir = dir.into();
        let meta = std::fs::metadata(&dir).map_err(|source| ConfigError::Io {
            file: dir.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(ConfigError::Io {
                file: dir.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let performance = Self::load_uncached::<PerformanceConfig>(&dir, &env)?;
        let cache = performance.config_cache.enabled.then(|| {
            ConfigCache::new(
                performance.config_cache.max_entries,
                Duration::from_millis(performance.config_cache.check_interval_ms),
            )
        });
        Ok(Self { dir, env, cache })
    }

    /// The configuration directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment snapshot in use.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// One section (cached when the cache is on).
    pub fn section<T: Section>(&self) -> Result<Arc<T>, ConfigError> {
        self.section_with(Freshness::WithinInterval)
    }

    fn section_with<T: Section>(&self, freshness: Freshness) -> Result<Arc<T>, ConfigError> {
        match &self.cache {
            Some(cache) => cache.get::<T>(&self.path_of::<T>(), &self.env, freshness),
            None => Self::load_uncached::<T>(&self.dir, &self.env).map(Arc::new),
        }
    }

    /// Reads, parses and validates one section without the cache (what the cache saves).
    pub fn load_uncached<T: Section>(dir: &Path, env: &Environment) -> Result<T, ConfigError> {
        let path = dir.join(T::FILE.file_name());
        let read = cache::Fingerprint::read(&path)?;
        load::parse_section::<T>(&path, read.as_ref().map(|(_, text)| text.as_str()), env)
    }

    fn path_of<T: Section>(&self) -> PathBuf {
        self.dir.join(T::FILE.file_name())
    }

    /// The whole configuration, every file checked against its current content.
    pub fn load(&self) -> Result<Config, ConfigError> {
        self.load_with(Freshness::CheckNow)
    }

    fn load_with(&self, f: Freshness) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        macro_rules! take {
            ($ty:ty) => {
                match self.section_with::<$ty>(f) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            };
        }
        let risk_head = take!(RiskHeadConfig);
        let (server, models, labels, analysis, patterns, features, logging, storage, performance) = (
            take!(ServerConfig),
            take!(ModelsConfig),
            take!(LabelsConfig),
            take!(AnalysisConfig),
            take!(PatternsConfig),
            take!(FeaturesConfig),
            take!(LoggingConfig),
            take!(StorageConfig),
            take!(PerformanceConfig),
        );
        let config = match (
            server,
            models,
            labels,
            analysis,
            patterns,
            features,
            logging,
            storage,
            performance,
            risk_head,
        ) {
            (
                Some(server),
                Some(models),
                Some(labels),
                Some(analysis),
                Some(patterns),
                Some(features),
                Some(logging),
                Some(storage),
                Some(performance),
                Some(risk_head),
            ) => Config {
                server,
                models,
                labels,
                analysis,
                patterns,
                features,
                logging,
                storage,
                performance,
                risk_head,
            },
            _ => return Err(ConfigError::combine(errors).unwrap_or_else(unreachable_combine)),
        };
        errors.extend(config.validate_across_files(&self.dir));
        match ConfigError::combine(errors) {
            Some(e) => Err(e),
            None => Ok(config),
        }
    }

    /// Cache counters, when the cache is on.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(ConfigCache::stats)
    }

    /// Variables that look like Ash-NLP settings (`NLP_*`, `GLOBAL_*`) but are not read: v3.1
    /// names with no equivalent here, or typos. Names only; values may be secrets.
    pub fn unused_variables(&self) -> Vec<String> {
        self.env
            .names()
            .filter(|n| n.starts_with("NLP_") || n.starts_with("GLOBAL_"))
            .filter(|n| !ENV_BINDINGS.iter().any(|b| b.var == *n))
            .map(str::to_owned)
            .collect()
    }
}

fn unreachable_combine() -> ConfigError {
    // A section is missing only when its load pushed an error.
    unreachable!("a configuration section failed without an error; this is a bug")
}
