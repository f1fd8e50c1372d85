//! Reading one file: YAML → environment overrides → typed section → validation.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use crate::ConfigFile;
use crate::bindings::{ENV_BINDINGS, is_secret};
use crate::env::Environment;
use crate::error::{ConfigError, Problem};
use crate::validate::{Validate, Validator};

/// A configuration section stored in one file.
pub trait Section: DeserializeOwned + Validate + Send + Sync + 'static {
    /// The file this section is read from.
    const FILE: ConfigFile;
}

/// Parses `text` (the content of `path`) into a validated section, applying `env`.
///
/// A missing file is passed as `None` and means "all defaults". Every problem of the file is
/// reported at once.
pub(crate) fn parse_section<T: Section>(
    path: &Path,
    text: Option<&str>,
    env: &Environment,
) -> Result<T, ConfigError> {
    let mut tree = match text {
        None => Value::Mapping(Mapping::new()),
        Some(text) => match serde_yaml::from_str::<Value>(text) {
            Ok(Value::Null) => Value::Mapping(Mapping::new()),
            Ok(v @ Value::Mapping(_)) => v,
            Ok(_) => {
                return Err(ConfigError::Syntax {
                    file: path.to_owned(),
                    message: "the top level must be a mapping of keys to values".into(),
                });
            }
            Err(e) => {
                return Err(ConfigError::Syntax {
                    file: path.to_owned(),
                    message: e.to_string(),
                });
            }
        },
    };

    let mut problems = Vec::new();
    let mut from_env: Vec<(String, &'static str, Option<String>)> = Vec::new();
    for binding in ENV_BINDINGS.iter().filter(|b| b.file == T::FILE) {
        let Some(raw) = env.get(binding.var) else {
            continue;
        };
        let shown = (!is_secret(binding.var)).then(|| raw.to_owned());
        match binding.kind.parse(raw) {
            Ok(value) => {
                set_path(&mut tree, binding.key, value);
                from_env.push((binding.key.to_owned(), binding.var, shown));
            }
            Err(message) => problems.push(Problem {
                key: binding.key.to_owned(),
                env_var: Some(binding.var.to_owned()),
                value: shown,
                message,
            }),
        }
    }

    let section = deserialize_collecting::<T>(tree, &mut problems);
    if let Some(section) = &section {
        let mut v = Validator::default();
        section.validate(&mut v);
        problems.extend(v.into_problems());
    }
    attribute_to_env(&mut problems, &from_env);

    match section {
        Some(section) if problems.is_empty() => Ok(section),
        _ => Err(ConfigError::Invalid {
            file: path.to_owned(),
            problems,
        }),
    }
}

/// Deserialises `tree`, and on failure removes the offending value and tries again, so that
/// every structural problem (unknown key, wrong type) of the file is reported, not only the first.
fn deserialize_collecting<T: DeserializeOwned>(
    mut tree: Value,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let before = problems.len();
    // Each round removes one value, so this ends; the bound guards against a pathological file.
    for _ in 0..100 {
        match serde_path_to_error::deserialize::<_, T>(tree.clone()) {
            Ok(section) => return (problems.len() == before).then_some(section),
            Err(error) => {
                let mut segments = path_segments(error.path());
                let message = error.inner().to_string();
                // Depending on where serde fails, the unknown key is or is not already the last
                // path segment; make sure it is, so that the key is named and can be removed.
                if let Some(field) = unknown_field(&message)
                    && segments.last() != Some(&field)
                {
                    segments.push(field);
                }
                let key = segments.join(".").replace(".[", "[");
                problems.push(Problem {
                    key: if key.is_empty() {
                        "(top level)".into()
                    } else {
                        key
                    },
                    env_var: None,
                    value: None,
                    message: tidy_serde_message(&message),
                });
                if segments.is_empty() || !remove_path(&mut tree, &segments) {
                    return None;
                }
            }
        }
    }
    None
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } => Some(key.clone()),
            Segment::Seq { index } => Some(format!("[{index}]")),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

/// The unknown key named in serde's message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn tidy_serde_message(message: &str) -> String {
    if message.starts_with("unknown field") {
        // "unknown field `x`, expected one of `a`, `b`" → keep the list: it shows the right spelling.
        format!("unknown key (typo?): {message}")
    } else {
        message.to_owned()
    }
}

fn set_path(tree: &mut Value, dotted: &str, value: Value) {
    let mut node = tree;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else { return };
        let key = Value::String(part.to_owned());
        if parts.peek().is_none() {
            map.insert(key, value);
            return;
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
}

fn remove_path(tree: &mut Value, segments: &[String]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = tree;
    for segment in parents {
        let next = match (node, index_of(segment)) {
            (Value::Sequence(seq), Some(i)) => seq.get_mut(i),
            (Value::Mapping(map), None) => map.get_mut(segment.as_str()),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return false,
        }
    }
    match (node, index_of(last)) {
        (Value::Sequence(seq), Some(i)) if i < seq.len() => {
            seq.remove(i);
            true
        }
        (Value::Mapping(map), None) => map.remove(last.as_str()).is_some(),
        _ => false,
    }
}

fn index_of(segment: &str) -> Option<usize> {
    segment.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Names the environment variable behind a problem whose key it set (or lies under).
fn attribute_to_env(problems: &mut [Problem], from_env: &[(String, &'static str, Option<String>)]) {
    for problem in problems.iter_mut().filter(|p| p.env_var.is_none()) {
        let hit = from_env.iter().find(|(key, _, _)| {
            problem.key == *key
                || problem.key.starts_with(&format!("{key}."))
                || problem.key.starts_with(&format!("{key}["))
                || key.starts_with(&format!("{}.", problem.key))
        });
        if let Some((key, var, value)) = hit {
            problem.env_var = Some((*var).to_owned());
            if problem.key == *key {
                problem.value = value.clone();
            }
        }
    }
}
