//! Human-readable explanation of a decision, for staff. Never contains the message text.

use ash_config::CrisisLevel;
use serde::Serialize;

use crate::decision::{Decision, Rule};
use crate::patterns::PatternMatch;

/// One pattern in the explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainedPattern {
    pub family: String,
    pub id: String,
    pub effect: ash_config::PatternEffect,
    pub weight: f64,
    pub negated: bool,
}

/// One role in the explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainedRole {
    pub role: String,
    pub model: String,
    pub label: String,
    pub probability: f64,
    pub score: f64,
    pub weight: f64,
}

/// Why the decision came out as it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// One short sentence for a staff alert: the level and the main reason.
    pub decision_summary: String,
    /// At most [`MAX_KEY_FACTORS`] short reasons, strongest first, that fit a 1,024-character
    /// alert field together. Names and numbers only, never message text.
    pub key_factors: Vec<String>,
    /// One paragraph for a person.
    pub summary: String,
    pub patterns: Vec<ExplainedPattern>,
    pub roles: Vec<ExplainedRole>,
    pub contributions: crate::decision::Contributions,
    pub rules: Vec<Rule>,
    pub staff_review_reasons: Vec<String>,
    pub stages: crate::decision::Stages,
    /// The staff correction that adjusted the result (its id), if any.
    pub learned: Option<crate::decision::LearnedInfo>,
}

impl Rule {
    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::ExplicitIntentFloor => "explicit intent keeps the level at high or above",
            Rule::ImminentRiskCritical => {
                "explicit intent with a plan, method or time makes it critical"
            }
            Rule::DegradedPatternsNotNone => {
                "without models, crisis patterns keep the level above none"
            }
            Rule::ReducersApplied => {
                "idiom, game, quote, sarcasm or negation context lowered the score"
            }
            Rule::ReducersOverriddenByIntent => {
                "reducing context was ignored because of explicit intent"
            }
            Rule::AmplifiersApplied => "urgency or intensity raised the score",
            Rule::GapDetected => "the models disagree (among themselves or with the patterns)",
            Rule::StaffReviewRequired => "staff review is required",
            Rule::LearnedCorrection => {
                "a staff correction of a similar message adjusted the result"
            }
            Rule::CalibratedThresholds => "thresholds calibrated from staff corrections were used",
            Rule::RiskHead => "the trained risk head set the score; patterns can only raise it",
            Rule::FloorSuspendedByContext => {
                "explicit words were told as past, hypothetical or fiction, so they set no floor"
            }
            Rule::ThirdPartyAtRisk => "someone else is at risk now: staff must know",
            Rule::EnsembleRaisedToHigh => {
                "the zero-shot models read high risk where the risk head did not: raised to high"
            }
            Rule::ConversationEscalation => {
                "the user's recent messages escalate: the level was raised by context"
            }
            Rule::RecentRiskCarriedOver => {
                "a recent message of the user was high risk: the level stays close to it"
            }
            Rule::FloorNotSupportedByHead => {
                "explicit words set no floor because the risk head read no distress in the message"
            }
        }
    }
}

/// Most key factors an explanation lists (Ash-Bot shows them in one alert field).
pub const MAX_KEY_FACTORS: usize = 5;
/// Longest key factor, in characters: five of them and their separators fit 1,024.
const MAX_KEY_FACTOR_CHARS: usize = 190;

impl Decision {
    /// The explanation of this decision.
    pub fn explanation(&self) -> Explanation {
        let key_factors = self.key_factors();
        Explanation {
            decision_summary: self.decision_summary(&key_factors),
            key_factors,
            summary: self.summary(),
            patterns: self
                .patterns
                .iter()
                .map(|m| ExplainedPattern {
                    family: m.family.clone(),
                    id: m.id.clone(),
                    effect: m.effect,
                    weight: m.weight,
                    negated: m.negated,
                })
                .collect(),
            roles: self
                .roles
                .iter()
                .map(|(role, r)| ExplainedRole {
                    role: role.clone(),
                    model: r.model.clone(),
                    label: r.top_label.clone(),
                    probability: r.top_probability,
                    score: r.score,
                    weight: r.weight,
                })
                .collect(),
            contributions: self.contributions.clone(),
            rules: self.rules.clone(),
            staff_review_reasons: self.staff_review_reasons.clone(),
            stages: self.stages.clone(),
            learned: self.learned.clone(),
        }
    }

    /// The reasons behind the level, strongest first: the safety rules that set it, the deciding
    /// head, context, the strongest pattern families and roles, and degradation.
    fn key_factors(&self) -> Vec<String> {
        let mut factors = Vec::new();
        if let Some(d) = &self.degraded {
            factors.push(format!(
                "degraded analysis ({}): patterns and floors only",
                d.reason
            ));
        }
        for rule in &self.rules {
            if matches!(
                rule,
                Rule::ImminentRiskCritical
                    | Rule::ExplicitIntentFloor
                    | Rule::ThirdPartyAtRisk
                    | Rule::ConversationEscalation
                    | Rule::RecentRiskCarriedOver
                    | Rule::EnsembleRaisedToHigh
                    | Rule::DegradedPatternsNotNone
                    | Rule::LearnedCorrection
            ) {
                factors.push(rule.describe().to_owned());
            }
        }
        if let Some(c) = &self.context
            && c.escalation_detected
            && !self.rules.contains(&Rule::ConversationEscalation)
        {
            factors.push(format!(
                "conversation: {} escalation ({})",
                c.escalation_rate.as_str(),
                c.escalation_pattern
            ));
        }
        if let Some(h) = self
            .head
            .as_ref()
            .filter(|_| self.head_mode == ash_config::RiskHeadMode::Decide)
        {
            factors.push(format!(
                "risk head reads {} (probability {:.2})",
                h.level,
                h.chosen_probability()
            ));
        }
        let mut families: Vec<&PatternMatch> = Vec::new();
        for m in self.patterns.iter().filter(|m| !m.negated) {
            if !families.iter().any(|f| f.family == m.family) {
                families.push(m);
            }
        }
        families.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        for m in families.iter().take(2) {
            factors.push(format!("pattern family {} ({:?})", m.family, m.effect).to_lowercase());
        }
        if let Some((role, r)) = self
            .roles
            .iter()
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        {
            factors.push(format!(
                "{role} model reads \"{}\" ({:.2})",
                r.top_label, r.top_probability
            ));
        }
        factors.truncate(MAX_KEY_FACTORS);
        for f in &mut factors {
            if f.chars().count() > MAX_KEY_FACTOR_CHARS {
                *f = f.chars().take(MAX_KEY_FACTOR_CHARS - 1).collect::<String>() + "…";
            }
        }
        factors
    }

    /// `"<Level> (score s, confidence c): <first key factor>."`
    fn decision_summary(&self, key_factors: &[String]) -> String {
        let head = format!(
            "{} (score {:.2}, confidence {:.2})",
            match self.level {
                CrisisLevel::None => "No concern",
                CrisisLevel::Low => "Low concern",
                CrisisLevel::Medium => "Medium concern",
                CrisisLevel::High => "High risk",
                CrisisLevel::Critical => "Critical risk",
            },
            self.crisis_score,
            self.confidence
        );
        match key_factors.first() {
            Some(reason) => format!("{head}: {reason}."),
            None if self.level == CrisisLevel::None => format!("{head}: no sign of crisis."),
            None => format!("{head}."),
        }
    }

    /// The `reasoning` sentence (v3.1 field): level, score, evidence and rules, no text.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "Level {} (score {:.2}, confidence {:.2}).",
            self.level, self.crisis_score, self.confidence
        )];
        let live: Vec<String> = self
            .patterns
            .iter()
            .map(|m| {
                if m.negated {
                    format!("{}/{} (negated)", m.family, m.id)
                } else {
                    format!("{}/{}", m.family, m.id)
                }
            })
            .collect();
        if !live.is_empty() {
            parts.push(format!("Patterns: {}.", live.join(", ")));
        }
        if !self.roles.is_empty() {
            let roles: Vec<String> = self
                .roles
                .iter()
                .map(|(role, r)| format!("{role} → {} ({:.2})", r.top_label, r.top_probability))
                .collect();
            parts.push(format!("Models: {}.", roles.join(", ")));
        }
        if let Some(h) = &self.head {
            let role = match self.head_mode {
                ash_config::RiskHeadMode::Shadow => "shadow, not deciding",
                _ => "deciding",
            };
            parts.push(format!(
                "Risk head {} ({role}): {} with probability {:.2}.",
                h.version,
                h.level,
                h.chosen_probability()
            ));
        }
        if let Some(l) = &self.learned
            && let Some(id) = &l.exemplar_id
        {
            parts.push(format!(
                "Staff correction {id} (similarity {:.2}) says {}.",
                l.similarity.unwrap_or(0.0),
                l.corrected_level.map_or("-", CrisisLevel::as_str)
            ));
        }
        if let Some(d) = &self.degraded {
            parts.push(format!("Degraded: {} ({}).", d.reason, d.detail));
        }
        let rules: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| **r != Rule::StaffReviewRequired)
            .map(|r| r.describe())
            .collect();
        if !rules.is_empty() {
            parts.push(format!("Rules: {}.", rules.join("; ")));
        }
        if self.requires_staff_review {
            parts.push(format!(
                "Staff review: {}.",
                self.staff_review_reasons.join("; ")
            ));
        }
        parts.join(" ")
    }
}
