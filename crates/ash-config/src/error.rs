//! Configuration errors: every one names the file, the key and, when the value came from the
//! environment, the variable and its value.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path inside the file, e.g. `network.port`.
    pub key: String,
    /// The environment variable the bad value came from, if any.
    pub env_var: Option<String>,
    /// The offending value as written (absent for secrets and missing values).
    pub value: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`", self.key)?;
        match (&self.env_var, &self.value) {
            (Some(var), Some(value)) => write!(f, " (from {var}={value:?})")?,
            (Some(var), None) => write!(f, " (from {var})")?,
            (None, Some(value)) => write!(f, " (value {value:?})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not YAML at all (no key-level report is possible).
    #[error("{} is not valid YAML: {message}", file.display())]
    Syntax { file: PathBuf, message: String },
    /// A file parsed, but some of its values are wrong. All problems of the file are listed.
    #[error("{} has {} problem(s):\n{}", file.display(), problems.len(), list(problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    /// Several files failed; each is reported.
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Multiple { errors: Vec<ConfigError> },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// Folds several errors into one, or returns `None` when there are none.
    pub fn combine(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Multiple { errors }),
        }
    }

    /// Every problem with its file, flattened (for tests and the health report).
    pub fn problems(&self) -> Vec<(PathBuf, Problem)> {
        match self {
            ConfigError::Invalid { file, problems } => {
                problems.iter().map(|p| (file.clone(), p.clone())).collect()
            }
            ConfigError::Multiple { errors } => errors.iter().flat_map(Self::problems).collect(),
            ConfigError::Io { .. } | ConfigError::Syntax { .. } => Vec::new(),
        }
    }
}
