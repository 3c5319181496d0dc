//! The YAML layer: parses text into a tree of located nodes, under resource limits.
//!
//! This is the only module that touches `serde-saphyr`. Decoding the model from a tree
//! (rather than deriving `Deserialize` on the model) is what lets vipd report every unknown
//! key, type error and missing key in one pass, each with its key path and a suggestion,
//! instead of stopping at the first one.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use super::errors::{ErrorKind, Position};

/// A YAML node with the position it was written at.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub pos: Position,
    pub value: Value,
}

/// A YAML value. Scalars that YAML typed as numbers or booleans keep their source text, so
/// a string field given `0x10` or `1.10` gets exactly what was written.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool, String),
    Int(i128, String),
    Float(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position (unknown-key errors point at the key).
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Position,
}

impl Value {
    /// The YAML type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(..) => "a boolean",
            Value::Int(..) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The text of a scalar as written; `None` for null and collections.
    pub fn scalar_text(&self) -> Option<&str> {
        match self {
            Value::Bool(_, s) | Value::Int(_, s) | Value::Float(s) | Value::Str(s) => Some(s),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// A failure to produce a tree at all.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub kind: ErrorKind,
    pub pos: Position,
    pub message: String,
}

/// Limits sized for configuration files (a large real config has a few thousand nodes), so
/// a hostile file fails fast instead of exhausting memory: an alias bomb hits the
/// replayed-event and node caps long before it expands.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_recorded_anchor_events: 50_000,
            max_depth: 32,
            max_documents: 1,
            max_nodes: 50_000,
            max_total_scalar_bytes: 1 << 20,
            max_merge_keys: 100,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 20_000,
            max_replay_stack_depth: 16,
        },
        // `yes`/`no`/`on`/`off` stay strings: `preempt: yes` gets a clear type error
        // instead of YAML 1.1 guessing.
        strict_booleans: true,
        // Keep `0755`-like spellings as written.
        leading_zero_numbers_as_strings: true,
        with_snippet: false,
    }
}

/// Parses one YAML document into a tree.
pub(crate) fn parse(text: &str) -> Result<Node, ParseError> {
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options()).map_err(|e| {
        let kind = if is_limit(&e) {
            ErrorKind::Limit
        } else {
            ErrorKind::Syntax
        };
        let pos = e.location().map_or(Position::START, |l| position(&l));
        let message = UserMessageFormatter.format_message(&e).into_owned();
        ParseError { kind, pos, message }
    })?;
    Ok(convert(raw, text))
}

/// Whether the parser stopped on a resource limit rather than on bad YAML.
fn is_limit(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    match e {
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => is_limit(error),
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => true,
        _ => false,
    }
}

fn position(l: &serde_saphyr::Location) -> Position {
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX).max(1);
    Position {
        line: clamp(l.line()),
        column: clamp(l.column()),
    }
}

/// Source text of a scalar, read from where it was defined (an alias's text is `*name`).
fn source_text(l: &serde_saphyr::Location, text: &str, fallback: String) -> String {
    let span = l.span();
    span.byte_offset()
        .zip(span.byte_len())
        .and_then(|(o, n)| text.get(usize::try_from(o).ok()?..usize::try_from(o + n).ok()?))
        .map_or(fallback, str::to_owned)
}

fn convert(raw: Spanned<Raw>, text: &str) -> Node {
    let pos = position(&raw.referenced);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b, source_text(&raw.defined, text, b.to_string())),
        Raw::Int(i) => Value::Int(i, source_text(&raw.defined, text, i.to_string())),
        Raw::Float(f) => Value::Float(source_text(&raw.defined, text, f.to_string())),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(n, text)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.value,
                        pos: position(&k.referenced),
                    };
                    (key, convert(v, text))
                })
                .collect(),
        ),
    };
    Node { pos, value }
}

/// What serde-saphyr hands over; converted to [`Node`] once the source text is at hand.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i128::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_source_text_and_position() {
        let n = parse("a: 0x10\nb: [1.10, \"q\"]\n").expect("parses");
        let Value::Map(entries) = n.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.name, "a");
        assert!(matches!(&entries[0].1.value, Value::Int(16, s) if s == "0x10"));
        assert_eq!(entries[0].1.pos, Position { line: 1, column: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a list")
        };
        assert_eq!(items[0].value.scalar_text(), Some("1.10"));
        assert_eq!(
            items[1].pos,
            Position {
                line: 2,
                column: 11
            }
        );
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let e = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!((e.kind, e.pos.line), (ErrorKind::Syntax, 3));
        assert!(e.message.contains("duplicate"), "{}", e.message);
        let e = parse("a: [1, 2\nb: 3\n").expect_err("unclosed");
        assert_eq!(e.kind, ErrorKind::Syntax);
    }

    #[test]
    fn deep_nesting_is_a_limit() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse(&deep).expect_err("too deep").kind, ErrorKind::Limit);
    }
}
