//! Strict reading of JSON objects: every key is taken by name, and whatever is
//! left over is an unknown key, reported with its full path.
//!
//! Used for the config (design.md §3.1) and the request `options` (§3.2), where
//! a misspelt key must be an error rather than a silently ignored setting.

use serde_json::{Map, Value};

/// A JSON object being read key by key. `finish` rejects the keys nobody took.
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    taken: Vec<&'a str>,
}

/// Why a field could not be read; the caller wraps it in its own error kind.
pub(crate) type FieldError = String;

impl<'a> Fields<'a> {
    /// `path` is the dotted location of this object, "" at the top level.
    pub(crate) fn new(path: &str, value: &'a Value) -> Result<Fields<'a>, FieldError> {
        match value {
            Value::Object(map) => Ok(Fields {
                path: path.to_string(),
                map,
                taken: Vec::new(),
            }),
            other => Err(format!(
                "{} must be a JSON object, not {}",
                if path.is_empty() { "the value" } else { path },
                type_name(other)
            )),
        }
    }

    /// The full dotted path of `key` in this object.
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// Takes a key; `None` when absent (JSON `null` counts as absent).
    pub(crate) fn take(&mut self, key: &'a str) -> Option<&'a Value> {
        self.taken.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&mut self, key: &'a str) -> Result<Option<&'a str>, FieldError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!(
                "{} must be a string, not {}",
                self.path_of(key),
                type_name(other)
            )),
        }
    }

    /// A string that must be present and non-empty.
    pub(crate) fn required_string(&mut self, key: &'a str) -> Result<&'a str, FieldError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(format!("{} must not be empty", self.path_of(key))),
            None => Err(match self.misspelling_of(key) {
                // A misspelt key is the likelier mistake: name it first.
                Some(typo) => format!(
                    "unknown key {} (did you mean {}?)",
                    self.path_of(typo),
                    self.path_of(key)
                ),
                None => format!("{} is required", self.path_of(key)),
            }),
        }
    }

    /// A key of this object that looks like a misspelling of `key`: equal
    /// ignoring case, or one or two letters off.
    fn misspelling_of(&self, key: &str) -> Option<&'a str> {
        self.map
            .keys()
            .map(String::as_str)
            .filter(|k| *k != key && !self.taken.contains(k))
            .find(|k| k.eq_ignore_ascii_case(key) || edit_distance(k, key) <= 2)
    }

    pub(crate) fn bool(&mut self, key: &'a str) -> Result<Option<bool>, FieldError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{} must be true or false, not {}",
                self.path_of(key),
                type_name(other)
            )),
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(
        &mut self,
        key: &'a str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, FieldError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(format!(
                    "{} must be an integer from {min} to {max}, not {n}",
                    self.path_of(key)
                )),
            },
            Some(other) => Err(format!(
                "{} must be an integer from {min} to {max}, not {}",
                self.path_of(key),
                type_name(other)
            )),
        }
    }

    /// Rejects the first key that was never taken, naming it.
    pub(crate) fn finish(self) -> Result<(), FieldError> {
        match self.map.keys().find(|k| !self.taken.contains(&k.as_str())) {
            Some(unknown) => Err(format!("unknown key {}", self.path_of(unknown))),
            None => Ok(()),
        }
    }
}

/// The Levenshtein distance of two short keys (at most a few dozen bytes).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The JSON type of a value, for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let v = json!({"connectMs": 1, "conectMs": 2});
        let mut f = Fields::new("timeouts", &v).unwrap();
        assert_eq!(f.integer("connectMs", 1, 10).unwrap(), Some(1));
        assert_eq!(f.finish().unwrap_err(), "unknown key timeouts.conectMs");
    }

    #[test]
    fn integers_are_range_checked() {
        let v = json!({"a": 0, "b": -1, "c": 1.5, "d": "7"});
        let mut f = Fields::new("", &v).unwrap();
        assert!(f.integer("a", 1, 10).unwrap_err().contains("a must be"));
        assert!(f.integer("b", 0, 10).is_err());
        assert!(f.integer("c", 0, 10).is_err());
        assert!(f.integer("d", 0, 10).unwrap_err().contains("not a string"));
    }
}
