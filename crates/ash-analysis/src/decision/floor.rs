//! The floors that pattern matches set on the level, and the safety rules that apply them.

use std::collections::BTreeSet;

use ash_config::CrisisLevel;

use super::{Evidence, Rule, raise};
use crate::ensemble::EnsembleResult;
use crate::head::HeadResult;
use crate::patterns::PatternMatch;

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

/// The floor of this message, less what a deciding head does not support: when the head reads no
/// distress at all in a message with explicit words ("kms the wifi died lol"), the words alone do
/// not page staff. Without the head, floors always hold.
pub(super) fn effective(
    e: &Evidence<'_>,
    deciding_head: Option<&HeadResult>,
    rules: &mut BTreeSet<Rule>,
) -> PatternFloor {
    let mut floor = PatternFloor::of(&e.patterns);
    if let Some(head) = deciding_head
        && (floor.explicit_intent || floor.third_party)
        && !crate::head::supports_floor(&e.config.risk_head, &head.probabilities)
    {
        floor = PatternFloor {
            explicit_intent: false,
            third_party: false,
            ..floor
        };
        rules.insert(Rule::FloorNotSupportedByHead);
    }
    if floor.suspended {
        rules.insert(Rule::FloorSuspendedByContext);
    }
    floor
}

/// The safety rules, which only ever raise `level` (and `score` with it). Returns whether a
/// floor set the level (an explicit rule: the answer is confident).
pub(super) fn apply(
    e: &Evidence<'_>,
    head_decides: bool,
    ensemble: Option<&EnsembleResult>,
    floor: PatternFloor,
    crisis_patterns: bool,
    (level, score): (&mut CrisisLevel, &mut f64),
    rules: &mut BTreeSet<Rule>,
) -> bool {
    let t = e.thresholds;
    let mut floor_applied = false;
    // The zero-shot ensemble may still raise a head's answer to high (a second reading of the
    // message by other means; `analysis.yaml: risk_head.ensemble_raises_to_high`).
    if head_decides
        && e.config.analysis.risk_head.ensemble_raises_to_high
        && ensemble.is_some_and(|r| r.level >= CrisisLevel::High)
        && *level < CrisisLevel::High
    {
        rules.insert(Rule::EnsembleRaisedToHigh);
        raise(level, score, CrisisLevel::High, t);
    }
    if floor.explicit_intent {
        rules.insert(Rule::ExplicitIntentFloor);
        raise(level, score, CrisisLevel::High, t);
        floor_applied = true;
        if floor.imminence {
            rules.insert(Rule::ImminentRiskCritical);
            raise(level, score, CrisisLevel::Critical, t);
        }
    }
    if floor.third_party {
        rules.insert(Rule::ThirdPartyAtRisk);
        raise(level, score, CrisisLevel::High, t);
        floor_applied = true;
    }
    if e.roles.is_empty() && *level == CrisisLevel::None && crisis_patterns {
        rules.insert(Rule::DegradedPatternsNotNone);
        raise(level, score, CrisisLevel::Low, t);
        floor_applied = true;
    }
    floor_applied
}
