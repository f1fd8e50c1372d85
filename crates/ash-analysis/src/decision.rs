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

use std::collections::{BTreeMap, BTreeSet};

use ash_config::{Config, CrisisLevel, LevelThresholds, PatternEffect, RiskHeadMode};
use serde::Serialize;

use crate::ensemble::{self, EnsembleResult, RoleResult};
use crate::head::HeadResult;
use crate::patterns::PatternMatch;

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

/// What the pattern matches of one message demand of the level, whatever the models say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatternFloor {
    /// Explicit intent (not told as past, hypothetical or fiction): at least `high`.
    pub explicit_intent: bool,
    /// A plan, method or time: with explicit intent, `critical`.
    pub imminence: bool,
    /// Explicit words were present but told as past, hypothetical or fiction.
    pub suspended: bool,
    /// Someone else is at risk now: at least `high`.
    pub third_party: bool,
}

impl PatternFloor {
    /// The floor of `patterns` (negated matches count for nothing).
    pub fn of(patterns: &[PatternMatch]) -> Self {
        let live = || patterns.iter().filter(|m| !m.negated);
        let imminence = live().any(|m| m.imminence);
        // Past and recovered, hypothetical or fiction: explicit words no longer force the floor,
        // unless the message also speaks of now (imminence).
        let context = !imminence && patterns.iter().any(|m| m.suspends_floor);
        let explicit = live().any(|m| m.explicit_intent);
        Self {
            explicit_intent: explicit && !context,
            imminence,
            suspended: explicit && context,
            third_party: !context && live().any(|m| m.third_party),
        }
    }

    /// The lowest level allowed.
    pub fn level(self) -> CrisisLevel {
        match (self.explicit_intent, self.imminence, self.third_party) {
            (true, true, _) => CrisisLevel::Critical,
            (true, false, _) | (false, _, true) => CrisisLevel::High,
            _ => CrisisLevel::None,
        }
    }
}

fn noisy_or(weights: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - weights
        .into_iter()
        .fold(1.0, |acc, w| acc * (1.0 - w.clamp(0.0, 1.0)))
}

/// Strongest weight per family, for the matches `keep` selects.
fn per_family(patterns: &[PatternMatch], keep: impl Fn(&PatternMatch) -> bool) -> Vec<f64> {
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for m in patterns.iter().filter(|m| keep(m)) {
        let w = best.entry(m.family.as_str()).or_default();
        *w = w.max(m.weight);
    }
    best.into_values().collect()
}

pub(crate) fn decide(e: Evidence<'_>) -> Decision {
    let analysis = &e.config.analysis;
    let features = &e.config.features;
    let mode = analysis.ensemble.mode;
    let thresholds = e.thresholds;
    let calibrated = e.adjustment.and_then(|a| a.thresholds.as_ref());
    let mut rules = BTreeSet::new();
    let deciding_head = e
        .head
        .as_ref()
        .filter(|_| e.head_mode == RiskHeadMode::Decide);

    let ensemble: Option<EnsembleResult> = ensemble::combine(&e.roles, mode, thresholds);
    let ensemble_score = ensemble.as_ref().map_or(0.0, |r| r.score);

    let crisis = per_family(&e.patterns, |m| {
        m.effect == PatternEffect::Crisis && !m.negated
    });
    let pattern_score = noisy_or(crisis.iter().copied());
    let mut floor = PatternFloor::of(&e.patterns);
    if let Some(head) = deciding_head
        && (floor.explicit_intent || floor.third_party)
        && !crate::head::supports_floor(&e.config.risk_head, &head.probabilities)
    {
        // The head reads no distress at all in a message with explicit words ("kms the wifi
        // died lol"): the words alone do not page staff. Without the head, floors always hold.
        floor = PatternFloor {
            explicit_intent: false,
            third_party: false,
            ..floor
        };
        rules.insert(Rule::FloorNotSupportedByHead);
    }
    let PatternFloor {
        explicit_intent,
        imminence,
        suspended,
        third_party,
    } = floor;
    if suspended {
        rules.insert(Rule::FloorSuspendedByContext);
    }

    let (hi, lo) = (
        ensemble_score.max(pattern_score),
        ensemble_score.min(pattern_score),
    );
    let combined = match deciding_head {
        // The head read the pattern families (amplifiers and reducers included) as features.
        Some(head) => head.score,
        None => hi + analysis.decision.agreement_boost * lo * (1.0 - hi),
    };
    let amplifiers = per_family(&e.patterns, |m| m.effect == PatternEffect::Amplifier);
    let amplification = if deciding_head.is_some() {
        0.0
    } else {
        noisy_or(amplifiers).min(analysis.decision.max_amplification)
    };
    if deciding_head.is_some() {
        rules.insert(Rule::RiskHead);
    }
    let mut score = (combined * (1.0 + amplification)).min(1.0);
    if amplification > 0.0 && combined > 0.0 {
        rules.insert(Rule::AmplifiersApplied);
    }
    // A negated crisis match only loses its own weight; it does not reduce what the models say
    // (they read the negation themselves), so a wrongly detected negation cannot hide a crisis.
    let reducers = per_family(&e.patterns, |m| m.effect == PatternEffect::Reducer);
    let reduction = if deciding_head.is_some() {
        0.0
    } else {
        noisy_or(reducers).min(analysis.decision.max_reduction)
    };
    let mut applied_reduction = 0.0;
    if reduction > 0.0 {
        if explicit_intent {
            rules.insert(Rule::ReducersOverriddenByIntent);
        } else {
            score *= 1.0 - reduction;
            applied_reduction = reduction;
            rules.insert(Rule::ReducersApplied);
        }
    }
    let before_rules = score;

    // Learned adjustment from staff corrections (bounded; explicit intent is protected below).
    let mut learned = 0.0;
    if let Some(adj) = e.adjustment {
        if calibrated.is_some() {
            rules.insert(Rule::CalibratedThresholds);
        }
        if let Some(target) = adj.exemplar_level {
            let target_score = representative_score(thresholds, target);
            let shift = (target_score - score).clamp(-adj.max_shift, adj.max_shift) * adj.strength;
            learned = shift;
            score = (score + shift).clamp(0.0, 1.0);
            if adj.exact {
                score = target_score;
                learned = target_score - before_rules;
            }
            rules.insert(Rule::LearnedCorrection);
        }
    }
    let mut level = thresholds.level_for(score);
    let mut floor_applied = false;

    // The zero-shot ensemble may still raise a head's answer to high (a second reading of the
    // message by other means; `analysis.yaml: risk_head.ensemble_raises_to_high`).
    if deciding_head.is_some()
        && analysis.risk_head.ensemble_raises_to_high
        && ensemble
            .as_ref()
            .is_some_and(|r| r.level >= CrisisLevel::High)
        && level < CrisisLevel::High
    {
        rules.insert(Rule::EnsembleRaisedToHigh);
        raise(&mut level, &mut score, CrisisLevel::High, thresholds);
    }

    // Safety rules: they only ever raise the level.
    if explicit_intent {
        rules.insert(Rule::ExplicitIntentFloor);
        raise(&mut level, &mut score, CrisisLevel::High, thresholds);
        floor_applied = true;
        if imminence {
            rules.insert(Rule::ImminentRiskCritical);
            raise(&mut level, &mut score, CrisisLevel::Critical, thresholds);
        }
    }
    if third_party {
        rules.insert(Rule::ThirdPartyAtRisk);
        raise(&mut level, &mut score, CrisisLevel::High, thresholds);
        floor_applied = true;
    }
    let no_models = e.roles.is_empty();
    if no_models && level == CrisisLevel::None && !crisis.is_empty() {
        rules.insert(Rule::DegradedPatternsNotNone);
        raise(&mut level, &mut score, CrisisLevel::Low, thresholds);
        floor_applied = true;
    }

    // Gaps: models disagree among themselves, or with the patterns.
    let pattern_level = thresholds.level_for(pattern_score);
    let mut gaps_detected = false;
    if features.gap_detection {
        if let Some(r) = &ensemble {
            let gap_cfg = &analysis.gap_detection;
            let models_disagree = r.disagreement
                || r.spread > gap_cfg.max_score_spread
                || r.level_distance >= gap_cfg.max_level_distance;
            let mismatch = r.level.rank().abs_diff(pattern_level.rank())
                >= gap_cfg.max_level_distance
                && pattern_score > 0.0;
            gaps_detected = models_disagree || mismatch;
        }
        if gaps_detected {
            rules.insert(Rule::GapDetected);
        }
    }

    let confidence = confidence(
        &e,
        deciding_head,
        ensemble.as_ref(),
        pattern_level,
        score,
        thresholds,
        level,
        floor_applied,
    );

    // Staff review.
    let review = &analysis.staff_review;
    let mut reasons = Vec::new();
    // `always_at_or_above` is validated to be at most `high`.
    if level >= review.always_at_or_above {
        reasons.push(format!("level {level} always needs staff"));
    }
    if features.staff_review_rules {
        if gaps_detected && review.on_disagreement {
            reasons.push("models disagree".to_owned());
        }
        if level == CrisisLevel::Medium && confidence < review.medium_confidence_below {
            reasons.push(format!("medium with low confidence ({confidence:.2})"));
        }
        if level == CrisisLevel::Low && confidence < review.low_confidence_below {
            reasons.push(format!("low with low confidence ({confidence:.2})"));
        }
    }
    if e.degraded.is_some() && level >= CrisisLevel::Low {
        reasons.push("analysis degraded (models missing)".to_owned());
    }
    let requires_staff_review = !reasons.is_empty();
    if requires_staff_review {
        rules.insert(Rule::StaffReviewRequired);
    }

    let mut categories: BTreeSet<String> = e
        .patterns
        .iter()
        .filter(|m| m.effect == PatternEffect::Crisis && !m.negated)
        .filter_map(|m| m.category.clone())
        .collect();
    for r in e.roles.values() {
        if r.top_severity >= 0.3 && !r.top_label.is_empty() {
            categories.insert(r.top_label.clone());
        }
    }

    let method = method(&e, mode.as_str());
    Decision {
        level,
        crisis_score: crate::scale::to_client_scale(score, level, thresholds),
        confidence,
        needs_response: level >= analysis.decision.needs_response_at_or_above,
        requires_staff_review,
        gaps_detected,
        ensemble_mode: mode,
        ensemble_score: ensemble.as_ref().map(|r| r.score),
        pattern_score,
        method,
        degraded: e.degraded,
        detected_categories: categories.into_iter().collect(),
        roles: e.roles,
        patterns: e.patterns,
        rules: rules.into_iter().collect(),
        staff_review_reasons: reasons,
        contributions: Contributions {
            ensemble: ensemble_score,
            patterns: pattern_score,
            combined,
            amplification: if combined > 0.0 { amplification } else { 0.0 },
            reduction: applied_reduction,
            before_rules,
            learned,
        },
        stages: e.stages,
        label_set: e.label_set,
        recommended_action: recommended_action(level),
        learned: e.adjustment.map(|a| LearnedInfo {
            exemplar_id: a.exemplar_id.clone(),
            similarity: a.similarity,
            corrected_level: a.exemplar_level,
            repeat: a.exact,
            calibrated_thresholds: a.thresholds.is_some(),
        }),
        head: e.head,
        head_mode: e.head_mode,
        third_party,
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

/// Confidence from agreement and margin, not from the score itself:
/// - agreement among roles (1 − spread of their scores),
/// - agreement between patterns and models (level distance),
/// - margin: how far inside its level band the score lies.
///
/// It is then lowered for missing roles and raised to 0.8 when an explicit rule set the level.
#[allow(clippy::too_many_arguments)]
fn confidence(
    e: &Evidence<'_>,
    head: Option<&HeadResult>,
    ensemble: Option<&EnsembleResult>,
    pattern_level: CrisisLevel,
    score: f64,
    t: &LevelThresholds,
    level: CrisisLevel,
    floor_applied: bool,
) -> f64 {
    // With the head deciding, its probability for the chosen level stands in for role agreement.
    let role_agreement = match (head, ensemble, e.roles.len()) {
        (Some(h), _, _) => h.chosen_probability(),
        (None, None, _) => 0.3,
        (None, Some(_), 1) => 0.75,
        (None, Some(r), _) => 1.0 - r.spread.clamp(0.0, 1.0),
    };
    let model_level = head.map(|h| h.level).or(ensemble.map(|r| r.level));
    let evidence_agreement = match model_level {
        Some(l) if !e.patterns.is_empty() => {
            1.0 - f64::from(l.rank().abs_diff(pattern_level.rank())) / 4.0
        }
        Some(_) => 0.8,
        None => 0.4,
    };
    let (lo, hi) = crate::head::band(t, level);
    let half = ((hi - lo) / 2.0).max(1e-9);
    let margin = match level {
        CrisisLevel::None => ((hi - score) / (hi - lo).max(1e-9)).clamp(0.0, 1.0),
        CrisisLevel::Critical => ((score - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0),
        _ => ((score - lo).min(hi - score) / half).clamp(0.0, 1.0),
    };
    let mut c = 0.45 * role_agreement + 0.2 * evidence_agreement + 0.35 * margin;
    if e.expected_roles > 0 {
        c *= 0.5 + 0.5 * (e.roles.len() as f64 / e.expected_roles as f64);
    }
    if floor_applied {
        c = c.max(0.8);
    }
    if !c.is_finite() {
        return 0.0;
    }
    (c * 1000.0).round() / 1000.0
}

fn method(e: &Evidence<'_>, mode: &str) -> String {
    let mut method = if e.roles.is_empty() {
        "patterns_only".to_owned()
    } else if e.stages.patterns {
        format!("ensemble_{mode}+patterns")
    } else {
        format!("ensemble_{mode}")
    };
    if let Some(d) = &e.degraded {
        method.push_str(";degraded=");
        method.push_str(&d.reason);
    }
    method
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
