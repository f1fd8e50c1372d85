//! The table itself: one row per environment variable, grouped by file.

use super::{EnvBinding, ValueKind, bind};
use crate::ConfigFile;

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
