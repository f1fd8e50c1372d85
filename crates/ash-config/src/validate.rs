//! Range and consistency checks run after a file deserialises, collecting every problem.

use std::fmt::Display;

use crate::error::Problem;

/// Collects problems with the key path at which they were found.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<String>,
    problems: Vec<Problem>,
}

/// Implemented by every configuration section.
pub trait Validate {
    /// Records every problem of `self` in `v` (never stops at the first).
    fn validate(&self, v: &mut Validator);
}

impl Validator {
    /// Runs `f` with `key` appended to the current path.
    pub fn at(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(key.to_owned());
        f(self);
        self.path.pop();
    }

    /// The dotted path of `key` under the current position.
    pub fn key(&self, key: &str) -> String {
        let mut parts = self.path.clone();
        if !key.is_empty() {
            parts.push(key.to_owned());
        }
        parts.join(".").replace(".[", "[")
    }

    /// Records a problem at `key`.
    pub fn problem(&mut self, key: &str, value: Option<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: self.key(key),
            env_var: None,
            value,
            message: message.into(),
        });
    }

    /// Records a problem unless `ok`.
    pub fn ensure(&mut self, ok: bool, key: &str, value: impl Display, message: &str) {
        if !ok {
            self.problem(key, Some(value.to_string()), message);
        }
    }

    /// Checks `min <= value <= max`.
    pub fn range<T: PartialOrd + Display + Copy>(&mut self, key: &str, value: T, min: T, max: T) {
        // `!(a <= b)` rather than `a > b` so that NaN is refused too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let outside = !(min <= value && value <= max);
        if outside {
            self.problem(
                key,
                Some(value.to_string()),
                format!("must be between {min} and {max}"),
            );
        }
    }

    /// Checks that `value` lies in [0, 1] (probabilities, thresholds, weights).
    pub fn unit(&mut self, key: &str, value: f64) {
        self.range(key, value, 0.0, 1.0);
    }

    /// The problems found so far.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}
