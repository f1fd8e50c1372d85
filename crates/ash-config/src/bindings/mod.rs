//! Which environment variable overrides which key of which file, and how its text is typed.
//!
//! One table, so that the documentation, the `--check-config` output and the loader cannot
//! disagree. Names are the v3.1 names where the concept is the same; new concepts get new `NLP_`
//! names.

mod table;

use ValueKind::*;
use serde_yaml::Value;

use crate::ConfigFile;
pub use table::ENV_BINDINGS;

/// How an environment string becomes a typed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `true/false`, `yes/no`, `on/off`, `1/0`, any case.
    Bool,
    /// A whole number, strictly (no `30s`, no `1e3`).
    Integer,
    /// A finite decimal number.
    Float,
    /// Text, taken as is.
    Text,
    /// Comma-separated text items (empty items dropped).
    List,
    /// One of the given lowercase words (input case is ignored).
    OneOf(&'static [&'static str]),
    /// Seconds (v3.1 style), stored as whole milliseconds.
    SecondsAsMillis,
}

/// One environment override.
#[derive(Clone, Copy, Debug)]
pub struct EnvBinding {
    pub var: &'static str,
    pub file: ConfigFile,
    /// Dotted key path inside the file.
    pub key: &'static str,
    pub kind: ValueKind,
}

/// A table row (a `const fn`, so the table stays a constant).
const fn bind(
    var: &'static str,
    file: ConfigFile,
    key: &'static str,
    kind: ValueKind,
) -> EnvBinding {
    EnvBinding {
        var,
        file,
        key,
        kind,
    }
}

/// Keys whose values must never be echoed in an error message.
pub(crate) fn is_secret(var: &str) -> bool {
    matches!(var, "NLP_SECURITY_API_KEY" | "NLP_STORAGE_REDIS_URL")
}

impl ValueKind {
    /// Types `raw`, or explains what was expected.
    pub fn parse(self, raw: &str) -> Result<Value, String> {
        let raw = raw.trim();
        match self {
            Bool => parse_bool(raw)
                .map(Value::Bool)
                .ok_or_else(|| "expected a boolean: true/false, yes/no, on/off or 1/0".into()),
            Integer => raw
                .parse::<i64>()
                .map(|n| Value::Number(n.into()))
                .map_err(|_| "expected a whole number".into()),
            Float => match raw.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Value::Number(x.into())),
                _ => Err("expected a decimal number".into()),
            },
            Text => Ok(Value::String(raw.to_owned())),
            List => Ok(Value::Sequence(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )),
            OneOf(allowed) => {
                let lower = raw.to_ascii_lowercase();
                if allowed.contains(&lower.as_str()) {
                    Ok(Value::String(lower))
                } else {
                    Err(format!("expected one of: {}", allowed.join(", ")))
                }
            }
            SecondsAsMillis => match raw.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => {
                    Ok(Value::Number(((s * 1000.0).round() as i64).into()))
                }
                _ => Err("expected a number of seconds".into()),
            },
        }
    }
}

/// The one truthy/falsy table.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// The environment-variable table of `docs/configuration.md` (kept in sync by a test).
pub fn env_table_markdown() -> String {
    let mut out = String::from("| Variable | File | Key | Type |\n|---|---|---|---|\n");
    for b in ENV_BINDINGS {
        let kind = match b.kind {
            Bool => "boolean".to_owned(),
            Integer => "integer".to_owned(),
            Float => "number".to_owned(),
            Text => "text".to_owned(),
            List => "comma-separated list".to_owned(),
            OneOf(words) => format!("one of {}", words.join(", ")),
            SecondsAsMillis => "seconds (stored as ms)".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} |\n",
            b.var,
            b.file.file_name(),
            b.key,
            kind
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_one_table() {
        for t in ["true", "TRUE", "Yes", "on", "1"] {
            assert_eq!(Bool.parse(t), Ok(Value::Bool(true)), "{t}");
        }
        for f in ["false", "False", "NO", "off", "0"] {
            assert_eq!(Bool.parse(f), Ok(Value::Bool(false)), "{f}");
        }
        assert!(Bool.parse("maybe").is_err());
    }

    #[test]
    fn numbers_are_strict() {
        assert_eq!(Integer.parse("8881"), Ok(Value::Number(8881.into())));
        for bad in ["30s", "1e3", "1.5", "", "0x10"] {
            assert!(Integer.parse(bad).is_err(), "{bad}");
        }
        assert!(Float.parse("NaN").is_err());
        assert!(Float.parse("inf").is_err());
        assert_eq!(SecondsAsMillis.parse("1.5"), Ok(Value::Number(1500.into())));
    }

    #[test]
    fn every_variable_is_bound_once() {
        let mut seen = std::collections::BTreeSet::new();
        for b in ENV_BINDINGS {
            assert!(seen.insert(b.var), "{} bound twice", b.var);
        }
    }
}
