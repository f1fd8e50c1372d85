//! The whole effective configuration: one immutable value, shared, replaced whole on reload.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::*;

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
    pub(crate) fn validate_across_files(&self, dir: &Path) -> Vec<ConfigError> {
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
        // A single message past the concurrency limit waits `admission_wait_ms`, then up to
        // `inference_timeout_ms` for the model, then falls back to a degraded answer; a request
        // deadline shorter than that path turns the degraded answer into a 503, which the bot
        // counts towards opening its breaker.
        let mut server = Validator::default();
        let real_time_path =
            self.server.admission_wait_ms + self.models.runtime.inference_timeout_ms;
        server.ensure(
            self.server.request_timeout_ms > real_time_path,
            "request_timeout_ms",
            self.server.request_timeout_ms,
            &format!(
                "must be longer than admission_wait_ms + models.yaml runtime.inference_timeout_ms \
                 ({real_time_path} ms), or a message that waited for a place gets 503 instead of \
                 its degraded answer (variables: GLOBAL_REQUEST_TIMEOUT in seconds, \
                 NLP_SERVER_ADMISSION_WAIT_MS)"
            ),
        );
        [
            (ConfigFile::Server, server),
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
