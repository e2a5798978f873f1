//! A transport-neutral request and reply.
//!
//! Every API of the fake (Numora, Dataverse, the internal workflow's Dataverse
//! calls) is served by synchronous code over a locked workspace. `Call` is what
//! that code sees of a request and `Reply` is what it answers; the axum layer
//! only converts to and from them. One shape for all calls is what lets one
//! fault matcher and one journal serve every API.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `scheme://host:port` as the client reached us, for absolute URLs.
    pub origin: String,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer(&self) -> Option<&str> {
        // `to_str` admits only visible ASCII, spaces and tabs, so the ASCII
        // trims and a byte search are exact here (and far cheaper than
        // their Unicode forms on every call).
        let value = self
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())?
            .trim_ascii();
        let space = value.bytes().position(|b| b == b' ')?;
        let (scheme, token) = (&value[..space], &value[space + 1..]);
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim_ascii())
            .filter(|t| !t.is_empty())
    }

    /// Query pairs, names and values percent-decoded (`+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(self.query.as_deref().unwrap_or(""))
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        // Decoded in place (borrowed where nothing needs decoding): only
        // the value asked for is copied.
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Path segments after `prefix`, each percent-decoded (borrowed when
    /// there is nothing to decode).
    pub fn segments_after(&self, prefix: &str) -> Option<Vec<std::borrow::Cow<'_, str>>> {
        let rest = self.path.strip_prefix(prefix)?;
        Some(
            rest.split('/')
                .filter(|s| !s.is_empty())
                .map(|s| percent_decode_str(s).decode_utf8_lossy())
                .collect(),
        )
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn decode_component(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Splits an `application/x-www-form-urlencoded` query into decoded pairs.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A scratch buffer per thread that answers are serialized into: it grows
/// once, not on every answer, and each answer is then copied out at its
/// exact size (the journal keeps it, so spare capacity would be kept too).
const SCRATCH_KEEP: usize = 1024 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `value` as compact JSON, in a buffer of its exact size.
pub(crate) fn serialize(value: &impl serde::Serialize) -> serde_json::Result<Bytes> {
    let mut written = Ok(());
    let bytes = write_json(|buf| written = serde_json::to_writer(buf, value));
    written.map(|()| bytes)
}

/// The JSON `write` appends, in a buffer of its exact size (for the views
/// with a hand-written writer).
pub(crate) fn write_json(write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    SCRATCH.with(|cell| {
        // A writer never re-enters this function; should one ever, it gets
        // a fresh buffer instead of a panic.
        let mut fresh = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = match borrowed.as_mut() {
            Ok(buf) => &mut **buf,
            Err(_) => &mut fresh,
        };
        buf.clear();
        write(buf);
        let bytes = Bytes::copy_from_slice(buf);
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        bytes
    })
}

/// The numbers [`Reply::number`] keeps ready.
const SMALL_NUMBERS: u64 = 1024;

/// What an API answers; converted to an HTTP response by the axum layer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Real (wall-clock) latency to add after the workspace lock is released.
    pub delay: Option<Duration>,
    /// Send the head, then abort the connection mid-body.
    pub drop_connection: bool,
}

impl Reply {
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: None,
            drop_connection: false,
        }
    }

    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Self::new(status)
            .with_body(serialize(value).unwrap_or_default())
            // A static value: shared, never copied.
            .with_value(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets (replacing) a header. Values that are not valid header text are skipped.
    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.retain(|(n, _)| n != name);
            self.headers.push((name, v));
        }
        self
    }

    /// Sets (replacing) a header from a ready value.
    pub fn with_value(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name, value));
        self
    }

    /// A header value holding `n`: numbers up to [`SMALL_NUMBERS`] are made
    /// once and shared (the rate-limit headers of every call).
    pub fn number(n: u64) -> HeaderValue {
        static TABLE: std::sync::LazyLock<Vec<HeaderValue>> =
            std::sync::LazyLock::new(|| (0..=SMALL_NUMBERS).map(HeaderValue::from).collect());
        usize::try_from(n)
            .ok()
            .and_then(|i| TABLE.get(i))
            .cloned()
            .unwrap_or_else(|| HeaderValue::from(n))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = if self.drop_connection {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(self.body.slice(..self.body.len().min(1))),
                Err(std::io::Error::other("connection dropped by fault rule")),
            ];
            Body::from_stream(futures_util::stream::iter(chunks))
        } else {
            Body::from(self.body)
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        // Sized once: the server adds `content-length` and `date` after these.
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 2);
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        *response.headers_mut() = headers;
        response
    }
}

#[cfg(test)]
impl Call {
    /// A call to `/v1/x` with this method, query, headers and body (for tests).
    pub(crate) fn to_v1_x(
        method: Method,
        query: Option<&str>,
        headers: &[(&'static str, &str)],
        body: impl Into<Bytes>,
    ) -> Call {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Call {
            method,
            path: "/v1/x".into(),
            query: query.map(str::to_string),
            headers: map,
            body: body.into(),
            origin: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_is_read_as_documented() {
        let bearer = |value: &str| {
            let call = Call::to_v1_x(Method::GET, None, &[("authorization", value)], Bytes::new());
            call.bearer().map(str::to_string)
        };
        assert_eq!(bearer("Bearer sk_1").as_deref(), Some("sk_1"));
        assert_eq!(bearer("bEaReR   sk_1 \t").as_deref(), Some("sk_1"));
        assert_eq!(bearer("\t Bearer sk_1").as_deref(), Some("sk_1"));
        assert_eq!(bearer("Bearer a b").as_deref(), Some("a b"));
        for refused in [
            "Bearer",
            "Bearer   ",
            "Basic sk_1",
            "Bearer\tsk_1",
            "Bearersk_1",
            "",
        ] {
            assert_eq!(bearer(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn query_names_and_values_are_decoded() {
        let pairs = parse_query("%24filter=name%20eq%20'O''Brien'&$top=2&x=a+b");
        assert_eq!(pairs[0], ("$filter".into(), "name eq 'O''Brien'".into()));
        assert_eq!(pairs[1], ("$top".into(), "2".into()));
        assert_eq!(pairs[2], ("x".into(), "a b".into()));
        let pairs = parse_query("&a&b=%2B+%zz&");
        assert_eq!(
            pairs,
            [("a".into(), "".into()), ("b".into(), "+ %zz".into())]
        );
        let call = Call::to_v1_x(
            Method::GET,
            Some("%24top=2&x=a+b&x=second&b=%2B+%zz&empty"),
            &[],
            Bytes::new(),
        );
        assert_eq!(call.query_param("$top").as_deref(), Some("2"));
        assert_eq!(
            call.query_param("x").as_deref(),
            Some("a b"),
            "the first wins"
        );
        assert_eq!(call.query_param("b").as_deref(), Some("+ %zz"));
        assert_eq!(call.query_param("empty").as_deref(), Some(""));
        assert_eq!(call.query_param("top"), None);
    }
}
