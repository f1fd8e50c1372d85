//! Human-readable explanation of a decision, for staff. Never contains the message text.

use ash_config::CrisisLevel;
use serde::Serialize;

use crate::decision::{Decision, Rule};

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
            Rule::FloorNotSupportedByHead => {
                "explicit words set no floor because the risk head read no distress in the message"
            }
        }
    }
}

impl Decision {
    /// The explanation of this decision.
    pub fn explanation(&self) -> Explanation {
        Explanation {
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
