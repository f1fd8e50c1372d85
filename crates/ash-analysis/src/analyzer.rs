//! The analyzer: one configuration's compiled patterns, and the pipeline a message goes through
//! (normalise → patterns → models read → decision → context).

use std::sync::Arc;

use ash_config::{Config, CrisisLevel, LevelThresholds, RiskHeadMode};
use ash_types::ModelEvidence;

use crate::{
    Decision, Degradation, HeadResult, HistoryEntry, LearnedAdjustment, PatternEngine,
    PatternMatch, RoleResult, Rule, Stages, context, decision, ensemble, head, learning, normalize,
};

/// Why an analysis cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The pattern configuration does not compile.
    #[error("patterns: {0}")]
    Patterns(String),
}

/// Analyses messages under one configuration version (patterns compiled once).
#[derive(Debug)]
pub struct Analyzer {
    config: Arc<Config>,
    engine: PatternEngine,
}

impl Analyzer {
    /// Compiles the patterns of `config`.
    pub fn new(config: Arc<Config>) -> Result<Self, AnalysisError> {
        let engine = PatternEngine::compile(&config.patterns)?;
        Ok(Self { config, engine })
    }

    /// The configuration this analyzer was built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Analyses one message.
    pub fn analyze(&self, text: &str, models: ModelEvidence<'_>) -> Decision {
        self.analyze_adjusted(text, models, None)
    }

    /// Analyses one message with a learned adjustment from staff corrections.
    pub fn analyze_adjusted(
        &self,
        text: &str,
        models: ModelEvidence<'_>,
        adjustment: Option<&LearnedAdjustment>,
    ) -> Decision {
        let config = &*self.config;
        let features = &config.features;
        let normalized = normalize::normalize(text);
        let patterns = if features.patterns {
            self.engine.find(&normalized, features)
        } else {
            Vec::new()
        };
        // One choice of thresholds for every stage of this request: calibrated when staff
        // corrections calibrated them, else the configured ones.
        let adjustment = adjustment.filter(|_| features.learned_adjustments);
        let thresholds =
            learning::thresholds_in_effect(config, adjustment.map_or(0.0, |a| a.threshold_offset));
        let thresholds = &thresholds;
        let head = match models {
            ModelEvidence::Outputs(out) => {
                self.run_head(out, &patterns, &normalized.key, thresholds)
            }
            _ => None,
        };
        let expected_roles = config.models.enabled_roles().count();
        let (roles, degraded, label_set) = read_models(config, models, thresholds);
        let stages = Stages {
            ensemble: !roles.is_empty(),
            patterns: features.patterns,
            reducers: features.patterns && features.reducers,
            context_amplifiers: features.patterns && features.context_amplifiers,
            gap_detection: features.gap_detection,
            staff_review_rules: features.staff_review_rules,
            learned_adjustments: features.learned_adjustments && adjustment.is_some(),
        };
        decision::decide(decision::Evidence {
            config,
            patterns,
            roles,
            degraded,
            label_set,
            expected_roles,
            stages,
            adjustment,
            thresholds,
            head,
            head_mode: config.analysis.risk_head.mode,
        })
    }

    /// Analyses one message in the light of the user's recent messages (`history`, as the client
    /// sent it; `now` is when the current message is analysed). With context switched off the
    /// history is not read, and the decision carries no context analysis.
    pub fn analyze_in_context(
        &self,
        text: &str,
        models: ModelEvidence<'_>,
        adjustment: Option<&LearnedAdjustment>,
        history: &[HistoryEntry<'_>],
        now: jiff::Timestamp,
    ) -> Decision {
        let mut decision = self.analyze_adjusted(text, models, adjustment);
        let settings = &self.config.analysis.context;
        if !settings.enabled {
            return decision;
        }
        let judge = |item: &str| match settings.unscored_history {
            ash_config::UnscoredHistory::Safe => 0.0,
            ash_config::UnscoredHistory::Patterns => {
                self.analyze(item, ModelEvidence::Disabled).crisis_score
            }
        };
        let (analysis, raise_to) = context::analyze(
            history,
            now,
            (decision.level, decision.crisis_score),
            settings,
            &judge,
        );
        if let Some(to) = raise_to {
            let rule = match analysis.raised_by {
                Some(context::RaiseReason::RecentRisk) => Rule::RecentRiskCarriedOver,
                _ => Rule::ConversationEscalation,
            };
            decision.raise_for_context(to, rule, &self.config);
        }
        decision.context = Some(analysis);
        decision
    }

    /// The risk head's answer, when a head is configured, switched on, and the message has an
    /// embedding of the size it reads.
    fn run_head(
        &self,
        out: &ash_types::ModelOutputs,
        patterns: &[PatternMatch],
        key: &str,
        thresholds: &LevelThresholds,
    ) -> Option<HeadResult> {
        let head = &self.config.risk_head;
        if self.config.analysis.risk_head.mode == RiskHeadMode::Off || !head.is_present() {
            return None;
        }
        let embedding = out.embedding.as_deref()?;
        if embedding.len() != head.features.embedding_dim {
            return None;
        }
        // Every window of a long message is read; the worst one decides (highest level, then the
        // highest probability of `medium` or above).
        let windows = std::iter::once(embedding)
            .chain(out.window_embeddings.iter().map(Vec::as_slice))
            .filter(|w| w.len() == head.features.embedding_dim);
        let mut read = 0;
        let mut worst: Option<HeadResult> = None;
        for window in windows {
            read += 1;
            let x = head::features(head, window, patterns, key);
            let result = head::evaluate(head, &x, thresholds);
            let worse = worst.as_ref().is_none_or(|w| {
                (result.level, result.at_or_above(CrisisLevel::Medium))
                    > (w.level, w.at_or_above(CrisisLevel::Medium))
            });
            if worse {
                worst = Some(result);
            }
        }
        worst.map(|w| HeadResult { windows: read, ..w })
    }
}

/// The role results the models give, and what is missing and why (a degraded analysis says so).
fn read_models(
    config: &Config,
    models: ModelEvidence<'_>,
    thresholds: &LevelThresholds,
) -> (
    std::collections::BTreeMap<String, RoleResult>,
    Option<Degradation>,
    Option<String>,
) {
    match models {
        ModelEvidence::Outputs(out) => {
            let roles = ensemble::role_results(&out.roles, thresholds);
            let missing: Vec<String> = out.failures.iter().flat_map(|f| f.roles.clone()).collect();
            let degraded = (!out.failures.is_empty()).then(|| {
                let kinds: std::collections::BTreeSet<&str> =
                    out.failures.iter().map(|f| f.kind.as_str()).collect();
                Degradation {
                    reason: if roles.is_empty() {
                        format!("model_{}", kinds.into_iter().collect::<Vec<_>>().join("+"))
                    } else {
                        "partial".to_owned()
                    },
                    detail: out
                        .failures
                        .iter()
                        .map(|f| format!("{}: {}", f.model, f.kind))
                        .collect::<Vec<_>>()
                        .join(", "),
                    missing_roles: missing,
                }
            });
            (roles, degraded, Some(out.label_set.clone()))
        }
        ModelEvidence::Unavailable { kind, detail } => (
            Default::default(),
            Some(Degradation {
                reason: format!("model_{kind}"),
                detail: detail.to_owned(),
                missing_roles: config
                    .models
                    .enabled_roles()
                    .map(|(r, _)| r.clone())
                    .collect(),
            }),
            None,
        ),
        ModelEvidence::Disabled => (
            Default::default(),
            Some(Degradation {
                reason: "ensemble_disabled".to_owned(),
                detail: "features.yaml: ensemble_analysis is off".to_owned(),
                missing_roles: Vec::new(),
            }),
            None,
        ),
    }
}
