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

use crate::scale::{client_level, round_for_clients as round};

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

/// Clock difference between a client and this service that goes without a note (5 minutes).
const CLOCK_SKEW_HOURS: f64 = 5.0 / 60.0;

/// One point of the trajectory.
#[derive(Clone, Copy, Debug)]
struct Point {
    age_hours: f64,
    score: f64,
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
    let mut notes = std::collections::BTreeSet::new();
    let mut points = Vec::with_capacity(entries.len() + 1);
    for (i, entry) in entries.iter().enumerate() {
        if i >= config.max_history {
            notes.insert("beyond_max_history");
            continue;
        }
        let Some(at) = entry.timestamp.and_then(parse_timestamp) else {
            notes.insert("invalid_timestamp");
            continue;
        };
        let mut age_hours = now.duration_since(at).as_secs_f64() / 3600.0;
        if age_hours < 0.0 {
            // A few minutes of clock skew between client and server is normal; more is noted.
            if age_hours < -CLOCK_SKEW_HOURS {
                notes.insert("future_timestamp_read_as_now");
            }
            age_hours = 0.0;
        }
        if age_hours > config.window_hours {
            notes.insert("older_than_window");
            continue;
        }
        let score = match entry.crisis_score {
            Some(s) if s.is_finite() => {
                if !(0.0..=1.0).contains(&s) {
                    notes.insert("score_outside_0_1_clamped");
                }
                s.clamp(0.0, 1.0)
            }
            Some(_) => {
                notes.insert("invalid_score");
                continue;
            }
            None => entry.text.map_or(0.0, judge_unscored),
        };
        points.push(Point { age_hours, score });
    }
    let history_analyzed = points.len();
    // Oldest first (clients send newest first, but the order is not trusted).
    points.sort_by(|a, b| b.age_hours.total_cmp(&a.age_hours));
    points.push(Point {
        age_hours: 0.0,
        score: current.1,
    });

    let scores: Vec<f64> = points.iter().map(|p| round(p.score)).collect();
    let n = points.len();
    let earlier = &points[..n - 1];
    // The climb: from the lowest earlier point (the latest, if several) to the highest point
    // after it, the current message included.
    let low_index = earlier
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    let low = earlier.get(low_index).map_or(current.1, |p| p.score);
    let peak_index = (low_index + 1..n)
        .max_by(|a, b| points[*a].score.total_cmp(&points[*b].score).then(b.cmp(a)))
        .unwrap_or(n - 1);
    let rise = if earlier.is_empty() {
        0.0
    } else {
        points[peak_index].score - low
    };
    let velocity = slope(&points);
    let enough = n >= config.min_messages;
    let escalation = enough && rise >= config.min_rise && velocity > 0.0;
    // The last point before the peak still near the low is where the climb starts.
    let start = points[..peak_index]
        .iter()
        .rposition(|p| p.score <= low + config.min_rise / 3.0)
        .unwrap_or(low_index);
    let rate = if escalation {
        let span_hours = points[start].age_hours - points[peak_index].age_hours;
        if start + 1 == peak_index && span_hours * 60.0 <= config.sudden_within_minutes {
            EscalationRate::Sudden
        } else if span_hours <= config.rapid_within_hours {
            EscalationRate::Rapid
        } else {
            EscalationRate::Gradual
        }
    } else {
        EscalationRate::None
    };

    let peak = points.iter().map(|p| p.score).fold(0.0, f64::max);
    let score_delta = current.1 - points[0].score;
    let direction = if score_delta >= 0.1 && velocity > 0.0 {
        TrendDirection::Rising
    } else if score_delta <= -0.1 {
        TrendDirection::Falling
    } else {
        TrendDirection::Stable
    };
    let pattern = pattern_name(enough, rate, &points, current.1, direction);

    // A climb made in the last step alone is reported, but the current message speaks for itself:
    // only a build-up that began earlier raises it (so a calm history never inflates an answer).
    let built_up = !(peak_index == n - 1 && start + 1 == peak_index);
    let by_escalation = (escalation && built_up && current.0 >= CrisisLevel::Low)
        .then(|| up(current.0, config.max_raise_levels).min(config.escalation_raise_cap));
    let recent_peak = earlier
        .iter()
        .filter(|p| p.age_hours <= config.carry_over_hours)
        .map(|p| client_level(p.score))
        .max()
        .unwrap_or(CrisisLevel::None);
    let by_carry_over = (recent_peak >= CrisisLevel::High && current.0 >= CrisisLevel::Medium)
        .then(|| below(recent_peak, config.carry_over_gap));
    let cap = config.raise_cap.max(current.0);
    // The higher of the two decides, and is named as the reason.
    let raised = [
        (by_carry_over, RaiseReason::RecentRisk),
        (by_escalation, RaiseReason::Escalation),
    ]
    .into_iter()
    .filter_map(|(to, why)| to.map(|to| (to.min(cap), why)))
    .filter(|(to, _)| *to > current.0)
    .max_by_key(|(to, _)| *to);
    let final_level = raised.map_or(current.0, |(to, _)| to);

    let confidence = if escalation {
        let steps = points
            .windows(2)
            .filter(|w| w[1].score >= w[0].score)
            .count();
        0.5 * (rise / 0.6).min(1.0)
            + 0.3 * ((n as f64 - 2.0) / 4.0).clamp(0.0, 1.0)
            + 0.2 * steps as f64 / (n - 1) as f64
    } else if enough {
        // How clearly the history is not an escalation: many points, little rise.
        0.4 + 0.4
            * ((n as f64 - 2.0) / 4.0).clamp(0.0, 1.0)
            * (1.0 - rise.max(0.0) / config.min_rise).max(0.0)
    } else {
        0.2
    };

    let analysis = ContextAnalysis {
        escalation_detected: escalation,
        escalation_rate: rate,
        escalation_pattern: pattern,
        pattern_confidence: round(confidence.clamp(0.0, 1.0)),
        trend: Trend {
            direction,
            velocity: round(velocity),
            score_delta: round(score_delta),
            time_span_hours: round(points[0].age_hours),
        },
        trajectory: Trajectory {
            start: scores[0],
            end: scores[n - 1],
            peak: round(peak),
            scores,
        },
        intervention: Intervention {
            urgency: urgency(final_level, rate),
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

/// RFC 3339 (`2026-01-05T10:00:00Z`, `…+02:00`), or a civil date-time read as UTC.
fn parse_timestamp(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// Least-squares slope of score over time (score per hour); 0 when all points share one time.
fn slope(points: &[Point]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    // Time runs forward: an older point has a larger age.
    let xs: Vec<f64> = points.iter().map(|p| -p.age_hours).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|p| p.score).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx < 1e-12 {
        // Same instant: read the order alone.
        let first = points[0].score;
        let last = points[points.len() - 1].score;
        return (last - first).signum() * 1e-6;
    }
    let sxy: f64 = xs
        .iter()
        .zip(points)
        .map(|(x, p)| (x - mx) * (p.score - my))
        .sum();
    sxy / sxx
}

fn pattern_name(
    enough: bool,
    rate: EscalationRate,
    points: &[Point],
    current: f64,
    direction: TrendDirection,
) -> &'static str {
    let earlier_peak = points[..points.len() - 1]
        .iter()
        .map(|p| p.score)
        .fold(0.0, f64::max);
    match rate {
        EscalationRate::Sudden => "sudden_turn",
        EscalationRate::Rapid | EscalationRate::Gradual => "steady_rise",
        EscalationRate::None if !enough => "insufficient_history",
        EscalationRate::None if earlier_peak >= 0.55 && current <= earlier_peak - 0.3 => "settling",
        EscalationRate::None if points.iter().all(|p| p.score < 0.16) => "calm",
        EscalationRate::None if points.iter().all(|p| p.score >= 0.28) => "sustained_distress",
        EscalationRate::None => match direction {
            TrendDirection::Rising => "rising_below_threshold",
            TrendDirection::Falling => "falling",
            TrendDirection::Stable => "stable",
        },
    }
}

fn urgency(level: CrisisLevel, rate: EscalationRate) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-06-01T22:00:00Z".parse().expect("timestamp")
    }

    fn at(minutes_before: i64) -> String {
        (now() - jiff::SignedDuration::from_mins(minutes_before)).to_string()
    }

    fn run(history: &[(i64, Option<f64>)], current: (CrisisLevel, f64)) -> ContextAnalysis {
        run_to(history, current).0
    }

    /// The analysis and the level it raises to.
    fn run_to(
        history: &[(i64, Option<f64>)],
        current: (CrisisLevel, f64),
    ) -> (ContextAnalysis, Option<CrisisLevel>) {
        // Newest first, as the clients send it.
        let stamps: Vec<String> = history.iter().map(|(m, _)| at(*m)).collect();
        let entries: Vec<HistoryEntry<'_>> = history
            .iter()
            .zip(&stamps)
            .map(|((_, s), t)| HistoryEntry {
                text: Some("x"),
                timestamp: Some(t),
                crisis_score: *s,
            })
            .collect();
        analyze(&entries, now(), current, &ContextConfig::default(), &|_| {
            0.0
        })
    }

    #[test]
    fn an_evening_that_darkens_is_a_gradual_escalation_and_raises_one_level() {
        let history = [(60, Some(0.2)), (300, Some(0.1)), (420, Some(0.0))];
        let a = run(&history, (CrisisLevel::Low, 0.3));
        assert!(a.escalation_detected);
        assert_eq!(a.escalation_rate, EscalationRate::Gradual);
        assert_eq!(a.raised_from, Some(CrisisLevel::Low));
        assert_eq!(a.raised_by, Some(RaiseReason::Escalation));
        assert_eq!(a.trend.direction, TrendDirection::Rising);
        assert_eq!(a.trajectory.scores, vec![0.0, 0.1, 0.2, 0.3]);
    }

    #[test]
    fn an_escalation_alone_raises_no_further_than_a_check_in() {
        let history = [(60, Some(0.3)), (300, Some(0.2)), (420, Some(0.17))];
        let a = run(&history, (CrisisLevel::Medium, 0.5));
        assert!(a.escalation_detected);
        assert_eq!(
            a.raised_from, None,
            "medium stays medium: the cap is medium"
        );
    }

    #[test]
    fn a_turn_in_the_last_step_is_sudden() {
        let history = [(10, None), (30, None), (50, None)];
        let a = run(&history, (CrisisLevel::High, 0.6));
        assert_eq!(a.escalation_rate, EscalationRate::Sudden);
        assert_eq!(a.escalation_pattern, "sudden_turn");
        assert_eq!(
            a.raised_from, None,
            "a calm history does not inflate the answer"
        );
    }

    #[test]
    fn a_calm_history_changes_nothing() {
        let history = [(10, None), (30, None), (50, None)];
        let a = run(&history, (CrisisLevel::None, 0.1));
        assert!(!a.escalation_detected);
        assert_eq!(a.raised_from, None);
        assert_eq!(a.escalation_pattern, "calm");
    }

    #[test]
    fn never_above_the_cap_and_never_lower() {
        let history = [(20, Some(0.9)), (40, Some(0.2)), (60, Some(0.0))];
        let a = run(&history, (CrisisLevel::High, 0.6));
        assert_eq!(a.raised_from, None, "high stays high: the cap is high");
        let a = run(&history, (CrisisLevel::Critical, 0.9));
        assert_eq!(a.raised_from, None);
    }

    #[test]
    fn recent_high_risk_carries_over_to_a_medium_message() {
        let history = [(30, Some(0.9)), (90, Some(0.7))];
        let (a, to) = run_to(&history, (CrisisLevel::Medium, 0.3));
        assert_eq!(a.raised_from, Some(CrisisLevel::Medium));
        assert_eq!(a.raised_by, Some(RaiseReason::RecentRisk));
        assert_eq!(to, Some(CrisisLevel::High), "capped at high, not critical");
        assert!(!a.escalation_detected);
    }

    #[test]
    fn bad_items_are_ignored_and_noted_never_refused() {
        let entries = [
            HistoryEntry {
                text: Some("a"),
                timestamp: Some("yesterday"),
                crisis_score: Some(0.4),
            },
            HistoryEntry {
                text: Some("b"),
                timestamp: Some("2026-06-01T21:00:00"),
                crisis_score: Some(f64::NAN),
            },
            HistoryEntry {
                text: None,
                timestamp: Some("2026-06-01T21:30:00+00:00"),
                crisis_score: Some(1.7),
            },
        ];
        let (a, _) = analyze(
            &entries,
            now(),
            (CrisisLevel::None, 0.0),
            &ContextConfig::default(),
            &|_| 0.0,
        );
        assert_eq!(a.history_analyzed, 1);
        assert_eq!(a.history_ignored, 2);
        assert_eq!(
            a.notes,
            vec![
                "invalid_score",
                "invalid_timestamp",
                "score_outside_0_1_clamped"
            ]
        );
    }

    #[test]
    fn items_beyond_the_maximum_are_ignored() {
        let history: Vec<(i64, Option<f64>)> = (0..25).map(|i| (i * 5 + 1, Some(0.1))).collect();
        let a = run(&history, (CrisisLevel::None, 0.0));
        assert_eq!(a.history_analyzed, 20);
        assert_eq!(a.notes, vec!["beyond_max_history"]);
    }
}
