//! Where a node of a YAML document is, asked of the YAML parser itself.
//!
//! serde_yaml_ng keeps no positions in its values, but it stamps every
//! error raised while a node is being deserialized with that node's start
//! mark. [`locate`] walks the document along a path of keys and indexes
//! and fails on purpose at the node (or key) the path names; the error's
//! location is the node's position as the parser saw it. No text search,
//! so flow style (`{a: 1}`, `[..]`), quoting and comments are handled.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// The value under this key of a mapping.
    Key(String),
    /// The key itself (to point at a name rather than its value).
    KeyName(String),
    /// The n-th (0-based) item of a sequence.
    Index(usize),
}

/// A path into a YAML document: `steps[2].request.path`.
pub(crate) type YamlPath = Vec<Seg>;

/// `Seg::Key` from a `&str`.
pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

const HERE: &str = "\u{0}located\u{0}";

/// The 1-based line and column of the node at `path`, or `None` when the
/// document has no such node.
pub(crate) fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match Probe(path).deserialize(de) {
        Ok(()) => None,
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| (l.line(), l.column())),
        Err(_) => None,
    }
}

/// Deserializes the node at the end of its path by failing on it.
struct Probe<'p>(&'p [Seg]);

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.is_empty() {
            return d.deserialize_any(Here);
        }
        d.deserialize_any(Walk(self.0))
    }
}

/// Fails on any node; every `visit_*` defaults to an error, which the
/// parser stamps with the node's position.
struct Here;

impl<'de> Visitor<'de> for Here {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HERE)
    }
}

/// Reads a mapping key as text; fails on it when it is `target`.
struct KeySeed<'a> {
    target: Option<&'a str>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if self.target == Some(v) {
            return Err(E::custom(HERE));
        }
        Ok(v.to_owned())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.visit_str("null")
    }
}

struct Walk<'p>(&'p [Seg]);

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a sequence")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (first, rest) = self.0.split_first().expect("a non-empty path");
        let name_target = match first {
            Seg::KeyName(k) => Some(k.as_str()),
            _ => None,
        };
        while let Some(k) = map.next_key_seed(KeySeed {
            target: name_target,
        })? {
            match first {
                Seg::Key(want) if *want == k => {
                    map.next_value_seed(Probe(rest))?;
                    // Found and it did not fail: the path runs past a leaf.
                    return Ok(());
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (first, rest) = self.0.split_first().expect("a non-empty path");
        let Seg::Index(want) = first else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut i = 0;
        loop {
            if i == *want {
                seq.next_element_seed(Probe(rest))?;
                return Ok(());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    // A scalar where the path goes deeper: no such node.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: n\nsteps:\n  - request:\n      method: GET\n      path: /v1/x\n  - control: {advance_clock: 5s, expect: {status: 200}}\n";

    #[test]
    fn finds_block_and_flow_nodes() {
        assert_eq!(locate(DOC, &[key("name")]), Some((1, 7)));
        assert_eq!(locate(DOC, &[key("steps"), Seg::Index(0)]), Some((3, 5)));
        assert_eq!(
            locate(
                DOC,
                &[key("steps"), Seg::Index(0), key("request"), key("path")]
            ),
            Some((5, 13))
        );
        assert_eq!(
            locate(
                DOC,
                &[
                    key("steps"),
                    Seg::Index(1),
                    key("control"),
                    Seg::KeyName("advance_clock".into())
                ]
            ),
            Some((6, 15))
        );
    }

    #[test]
    fn a_missing_node_has_no_location() {
        assert_eq!(locate(DOC, &[key("nope")]), None);
        assert_eq!(locate(DOC, &[key("steps"), Seg::Index(9)]), None);
        assert_eq!(locate(DOC, &[key("name"), key("deeper")]), None);
    }
}
