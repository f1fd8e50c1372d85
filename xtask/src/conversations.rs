//! `cargo xtask eval --dataset data/conversations`: escalation detection on the conversation set.
//!
//! Each conversation is replayed the way Ash-Bot sends it: every message is analysed in order with
//! the earlier ones as `message_history` (newest first, timestamps from `minutes_before_last`), and
//! the score of every answer that was not `none` is sent back with later messages, as the bot
//! keeps only those. The last message's level is compared with `final_level`, with and without the
//! history, and `context_analysis` with `escalation` and `rate`.
//!
//! The split is fixed by the first byte of the sha256 of the conversation id: below 128
//! validation (read while designing the context rules), else test (figures only).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ash_analysis::context::EscalationRate;
use ash_analysis::{Analyzer, HistoryEntry, ModelEvidence};
use ash_config::CrisisLevel;
use ash_models::ModelCoordinator;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One conversation of the set.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Conversation {
    id: String,
    kind: String,
    messages: Vec<Turn>,
    final_level: CrisisLevel,
    escalation: bool,
    rate: String,
}

#[derive(Clone, Debug, Deserialize)]
struct Turn {
    text: String,
    minutes_before_last: i64,
}

impl Conversation {
    fn split(&self) -> &'static str {
        if Sha256::digest(self.id.as_bytes())[0] < 128 {
            "validation"
        } else {
            "test"
        }
    }
}

/// Whether `dir` holds conversations (JSONL lines with `messages`) rather than a corpus.
pub(crate) fn is_conversation_set(dir: &Path) -> bool {
    ash_analysis::eval::files_with_extension(dir, "jsonl")
        .ok()
        .and_then(|files| files.into_iter().next())
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| {
            let first = text.lines().next()?.to_owned();
            serde_json::from_str::<serde_json::Value>(&first).ok()
        })
        .is_some_and(|v| v.get("messages").is_some())
}

fn read(dir: &Path, split: &str) -> Result<Vec<Conversation>> {
    let mut all = Vec::new();
    for file in ash_analysis::eval::files_with_extension(dir, "jsonl")? {
        let text = std::fs::read_to_string(&file)?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let c: Conversation = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", file.display(), i + 1))?;
            all.push(c);
        }
    }
    if !matches!(split, "validation" | "test" | "all") {
        bail!("--split {split:?}: a conversation set has validation, test or all");
    }
    Ok(all
        .into_iter()
        .filter(|c| split == "all" || c.split() == split)
        .collect())
}

/// What happened to one conversation.
#[derive(Clone, Debug, serde::Serialize)]
struct Replay {
    id: String,
    kind: String,
    expected: CrisisLevel,
    with_history: CrisisLevel,
    alone: CrisisLevel,
    escalation_expected: bool,
    escalation_detected: bool,
    rate_expected: String,
    rate_detected: String,
    raised: bool,
}

fn correct(expected: CrisisLevel, got: CrisisLevel) -> bool {
    ash_analysis::eval::accepted(got, &[expected])
}

fn replay(analyzer: &Analyzer, coordinator: &ModelCoordinator, c: &Conversation) -> Replay {
    let last = jiff::Timestamp::now();
    let texts: Vec<&str> = c.messages.iter().map(|t| t.text.as_str()).collect();
    let outputs = coordinator.infer_batch_blocking(&texts);
    let stamps: Vec<(jiff::Timestamp, String)> = c
        .messages
        .iter()
        .map(|t| {
            let at = last - jiff::SignedDuration::from_mins(t.minutes_before_last);
            (at, at.to_string())
        })
        .collect();
    // Scores the bot keeps: those of answers that were not `none`.
    let mut kept: Vec<Option<f64>> = Vec::new();
    let mut final_decision = None;
    for (i, (text, out)) in texts.iter().zip(&outputs).enumerate() {
        let history: Vec<HistoryEntry<'_>> = (0..i)
            .rev()
            .map(|j| HistoryEntry {
                text: Some(texts[j]),
                timestamp: Some(stamps[j].1.as_str()),
                crisis_score: kept[j],
            })
            .collect();
        let d = analyzer.analyze_in_context(
            text,
            ModelEvidence::Outputs(out),
            None,
            &history,
            stamps[i].0,
        );
        kept.push((d.level > CrisisLevel::None).then_some(d.crisis_score));
        final_decision = Some(d);
    }
    let d = final_decision.expect("a conversation has messages");
    let alone = analyzer.analyze(
        texts[texts.len() - 1],
        ModelEvidence::Outputs(&outputs[outputs.len() - 1]),
    );
    let context = d.context.as_ref();
    Replay {
        id: c.id.clone(),
        kind: c.kind.clone(),
        expected: c.final_level,
        with_history: d.level,
        alone: alone.level,
        escalation_expected: c.escalation,
        escalation_detected: context.is_some_and(|a| a.escalation_detected),
        rate_expected: c.rate.clone(),
        rate_detected: context
            .map_or(EscalationRate::None, |a| a.escalation_rate)
            .as_str()
            .to_owned(),
        raised: context.is_some_and(|a| a.raised_from.is_some()),
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The whole task.
pub(crate) fn run(
    root: &Path,
    dir: &Path,
    split: &str,
    config_dir: &Path,
    json: &Path,
) -> Result<()> {
    let conversations = read(dir, split)?;
    eprintln!(
        "eval: {} conversations ({split}) from {}",
        conversations.len(),
        dir.display()
    );
    let (coordinator, analyzer) = crate::eval::in_process(root, config_dir)?;
    let replays: Vec<Replay> = conversations
        .iter()
        .map(|c| replay(&analyzer, &coordinator, c))
        .collect();

    let mut kinds: BTreeMap<&str, Vec<&Replay>> = BTreeMap::new();
    for r in &replays {
        kinds.entry(r.kind.as_str()).or_default().push(r);
    }
    println!(
        "\n{:<18} {:>4} {:>14} {:>14} {:>12}",
        "kind", "n", "with history", "alone", "escalation"
    );
    let row = |name: &str, rs: &[&Replay]| {
        let with = rs
            .iter()
            .filter(|r| correct(r.expected, r.with_history))
            .count();
        let alone = rs.iter().filter(|r| correct(r.expected, r.alone)).count();
        let esc = rs
            .iter()
            .filter(|r| r.escalation_expected == r.escalation_detected)
            .count();
        println!(
            "{:<18} {:>4} {:>14} {:>14} {:>12}",
            name,
            rs.len(),
            percent(with, rs.len()),
            percent(alone, rs.len()),
            percent(esc, rs.len())
        );
    };
    for (kind, rs) in &kinds {
        row(kind, rs);
    }
    let all: Vec<&Replay> = replays.iter().collect();
    row("overall", &all);

    let expected: Vec<&&Replay> = all.iter().filter(|r| r.escalation_expected).collect();
    let detected = expected.iter().filter(|r| r.escalation_detected).count();
    let false_alarms = all
        .iter()
        .filter(|r| !r.escalation_expected && r.escalation_detected)
        .count();
    let rate_right = expected
        .iter()
        .filter(|r| r.escalation_detected && r.rate_detected == r.rate_expected)
        .count();
    println!(
        "escalation recall {} ({detected}/{}), false alarms {false_alarms}/{}, rate right {} of detected",
        percent(detected, expected.len()),
        expected.len(),
        all.len() - expected.len(),
        percent(rate_right, detected)
    );
    let crises: Vec<&&Replay> = all
        .iter()
        .filter(|r| r.expected >= CrisisLevel::High)
        .collect();
    println!(
        "final high/critical recall: with history {}, alone {}; raised by context: {} ({} of them right)",
        percent(
            crises
                .iter()
                .filter(|r| r.with_history >= CrisisLevel::High)
                .count(),
            crises.len()
        ),
        percent(
            crises
                .iter()
                .filter(|r| r.alone >= CrisisLevel::High)
                .count(),
            crises.len()
        ),
        all.iter().filter(|r| r.raised).count(),
        all.iter()
            .filter(|r| r.raised && correct(r.expected, r.with_history))
            .count()
    );
    if split != "test" {
        println!("\nlast message wrong with history:");
        for r in all.iter().filter(|r| !correct(r.expected, r.with_history)) {
            println!(
                "  {:<22} expected {:<8} got {:<8} alone {:<8} escalation {}/{} rate {}/{}",
                r.id,
                r.expected.to_string(),
                r.with_history.to_string(),
                r.alone.to_string(),
                r.escalation_expected,
                r.escalation_detected,
                r.rate_expected,
                r.rate_detected
            );
        }
    }
    if let Some(parent) = json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(json, serde_json::to_string_pretty(&replays)?)?;
    eprintln!("eval: JSON report written to {}", json.display());
    Ok(())
}
