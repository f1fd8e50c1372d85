//! One-shot loading of a configuration directory: every file, the environment, the cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::*;

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
