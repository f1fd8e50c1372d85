//! Which environment variable overrides which key of which file, and how its text is typed.
//!
//! One table, so that the documentation, the `--check-config` output and the loader cannot
//! disagree. Names are the v3.1 names where the concept is the same; new concepts get new `NLP_`
//! names.

use serde_yaml::Value;

use crate::ConfigFile;

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

use ConfigFile::*;
use ValueKind::*;

/// Every environment override the service honours.
pub const ENV_BINDINGS: &[EnvBinding] = &[
    // server.yaml
    bind("NLP_SERVER_HOST", Server, "host", Text),
    bind("GLOBAL_NLP_API_PORT", Server, "port", Integer),
    bind(
        "GLOBAL_REQUEST_TIMEOUT",
        Server,
        "request_timeout_ms",
        SecondsAsMillis,
    ),
    bind(
        "NLP_PERFORMANCE_MAX_CONCURRENT_REQUESTS",
        Server,
        "max_concurrent_requests",
        Integer,
    ),
    bind(
        "NLP_SERVER_MAX_MESSAGE_CHARS",
        Server,
        "max_message_chars",
        Integer,
    ),
    bind(
        "NLP_SERVER_ALLOW_DEGRADED_START",
        Server,
        "allow_degraded_start",
        Bool,
    ),
    bind("GLOBAL_ENABLE_CORS", Server, "cors.enabled", Bool),
    bind(
        "GLOBAL_CORS_ALLOWED_ORIGINS",
        Server,
        "cors.allowed_origins",
        List,
    ),
    bind(
        "GLOBAL_CORS_ALLOWED_METHODS",
        Server,
        "cors.allowed_methods",
        List,
    ),
    bind(
        "GLOBAL_CORS_ALLOWED_HEADERS",
        Server,
        "cors.allowed_headers",
        List,
    ),
    bind(
        "NLP_SERVER_SECURITY_RATE_LIMIT_ENABLE",
        Server,
        "rate_limit.enabled",
        Bool,
    ),
    bind(
        "NLP_PERFORMANCE_RATE_LIMIT_PER_MINUTE",
        Server,
        "rate_limit.requests_per_minute",
        Integer,
    ),
    bind(
        "NLP_PERFORMANCE_RATE_LIMIT_BURST",
        Server,
        "rate_limit.burst",
        Integer,
    ),
    bind("NLP_SECURITY_API_KEY", Server, "security.api_key", Text),
    bind(
        "NLP_SECURITY_ANALYZE_REQUIRES_KEY",
        Server,
        "security.analyze_requires_key",
        Bool,
    ),
    bind(
        "GLOBAL_ALLOWED_IPS",
        Server,
        "security.feedback_allowed_ips",
        List,
    ),
    // models.yaml
    bind("ORT_DYLIB_PATH", Models, "runtime.library_path", Text),
    bind("NLP_MODEL_CACHE_DIR", Models, "runtime.cache_dir", Text),
    bind(
        "NLP_HARDWARE_DEVICE",
        Models,
        "runtime.execution_provider",
        OneOf(&["auto", "cpu", "cuda"]),
    ),
    bind(
        "NLP_HARDWARE_INTRA_THREADS",
        Models,
        "runtime.intra_threads",
        Integer,
    ),
    bind("NLP_HARDWARE_SESSIONS", Models, "runtime.sessions", Integer),
    bind(
        "NLP_HARDWARE_MAX_BATCH_SIZE",
        Models,
        "batching.max_batch_size",
        Integer,
    ),
    bind(
        "NLP_MODEL_DEPRESSION_WEIGHT",
        Models,
        "roles.depression.weight",
        Float,
    ),
    bind(
        "NLP_MODEL_SENTIMENT_WEIGHT",
        Models,
        "roles.sentiment.weight",
        Float,
    ),
    bind(
        "NLP_MODEL_DISTRESS_WEIGHT",
        Models,
        "roles.emotional_distress.weight",
        Float,
    ),
    bind(
        "NLP_MODEL_DEPRESSION_ENABLED",
        Models,
        "roles.depression.enabled",
        Bool,
    ),
    bind(
        "NLP_MODEL_SENTIMENT_ENABLED",
        Models,
        "roles.sentiment.enabled",
        Bool,
    ),
    bind(
        "NLP_MODEL_DISTRESS_ENABLED",
        Models,
        "roles.emotional_distress.enabled",
        Bool,
    ),
    // labels.yaml
    bind("NLP_ZERO_SHOT_LABEL_SET", Labels, "active_set", Text),
    bind(
        "NLP_ZERO_SHOT_ENABLE_LABEL_SET_SWITCHING",
        Labels,
        "allow_switching",
        Bool,
    ),
    bind(
        "NLP_ZERO_SHOT_HYPOTHESIS_TEMPLATE",
        Labels,
        "hypothesis_template",
        Text,
    ),
    // analysis.yaml
    bind(
        "NLP_RISK_HEAD_MODE",
        Analysis,
        "risk_head.mode",
        OneOf(&["off", "shadow", "decide"]),
    ),
    bind(
        "NLP_RISK_HEAD_ENSEMBLE_RAISES_TO_HIGH",
        Analysis,
        "risk_head.ensemble_raises_to_high",
        Bool,
    ),
    bind("NLP_CONTEXT_ENABLED", Analysis, "context.enabled", Bool),
    bind(
        "NLP_CONTEXT_UNSCORED_HISTORY",
        Analysis,
        "context.unscored_history",
        OneOf(&["safe", "patterns"]),
    ),
    bind(
        "NLP_ENSEMBLE_MODE",
        Analysis,
        "ensemble.mode",
        OneOf(&["consensus", "majority", "weighted"]),
    ),
    bind(
        "NLP_THRESHOLD_CONSENSUS_ENSEMBLE_LOW",
        Analysis,
        "thresholds.consensus.low",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_CONSENSUS_ENSEMBLE_MEDIUM",
        Analysis,
        "thresholds.consensus.medium",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_CONSENSUS_ENSEMBLE_HIGH",
        Analysis,
        "thresholds.consensus.high",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_CONSENSUS_ENSEMBLE_CRITICAL",
        Analysis,
        "thresholds.consensus.critical",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_MAJORITY_ENSEMBLE_LOW",
        Analysis,
        "thresholds.majority.low",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_MAJORITY_ENSEMBLE_MEDIUM",
        Analysis,
        "thresholds.majority.medium",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_MAJORITY_ENSEMBLE_HIGH",
        Analysis,
        "thresholds.majority.high",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_MAJORITY_ENSEMBLE_CRITICAL",
        Analysis,
        "thresholds.majority.critical",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_WEIGHTED_ENSEMBLE_LOW",
        Analysis,
        "thresholds.weighted.low",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_WEIGHTED_ENSEMBLE_MEDIUM",
        Analysis,
        "thresholds.weighted.medium",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_WEIGHTED_ENSEMBLE_HIGH",
        Analysis,
        "thresholds.weighted.high",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_WEIGHTED_ENSEMBLE_CRITICAL",
        Analysis,
        "thresholds.weighted.critical",
        Float,
    ),
    bind(
        "NLP_GAP_DETECTION_MAX_CONFIDENCE_SPREAD",
        Analysis,
        "gap_detection.max_score_spread",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_STAFF_REVIEW_MEDIUM_CONFIDENCE",
        Analysis,
        "staff_review.medium_confidence_below",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_STAFF_REVIEW_LOW_CONFIDENCE",
        Analysis,
        "staff_review.low_confidence_below",
        Float,
    ),
    bind(
        "NLP_THRESHOLD_STAFF_REVIEW_ON_DISAGREEMENT",
        Analysis,
        "staff_review.on_disagreement",
        Bool,
    ),
    bind(
        "NLP_ANALYSIS_LEARNING_RATE",
        Analysis,
        "learning.calibration.step",
        Float,
    ),
    bind(
        "NLP_ANALYSIS_LEARNING_MAX_DRIFT",
        Analysis,
        "learning.calibration.max_drift",
        Float,
    ),
    bind(
        "NLP_ANALYSIS_LEARNING_MAX_ADJUSTMENTS_PER_DAY",
        Analysis,
        "learning.calibration.max_adjustments_per_day",
        Integer,
    ),
    bind(
        "GLOBAL_LEARNING_SYSTEM_ENABLED",
        Analysis,
        "learning.calibration.enabled",
        Bool,
    ),
    // features.yaml
    bind(
        "NLP_FEATURE_CORE_ENSEMBLE_ANALYSIS",
        Features,
        "ensemble_analysis",
        Bool,
    ),
    bind("NLP_FEATURE_PATTERN_ANALYSIS", Features, "patterns", Bool),
    bind("NLP_FEATURE_REDUCERS", Features, "reducers", Bool),
    bind(
        "NLP_FEATURE_CONTEXT_ANALYSIS",
        Features,
        "context_amplifiers",
        Bool,
    ),
    bind(
        "NLP_FEATURE_COMMUNITY_VOCAB",
        Features,
        "community_patterns",
        Bool,
    ),
    bind("NLP_FEATURE_GAP_DETECTION", Features, "gap_detection", Bool),
    bind(
        "NLP_FEATURE_CORE_STAFF_REVIEW_LOGIC",
        Features,
        "staff_review_rules",
        Bool,
    ),
    bind(
        "NLP_FEATURE_THRESHOLD_LEARNING",
        Features,
        "learned_adjustments",
        Bool,
    ),
    // logging.yaml
    bind("GLOBAL_LOG_LEVEL", Logging, "level", Text),
    bind(
        "NLP_LOG_FORMAT",
        Logging,
        "format",
        OneOf(&["human", "json"]),
    ),
    bind("NLP_LOGGING_INCLUDE_IDS", Logging, "include_ids", Bool),
    // storage.yaml
    bind(
        "NLP_STORAGE_BACKEND",
        Storage,
        "backend",
        OneOf(&["embedded", "redis"]),
    ),
    bind("NLP_STORAGE_DATA_DIR", Storage, "data_dir", Text),
    bind("NLP_STORAGE_REDIS_URL", Storage, "redis_url", Text),
    bind(
        "NLP_STORAGE_RETAIN_MESSAGE_TEXT",
        Storage,
        "retain_message_text",
        Bool,
    ),
    bind(
        "NLP_STORAGE_RETENTION_DAYS",
        Storage,
        "retention_days",
        Integer,
    ),
    // performance.yaml
    bind(
        "NLP_PERFORMANCE_ENABLE_CONFIG_CACHING",
        Performance,
        "config_cache.enabled",
        Bool,
    ),
    bind(
        "NLP_CONFIG_CACHE_MAX_ENTRIES",
        Performance,
        "config_cache.max_entries",
        Integer,
    ),
    bind(
        "NLP_CONFIG_CACHE_FILE_WATCHING",
        Performance,
        "reload.watch",
        Bool,
    ),
];

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
