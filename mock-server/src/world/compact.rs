//! JSON a document keeps as compact text: its result fields, line items and
//! metadata. They are rendered far more often than they are read inside, so a
//! document holds the exact bytes they render as (the bytes `serde_json` would
//! write for the parsed value) and parses them only when a handler looks in.
//!
//! Object keys are stored once per process, not once per document: in the
//! stored text each `"key":` is a two-byte reference into a table of keys
//! ([`keys`]). The documents of a world repeat the same few dozen keys (the
//! schema's field names, `value`, `confidence`, the line-item columns), and
//! they were about half of a typical document's text. Rendering copies the
//! text and puts the keys back in place, so the bytes sent are unchanged.
//!
//! Fixtures are read straight into this form: [`Transcode`] writes whatever a
//! deserializer (JSON or YAML) visits as compact JSON, without building a
//! `serde_json::Value` tree first.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The process-wide table of the object keys that stored text refers to.
///
/// A reference is two bytes: a tag byte `0xF8 | high bits` (bytes 0xF8 to
/// 0xFF never occur in UTF-8, so they cannot be mistaken for text) and the
/// low eight bits of the key's number. The table only grows, up to
/// `CAPACITY` keys of at most `MAX_KEY` bytes (128 KiB of keys, twice that
/// with the index that numbers them); a key that does not fit stays in the
/// text as it is. A key's number never changes once given, so equal text
/// always has equal stored bytes.
pub(crate) mod keys {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};

    const TAG: u8 = 0xF8;
    /// Three bits in the tag byte and eight in the next.
    const CAPACITY: usize = 2048;
    /// Longer keys (quotes and colon included) are left in the text.
    const MAX_KEY: usize = 64;
    /// Slots of each thread's cache of numbers already given.
    const CACHE: usize = 512;

    /// `"key":` (quoted as JSON, colon included) by number.
    static TABLE: [OnceLock<Box<[u8]>>; CAPACITY] = [const { OnceLock::new() }; CAPACITY];
    /// The number of each key, for giving numbers; readers never take this lock.
    static NUMBERS: Mutex<BTreeMap<Box<[u8]>, u16>> = Mutex::new(BTreeMap::new());

    /// A key and its number.
    type Numbered = (Box<[u8]>, u16);

    thread_local! {
        /// A direct-mapped cache in front of [`NUMBERS`], so that encoding a
        /// large fixture seldom takes the lock.
        static CACHED: RefCell<Vec<Option<Numbered>>> = const { RefCell::new(Vec::new()) };
    }

    fn slot(key: &[u8]) -> usize {
        let mut h = key.len() as u64;
        for chunk in key.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        (h >> 32) as usize % CACHE
    }

    /// The number of `key` (`"name":`), given now if it has none yet; `None`
    /// if it is too long or the table is full.
    fn number(key: &[u8]) -> Option<u16> {
        if key.len() > MAX_KEY {
            return None;
        }
        let slot = slot(key);
        let cached = CACHED.with(|c| match c.borrow().get(slot) {
            Some(Some((k, n))) if **k == *key => Some(*n),
            _ => None,
        });
        if cached.is_some() {
            return cached;
        }
        let n = {
            let mut numbers = NUMBERS.lock().unwrap_or_else(|e| e.into_inner());
            match numbers.get(key) {
                Some(n) => *n,
                None => {
                    let n = numbers.len();
                    if n >= CAPACITY {
                        return None;
                    }
                    // Set before the number is handed out, so a reader always finds it.
                    let _ = TABLE[n].set(key.into());
                    numbers.insert(key.into(), n as u16);
                    n as u16
                }
            }
        };
        CACHED.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_empty() {
                c.resize_with(CACHE, || None);
            }
            c[slot] = Some((key.into(), n));
        });
        Some(n)
    }

    /// Appends `plain` (compact JSON) to `out` with each key that has a
    /// number replaced by its reference.
    pub(crate) fn encode(plain: &[u8], out: &mut Vec<u8>) {
        let mut copied = 0;
        let mut i = 0;
        while let Some(p) = memchr::memchr(b'"', &plain[i..]) {
            let start = i + p;
            // The closing quote: the first `"` not escaped by a backslash.
            let mut j = start + 1;
            loop {
                match memchr::memchr2(b'"', b'\\', &plain[j..]) {
                    Some(q) if plain[j + q] == b'\\' => j += q + 2,
                    Some(q) => {
                        j += q;
                        break;
                    }
                    None => {
                        // Not JSON text: keep it as it is.
                        out.extend_from_slice(&plain[copied..]);
                        return;
                    }
                }
            }
            // In compact JSON a string followed by `:` is a key.
            if plain.get(j + 1) == Some(&b':') {
                if let Some(n) = number(&plain[start..j + 2]) {
                    out.extend_from_slice(&plain[copied..start]);
                    out.push(TAG | (n >> 8) as u8);
                    out.push(n as u8);
                    copied = j + 2;
                }
                i = j + 2;
            } else {
                i = j + 1;
            }
        }
        out.extend_from_slice(&plain[copied..]);
    }

    /// Replaces the key `out[at..]` (`"name":`) by its reference, if it has one.
    pub(crate) fn shorten(out: &mut Vec<u8>, at: usize) {
        if let Some(reference) = reference(&out[at..]) {
            out.truncate(at);
            out.extend_from_slice(&reference);
        }
    }

    /// The two bytes that stand for `key` (`"name":`) in stored text, if it
    /// has (or now gets) a number.
    pub(crate) fn reference(key: &[u8]) -> Option<[u8; 2]> {
        number(key).map(|n| [TAG | (n >> 8) as u8, n as u8])
    }

    /// Appends the text `stored` stands for to `out`.
    pub(crate) fn decode(stored: &[u8], out: &mut Vec<u8>) {
        let mut rest = stored;
        while let Some(p) = rest.iter().position(|&b| b >= TAG) {
            out.extend_from_slice(&rest[..p]);
            let low = rest.get(p + 1).copied().unwrap_or(0);
            let n = usize::from(rest[p] & !TAG) << 8 | usize::from(low);
            if let Some(key) = TABLE.get(n).and_then(OnceLock::get) {
                out.extend_from_slice(key);
            }
            rest = rest.get(p + 2..).unwrap_or_default();
        }
        out.extend_from_slice(rest);
    }

    /// The text `stored` stands for.
    pub(crate) fn decoded(stored: &[u8]) -> String {
        let mut out = Vec::with_capacity(stored.len() * 2);
        decode(stored, &mut out);
        // Keys and text were UTF-8 when encoded, and references split neither.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The stored form (keys by reference) of compact JSON known to be valid.
fn stored(plain: &[u8]) -> Box<[u8]> {
    with_scratch(2, |out| {
        keys::encode(plain, out);
        Box::from(&out[..])
    })
}

fn to_stored<T: Serialize + ?Sized>(value: &T) -> Box<[u8]> {
    stored(&serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()))
}

fn text(stored: &Option<Box<[u8]>>) -> Option<&[u8]> {
    stored.as_deref()
}

/// A JSON object as compact text (`None`: the empty object).
#[derive(Clone, Default)]
pub struct JsonMap(Option<Box<[u8]>>);

impl PartialEq for JsonMap {
    fn eq(&self, other: &Self) -> bool {
        text(&self.0) == text(&other.0)
    }
}

impl JsonMap {
    pub fn from_map(map: &Map<String, Value>) -> Self {
        Self((!map.is_empty()).then(|| to_stored(map)))
    }

    pub fn to_map(&self) -> Map<String, Value> {
        match &self.0 {
            None => Map::new(),
            Some(text) => serde_json::from_str(&keys::decoded(text)).unwrap_or_default(),
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

    /// The map whose stored form (keys by reference) was written to `out`.
    pub(crate) fn from_written(out: &[u8]) -> Self {
        Self(finish(out, b"{}"))
    }

    /// Bytes held on the heap (for memory accounting in tests and the bench).
    pub fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.len())
    }
}

impl fmt::Debug for JsonMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.as_deref().map_or("{}".into(), keys::decoded))
    }
}

/// A list of JSON objects (line items) as compact text (`None`: empty).
#[derive(Clone, Default)]
pub struct JsonItems(Option<Box<[u8]>>);

impl PartialEq for JsonItems {
    fn eq(&self, other: &Self) -> bool {
        text(&self.0) == text(&other.0)
    }
}

impl JsonItems {
    pub fn from_items(items: &[Map<String, Value>]) -> Self {
        Self((!items.is_empty()).then(|| to_stored(items)))
    }

    /// The list whose stored form (keys by reference) was written to `out`.
    pub(crate) fn from_written(out: &[u8]) -> Self {
        Self(finish(out, b"[]"))
    }

    pub fn to_items(&self) -> Vec<Map<String, Value>> {
        match &self.0 {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&keys::decoded(text)).unwrap_or_default(),
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
        f.write_str(&self.0.as_deref().map_or("[]".into(), keys::decoded))
    }
}

/// Borrowed compact JSON that serializes as itself (through `serde_json`).
#[derive(Debug, Clone, Copy)]
pub struct RawJson<'a>(Option<&'a [u8]>, &'static str);

impl RawJson<'_> {
    /// Appends the compact text, as `serde_json` would print it, to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self.0 {
            Some(stored) => keys::decode(stored, out),
            None => out.extend_from_slice(self.1.as_bytes()),
        }
    }

    /// The compact text, as `serde_json` would print it.
    pub(crate) fn text(&self) -> String {
        match self.0 {
            Some(stored) => keys::decoded(stored),
            None => self.1.to_string(),
        }
    }
}

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.text()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
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
    static SCRATCH: std::cell::Cell<[Vec<u8>; 3]> = const { std::cell::Cell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Runs `f` with an empty scratch buffer (`which`: 0 outer, 1 inner, 2 the
/// stored form).
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
fn finish(out: &[u8], empty: &[u8]) -> Option<Box<[u8]>> {
    if out == empty {
        return None;
    }
    // The transcoders write keys in stored form already.
    Some(Box::from(out))
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
            let name = |out: &mut Vec<u8>| put_key(out, &name);
            push_field(out, first, name, value, has_value, self.confidence);
            first = false;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Appends one result field, `"name":value`, to a fields object being
/// written; a `value` that is not an object with a `value` key (`has_value`)
/// is the shorthand and is written as `{"value":…,"confidence":…}`.
pub(crate) fn push_field(
    out: &mut Vec<u8>,
    first: bool,
    put_name: impl FnOnce(&mut Vec<u8>),
    value: &[u8],
    has_value: bool,
    confidence: f64,
) {
    if !first {
        out.push(b',');
    }
    put_name(out);
    if has_value {
        out.extend_from_slice(value);
    } else {
        out.push(b'{');
        put_key(out, "value");
        out.extend_from_slice(value);
        out.push(b',');
        put_key(out, "confidence");
        write_json(out, &confidence);
        out.push(b'}');
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
            push_item(out, n, item, has_id);
        }
        out.push(b']');
        Ok(())
    }
}

/// Appends line item `n` (counting from 1), an object written in stored
/// form, to a list being written; one without an `id` (`has_id`) gets
/// `li_<n>` as its first key.
pub(crate) fn push_item(out: &mut Vec<u8>, n: usize, item: &[u8], has_id: bool) {
    if n > 1 {
        out.push(b',');
    }
    if has_id {
        out.extend_from_slice(item);
    } else {
        // `{"id":"li_<n>"` first, then the item's own keys.
        out.push(b'{');
        put_key(out, "id");
        out.extend_from_slice(b"\"li_");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.push(b'"');
        if item.len() > 2 {
            out.push(b',');
        }
        out.extend_from_slice(&item[1..]);
    }
}

/// Writes one JSON value given as text (a string with escapes, a number
/// in a form `serde_json` writes differently) in stored form, as
/// [`Transcode`] writes it; `None` if it is not one JSON value.
pub(crate) fn transcode_literal(literal: &str, out: &mut Vec<u8>) -> Option<()> {
    let mut de = serde_json::Deserializer::from_str(literal);
    Transcode::nested(out).deserialize(&mut de).ok()?;
    de.end().ok()
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail for these scalar types.
    let _ = serde_json::to_writer(out, value);
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    // What serde_json escapes: `"`, `\` and bytes below 0x20. Most strings
    // have none of them and are copied as they are.
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, text);
    }
}

/// The stored form of the key `name` (`"name":`, or the reference that
/// stands for it).
pub(crate) fn stored_key(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 3);
    put_key(&mut out, name);
    out
}

/// Writes `"name":` in its stored form (a reference into the key table).
pub(crate) fn put_key(out: &mut Vec<u8>, name: &str) {
    let at = out.len();
    write_str(out, name);
    out.push(b':');
    keys::shorten(out, at);
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
            map.next_value_seed(Transcode::nested(out))?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Writes a map key and its colon in stored form; answers whether it is the
/// probed name.
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
        put_key(self.out, v);
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
    fn keys_that_need_escaping_are_escaped() {
        // Keys in byte order, as serde_json's map sorts them.
        let text = r#"{"": 4, "\"\"": 3, "b\\s": [{"x\u0001": 2}], "q\"k": 1}"#;
        let map: JsonMap = serde_json::from_str(text).unwrap();
        assert_eq!(format!("{map:?}"), via_value(text));
    }

    #[test]
    fn key_numbers_past_255_round_trip() {
        // Numbers are given in order and shared by the process: after these
        // 300 new keys, the last one's number is above 255.
        for i in 0..300 {
            keys::encode(format!("{{\"k_many_{i}\":1}}").as_bytes(), &mut Vec::new());
        }
        let mut out = b"{\"k_many_299\":".to_vec();
        keys::shorten(&mut out, 1);
        assert_eq!(out.len(), 3, "the key became a two-byte reference");
        out.extend_from_slice(b"1}");
        assert_eq!(keys::decoded(&out), r#"{"k_many_299":1}"#);
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
    fn null_fields_are_refused_by_name() {
        let json =
            JsonMap::deserialize_fields(&mut serde_json::Deserializer::from_str("null"), 0.95);
        let yaml = JsonMap::deserialize_fields(serde_yaml_ng::Deserializer::from_str("~"), 0.95);
        for err in [json.unwrap_err().to_string(), yaml.unwrap_err().to_string()] {
            assert!(err.contains("expected a map of fields"), "{err}");
        }
    }

    #[test]
    fn maps_and_item_lists_are_equal_exactly_when_their_text_is() {
        let map = |v: Value| JsonMap::from_map(v.as_object().unwrap());
        assert_eq!(map(json!({"a": 1})), map(json!({"a": 1})));
        assert_ne!(map(json!({"a": 1})), map(json!({"a": 2})));
        assert_ne!(map(json!({"a": 1})), JsonMap::default());
        assert_eq!(JsonMap::default(), map(json!({})));
        assert!(!map(json!({"a": 1})).is_empty());

        let items = |v: Value| {
            let list: Vec<Map<String, Value>> = serde_json::from_value(v).unwrap();
            JsonItems::from_items(&list)
        };
        assert_eq!(items(json!([{"q": 1}])), items(json!([{"q": 1}])));
        assert_ne!(items(json!([{"q": 1}])), items(json!([{"q": 2}])));
        assert_ne!(items(json!([{"q": 1}])), JsonItems::default());
        assert_eq!(JsonItems::default(), items(json!([])));
        assert!(!items(json!([{"q": 1}])).is_empty());
        assert!(items(json!([])).is_empty());
    }

    #[test]
    fn strings_that_look_like_keys_inside_values_stay_values() {
        let value = json!({
            "a": "x",
            "note": "he said \"go\": now",
            "quote": "\"",
            "colon": "\":",
            "path": "C:\\dir\\",
            "b": 1,
            "list": ["\":", {"inner": "\"k\":v"}],
        });
        let map = JsonMap::from_map(value.as_object().unwrap());
        assert_eq!(format!("{map:?}"), serde_json::to_string(&value).unwrap());
        assert_eq!(Value::Object(map.to_map()), value);
    }

    #[test]
    fn yaml_nulls_and_non_string_keys() {
        let map: JsonMap = serde_yaml_ng::from_str("a: ~\nb: null\nc: [~]\n").unwrap();
        assert_eq!(format!("{map:?}"), r#"{"a":null,"b":null,"c":[null]}"#);
        let err = serde_yaml_ng::from_str::<JsonMap>("[a]: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a string key"), "{err}");
        let err = serde_yaml_ng::from_str::<JsonItems>("5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a list of line items"), "{err}");
        assert!(serde_yaml_ng::from_str::<JsonItems>("~").is_err());
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
    fn keys_are_stored_by_reference_and_rendered_back() {
        let long = "k".repeat(80);
        let plain = format!(
            r#"{{"a\"b":"x\":y","c":[{{"d":1,"e":"\\"}},{{"d":2,"e":":"}}],"{long}":"\"","é":{{}}}}"#
        );
        assert!(serde_json::from_str::<Value>(&plain).is_ok(), "{plain}");
        let mut stored = Vec::new();
        keys::encode(plain.as_bytes(), &mut stored);
        // Every key but the long one is a two-byte reference.
        let literal = plain.len() - r#""a\"b":"c":"d":"e":"d":"e":"é":"#.len();
        assert_eq!(stored.len(), literal + 7 * 2);
        assert_eq!(keys::decoded(&stored), plain);
        let mut again = Vec::new();
        keys::encode(plain.as_bytes(), &mut again);
        assert_eq!(again, stored, "a key keeps its number");
        let map = JsonMap::from_map(
            serde_json::from_str::<Value>(&plain)
                .unwrap()
                .as_object()
                .unwrap(),
        );
        assert_eq!(map.heap_bytes(), stored.len());
        assert_eq!(map.raw().text(), plain);
        assert_eq!(format!("{map:?}"), plain);
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
