//! What clients send: `/analyze`, `/analyze/batch`, and the staff corrections.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// `POST /analyze`. Unknown fields are ignored (clients may send more).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct AnalyzeRequest {
    /// The chat message. Required, at most the configured number of characters. Empty or blank
    /// (an attachment-only message) is answered `safe` with `analyzed: false`, never an error.
    pub message: Option<String>,
    /// Sender id (string or number). Never echoed; logged only as a hash at debug level.
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<String>,
    /// Channel id (string or number).
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<String>,
    /// Include the structured `explanation` in the response.
    #[serde(default)]
    pub include_explanation: bool,
    /// How much of the explanation to include (`verbosity` is accepted as another name).
    #[serde(default, alias = "verbosity")]
    pub explanation_verbosity: Option<Verbosity>,
    /// Include `context_analysis` even when no history was sent.
    #[serde(default)]
    pub include_context_analysis: bool,
    /// Up to 20 earlier messages of the same user, newest first. Read leniently: items that do not
    /// fit are ignored and named in `context_analysis.notes`, never refused. Analysed, never
    /// stored or logged.
    #[serde(default)]
    #[schema(value_type = Option<Vec<HistoryItem>>)]
    pub message_history: Option<serde_json::Value>,
    /// IANA time zone of the user (e.g. `America/Chicago`); an unknown name is noted, not refused.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_timezone: Option<serde_json::Value>,
}

/// One item of `message_history` (documentation of what is read; see `AnalyzeRequest`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub message: Option<String>,
    /// ISO-8601; without an offset it is read as UTC.
    pub timestamp: Option<String>,
    /// The `crisis_score` this service gave the message earlier, when the client kept it.
    pub crisis_score: Option<f64>,
    /// String or number; not used.
    #[schema(value_type = Option<String>)]
    pub message_id: Option<serde_json::Value>,
}

/// `minimal`: `decision_summary` and `key_factors` only; `standard` and `detailed`: everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Minimal,
    #[default]
    Standard,
    Detailed,
}

/// Discord ids arrive as strings or numbers; both are accepted, anything else is an error.
fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    }))
}

/// One message of `POST /analyze/batch`: an object, or the plain text.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchEntry {
    Text(String),
    Item(BatchItem),
}

impl BatchEntry {
    /// The message, whichever form it came in.
    pub fn into_message(self) -> Option<String> {
        match self {
            BatchEntry::Text(text) => Some(text),
            BatchEntry::Item(item) => item.message,
        }
    }
}

/// One message of `POST /analyze/batch`, as an object.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct BatchItem {
    pub message: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<String>,
}

/// `POST /analyze/batch`: 1 to the configured maximum (100) messages, answered in order.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub messages: Option<Vec<BatchEntry>>,
    #[serde(default)]
    pub include_explanation: bool,
    #[serde(default, alias = "verbosity")]
    pub explanation_verbosity: Option<Verbosity>,
    /// Include `context_analysis` (no history in a batch: it says so).
    #[serde(default)]
    pub include_context_analysis: bool,
}

/// `POST /analyze_false_positive` (Ash-Bot's payload).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct FalsePositiveRequest {
    pub message: Option<String>,
    pub detected_level: Option<String>,
    pub correct_level: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    #[serde(default)]
    pub severity_score: Option<f64>,
}

/// `POST /analyze_false_negative` (Ash-Bot's payload).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct FalseNegativeRequest {
    pub message: Option<String>,
    pub should_detect_level: Option<String>,
    pub actually_detected: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    #[serde(default)]
    pub severity_score: Option<f64>,
}

/// Acknowledgement of a staff correction.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub status: String,
    pub feedback_id: String,
    /// Corrections now in effect that this one added (0 when it changed nothing).
    pub patterns_discovered: u32,
    /// Adjustments made to thresholds or exemplars by this correction.
    pub confidence_adjustments: u32,
    pub message: String,
}
