//! Text normalisation for matching. The original text is kept for the models; only patterns see
//! these forms.
//!
//! Two forms are produced:
//! - `text`: NFKC, lower case, straight quotes and apostrophes, no zero-width or control
//!   characters, single spaces. Punctuation kept (quotes, `/s`).
//! - `key`: `text` with apostrophes removed (`can't` → `cant`, so both spellings meet), other
//!   punctuation turned into spaces, letters repeated three or more times collapsed to one
//!   (`sooooo` → `so`, `helppp` → `help`), and common chat spellings expanded (`kms`, `u`, `rn`),
//!   wrapped in single spaces so that `" phrase "` lookups respect word boundaries.

use unicode_normalization::UnicodeNormalization;

/// Both matching forms of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub text: String,
    pub key: String,
}

/// Chat spellings and their expansions (applied word by word on the key form).
const CHAT_WORDS: &[(&str, &str)] = &[
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("rn", "right now"),
    ("tn", "tonight"),
    ("tmr", "tomorrow"),
    ("tmrw", "tomorrow"),
    ("2nite", "tonight"),
    ("tonite", "tonight"),
    ("kms", "kill myself"),
    // "catch the bus": community shorthand for suicide.
    ("ctb", "kill myself"),
    ("killmyself", "kill myself"),
    ("endmylife", "end my life"),
    ("sicide", "suicide"),
    ("suicde", "suicide"),
    ("suic1de", "suicide"),
    ("kll", "kill"),
    ("selfdelete", "kill myself"),
    ("unalive", "kill"),
    ("unaliving", "killing"),
    ("sewerslide", "suicide"),
    ("suicidial", "suicidal"),
    ("wanna", "want to"),
    ("gonna", "going to"),
    ("gotta", "got to"),
    ("idk", "i dont know"),
    ("idc", "i dont care"),
    ("ik", "i know"),
    ("bc", "because"),
    ("cuz", "because"),
    ("cos", "because"),
    ("im", "im"),
    ("ive", "ive"),
    ("dont", "dont"),
    ("cant", "cant"),
    ("wont", "wont"),
    ("noone", "no one"),
    ("nobodys", "nobody is"),
    ("every1", "everyone"),
    ("some1", "someone"),
    ("any1", "anyone"),
    ("b4", "before"),
    ("plz", "please"),
    ("pls", "please"),
    ("ppl", "people"),
    ("tho", "though"),
    ("ty", "thank you"),
];

/// Normalises `original` into both matching forms.
pub fn normalize(original: &str) -> Normalized {
    let mut text = String::with_capacity(original.len());
    let mut last_space = true;
    for c in original.nfkc() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '\u{0060}' | '\u{00B4}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => '"',
            c => c,
        };
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            if !last_space {
                text.push(' ');
                last_space = true;
            }
            continue;
        }
        for lower in c.to_lowercase() {
            text.push(lower);
        }
        last_space = false;
    }
    let text = text.trim_end().to_owned();
    let key = key_form(&text);
    Normalized { text, key }
}

/// Two-word forms that mean the same as a contraction; the contraction is the key form.
const CONTRACTIONS: &[(&str, &str)] = &[
    (" can not ", " cant "),
    (" cannot ", " cant "),
    (" do not ", " dont "),
    (" does not ", " doesnt "),
    (" did not ", " didnt "),
    (" will not ", " wont "),
    (" would not ", " wouldnt "),
    (" is not ", " isnt "),
    (" are not ", " arent "),
    (" i am ", " im "),
    (" i have ", " ive "),
    (" i will ", " ill "),
];

/// The key form of already-normalised text (also applied to pattern phrases).
///
/// Besides punctuation and chat spellings it undoes the spellings people use to get past
/// filters: diacritics (`kíll` → `kill`), symbols and digits inside words (`k!ll`, `su1c1de`,
/// `s*icide`), and words spelled out in single letters (`k i l l` → `kill`).
pub fn key_form(text: &str) -> String {
    let chars: Vec<char> = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    // Apostrophes vanish, look-alike symbols inside words become letters, other punctuation
    // separates words.
    let mut cleaned = String::with_capacity(text.len() + 2);
    for (i, &c) in chars.iter().enumerate() {
        if c == '\'' {
            continue;
        }
        if c.is_alphabetic() {
            cleaned.push(c);
            continue;
        }
        let inside_word = i > 0
            && chars[i - 1].is_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        match (inside_word, look_alike(c)) {
            (true, Some(letter)) => cleaned.extend(letter),
            _ if c.is_alphanumeric() => cleaned.push(c),
            _ => cleaned.push(' '),
        }
    }
    let words = join_spelled_out(
        cleaned
            .split_whitespace()
            .map(collapse_elongation)
            .collect(),
    );
    let mut key = String::with_capacity(cleaned.len() + 2);
    key.push(' ');
    for word in &words {
        let expanded = CHAT_WORDS
            .iter()
            .find(|(w, _)| w == word)
            .map_or(word.as_str(), |(_, e)| *e);
        key.push_str(expanded);
        key.push(' ');
    }
    for (long, short) in CONTRACTIONS {
        // Repeated so that overlapping forms ("i am not" then "am not") all fold.
        while key.contains(long) {
            key = key.replace(long, short);
        }
    }
    key
}

/// Three-letter words joined when spelled out letter by letter.
const SPELLED_TRIPLES: &[&str] = &["die", "cut", "end", "kms"];

/// The letter a digit or symbol stands for inside a word (`None`: removed, for `*`).
fn look_alike(c: char) -> Option<Option<char>> {
    Some(Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '*' => return Some(None),
        _ => return None,
    }))
}

/// Four or more single letters in a row are one word spelled out (`k i l l` → `kill`); three
/// only when they spell a word people dodge filters with (`d i e`), because chat is full of
/// harmless triples (`u r a star`).
fn join_spelled_out(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut run: Vec<String> = Vec::new();
    let single = |w: &str| w.chars().count() == 1 && w.chars().all(char::is_alphabetic);
    let flush = |run: &mut Vec<String>, out: &mut Vec<String>| {
        let joined = run.concat();
        if run.len() >= 4 || (run.len() == 3 && SPELLED_TRIPLES.contains(&joined.as_str())) {
            out.push(joined);
        } else {
            out.append(run);
        }
        run.clear();
    };
    for word in words {
        if single(&word) {
            run.push(word);
        } else {
            flush(&mut run, &mut out);
            out.push(word);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Letters repeated three or more times become one (`sooooo` → `so`). Runs of two are kept
/// (`feel`, `too`), and digits are left alone (`1000`).
fn collapse_elongation(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        for _ in 0..keep {
            out.push(c);
        }
        i += run;
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curly_apostrophes_and_case_meet_straight_ones() {
        assert_eq!(
            normalize("I CAN\u{2019}T do this").key,
            normalize("i can't do this").key
        );
        assert_eq!(normalize("I can\u{2019}t").key, " i cant ");
        assert_eq!(normalize("\u{201C}quoted\u{201D}").text, "\"quoted\"");
    }

    #[test]
    fn elongations_and_chat_spellings_are_undone() {
        assert_eq!(normalize("I'm sooooo done").key, " im so done ");
        assert_eq!(normalize("helppp meee").key, " help me ");
        assert_eq!(
            normalize("i wanna kms rn").key,
            " i want to kill myself right now "
        );
        assert_eq!(normalize("feel too good").key, " feel too good ");
        assert_eq!(normalize("1000 pills").key, " 1000 pills ");
    }

    #[test]
    fn spelled_out_negations_meet_their_contractions() {
        assert_eq!(
            normalize("I cannot do this anymore").key,
            normalize("I can't do this anymore").key
        );
        assert_eq!(
            normalize("I do not want to live").key,
            " i dont want to live "
        );
        assert_eq!(normalize("I am done").key, " im done ");
    }

    #[test]
    fn invisible_characters_and_runs_of_whitespace_disappear() {
        assert_eq!(
            normalize("kill\u{200B} my\u{00AD}self \n\t now").key,
            " kill myself now "
        );
        assert_eq!(normalize("   ").key, " ");
        assert_eq!(normalize("").text, "");
    }

    #[test]
    fn filter_dodging_spellings_fold_to_plain_words() {
        assert_eq!(
            normalize("I am going to kíll myself").key,
            " im going to kill myself "
        );
        assert_eq!(normalize("k!ll mys3lf").key, " kill myself ");
        assert_eq!(
            normalize("thinking about su1c1de").key,
            " thinking about suicide "
        );
        assert_eq!(normalize("s*icide").key, " suicide ");
        assert_eq!(
            normalize("i want to k i l l myself").key,
            " i want to kill myself "
        );
        assert_eq!(normalize("k i l l m y s e l f").key, " kill myself ");
        assert_eq!(
            normalize("gonna ctb tonight").key,
            " going to kill myself tonight "
        );
        // Ordinary digits and single words are left alone.
        assert_eq!(normalize("room 101 at 5").key, " room 101 at 5 ");
        assert_eq!(normalize("i am a bit tired").key, " im a bit tired ");
        assert_eq!(normalize("u r a star").key, " you are a star ");
        assert_eq!(normalize("i want to d i e").key, " i want to die ");
    }

    #[test]
    fn nfkc_folds_compatibility_forms() {
        // Full-width letters and the "ﬁ" ligature.
        assert_eq!(normalize("\u{FF49} \u{FB01}ne").key, " i fine ");
    }
}
