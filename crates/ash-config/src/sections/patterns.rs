//! `patterns.yaml`: the pattern families the analysis matches against normalised text.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Every pattern family, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatternsConfig {
    pub families: BTreeMap<String, PatternFamily>,
}

impl PatternsConfig {
    /// Eight hex digits of SHA-256 over the families as YAML: the trained risk head's version
    /// carries the digest of the patterns it was trained with, since the families' contents shape
    /// its features. A digest of text, so it is the same on every machine.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let yaml = serde_yaml::to_string(self).unwrap_or_default();
        hex::encode(sha2::Sha256::digest(yaml.as_bytes()))[..8].to_owned()
    }
}

/// What a family's matches do to the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternEffect {
    /// Evidence of crisis in its own right (adds to the pattern score).
    Crisis,
    /// Strengthens other evidence but never counts alone (temporal urgency, for instance).
    Amplifier,
    /// Weakens evidence (idioms, gaming, quotes, sarcasm, negation); never below explicit intent.
    Reducer,
}

/// One family: a list of phrases and regular expressions sharing an effect and a weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternFamily {
    pub effect: PatternEffect,
    /// Strength of one match, in [0, 1].
    pub weight: f64,
    /// A match here is explicit intent (plan, method, goodbye, self-harm): the safety rules then
    /// keep the result at `high` or above.
    #[serde(default)]
    pub explicit_intent: bool,
    /// A match here shows a plan, a method or a time. Together with explicit intent it makes the
    /// result `critical` (imminent risk).
    #[serde(default)]
    pub imminence: bool,
    /// A match here speaks of a crisis in the past and recovered from, a hypothetical or fiction:
    /// explicit intent elsewhere in the message then no longer forces `high` (imminence still
    /// does), and the trained head weighs the message as a whole.
    #[serde(default)]
    pub suspends_floor: bool,
    /// A match here means someone else is at risk now (a friend's goodbye, an attempt): the
    /// decision flags a third party.
    #[serde(default)]
    pub third_party: bool,
    /// The stage switch (in `features.yaml`) that turns this family off, if any.
    #[serde(default)]
    pub feature: Option<String>,
    /// Category reported in `detected_categories` when this family matches.
    #[serde(default)]
    pub category: Option<String>,
    /// Phrases matched on word boundaries after normalisation, by id.
    #[serde(default)]
    pub phrases: BTreeMap<String, Vec<String>>,
    /// Regular expressions over the matching form of the text (lower case, no apostrophes,
    /// punctuation as spaces), by id.
    #[serde(default)]
    pub regexes: BTreeMap<String, String>,
    /// Regular expressions over the text with its punctuation kept (quotes, `/s`), by id.
    #[serde(default)]
    pub text_regexes: BTreeMap<String, String>,
}

impl Validate for PatternsConfig {
    fn validate(&self, v: &mut Validator) {
        v.at("families", |v| {
            let mut ids = BTreeSet::new();
            for (name, family) in &self.families {
                v.at(name, |v| {
                    v.unit("weight", family.weight);
                    if family.explicit_intent && family.effect != PatternEffect::Crisis {
                        v.problem(
                            "explicit_intent",
                            None,
                            "only `effect: crisis` families can be explicit intent",
                        );
                    }
                    if family.phrases.is_empty()
                        && family.regexes.is_empty()
                        && family.text_regexes.is_empty()
                    {
                        v.problem("", None, "has neither phrases nor regexes");
                    }
                    if family.suspends_floor && family.effect != PatternEffect::Reducer {
                        v.problem(
                            "suspends_floor",
                            None,
                            "only `effect: reducer` families can suspend the floor",
                        );
                    }
                    if family.third_party && family.effect != PatternEffect::Crisis {
                        v.problem(
                            "third_party",
                            None,
                            "only `effect: crisis` families can flag a third party",
                        );
                    }
                    if family.imminence && family.effect == PatternEffect::Reducer {
                        v.problem("imminence", None, "a reducer cannot show imminence");
                    }
                    v.at("phrases", |v| {
                        for (id, phrases) in &family.phrases {
                            v.ensure(ids.insert(id.clone()), id, id, "pattern id is used twice");
                            for phrase in phrases {
                                v.ensure(
                                    !phrase.trim().is_empty(),
                                    id,
                                    phrase,
                                    "phrases must not be empty",
                                );
                            }
                        }
                    });
                    for (key, regexes) in [
                        ("regexes", &family.regexes),
                        ("text_regexes", &family.text_regexes),
                    ] {
                        v.at(key, |v| {
                            for (id, pattern) in regexes {
                                v.ensure(
                                    ids.insert(id.clone()),
                                    id,
                                    id,
                                    "pattern id is used twice",
                                );
                                if let Err(e) = regex::Regex::new(pattern) {
                                    v.problem(
                                        id,
                                        Some(pattern.clone()),
                                        format!("is not a valid regular expression: {e}"),
                                    );
                                } else if key == "regexes" && anchored(pattern) {
                                    v.problem(
                                        id,
                                        Some(pattern.clone()),
                                        "anchors (^, $) never match here: the matching form is \
                                         wrapped in spaces; use \\b, or text_regexes to anchor",
                                    );
                                }
                            }
                        });
                    }
                });
            }
        });
    }
}

/// Whether `pattern` asserts the start or end of the text (or of a line) anywhere.
fn anchored(pattern: &str) -> bool {
    regex_syntax::parse(pattern).is_ok_and(|hir| hir.properties().look_set().contains_anchor())
}
