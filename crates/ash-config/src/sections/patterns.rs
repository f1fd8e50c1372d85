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
    /// The stage switch (in `features.yaml`) that turns this family off, if any.
    #[serde(default)]
    pub feature: Option<String>,
    /// Category reported in `detected_categories` when this family matches.
    #[serde(default)]
    pub category: Option<String>,
    /// Phrases matched on word boundaries after normalisation, by id.
    #[serde(default)]
    pub phrases: BTreeMap<String, Vec<String>>,
    /// Regular expressions over normalised text, by id.
    #[serde(default)]
    pub regexes: BTreeMap<String, String>,
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
                    if family.phrases.is_empty() && family.regexes.is_empty() {
                        v.problem("", None, "has neither phrases nor regexes");
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
                    v.at("regexes", |v| {
                        for (id, pattern) in &family.regexes {
                            v.ensure(ids.insert(id.clone()), id, id, "pattern id is used twice");
                            if let Err(e) = regex::Regex::new(pattern) {
                                v.problem(
                                    id,
                                    Some(pattern.clone()),
                                    format!("is not a valid regular expression: {e}"),
                                );
                            }
                        }
                    });
                });
            }
        });
    }
}
