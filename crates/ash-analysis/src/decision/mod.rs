//! Evidence → decision: the score formula, the level, the safety rules, confidence, staff review.
//!
//! The formula, in order:
//! 1. `ensemble` — the ensemble score (see [`crate::ensemble`]), 0 when no model answered.
//! 2. `patterns` — crisis families combined by noisy-OR: `1 − Π(1 − w)` over the strongest match of
//!    each family (negated matches excluded).
//! 3. `base = m + κ·n·(1 − m)` with `m`/`n` the larger/smaller of the two and `κ` =
//!    `agreement_boost`: either source alone can set the score, and agreement raises it a little.
//! 4. Amplifiers multiply existing evidence: `base × (1 + A)`, `A = min(noisy-OR of amplifier
//!    weights, max_amplification)`. With no evidence they add nothing ("never alone").
//! 5. Reducers, unless explicit intent fired: `× (1 − R)`, `R = min(noisy-OR of reducer weights,
//!    max_reduction)`. A negated crisis match does not count as evidence, and reduces nothing.
//! 6. Level from the mode's thresholds, then the safety rules, which only ever raise it.

mod floor;
mod review;
mod score;

use std::collections::{BTreeMap, BTreeSet};

use ash_config::{Config, CrisisLevel, LevelThresholds, PatternEffect, RiskHeadMode};
use serde::Serialize;

use crate::ensemble::{self, RoleResult};
use crate::head::HeadResult;
use crate::patterns::PatternMatch;

pub use floor::PatternFloor;

/// A rule that shaped the decision (named in the explanation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Explicit intent (plan, method, goodbye, self-harm, suicidal statement): at least `high`.
    ExplicitIntentFloor,
    /// Explicit intent with a plan, method or time: `critical`.
    ImminentRiskCritical,
    /// Without models, crisis patterns never yield `none`.
    DegradedPatternsNotNone,
    /// Reducers (idiom, game, quote, sarcasm, negation) lowered the score.
    ReducersApplied,
    /// Reducers were present but explicit intent overrides them.
    ReducersOverriddenByIntent,
    /// Amplifiers (urgency, intensity) raised the score.
    AmplifiersApplied,
    /// Models disagreed, or patterns and models disagreed.
    GapDetected,
    /// Staff review required (reason in the explanation).
    StaffReviewRequired,
    /// A staff correction for a near-identical message set the level.
    LearnedCorrection,
    /// Thresholds calibrated from staff corrections were used.
    CalibratedThresholds,
    /// The trained risk head set the score (patterns only add floors).
    RiskHead,
    /// Explicit words were told as past and recovered, hypothetical or fiction: no floor.
    FloorSuspendedByContext,
    /// Someone else is at risk now: at least `high`.
    ThirdPartyAtRisk,
    /// Explicit words, but the risk head read no distress in the message: no floor.
    FloorNotSupportedByHead,
    /// The zero-shot ensemble read high risk where the head did not: raised to high.
    EnsembleRaisedToHigh,
    /// The user's recent messages escalate: the answer was raised (bounded).
    ConversationEscalation,
    /// A recent message of the user was high risk: the answer stays at most one level below it.
    RecentRiskCarriedOver,
}

/// Why an answer is degraded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Degradation {
    /// `ensemble_disabled`, `model_unavailable`, `model_timeout`, `model_overloaded`, `partial`, …
    pub reason: String,
    pub detail: String,
    /// Roles that gave no result.
    pub missing_roles: Vec<String>,
}

/// How each term contributed to the score.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Contributions {
    pub ensemble: f64,
    pub patterns: f64,
    /// Score after combining ensemble and patterns.
    pub combined: f64,
    /// Fraction added by amplifiers.
    pub amplification: f64,
    /// Fraction removed by reducers.
    pub reduction: f64,
    /// Score before the safety rules.
    pub before_rules: f64,
    /// Learned adjustment (staff corrections), if any.
    pub learned: f64,
}

/// Which stages ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stages {
    pub ensemble: bool,
    pub patterns: bool,
    pub reducers: bool,
    pub context_amplifiers: bool,
    pub gap_detection: bool,
    pub staff_review_rules: bool,
    pub learned_adjustments: bool,
}

/// The analysis of one message. Contains no message text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub level: CrisisLevel,
    pub crisis_score: f64,
    pub confidence: f64,
    pub needs_response: bool,
    pub requires_staff_review: bool,
    pub gaps_detected: bool,
    pub ensemble_mode: ash_config::EnsembleMode,
    pub ensemble_score: Option<f64>,
    pub pattern_score: f64,
    pub method: String,
    pub degraded: Option<Degradation>,
    pub detected_categories: Vec<String>,
    pub roles: BTreeMap<String, RoleResult>,
    pub patterns: Vec<PatternMatch>,
    pub rules: Vec<Rule>,
    pub staff_review_reasons: Vec<String>,
    pub contributions: Contributions,
    pub stages: Stages,
    pub label_set: Option<String>,
    pub recommended_action: &'static str,
    /// The staff correction that adjusted this decision, if any.
    pub learned: Option<LearnedInfo>,
    /// The trained risk head's own answer (deciding or in shadow), if it ran.
    pub head: Option<HeadResult>,
    /// How the head took part (`decide`, `shadow`, `off`).
    pub head_mode: RiskHeadMode,
    /// The person at risk is someone else (a friend's goodbye, an attempt): staff must know.
    pub third_party: bool,
    /// What the user's recent messages said, when the request carried them.
    pub context: Option<crate::context::ContextAnalysis>,
    /// False when there was nothing to analyse (see [`Decision::nothing_to_analyze`]).
    pub analyzed: bool,
}

impl Decision {
    /// The answer to a message with no text (an attachment or a sticker only): `none`, sure of
    /// it, and marked as not analysed. Clients count an error as a failure, and enough failures
    /// make them stop asking, so this is an answer, not an error.
    pub fn nothing_to_analyze(config: &Config) -> Self {
        Decision {
            level: CrisisLevel::None,
            crisis_score: 0.0,
            confidence: 1.0,
            needs_response: false,
            requires_staff_review: false,
            gaps_detected: false,
            ensemble_mode: config.analysis.ensemble.mode,
            ensemble_score: None,
            pattern_score: 0.0,
            method: "nothing_to_analyze".to_owned(),
            degraded: None,
            detected_categories: Vec::new(),
            roles: BTreeMap::new(),
            patterns: Vec::new(),
            rules: Vec::new(),
            staff_review_reasons: Vec::new(),
            contributions: Contributions::default(),
            stages: Stages::default(),
            label_set: None,
            recommended_action: recommended_action(CrisisLevel::None),
            learned: None,
            head: None,
            head_mode: config.analysis.risk_head.mode,
            third_party: false,
            context: None,
            analyzed: false,
        }
    }

    /// Raises the answer to `to` because of the conversation (`rule` says why). Never lowers.
    pub(crate) fn raise_for_context(&mut self, to: CrisisLevel, rule: Rule, config: &Config) {
        if to <= self.level {
            return;
        }
        self.level = to;
        self.crisis_score = self
            .crisis_score
            .max(crate::head::band(&crate::scale::CLIENT_SCALE, to).0);
        self.needs_response = to >= config.analysis.decision.needs_response_at_or_above;
        self.recommended_action = recommended_action(to);
        self.staff_review_reasons
            .push("the conversation raised the level".to_owned());
        self.requires_staff_review = true;
        for r in [rule, Rule::StaffReviewRequired] {
            if !self.rules.contains(&r) {
                self.rules.push(r);
            }
        }
        self.rules.sort();
    }

    /// True when the head ran in shadow mode and its level differs from the decision's.
    pub fn shadow_disagrees(&self) -> bool {
        self.head_mode == RiskHeadMode::Shadow
            && self.head.as_ref().is_some_and(|h| h.level != self.level)
    }
}

/// Which correction adjusted a decision, and how.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnedInfo {
    pub exemplar_id: Option<String>,
    pub similarity: Option<f64>,
    pub corrected_level: Option<CrisisLevel>,
    pub repeat: bool,
    pub calibrated_thresholds: bool,
}

/// Everything the decision needs, gathered by [`crate::Analyzer`].
pub(crate) struct Evidence<'a> {
    pub config: &'a Config,
    pub patterns: Vec<PatternMatch>,
    pub roles: BTreeMap<String, RoleResult>,
    pub degraded: Option<Degradation>,
    pub label_set: Option<String>,
    pub expected_roles: usize,
    pub stages: Stages,
    pub adjustment: Option<&'a crate::LearnedAdjustment>,
    /// The thresholds of this request (calibrated or configured), chosen once by the analyzer.
    pub thresholds: &'a LevelThresholds,
    pub head: Option<HeadResult>,
    pub head_mode: RiskHeadMode,
}

pub(crate) fn decide(e: Evidence<'_>) -> Decision {
    let analysis = &e.config.analysis;
    let mode = analysis.ensemble.mode;
    let thresholds = e.thresholds;
    let mut rules = BTreeSet::new();
    let deciding_head = e
        .head
        .as_ref()
        .filter(|_| e.head_mode == RiskHeadMode::Decide);

    let ensemble = ensemble::combine(&e.roles, mode, thresholds);
    let crisis = score::per_family(&e.patterns, |m| {
        m.effect == PatternEffect::Crisis && !m.negated
    });
    let pattern_score = score::noisy_or(crisis.iter().copied());
    let floor = floor::effective(&e, deciding_head, &mut rules);
    let scored = score::score(
        &e,
        deciding_head,
        ensemble.as_ref(),
        pattern_score,
        floor.explicit_intent,
        &mut rules,
    );
    let mut score = scored.score;
    let mut level = thresholds.level_for(score);
    let floor_applied = floor::apply(
        &e,
        deciding_head.is_some(),
        ensemble.as_ref(),
        floor,
        !crisis.is_empty(),
        (&mut level, &mut score),
        &mut rules,
    );
    let pattern_level = thresholds.level_for(pattern_score);
    let gaps_detected = review::gaps(
        &e,
        ensemble.as_ref(),
        pattern_level,
        pattern_score,
        &mut rules,
    );
    let confidence = review::confidence(
        &e,
        deciding_head,
        ensemble.as_ref(),
        pattern_level,
        (level, score),
        floor_applied,
    );
    let reasons = review::staff_review_reasons(&e, level, confidence, gaps_detected);
    if !reasons.is_empty() {
        rules.insert(Rule::StaffReviewRequired);
    }
    Decision {
        level,
        crisis_score: crate::scale::to_client_scale(score, level, thresholds),
        confidence,
        needs_response: level >= analysis.decision.needs_response_at_or_above,
        requires_staff_review: !reasons.is_empty(),
        gaps_detected,
        ensemble_mode: mode,
        ensemble_score: ensemble.as_ref().map(|r| r.score),
        pattern_score,
        method: review::method(&e, mode.as_str()),
        detected_categories: review::categories(&e),
        degraded: e.degraded,
        roles: e.roles,
        patterns: e.patterns,
        rules: rules.into_iter().collect(),
        staff_review_reasons: reasons,
        contributions: scored.contributions,
        stages: e.stages,
        label_set: e.label_set,
        recommended_action: recommended_action(level),
        learned: e.adjustment.map(LearnedInfo::from),
        head: e.head,
        head_mode: e.head_mode,
        third_party: floor.third_party,
        context: None,
        analyzed: true,
    }
}

/// Raises `level` to `to` (and `score` to the lowest score of its band); never lowers either.
fn raise(level: &mut CrisisLevel, score: &mut f64, to: CrisisLevel, t: &LevelThresholds) {
    if *level < to {
        *level = to;
        *score = score.max(crate::head::band(t, to).0);
    }
}

/// The middle of a level's band (where a correction pulls a score to).
pub(crate) fn representative_score(t: &LevelThresholds, level: CrisisLevel) -> f64 {
    let (lo, hi) = crate::head::band(t, level);
    (lo + hi) / 2.0
}

/// What staff should do, by level.
pub fn recommended_action(level: CrisisLevel) -> &'static str {
    match level {
        CrisisLevel::Critical => "immediate_intervention",
        CrisisLevel::High => "urgent_staff_response",
        CrisisLevel::Medium => "staff_check_in",
        CrisisLevel::Low => "monitor",
        CrisisLevel::None => "none",
    }
}

impl From<&crate::LearnedAdjustment> for LearnedInfo {
    fn from(a: &crate::LearnedAdjustment) -> Self {
        Self {
            exemplar_id: a.exemplar_id.clone(),
            similarity: a.similarity,
            corrected_level: a.exemplar_level,
            repeat: a.exact,
            calibrated_thresholds: a.calibrated(),
        }
    }
}
