//! The pattern engine: every family's phrases in one Aho–Corasick automaton (word-bounded by
//! matching on the space-wrapped key form), regexes in two `RegexSet`s. Compiled once per
//! configuration version.

use aho_corasick::{AhoCorasick, MatchKind};
use ash_config::{FeaturesConfig, PatternEffect, PatternFamily, PatternsConfig};
use regex::RegexSet;
use serde::Serialize;

use crate::AnalysisError;
use crate::normalize::{Normalized, key_form};

/// Words that, just before a crisis phrase, turn it around ("i don't want to die").
const NEGATORS: &[&str] = &[
    "not", "never", "dont", "didnt", "doesnt", "wont", "wouldnt", "isnt", "arent", "nor", "without",
];
/// Words that turn a preceding negator into a hedge ("not sure", "don't know", "don't see").
const HEDGES: &[&str] = &[
    "sure",
    "know",
    "see",
    "think",
    "care",
    "understand",
    "feel",
    "believe",
    "get",
    "why",
    "if",
];
/// How many words before a phrase are searched for a negator.
const NEGATION_WINDOW: usize = 3;

/// One pattern that matched.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatternMatch {
    pub family: String,
    pub id: String,
    pub effect: PatternEffect,
    pub weight: f64,
    pub explicit_intent: bool,
    pub imminence: bool,
    pub category: Option<String>,
    /// A crisis match preceded by a negation: reported, but not counted as evidence.
    pub negated: bool,
    /// Past and recovered, hypothetical or fiction (see `PatternFamily::suspends_floor`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspends_floor: bool,
    /// Someone else is at risk.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub third_party: bool,
}

#[derive(Debug)]
struct Family {
    name: String,
    spec: PatternFamily,
}

/// Compiled patterns of one configuration version.
#[derive(Debug)]
pub struct PatternEngine {
    families: Vec<Family>,
    phrases: AhoCorasick,
    /// For each phrase in the automaton: (family index, pattern id).
    phrase_owner: Vec<(usize, String)>,
    key_regexes: RegexSet,
    /// For each key regex: family index, pattern id, and the regex alone (to locate matches for
    /// the negation check).
    key_owner: Vec<(usize, String, regex::Regex)>,
    text_regexes: RegexSet,
    text_owner: Vec<(usize, String)>,
}

impl PatternEngine {
    /// Compiles every family of `config`.
    pub fn compile(config: &PatternsConfig) -> Result<Self, AnalysisError> {
        let mut families = Vec::new();
        let mut phrase_keys = Vec::new();
        let mut phrase_owner = Vec::new();
        let (mut key_patterns, mut key_owner) = (Vec::new(), Vec::new());
        let (mut text_patterns, mut text_owner) = (Vec::new(), Vec::new());
        for (index, (name, spec)) in config.families.iter().enumerate() {
            for (id, phrases) in &spec.phrases {
                for phrase in phrases {
                    let key = key_form(&crate::normalize::normalize(phrase).text);
                    if key.trim().is_empty() {
                        continue;
                    }
                    phrase_keys.push(key);
                    phrase_owner.push((index, id.clone()));
                }
            }
            for (id, pattern) in &spec.regexes {
                let single = regex::Regex::new(pattern)
                    .map_err(|e| AnalysisError::Patterns(e.to_string()))?;
                key_patterns.push(pattern.clone());
                key_owner.push((index, id.clone(), single));
            }
            for (id, pattern) in &spec.text_regexes {
                text_patterns.push(pattern.clone());
                text_owner.push((index, id.clone()));
            }
            families.push(Family {
                name: name.clone(),
                spec: spec.clone(),
            });
        }
        let phrases = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&phrase_keys)
            .map_err(|e| AnalysisError::Patterns(e.to_string()))?;
        let key_regexes =
            RegexSet::new(&key_patterns).map_err(|e| AnalysisError::Patterns(e.to_string()))?;
        let text_regexes =
            RegexSet::new(&text_patterns).map_err(|e| AnalysisError::Patterns(e.to_string()))?;
        Ok(Self {
            families,
            phrases,
            phrase_owner,
            key_regexes,
            key_owner,
            text_regexes,
            text_owner,
        })
    }

    /// Every pattern of an enabled family that matches `text`, one entry per pattern id.
    pub fn find(&self, text: &Normalized, features: &FeaturesConfig) -> Vec<PatternMatch> {
        let enabled: Vec<bool> = self
            .families
            .iter()
            .map(|f| family_enabled(&f.spec, features))
            .collect();
        let mut out: Vec<PatternMatch> = Vec::new();
        let mut push = |family: usize, id: &str, negated: bool| {
            if !enabled[family] {
                return;
            }
            if let Some(existing) = out.iter_mut().find(|m| m.id == id) {
                // One un-negated occurrence is enough for the pattern to count.
                existing.negated &= negated;
                return;
            }
            let f = &self.families[family];
            out.push(PatternMatch {
                family: f.name.clone(),
                id: id.to_owned(),
                effect: f.spec.effect,
                weight: f.spec.weight,
                explicit_intent: f.spec.explicit_intent,
                imminence: f.spec.imminence,
                category: f.spec.category.clone(),
                negated,
                suspends_floor: f.spec.suspends_floor,
                third_party: f.spec.third_party,
            });
        };
        for m in self.phrases.find_overlapping_iter(&text.key) {
            let (family, id) = &self.phrase_owner[m.pattern().as_usize()];
            let is_crisis = self.families[*family].spec.effect == PatternEffect::Crisis;
            let negated = is_crisis
                && !starts_negated(&text.key[m.start()..m.end()])
                && negated_before(&text.key[..m.start()]);
            push(*family, id, negated);
        }
        for i in self.key_regexes.matches(&text.key).iter() {
            let (family, id, single) = &self.key_owner[i];
            let is_crisis = self.families[*family].spec.effect == PatternEffect::Crisis;
            // Negated only if every occurrence is negated.
            let negated = is_crisis
                && single
                    .find_iter(&text.key)
                    .all(|m| !starts_negated(m.as_str()) && negated_before(&text.key[..m.start()]));
            push(*family, id, negated);
        }
        for i in self.text_regexes.matches(&text.text).iter() {
            let (family, id) = &self.text_owner[i];
            push(*family, id, false);
        }
        out
    }
}

fn family_enabled(family: &PatternFamily, features: &FeaturesConfig) -> bool {
    let stage = match family.effect {
        PatternEffect::Crisis => true,
        PatternEffect::Amplifier => features.context_amplifiers,
        PatternEffect::Reducer => features.reducers,
    };
    let own = family
        .feature
        .as_deref()
        .and_then(|name| features.by_name(name))
        .unwrap_or(true);
    features.patterns && stage && own
}

/// The match itself begins with a negator ("don't want to live" is the pattern, not a negation).
fn starts_negated(matched: &str) -> bool {
    matched
        .split_whitespace()
        .next()
        .is_some_and(|w| NEGATORS.contains(&w))
}

/// A negator among the last few words before a match.
///
/// A negator followed by a word of knowing or seeing ("i'm not sure how much longer…", "i don't see
/// any point…") hedges the statement instead of denying it, so it does not negate. Erring this way
/// keeps crisis evidence: a wrong negation would hide a crisis, a missed one only over-flags.
fn negated_before(prefix: &str) -> bool {
    let window: Vec<&str> = prefix
        .split_whitespace()
        .rev()
        .take(NEGATION_WINDOW)
        .collect();
    // `window` is nearest-first: the words after a negator are the ones before it in `window`.
    window.iter().enumerate().any(|(i, w)| {
        NEGATORS.contains(w) && !window[..i].iter().any(|after| HEDGES.contains(after))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn engine(yaml: &str) -> PatternEngine {
        PatternEngine::compile(&serde_yaml::from_str(yaml).expect("yaml")).expect("compile")
    }

    const FAMILIES: &str = r#"
families:
  intent:
    effect: crisis
    weight: 0.9
    explicit_intent: true
    phrases:
      want_to_die: ["want to die", "i don't want to live"]
  community:
    effect: crisis
    weight: 0.4
    feature: community_patterns
    phrases:
      trans: ["trans"]
  lyrics:
    effect: reducer
    weight: 0.5
    text_regexes:
      quoted: '"[^"]{3,}"'
"#;

    fn ids(e: &PatternEngine, text: &str) -> Vec<(String, bool)> {
        e.find(&normalize(text), &FeaturesConfig::default())
            .into_iter()
            .map(|m| (m.id, m.negated))
            .collect()
    }

    #[test]
    fn phrases_respect_word_boundaries() {
        let e = engine(FAMILIES);
        assert_eq!(
            ids(&e, "being trans is hard"),
            vec![("trans".to_owned(), false)]
        );
        assert!(ids(&e, "public transportation is late").is_empty());
        assert!(ids(&e, "I want to diet").is_empty());
    }

    #[test]
    fn negation_before_a_phrase_is_detected_but_not_inside_it() {
        let e = engine(FAMILIES);
        assert_eq!(
            ids(&e, "I don't want to die"),
            vec![("want_to_die".to_owned(), true)]
        );
        assert_eq!(
            ids(&e, "I do NOT really want to die"),
            vec![("want_to_die".to_owned(), true)]
        );
        assert_eq!(
            ids(&e, "i dont want to live anymore"),
            vec![("want_to_die".to_owned(), false)]
        );
        // Negation far away does not count.
        assert_eq!(
            ids(&e, "i don't know why but i want to die"),
            vec![("want_to_die".to_owned(), false)]
        );
        // Said twice, once plainly: it counts.
        assert_eq!(
            ids(&e, "i don't want to die. no, i want to die"),
            vec![("want_to_die".to_owned(), false)]
        );
    }

    #[test]
    fn curly_apostrophes_and_elongations_still_match() {
        let e = engine(FAMILIES);
        assert_eq!(
            ids(&e, "I don\u{2019}t want to liiiive"),
            vec![("want_to_die".to_owned(), false)]
        );
        assert_eq!(
            ids(&e, "WANT TO DIEEEE"),
            vec![("want_to_die".to_owned(), false)]
        );
    }

    #[test]
    fn text_regexes_see_punctuation_and_switches_turn_families_off() {
        let e = engine(FAMILIES);
        assert_eq!(
            ids(&e, "\u{201C}i want to die\u{201D} is a song line").len(),
            2
        );
        let off = FeaturesConfig {
            community_patterns: false,
            reducers: false,
            ..FeaturesConfig::default()
        };
        assert!(
            e.find(&normalize("trans and \"quoted text\""), &off)
                .is_empty()
        );
        let none = FeaturesConfig {
            patterns: false,
            ..FeaturesConfig::default()
        };
        assert!(e.find(&normalize("i want to die"), &none).is_empty());
    }
}
