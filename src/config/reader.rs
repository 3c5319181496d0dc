//! Typed reads from the YAML tree. Each read that fails records an error (with the key path
//! and position) and returns `None`, so decoding carries on and reports everything at once.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use super::errors::{ErrorKind, Position};
use super::tree::{Key, Node, Value};

/// An error found while decoding or validating, before the file name is attached.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub pos: Position,
    pub path: String,
    pub kind: ErrorKind,
    pub message: String,
}

/// Where each key path was written, so validation of the typed model can still point at
/// the line. A path with no entry (a defaulted key) falls back to its nearest ancestor.
#[derive(Debug, Default)]
pub(crate) struct SourceMap(HashMap<String, Position>);

impl SourceMap {
    pub fn insert(&mut self, path: &str, pos: Position) {
        self.0.insert(path.to_owned(), pos);
    }

    /// The position of `path`, or of the closest enclosing key that was written.
    pub fn at(&self, path: &str) -> Position {
        let mut p = path;
        loop {
            if let Some(pos) = self.0.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return Position::START,
            }
        }
    }
}

/// Suggests the candidate closest to `word`, only when it is plausibly a typo of it.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// "; did you mean 'x'?" or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean '{c}'?"))
}

/// Joins a key onto a path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Decoding state: the problems so far and where every value was written.
#[derive(Default)]
pub(crate) struct Reader {
    pub problems: Vec<Problem>,
    pub spans: SourceMap,
}

/// The entries of one mapping whose keys have been checked against the known ones.
pub(crate) struct Fields<'n> {
    pub path: String,
    pub pos: Position,
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    /// The value of `key`; a YAML null (`key:` with nothing after it) counts as absent.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v.value, Value::Null))
    }

    /// Where `key` itself is written, if present.
    pub fn key_pos(&self, key: &str) -> Option<Position> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k.pos)
    }

    /// The path of `key` in this mapping.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl Reader {
    pub fn problem(
        &mut self,
        pos: Position,
        path: &str,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            pos,
            path: path.to_owned(),
            kind,
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let found = node.value.type_name();
        self.problem(
            node.pos,
            path,
            ErrorKind::Type,
            format!("expected {expected}, found {found}"),
        );
    }

    /// Opens a mapping whose keys are fixed; every other key is reported with the closest
    /// known one suggested.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, path, "a mapping");
            return None;
        };
        self.spans.insert(path, node.pos);
        for (key, value) in entries {
            let key_path = join(path, &key.name);
            if known.contains(&key.name.as_str()) {
                self.spans.insert(&key_path, value.pos);
            } else {
                let hint = did_you_mean(&key.name, known.iter().copied());
                let message = if hint.is_empty() {
                    format!("unknown key; expected one of: {}", known.join(", "))
                } else {
                    format!("unknown key{hint}")
                };
                self.problem(key.pos, &key_path, ErrorKind::UnknownKey, message);
            }
        }
        Some(Fields {
            path: path.to_owned(),
            pos: node.pos,
            entries,
        })
    }

    /// Opens a mapping whose keys are user-chosen names (instances, checks, groups). Names
    /// appear in key paths, logs and notify arguments, so they are kept to a safe alphabet.
    pub fn named<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(&'n str, &'n Node, String)> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, path, "a mapping of names");
            return Vec::new();
        };
        self.spans.insert(path, node.pos);
        let mut out = Vec::new();
        for (key, value) in entries {
            let key_path = join(path, &key.name);
            let valid = !key.name.is_empty()
                && key
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !valid {
                self.problem(
                    key.pos,
                    &key_path,
                    ErrorKind::Invalid,
                    "names may contain only letters, digits, '-' and '_'",
                );
                continue;
            }
            self.spans.insert(&key_path, value.pos);
            out.push((key.name.as_str(), value, key_path));
        }
        out
    }

    /// A required key; reports it missing at the mapping.
    pub fn require<'n>(&mut self, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() {
            self.problem(
                f.pos,
                &f.path_of(key),
                ErrorKind::MissingKey,
                "required key is missing",
            );
        }
        v
    }

    /// The items of a list.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(&'n Node, String)> {
        let Value::Seq(items) = &node.value else {
            self.wrong_type(node, path, "a list");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let p = format!("{path}[{i}]");
                self.spans.insert(&p, n.pos);
                (n, p)
            })
            .collect()
    }

    /// Any scalar, as its text; numbers and booleans give their source spelling.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.value.scalar_text() {
            Some("") => {
                self.problem(node.pos, path, ErrorKind::Invalid, "must not be empty");
                None
            }
            Some(s) => Some(s.to_owned()),
            None => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    /// A string parsed with `FromStr`; the parser's own message explains a failure.
    pub fn parsed<T>(&mut self, node: &Node, path: &str, what: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let s = self.string(node, path)?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(
                    node.pos,
                    path,
                    ErrorKind::Invalid,
                    format!("'{s}' is not {what}: {e}"),
                );
                None
            }
        }
    }

    /// An integer in `lo..=hi`.
    pub fn int<T: TryFrom<i128>>(
        &mut self,
        node: &Node,
        path: &str,
        lo: i128,
        hi: i128,
    ) -> Option<T> {
        let Value::Int(v, _) = node.value else {
            self.wrong_type(node, path, "an integer");
            return None;
        };
        if !(lo..=hi).contains(&v) {
            self.problem(
                node.pos,
                path,
                ErrorKind::Invalid,
                format!("must be {lo}..={hi}, got {v}"),
            );
            return None;
        }
        T::try_from(v).ok()
    }

    /// `true` or `false`.
    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b, _) => Some(b),
            _ => {
                self.wrong_type(node, path, "true or false");
                None
            }
        }
    }

    /// A humantime duration such as `1s`, `100ms`, `1m30s`.
    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let s = self.string(node, path)?;
        match humantime::parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(
                    node.pos,
                    path,
                    ErrorKind::Invalid,
                    format!("'{s}' is not a duration such as '1s' or '100ms': {e}"),
                );
                None
            }
        }
    }

    /// One of a fixed set of words, with a suggestion for a near miss.
    pub fn word<'a>(&mut self, node: &Node, path: &str, allowed: &[&'a str]) -> Option<&'a str> {
        let s = self.string(node, path)?;
        if let Some(w) = allowed.iter().find(|w| **w == s) {
            return Some(w);
        }
        let hint = did_you_mean(&s, allowed.iter().copied());
        self.problem(
            node.pos,
            path,
            ErrorKind::Invalid,
            format!(
                "unknown value '{s}'; expected one of: {}{hint}",
                allowed.join(", ")
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["priority", "preempt", "preempt_delay", "vrid"];
        assert_eq!(closest("priorty", keys), Some("priority"));
        assert_eq!(closest("preemt", keys), Some("preempt"));
        assert_eq!(closest("vird", keys), Some("vrid"));
        assert_eq!(closest("colour", keys), None);
    }

    #[test]
    fn source_map_falls_back_to_the_nearest_written_ancestor() {
        let mut m = SourceMap::default();
        m.insert("instances.web", Position { line: 4, column: 3 });
        m.insert("instances.web.vips[0]", Position { line: 9, column: 7 });
        assert_eq!(m.at("instances.web.vips[0]").line, 9);
        assert_eq!(m.at("instances.web.priority").line, 4);
        assert_eq!(m.at("instances.web.vips[1]").line, 4);
        assert_eq!(m.at("groups.x"), Position::START);
    }
}
