//! JSON a document keeps as compact text: its result fields, line items and
//! metadata. They are rendered far more often than they are read inside, so a
//! document holds the exact bytes they render as (the bytes `serde_json` would
//! write for the parsed value) and parses them only when a handler looks in.
//!
//! Fixtures are read straight into this form: [`Transcode`] writes whatever a
//! deserializer (JSON or YAML) visits as compact JSON, without building a
//! `serde_json::Value` tree first.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Compact JSON text of a value known to be valid.
fn raw(text: String) -> Box<RawValue> {
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".to_string()).expect("null is JSON"))
}

fn to_raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    raw(serde_json::to_string(value).unwrap_or_else(|_| "null".to_string()))
}

/// A JSON object as compact text (`None`: the empty object).
#[derive(Clone, Default)]
pub struct JsonMap(Option<Box<RawValue>>);

impl PartialEq for JsonMap {
    fn eq(&self, other: &Self) -> bool {
        text(&self.0) == text(&other.0)
    }
}

fn text(raw: &Option<Box<RawValue>>) -> Option<&str> {
    raw.as_deref().map(RawValue::get)
}

impl JsonMap {
    pub fn from_map(map: &Map<String, Value>) -> Self {
        Self((!map.is_empty()).then(|| to_raw(map)))
    }

    pub fn to_map(&self) -> Map<String, Value> {
        match &self.0 {
            None => Map::new(),
            Some(text) => serde_json::from_str(text.get()).unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value under `key`, parsed.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.to_map().remove(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.is_some() && self.to_map().contains_key(key)
    }

    /// The text as it renders (`{}` when empty).
    pub fn raw(&self) -> RawJson<'_> {
        RawJson(self.0.as_deref(), "{}")
    }

    /// Bytes held on the heap (for memory accounting in tests and the bench).
    pub fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.get().len())
    }
}

impl fmt::Debug for JsonMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref().map_or("{}", |t| t.get()))
    }
}

/// A list of JSON objects (line items) as compact text (`None`: empty).
#[derive(Clone, Default)]
pub struct JsonItems(Option<Box<RawValue>>);

impl PartialEq for JsonItems {
    fn eq(&self, other: &Self) -> bool {
        text(&self.0) == text(&other.0)
    }
}

impl JsonItems {
    pub fn from_items(items: &[Map<String, Value>]) -> Self {
        Self((!items.is_empty()).then(|| to_raw(items)))
    }

    pub fn to_items(&self) -> Vec<Map<String, Value>> {
        match &self.0 {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text.get()).unwrap_or_default(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            None => 0,
            Some(_) => self.to_items().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The text as it renders (`[]` when empty).
    pub fn raw(&self) -> RawJson<'_> {
        RawJson(self.0.as_deref(), "[]")
    }
}

impl fmt::Debug for JsonItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref().map_or("[]", |t| t.get()))
    }
}

/// Borrowed compact JSON that serializes as itself (through `serde_json`).
#[derive(Debug, Clone, Copy)]
pub struct RawJson<'a>(Option<&'a RawValue>, &'static str);

impl<'a> RawJson<'a> {
    /// The compact text itself, as `serde_json` would print it.
    pub(crate) fn text(&self) -> &'a str {
        self.0.map_or(self.1, RawValue::get)
    }
}

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(text) => text.serialize(s),
            None => {
                let empty: &RawValue =
                    serde_json::from_str(self.1).map_err(serde::ser::Error::custom)?;
                empty.serialize(s)
            }
        }
    }
}

// Fixtures (and state dumps, which may be written as YAML) serialize the
// parsed value, so any serializer can take them.
impl Serialize for JsonMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl Serialize for JsonItems {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_items().serialize(s)
    }
}

thread_local! {
    /// Reused buffers: the text is written here and then copied once into an
    /// allocation of its exact size, so reading a large fixture leaves no
    /// trail of outgrown buffers behind in the heap.
    static SCRATCH: std::cell::Cell<[Vec<u8>; 2]> = const { std::cell::Cell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` with an empty scratch buffer (`which`: 0 outer, 1 inner).
fn with_scratch<R>(which: usize, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut bufs = SCRATCH.with(|s| s.take());
    let mut buf = std::mem::take(&mut bufs[which]);
    SCRATCH.with(|s| s.set(bufs));
    buf.clear();
    let result = f(&mut buf);
    let mut bufs = SCRATCH.with(|s| s.take());
    bufs[which] = buf;
    SCRATCH.with(|s| s.set(bufs));
    result
}

/// An exact-size copy of finished text (`None` for the empty `{}` or `[]`).
fn finish(out: &[u8], empty: &[u8]) -> Option<Box<RawValue>> {
    if out == empty {
        return None;
    }
    let text = std::str::from_utf8(out).unwrap_or("null");
    Some(raw(String::from(text)))
}

impl<'de> Deserialize<'de> for JsonMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_scratch(0, |out| {
            d.deserialize_map(Transcode::top(out, Expect::Object))?;
            Ok(Self(finish(out, b"{}")))
        })
    }
}

impl JsonMap {
    /// Reads a document's result fields: `{name: {value, confidence}}`, where a
    /// bare `{name: value}` stands for `{value, confidence: <confidence>}`.
    pub fn deserialize_fields<'de, D: Deserializer<'de>>(
        d: D,
        confidence: f64,
    ) -> Result<Self, D::Error> {
        with_scratch(0, |out| {
            d.deserialize_map(FieldsVisitor { out, confidence })?;
            Ok(Self(finish(out, b"{}")))
        })
    }
}

impl<'de> Deserialize<'de> for JsonItems {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_scratch(0, |out| {
            d.deserialize_seq(ItemsVisitor { out })?;
            Ok(Self(finish(out, b"[]")))
        })
    }
}

/// Fixture fields with the fixture shorthand's confidence.
pub(crate) fn fixture_fields<'de, D: Deserializer<'de>>(d: D) -> Result<JsonMap, D::Error> {
    JsonMap::deserialize_fields(d, 0.95)
}

struct FieldsVisitor<'a> {
    out: &'a mut Vec<u8>,
    confidence: f64,
}

impl<'de> Visitor<'de> for FieldsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of fields")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"{}");
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        with_scratch(1, |value| self.fields(map, value))
    }
}

impl FieldsVisitor<'_> {
    fn fields<'de, A: MapAccess<'de>>(
        self,
        mut map: A,
        value: &mut Vec<u8>,
    ) -> Result<(), A::Error> {
        let out = self.out;
        out.push(b'{');
        let mut first = true;
        while let Some(name) = map.next_key::<String>()? {
            value.clear();
            let mut has_value = false;
            map.next_value_seed(Transcode {
                out: value,
                probe: Some(("value", &mut has_value)),
                expect: Expect::Any,
            })?;
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(out, &name);
            out.push(b':');
            if has_value {
                out.extend_from_slice(value);
            } else {
                out.extend_from_slice(b"{\"value\":");
                out.extend_from_slice(value);
                out.extend_from_slice(b",\"confidence\":");
                write_json(out, &self.confidence);
                out.push(b'}');
            }
        }
        out.push(b'}');
        Ok(())
    }
}

struct ItemsVisitor<'a> {
    out: &'a mut Vec<u8>,
}

impl<'de> Visitor<'de> for ItemsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of line items")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"[]");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        with_scratch(1, |item| self.items(seq, item))
    }
}

impl ItemsVisitor<'_> {
    fn items<'de, A: SeqAccess<'de>>(self, mut seq: A, item: &mut Vec<u8>) -> Result<(), A::Error> {
        let out = self.out;
        out.push(b'[');
        let mut n = 0usize;
        loop {
            item.clear();
            let mut has_id = false;
            let seed = Transcode {
                out: item,
                probe: Some(("id", &mut has_id)),
                expect: Expect::Object,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            n += 1;
            if n > 1 {
                out.push(b',');
            }
            if has_id {
                out.extend_from_slice(item);
            } else {
                // `{"id":"li_<n>"` first, then the item's own keys.
                out.extend_from_slice(b"{\"id\":");
                write_str(out, &format!("li_{n}"));
                if item.len() > 2 {
                    out.push(b',');
                }
                out.extend_from_slice(&item[1..]);
            }
        }
        out.push(b']');
        Ok(())
    }
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail for these scalar types.
    let _ = serde_json::to_writer(out, value);
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    write_json(out, text);
}

#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Any,
    Object,
}

/// Writes one visited value as compact JSON, exactly as `serde_json` would
/// write the `Value` the same visits build. `probe` notes whether a top-level
/// object has the named key.
struct Transcode<'a> {
    out: &'a mut Vec<u8>,
    probe: Option<(&'static str, &'a mut bool)>,
    expect: Expect,
}

impl<'a> Transcode<'a> {
    fn top(out: &'a mut Vec<u8>, expect: Expect) -> Self {
        Self {
            out,
            probe: None,
            expect,
        }
    }

    fn nested(out: &mut Vec<u8>) -> Transcode<'_> {
        Transcode {
            out,
            probe: None,
            expect: Expect::Any,
        }
    }

    fn scalar<E: de::Error, T: Serialize + ?Sized>(self, value: &T, what: &str) -> Result<(), E> {
        if self.expect == Expect::Object {
            return Err(E::invalid_type(de::Unexpected::Other(what), &"a map"));
        }
        write_json(self.out, value);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Transcode<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.expect == Expect::Object {
            d.deserialize_map(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Transcode<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.expect {
            Expect::Any => "any value",
            Expect::Object => "a map",
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(&v, "boolean")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(&v, "integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(&v, "integer")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // serde_json's Value turns a non-finite float into null.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.scalar(&n, "float"),
            None => self.scalar(&Value::Null, "float"),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(v, "string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.expect == Expect::Object {
            // A null map reads as the empty one (as `Map` does from YAML `~`).
            self.out.extend_from_slice(b"{}");
            return Ok(());
        }
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.expect == Expect::Object {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &"a map"));
        }
        self.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq
                .next_element_seed(Transcode::nested(self.out))?
                .is_none()
            {
                self.out.truncate(at);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Transcode { out, mut probe, .. } = self;
        out.push(b'{');
        let mut first = true;
        loop {
            let at = out.len();
            if !first {
                out.push(b',');
            }
            let key = Key {
                out,
                probe: probe.as_ref().map(|(name, _)| *name),
            };
            match map.next_key_seed(key)? {
                None => {
                    out.truncate(at);
                    break;
                }
                Some(matched) => {
                    if let (true, Some((_, seen))) = (matched, probe.as_mut()) {
                        **seen = true;
                    }
                }
            }
            first = false;
            out.push(b':');
            map.next_value_seed(Transcode::nested(out))?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Writes a map key as a JSON string; answers whether it is the probed name.
struct Key<'a> {
    out: &'a mut Vec<u8>,
    probe: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        write_str(self.out, v);
        Ok(self.probe == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn via_value(text: &str) -> String {
        let v: Value = serde_json::from_str(text).unwrap();
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn transcoding_writes_what_serde_json_writes_for_the_parsed_value() {
        let text = r#"{"a": 1, "b": [1.5, -2, 1e3, "x\"y\u00e9", null, true], "c": {"d": {}}, "e": 1250.0}"#;
        let map: JsonMap = serde_json::from_str(text).unwrap();
        assert_eq!(format!("{map:?}"), via_value(text));
        let yaml: JsonMap = serde_yaml_ng::from_str(
            "a: 1\nb: [1.5, -2, 1000.0, \"x\\\"yé\", ~, true]\nc: {d: {}}\ne: 1250.0\n",
        )
        .unwrap();
        assert_eq!(format!("{yaml:?}"), via_value(text));
    }

    #[test]
    fn fields_fill_the_shorthand_and_keep_full_fields() {
        let fields = JsonMap::deserialize_fields(
            &mut serde_json::Deserializer::from_str(
                r#"{"a": {"value": 1, "confidence": 0.5}, "b": "x", "c": {"k": 1}}"#,
            ),
            0.95,
        )
        .unwrap();
        assert_eq!(
            Value::Object(fields.to_map()),
            json!({"a": {"value": 1, "confidence": 0.5}, "b": {"value": "x", "confidence": 0.95}, "c": {"value": {"k": 1}, "confidence": 0.95}})
        );
        assert_eq!(
            fields.get("b"),
            Some(json!({"value": "x", "confidence": 0.95}))
        );
        assert!(fields.contains_key("c") && !fields.contains_key("d"));
    }

    #[test]
    fn line_items_get_positional_ids_unless_they_have_one() {
        let items: JsonItems =
            serde_json::from_str(r#"[{"q": 1}, {"id": "own", "q": 2}, {}]"#).unwrap();
        assert_eq!(
            format!("{items:?}"),
            r#"[{"id":"li_1","q":1},{"id":"own","q":2},{"id":"li_3"}]"#
        );
        assert_eq!(items.len(), 3);
        assert!(serde_json::from_str::<JsonItems>("[1]").is_err());
        let empty: JsonItems = serde_json::from_str("[]").unwrap();
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&empty.raw()).unwrap(), "[]");
    }

    #[test]
    fn empty_and_raw_rendering() {
        let map: JsonMap = serde_json::from_str("{}").unwrap();
        assert!(map.is_empty());
        assert_eq!(serde_json::to_string(&map.raw()).unwrap(), "{}");
        let map = JsonMap::from_map(json!({"x": [1, 2]}).as_object().unwrap());
        assert_eq!(serde_json::to_string(&map.raw()).unwrap(), r#"{"x":[1,2]}"#);
        assert_eq!(
            serde_json::to_value(map.raw()).unwrap(),
            json!({"x": [1, 2]})
        );
        assert_eq!(serde_yaml_ng::to_string(&map).unwrap(), "x:\n- 1\n- 2\n");
    }
}
