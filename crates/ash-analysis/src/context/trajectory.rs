//! The trajectory: the history read leniently into points (oldest first, the current message
//! last), and what its shape says (the climb, its rate, the trend, a pattern name).

use std::collections::BTreeSet;

use ash_config::ContextConfig;

use super::{EscalationRate, HistoryEntry, TrendDirection};

/// Clock difference between a client and this service that goes without a note (5 minutes).
const CLOCK_SKEW_HOURS: f64 = 5.0 / 60.0;

/// One point of the trajectory.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub age_hours: f64,
    pub score: f64,
}

/// The usable history items as points, oldest first (clients send newest first, but the order is
/// not trusted), and notes on what was skipped or corrected.
pub(super) fn read_history(
    entries: &[HistoryEntry<'_>],
    now: jiff::Timestamp,
    config: &ContextConfig,
    judge_unscored: &dyn Fn(&str) -> f64,
) -> (Vec<Point>, BTreeSet<&'static str>) {
    let mut notes = BTreeSet::new();
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
    points.sort_by(|a, b| b.age_hours.total_cmp(&a.age_hours));
    (points, notes)
}

/// The largest climb of the trajectory and whether it is an escalation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Climb {
    /// The highest point after the low, the current message included.
    pub peak_index: usize,
    /// The last point before the peak still near the low: where the climb starts.
    pub start: usize,
    pub rise: f64,
    /// Least-squares slope, score per hour.
    pub velocity: f64,
    /// Enough points to speak of a trend.
    pub enough: bool,
    pub escalation: bool,
    pub rate: EscalationRate,
}

impl Climb {
    /// `points` holds at least the current message, last.
    pub(super) fn find(points: &[Point], config: &ContextConfig) -> Self {
        let n = points.len();
        let current = points[n - 1].score;
        let earlier = &points[..n - 1];
        // The climb: from the lowest earlier point (the latest, if several) to the highest
        // point after it, the current message included.
        let low_index = earlier
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        let low = earlier.get(low_index).map_or(current, |p| p.score);
        let peak_index = (low_index + 1..n)
            .max_by(|a, b| points[*a].score.total_cmp(&points[*b].score).then(b.cmp(a)))
            .unwrap_or(n - 1);
        let rise = if earlier.is_empty() {
            0.0
        } else {
            points[peak_index].score - low
        };
        let velocity = slope(points);
        let enough = n >= config.min_messages;
        let escalation = enough && rise >= config.min_rise && velocity > 0.0;
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
        Self {
            peak_index,
            start,
            rise,
            velocity,
            enough,
            escalation,
            rate,
        }
    }

    /// A climb made in the last step alone: the current message speaks for itself.
    pub(super) fn only_in_the_last_step(&self, points: &[Point]) -> bool {
        self.peak_index == points.len() - 1 && self.start + 1 == self.peak_index
    }

    /// How sure the pattern is: for an escalation, how large, long and steady the climb; else
    /// how clearly the history is not one (many points, little rise).
    pub(super) fn confidence(&self, points: &[Point], config: &ContextConfig) -> f64 {
        let n = points.len();
        let length = ((n as f64 - 2.0) / 4.0).clamp(0.0, 1.0);
        let confidence = if self.escalation {
            let steps = points
                .windows(2)
                .filter(|w| w[1].score >= w[0].score)
                .count();
            0.5 * (self.rise / 0.6).min(1.0) + 0.3 * length + 0.2 * steps as f64 / (n - 1) as f64
        } else if self.enough {
            0.4 + 0.4 * length * (1.0 - self.rise.max(0.0) / config.min_rise).max(0.0)
        } else {
            0.2
        };
        confidence.clamp(0.0, 1.0)
    }
}

/// The overall direction from the first point to the current message.
pub(super) fn direction(score_delta: f64, velocity: f64) -> TrendDirection {
    if score_delta >= 0.1 && velocity > 0.0 {
        TrendDirection::Rising
    } else if score_delta <= -0.1 {
        TrendDirection::Falling
    } else {
        TrendDirection::Stable
    }
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

/// A name for the trajectory's shape, for the bot and for staff.
pub(super) fn pattern_name(
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
