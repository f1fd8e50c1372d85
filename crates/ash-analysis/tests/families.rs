//! Every shipped pattern family matches what it is for, and the reducers really reduce.

mod common;

use ash_analysis::Rule;
use ash_config::{CrisisLevel, PatternEffect};
use common::*;

fn families(text: &str) -> Vec<String> {
    let d = patterns_only(analyzer(), text);
    d.patterns
        .iter()
        .filter(|m| !m.negated)
        .map(|m| m.family.clone())
        .collect()
}

#[test]
fn every_family_has_a_matching_example() {
    let examples = [
        ("suicidal_intent", "honestly I just want to die"),
        ("suicidal_intent", "there's no point in living like this"),
        ("passive_ideation", "they'd all be better off without me"),
        ("passive_ideation", "if I vanished nobody would even notice"),
        ("suicide_method", "I'm going to jump off the bridge"),
        ("suicide_method", "I've been stockpiling my meds"),
        ("goodbye", "this is goodbye, thank you all"),
        ("goodbye", "I won't be around after tonight"),
        ("self_harm", "I started cutting again"),
        ("self_harm_thoughts", "the urge to cut is back"),
        ("hopelessness", "I see no way out of this"),
        ("burden", "I'm just a burden to my family"),
        ("isolation", "I have nobody to talk to"),
        (
            "acute_distress",
            "I'm having a panic attack and can't breathe",
        ),
        (
            "community_stressors",
            "my parents kicked me out when they found out",
        ),
        ("community_stressors", "someone outed me at work"),
        ("temporal_urgency", "I want to end it tonight"),
        ("intensity", "I cry every single day"),
        ("temporal_near", "I might do it soon"),
        ("idioms", "I'm dying of laughter"),
        ("gaming_media", "that boss fight killed me again"),
        ("quoted_media", "lyrics: \"I want to die young\""),
        ("softeners", "I'm slightly stressed"),
        ("sarcasm", "great, just great /s"),
        ("negation", "I'm not suicidal, just tired"),
        (
            "preparation",
            "I've saved up enough of my sleeping pills to do it",
        ),
        ("attempt", "i already took them, the pills are kicking in"),
        ("finality", "it all ends tonight. by the time you read this"),
        (
            "finality",
            "woke up knowing it's my last day. made pancakes",
        ),
        ("finality", "watching my last sunset. pretty one at least"),
        ("finality", "cat's with my sister. won't need her now"),
        (
            "third_party_risk",
            "my friend sent me a goodbye text and now shes not answering",
        ),
        (
            "third_party_attempt",
            "my roommate just swallowed a bottle of something",
        ),
        (
            "past_recovered",
            "two years ago I tried, and I'm glad I'm still here",
        ),
        (
            "fiction_hypothetical",
            "my character wants to end it all in chapter 3",
        ),
    ];
    let config = config();
    for (family, text) in examples {
        assert!(
            config.patterns.families.contains_key(family),
            "unknown family {family}"
        );
        assert!(
            families(text).contains(&family.to_owned()),
            "{family} should match {text:?}, got {:?}",
            families(text)
        );
    }
    // Every family in the shipped file has an example above.
    for name in config.patterns.families.keys() {
        assert!(
            examples.iter().any(|(f, _)| f == name),
            "family {name} has no test example"
        );
    }
}

#[test]
fn ordinary_endings_are_not_final_words() {
    for text in [
        "today is my last day at work, cake in the break room!",
        "sold my bike, won't need it anymore now that I drive",
        "my last exam is tomorrow and then summer",
        "I know this is the last one but can I have another slice",
    ] {
        assert!(
            !families(text).iter().any(|f| f == "finality"),
            "{text}: {:?}",
            families(text)
        );
    }
}

#[test]
fn word_boundaries_hold_for_community_vocabulary() {
    assert!(families("I take public transportation to work").is_empty());
    assert!(families("the outer ring road").is_empty());
}

#[test]
fn idioms_and_games_reduce_what_the_model_says() {
    let a = analyzer();
    // The model is fooled (0.6 on every role); the context says it is a game or a joke.
    for text in [
        "this homework is killing me",
        "I died five times to that boss fight lol",
        "I'm dead lol that meme",
    ] {
        let plain = analyze(a, "this is really hard", &[0.6, 0.6, 0.6]);
        let reduced = analyze(a, text, &[0.6, 0.6, 0.6]);
        assert!(
            reduced.crisis_score < plain.crisis_score * 0.5,
            "{text}: {} vs {}",
            reduced.crisis_score,
            plain.crisis_score
        );
        assert!(reduced.rules.contains(&Rule::ReducersApplied));
        assert!(
            reduced.level <= CrisisLevel::Low,
            "{text}: {:?}",
            reduced.level
        );
    }
}

#[test]
fn negation_reduces_and_is_reported() {
    let a = analyzer();
    let d = analyze(
        a,
        "I don't want to die, I just need a break",
        &[0.5, 0.3, 0.3],
    );
    assert!(
        d.patterns
            .iter()
            .any(|m| m.negated && m.family == "suicidal_intent")
    );
    assert!(
        !d.rules.contains(&Rule::ExplicitIntentFloor),
        "a negated phrase is not explicit intent"
    );
    assert!(d.level < CrisisLevel::High);
    let plain = analyze(a, "I want to die", &[0.5, 0.3, 0.3]);
    assert!(plain.level >= CrisisLevel::High);
}

#[test]
fn reducers_never_dampen_explicit_intent() {
    let a = analyzer();
    for text in [
        "lol I want to kill myself",
        "\"this is goodbye\" I mean it, I'm going to end my life tonight",
        "I'm dying of laughter but also I want to die",
        "jk... no, I really want to die",
    ] {
        let d = analyze(a, text, &[0.1, 0.1, 0.1]);
        assert!(d.level >= CrisisLevel::High, "{text}: {:?}", d.level);
        assert!(
            d.patterns
                .iter()
                .any(|m| m.effect == PatternEffect::Reducer)
        );
        assert!(
            d.rules.contains(&Rule::ReducersOverriddenByIntent),
            "{text}: {:?}",
            d.rules
        );
    }
}

#[test]
fn temporal_urgency_never_counts_alone() {
    let a = analyzer();
    let d = analyze(
        a,
        "see you tonight! right now I'm cooking",
        &[0.0, 0.0, 0.0],
    );
    assert_eq!(d.level, CrisisLevel::None);
    assert_eq!(d.crisis_score, 0.0);
    let d = patterns_only(a, "see you tonight!");
    assert_eq!(
        d.level,
        CrisisLevel::None,
        "urgency alone is not crisis evidence even without models"
    );
}

#[test]
fn curly_apostrophes_and_elongations_do_not_hide_intent() {
    let a = analyzer();
    for text in [
        "I don\u{2019}t want to live anymore",
        "i wanna diiiie",
        "I WANT TO KILL MYSELF",
        "kms",
    ] {
        assert!(patterns_only(a, text).level >= CrisisLevel::High, "{text}");
    }
}
