//! Conversation context: a user's recent messages, read for escalation.
//!
//! The clients send up to 20 earlier messages of the same user (newest first), each with a
//! timestamp and, when they kept it, the `crisis_score` this service gave it. The scores are on the
//! client scale ([`crate::scale`]) and are used as given. An item without a score is read as safe
//! (the bot keeps scores only for answers that were not safe) or, by configuration, judged by the
//! pattern layer alone; either way no extra forward pass runs.
//!
//! The trajectory is the history's scores, oldest first, then the current message's. From it:
//! - **escalation**: at least `min_messages` points, a climb of at least `min_rise` from the
//!   lowest earlier point to the highest point after it (the current message included), and an
//!   upward least-squares trend. Its **rate** is the time from the last point still near the low
//!   (within a third of `min_rise`) to the peak: `sudden` when the climb is one step within
//!   `sudden_within_minutes`, `rapid` within `rapid_within_hours`, `gradual` beyond.
//! - **raise**: an escalation that did not happen in the current message alone raises a current
//!   answer that shows some concern (`low` or above) by up to `max_raise_levels`, at most to
//!   `escalation_raise_cap` (`medium`: a rising trend asks for a check-in); a message at `high` or
//!   above within `carry_over_hours` keeps a current answer of `medium` or above at most
//!   `carry_over_gap` levels below it (0: at its level). Neither goes above `raise_cap`, and
//!   context never lowers an answer: a calm history changes nothing.
//!
//! Nothing here keeps or logs the history; the result holds numbers and names only.

use ash_config::{ContextConfig, CrisisLevel};
use serde::Serialize;

use crate::scale::round_for_clients as round;
use trajectory::{Climb, Point};

mod raise;
#[cfg(test)]
mod tests;
mod trajectory;

/// One earlier message of the same user, as the client sent it.
#[derive(Clone, Copy, Debug, Default)]
pub struct HistoryEntry<'a> {
    pub text: Option<&'a str>,
    /// ISO-8601; without an offset it is read as UTC.
    pub timestamp: Option<&'a str>,
    /// The score this service gave the message earlier (client scale), when the client kept it.
    pub crisis_score: Option<f64>,
}

/// `none|gradual|rapid|sudden`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EscalationRate {
    None,
    Gradual,
    Rapid,
    Sudden,
}

impl EscalationRate {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationRate::None => "none",
            EscalationRate::Gradual => "gradual",
            EscalationRate::Rapid => "rapid",
            EscalationRate::Sudden => "sudden",
        }
    }
}

/// `rising|stable|falling`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    Rising,
    Stable,
    Falling,
}

/// Direction and speed of the scores over the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    pub direction: TrendDirection,
    /// Least-squares slope, score per hour.
    pub velocity: f64,
    /// Current score minus the oldest one.
    pub score_delta: f64,
    /// From the oldest analysed message to now.
    pub time_span_hours: f64,
}

/// The scores, oldest first, ending with the current message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trajectory {
    pub start: f64,
    pub end: f64,
    pub peak: f64,
    pub scores: Vec<f64>,
}

/// How soon someone should look, given the level and the trajectory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intervention {
    /// `none|low|standard|high|immediate`.
    pub urgency: &'static str,
}

/// What the history says. Numbers and names only: no message text, no ids.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContextAnalysis {
    pub escalation_detected: bool,
    pub escalation_rate: EscalationRate,
    /// `steady_rise|sudden_turn` (escalations); otherwise `insufficient_history|calm|settling|
    /// sustained_distress|rising_below_threshold|falling|stable`.
    pub escalation_pattern: &'static str,
    pub pattern_confidence: f64,
    pub trend: Trend,
    pub trajectory: Trajectory,
    pub intervention: Intervention,
    /// History items that were read.
    pub history_analyzed: usize,
    /// History items that were not read (see `notes`).
    pub history_ignored: usize,
    /// Why items were ignored or adjusted (`beyond_max_history`, `invalid_timestamp`, …).
    pub notes: Vec<String>,
    /// The level before context raised it, when it did.
    pub raised_from: Option<CrisisLevel>,
    /// Why it raised it (`escalation` or `recent_risk`).
    pub raised_by: Option<RaiseReason>,
}

/// What made the conversation raise an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RaiseReason {
    /// A build-up over the user's recent messages.
    Escalation,
    /// A recent message at `high` or above.
    RecentRisk,
}

/// Reads the history and says how far it raises the current answer (`None`: not at all).
///
/// `current` is the current message's level and client-scale score before context;
/// `judge_unscored` gives the client-scale score of an unscored item's text (pattern layer only).
pub(crate) fn analyze(
    entries: &[HistoryEntry<'_>],
    now: jiff::Timestamp,
    current: (CrisisLevel, f64),
    config: &ContextConfig,
    judge_unscored: &dyn Fn(&str) -> f64,
) -> (ContextAnalysis, Option<CrisisLevel>) {
    let (mut points, notes) = trajectory::read_history(entries, now, config, judge_unscored);
    let history_analyzed = points.len();
    points.push(Point {
        age_hours: 0.0,
        score: current.1,
    });
    let climb = Climb::find(&points, config);
    let raised = raise::raise(current.0, &points, &climb, config);
    let final_level = raised.map_or(current.0, |(to, _)| to);
    let scores: Vec<f64> = points.iter().map(|p| round(p.score)).collect();
    let peak = points.iter().map(|p| p.score).fold(0.0, f64::max);
    let score_delta = current.1 - points[0].score;
    let direction = trajectory::direction(score_delta, climb.velocity);
    let analysis = ContextAnalysis {
        escalation_detected: climb.escalation,
        escalation_rate: climb.rate,
        escalation_pattern: trajectory::pattern_name(
            climb.enough,
            climb.rate,
            &points,
            current.1,
            direction,
        ),
        pattern_confidence: round(climb.confidence(&points, config)),
        trend: Trend {
            direction,
            velocity: round(climb.velocity),
            score_delta: round(score_delta),
            time_span_hours: round(points[0].age_hours),
        },
        trajectory: Trajectory {
            start: scores[0],
            end: scores[scores.len() - 1],
            peak: round(peak),
            scores,
        },
        intervention: Intervention {
            urgency: raise::urgency(final_level, climb.rate),
        },
        history_analyzed,
        history_ignored: entries.len() - history_analyzed,
        notes: notes.into_iter().map(str::to_owned).collect(),
        raised_from: raised.map(|_| current.0),
        raised_by: raised.map(|(_, why)| why),
    };
    (analysis, raised.map(|(to, _)| to))
}

/// The context analysis of a request whose history was not read (asked for explicitly); `note`
/// says why (`no_history`, `nothing_to_analyze`).
pub fn without_history(level: CrisisLevel, score: f64, note: &str) -> ContextAnalysis {
    let (mut analysis, _) = analyze(
        &[],
        jiff::Timestamp::UNIX_EPOCH,
        (level, score),
        &ContextConfig::default(),
        &|_| 0.0,
    );
    analysis.notes.push(note.to_owned());
    analysis
}
