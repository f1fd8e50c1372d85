//! A snapshot of the environment variables the configuration reads.
//!
//! Loading works on a snapshot rather than on `std::env` directly so that tests can describe an
//! environment without mutating the process (which is unsound with threads), and so that a hot
//! reload sees the same environment as start-up did.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ConfigError;

/// Environment variables, with `.env`-style inline comments already removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// Every variable of the current process.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars().map(|(k, v)| (k, strip_inline_comment(&v).to_owned())))
    }

    /// Variables given explicitly (tests, tools), taken exactly as given.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { vars }
    }

    /// Reads a `.env` file (the format Docker Compose uses) and lays the process environment over
    /// it: a variable set in the process wins over the file, as with Compose.
    pub fn from_process_with_dotenv(path: &Path) -> Result<Self, ConfigError> {
        let mut env = Self::from_dotenv_file(path)?;
        for (key, value) in std::env::vars() {
            env.vars
                .insert(key, strip_inline_comment(&value).to_owned());
        }
        Ok(env)
    }

    /// Reads only a `.env` file.
    pub fn from_dotenv_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_owned(),
            source,
        })?;
        Ok(Self::from_pairs(parse_dotenv(&text)))
    }

    /// The same environment with `name` set to `value` (tools that point at their own paths).
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// The value of `name`, or `None` when it is unset or empty.
    ///
    /// An empty value counts as unset: `NLP_X=` in a `.env` file is how people "comment out" a
    /// value, and treating it as the empty string would turn it into a parse error or, worse, an
    /// empty setting.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// All variable names (for reporting variables that are set but mean nothing here).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }
}

/// Removes a trailing ` # comment` from an unquoted value.
///
/// The v3.1 `.env.template` writes `NLP_X=50      # explanation`. Docker Compose strips that comment,
/// but `docker run --env-file` and systemd keep it, and v3.1 then crashed on `int("50   # …")`.
/// A `#` not preceded by whitespace is part of the value (`color=#fff`, URLs with fragments).
pub fn strip_inline_comment(value: &str) -> &str {
    let trimmed = value.trim_start();
    if trimmed.starts_with('"') || trimmed.starts_with('\'') {
        return value;
    }
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return value[..i].trim_end();
        }
    }
    value.trim_end()
}

/// Parses `KEY=value` lines: blank lines and `#` lines are skipped, `export ` is allowed, values
/// may be single- or double-quoted (quotes removed, no comment stripping inside them).
///
/// Hand-written because the format is a dozen lines and the `.env` crates disagree on inline
/// comments, which is exactly the case that matters for v3.1 files.
fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().to_owned();
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => match value[1..].find(q) {
                Some(end) => value[1..=end].to_owned(),
                None => value.to_owned(),
            },
            _ => strip_inline_comment(value).to_owned(),
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_comments_are_not_part_of_the_value() {
        assert_eq!(strip_inline_comment("50      # Max entries"), "50");
        assert_eq!(strip_inline_comment("true\t# on"), "true");
        assert_eq!(strip_inline_comment("#fff"), "");
        assert_eq!(strip_inline_comment("a#b"), "a#b");
        assert_eq!(
            strip_inline_comment("\"quoted # kept\""),
            "\"quoted # kept\""
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_pairs([("A", ""), ("B", "   "), ("C", "x")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), Some("x"));
    }

    #[test]
    fn dotenv_lines_are_parsed_like_compose() {
        let parsed = parse_dotenv(
            "# header\n\nNLP_ENSEMBLE_MODE=majority    # comment\nexport GLOBAL_NLP_API_PORT=8881\n\
             NLP_ZERO_SHOT_HYPOTHESIS_TEMPLATE=\"This text expresses {label} # not a comment\"\nBROKEN\n",
        );
        assert_eq!(
            parsed,
            vec![
                ("NLP_ENSEMBLE_MODE".into(), "majority".into()),
                ("GLOBAL_NLP_API_PORT".into(), "8881".into()),
                (
                    "NLP_ZERO_SHOT_HYPOTHESIS_TEMPLATE".into(),
                    "This text expresses {label} # not a comment".into()
                ),
            ]
        );
    }
}
