//! How far the context raises the current answer, and how urgent the result is.

use ash_config::{ContextConfig, CrisisLevel};

use super::trajectory::{Climb, Point};
use super::{EscalationRate, RaiseReason};
use crate::scale::client_level;

/// The level the context raises the current answer to, and why; `None` when it does not.
///
/// An escalation built up before the current message raises an answer of `low` or above by up to
/// `max_raise_levels`, at most to `escalation_raise_cap`; a message at `high` or above within
/// `carry_over_hours` keeps an answer of `medium` or above at most `carry_over_gap` levels below
/// it. Neither goes above `raise_cap`; the higher of the two decides and is named.
pub(super) fn raise(
    current: CrisisLevel,
    points: &[Point],
    climb: &Climb,
    config: &ContextConfig,
) -> Option<(CrisisLevel, RaiseReason)> {
    let earlier = &points[..points.len() - 1];
    let by_escalation =
        (climb.escalation && !climb.only_in_the_last_step(points) && current >= CrisisLevel::Low)
            .then(|| up(current, config.max_raise_levels).min(config.escalation_raise_cap));
    let recent_peak = earlier
        .iter()
        .filter(|p| p.age_hours <= config.carry_over_hours)
        .map(|p| client_level(p.score))
        .max()
        .unwrap_or(CrisisLevel::None);
    let by_carry_over = (recent_peak >= CrisisLevel::High && current >= CrisisLevel::Medium)
        .then(|| below(recent_peak, config.carry_over_gap));
    let cap = config.raise_cap.max(current);
    [
        (by_carry_over, RaiseReason::RecentRisk),
        (by_escalation, RaiseReason::Escalation),
    ]
    .into_iter()
    .filter_map(|(to, why)| to.map(|to| (to.min(cap), why)))
    .filter(|(to, _)| *to > current)
    .max_by_key(|(to, _)| *to)
}

/// How soon staff should look, from the final level and how fast things moved.
pub(super) fn urgency(level: CrisisLevel, rate: EscalationRate) -> &'static str {
    let fast = matches!(rate, EscalationRate::Rapid | EscalationRate::Sudden);
    match level {
        CrisisLevel::Critical => "immediate",
        CrisisLevel::High if fast => "immediate",
        CrisisLevel::High => "high",
        CrisisLevel::Medium if rate != EscalationRate::None => "high",
        CrisisLevel::Medium => "standard",
        CrisisLevel::Low => "low",
        CrisisLevel::None => "none",
    }
}

fn up(level: CrisisLevel, steps: u8) -> CrisisLevel {
    let rank = (level.rank() as usize + steps as usize).min(CrisisLevel::ALL.len() - 1);
    CrisisLevel::ALL[rank]
}

fn below(level: CrisisLevel, steps: u8) -> CrisisLevel {
    CrisisLevel::ALL[(level.rank() as usize).saturating_sub(steps as usize)]
}
