//! `analysis.yaml: context`: how a user's recent messages (`message_history`) are read.

use serde::{Deserialize, Serialize};

use super::CrisisLevel;
use crate::validate::{Validate, Validator};

/// Escalation detection over a user's recent messages, and how far it may move an answer.
///
/// The defaults follow the clients' rule of thumb: escalation needs at least three messages and a
/// rise of 0.3 on the client score scale along an upward trend; within an hour in the last step it
/// is sudden, within four hours rapid, beyond that gradual.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    /// Read `message_history` at all (off: it is accepted and ignored, and the answer says so).
    pub enabled: bool,
    /// Items beyond this many are ignored (and flagged).
    pub max_history: usize,
    /// Items older than this are ignored (and flagged).
    pub window_hours: f64,
    /// Fewest messages (history and the current one) that can show an escalation.
    pub min_messages: usize,
    /// Smallest rise of the client-scale score, from the low point to now, that counts.
    pub min_rise: f64,
    /// A rise made in the last step and within this many minutes is `sudden`.
    pub sudden_within_minutes: f64,
    /// A rise made within this many hours is `rapid`; a longer one `gradual`.
    pub rapid_within_hours: f64,
    /// An escalation raises the current answer by this many levels at most.
    pub max_raise_levels: u8,
    /// A recent message at `high` or above keeps the current one at most `carry_over_gap` levels
    /// below it, when the current one is `medium` or above itself and came within this many hours.
    pub carry_over_hours: f64,
    /// See `carry_over_hours`. 0 (the default): a recent high-risk message keeps a current
    /// `medium` at its level (capped at `raise_cap`); set on the conversation set's validation
    /// split, where it caught one more crisis for three `medium` answers raised to `high`.
    pub carry_over_gap: u8,
    /// Context never raises an answer above this level (a plan, means or time sets `critical`).
    pub raise_cap: CrisisLevel,
    /// An escalation alone raises an answer at most to this level: a rising trend asks for a
    /// check-in; `high` needs the message itself, or a recent high-risk message (carry-over).
    pub escalation_raise_cap: CrisisLevel,
    /// How items without a `crisis_score` are read: `safe` (the bot stores scores only for answers
    /// that were not safe) or `patterns` (the pattern layer alone judges them; no forward pass).
    pub unscored_history: UnscoredHistory,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_history: 20,
            window_hours: 72.0,
            min_messages: 3,
            min_rise: 0.3,
            sudden_within_minutes: 60.0,
            rapid_within_hours: 4.0,
            max_raise_levels: 1,
            carry_over_hours: 6.0,
            carry_over_gap: 0,
            raise_cap: CrisisLevel::High,
            escalation_raise_cap: CrisisLevel::Medium,
            unscored_history: UnscoredHistory::Safe,
        }
    }
}

/// How a history item without a score is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnscoredHistory {
    #[default]
    Safe,
    Patterns,
}

impl Validate for ContextConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("max_history", self.max_history, 0, 100);
        v.range("window_hours", self.window_hours, 0.0, 24.0 * 30.0);
        v.range("min_messages", self.min_messages, 2, 20);
        v.range("min_rise", self.min_rise, 0.05, 1.0);
        v.range(
            "sudden_within_minutes",
            self.sudden_within_minutes,
            0.0,
            24.0 * 60.0,
        );
        v.range("rapid_within_hours", self.rapid_within_hours, 0.0, 72.0);
        v.range("max_raise_levels", self.max_raise_levels, 0, 2);
        v.range("carry_over_hours", self.carry_over_hours, 0.0, 72.0);
        v.range("carry_over_gap", self.carry_over_gap, 0, 2);
        v.ensure(
            self.raise_cap <= CrisisLevel::High,
            "raise_cap",
            self.raise_cap,
            "must be high or below: only a plan, means or a time makes a message critical",
        );
        v.ensure(
            self.escalation_raise_cap <= self.raise_cap,
            "escalation_raise_cap",
            self.escalation_raise_cap,
            "must not be above raise_cap",
        );
    }
}
