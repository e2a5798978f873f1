//! A small hand-written JSON writer for the views the hot routes render: the
//! document resource (`GET /v1/documents/{id}`) and the outbox item (a page of
//! `GET /v1/delivery/outbox` holds a hundred of them).
//!
//! Why not `serde_json`: its serializer scans every byte of every string
//! through its escape table and offers no way to say "this string needs no
//! escaping", and on these views that scan was most of the rendering cost.
//! Here a string is first checked as a whole (no `"`, no `\`, no byte below
//! 0x20 — a plain loop the compiler vectorizes) and then copied raw; a string
//! that does need escaping still goes through `serde_json`. The compact JSON a
//! document keeps (metadata) is already exactly what `serde_json` prints, so
//! it is copied verbatim. The output is byte for byte what `serde_json` writes
//! for the same views (the tests below compare the two), so the views keep
//! their `Serialize` derive for the places that want a value tree.
//!
//! Each document also keeps the bytes these two views rendered as
//! ([`super::rendered::Rendered`]), so a read of an unchanged document
//! copies nothing and an outbox page is a concatenation of ready items.

use bytes::Bytes;

use super::compact::RawJson;
use super::model::{Document, DocumentUrl, DocumentView, OutboxItemView, ReviewState};
use super::time::Stamp;

impl Document {
    /// The body of `GET /v1/documents/{id}`, shared (not copied) with every
    /// answer until the document changes.
    pub(crate) fn answer_bytes(&self) -> Bytes {
        self.rendered.answer(|| {
            let mut out = Vec::with_capacity(640);
            out.extend_from_slice(b"{\"data\":");
            self.view().write_json(&mut out);
            out.push(b'}');
            Bytes::copy_from_slice(&out)
        })
    }

    /// The document as one outbox item, as `OutboxItemView` writes it.
    pub(crate) fn outbox_item_bytes(&self) -> &[u8] {
        self.rendered.outbox_item(|| {
            let mut out = Vec::with_capacity(320);
            self.outbox_view().write_json(&mut out);
            out.into_boxed_slice()
        })
    }
}

/// Whether `serde_json` would write `text` between quotes unchanged.
#[inline]
fn plain(text: &str) -> bool {
    text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `text` as a JSON string.
pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    if plain(text) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a `Vec` cannot fail, and a `str` always serializes.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

pub(crate) fn put_opt(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => put_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn put_raw(out: &mut Vec<u8>, raw: RawJson<'_>) {
    raw.write(out);
}

pub(crate) fn put_stamp(out: &mut Vec<u8>, stamp: Stamp) {
    match stamp.ascii() {
        Some(ascii) => {
            out.push(b'"');
            out.extend_from_slice(&ascii);
            out.push(b'"');
        }
        None => put_str(out, &stamp.to_string()),
    }
}

fn put_url(out: &mut Vec<u8>, url: DocumentUrl<'_>) {
    const PREFIX: &str = "/v1/documents/";
    if plain(url.0) {
        // The prefix and suffixes are plain ASCII.
        out.reserve(PREFIX.len() + url.0.len() + url.1.len() + 2);
        out.extend_from_slice(b"\"/v1/documents/");
        out.extend_from_slice(url.0.as_bytes());
        out.extend_from_slice(url.1.as_bytes());
        out.push(b'"');
    } else {
        put_str(out, &[PREFIX, url.0, url.1].concat());
    }
}

fn put_strs(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_str(out, item);
    }
    out.push(b']');
}

fn put_review(out: &mut Vec<u8>, review: Option<&ReviewState>) {
    let Some(review) = review else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(b"{\"version\":");
    out.extend_from_slice(itoa::Buffer::new().format(review.version).as_bytes());
    out.extend_from_slice(b",\"confirmed_general_field_names\":");
    put_strs(out, &review.confirmed_general_field_names);
    out.extend_from_slice(b",\"confirmed_line_item_ids\":");
    put_strs(out, &review.confirmed_line_item_ids);
    out.push(b'}');
}

impl DocumentView<'_> {
    /// Appends the view as `serde_json::to_writer` would write it.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        put_str(out, self.id);
        out.extend_from_slice(b",\"schema\":");
        put_str(out, self.schema);
        out.extend_from_slice(b",\"status\":");
        put_str(out, self.status);
        out.extend_from_slice(b",\"external_id\":");
        put_opt(out, self.external_id.as_deref());
        out.extend_from_slice(b",\"metadata\":");
        put_raw(out, self.metadata);
        out.extend_from_slice(b",\"review_state\":");
        put_review(out, self.review_state.as_ref());
        out.extend_from_slice(b",\"duplicate_of\":");
        put_opt(out, self.duplicate_of.as_deref());
        out.extend_from_slice(b",\"created_at\":");
        put_stamp(out, self.created_at);
        out.extend_from_slice(b",\"updated_at\":");
        put_stamp(out, self.updated_at);
        out.extend_from_slice(b",\"status_url\":");
        put_url(out, self.status_url);
        out.extend_from_slice(b",\"result_url\":");
        put_url(out, self.result_url);
        out.extend_from_slice(b",\"dispatch_url\":");
        put_url(out, self.dispatch_url);
        out.push(b'}');
    }
}

impl OutboxItemView<'_> {
    /// Appends the view as `serde_json::to_writer` would write it.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"document_id\":");
        put_str(out, self.document_id);
        out.extend_from_slice(b",\"schema\":");
        put_str(out, self.schema);
        out.extend_from_slice(b",\"status\":");
        put_str(out, self.status);
        out.extend_from_slice(b",\"external_id\":");
        put_opt(out, self.external_id.as_deref());
        out.extend_from_slice(b",\"metadata\":");
        put_raw(out, self.metadata);
        out.extend_from_slice(b",\"result_url\":");
        put_url(out, self.result_url);
        out.extend_from_slice(b",\"dispatch_url\":");
        put_url(out, self.dispatch_url);
        out.extend_from_slice(b",\"updated_at\":");
        put_stamp(out, self.updated_at);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::world::model::{Document, JsonMap, Status};

    fn doc(id: &str, text: &str, metadata: Value, review: Option<ReviewState>) -> Document {
        let metadata: Map<String, Value> = match metadata {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Document {
            id: id.into(),
            schema: "invoice_v2",
            status: Status::Reviewed,
            finalized: true,
            external_id: Some(text.to_string()),
            metadata: JsonMap::from_map(&metadata),
            review_state: review,
            duplicate_of: (!text.is_empty()).then(|| format!("dup{text}")),
            created_at: 1_774_319_797_684,
            updated_at: -62_198_755_200_001,
            confidence: 0.5,
            ..Document::bare(id)
        }
    }

    const AWKWARD: [&str; 9] = [
        "",
        "plain",
        "quote \" inside",
        "back\\slash",
        "tab\tnew\nline\r\u{0}\u{1f}",
        "unicode é ü 日本 🚀 \u{2028}\u{7f}",
        "</script>",
        "\"",
        "\\",
    ];

    fn documents() -> Vec<Document> {
        let mut docs = Vec::new();
        for text in AWKWARD {
            let meta =
                json!({text: text, "n": 1.5, "null": null, "nested": {"a": [text, 1, true]}});
            docs.push(doc(&format!("id{text}"), text, meta, None));
            docs.push(doc(
                "4be38121-plain",
                text,
                json!({}),
                Some(ReviewState {
                    version: 4_000_000_000,
                    confirmed_general_field_names: vec![text.to_string(), "x".into()],
                    confirmed_line_item_ids: Vec::new(),
                }),
            ));
        }
        let mut bare = doc("", "", json!({}), None);
        bare.external_id = None;
        bare.duplicate_of = None;
        bare.created_at = 0;
        bare.review_state = Some(ReviewState {
            version: 0,
            confirmed_general_field_names: Vec::new(),
            confirmed_line_item_ids: vec!["li_1".into()],
        });
        docs.push(bare);
        let mut long = doc(&"x".repeat(200), "y", json!({"k": "v"}), None);
        // Past the `time` crate's last year: shown as the epoch, like `Stamp`.
        long.updated_at = 253_402_300_800_000;
        docs.push(long);
        docs
    }

    #[test]
    fn views_match_serde_json() {
        let same = |written: Vec<u8>, expected: Vec<u8>| {
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        };
        for d in documents() {
            let mut out = Vec::new();
            d.view().write_json(&mut out);
            same(out, serde_json::to_vec(&d.view()).unwrap());
            let mut out = Vec::new();
            d.outbox_view().write_json(&mut out);
            same(out, serde_json::to_vec(&d.outbox_view()).unwrap());
            // The cached renderings are the same bytes, asked once or twice.
            for _ in 0..2 {
                let answer = serde_json::to_vec(&serde_json::json!({"data": d.view()})).unwrap();
                same(d.answer_bytes().to_vec(), answer);
                same(
                    d.outbox_item_bytes().to_vec(),
                    serde_json::to_vec(&d.outbox_view()).unwrap(),
                );
            }
            assert!(!d.rendered.is_empty());
            assert!(d.clone().rendered.is_empty(), "a copy starts unrendered");
        }
    }

    #[test]
    fn strings_match_serde_json() {
        for text in AWKWARD {
            let mut out = Vec::new();
            put_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
