//! The `$batch` wire format: reading a `multipart/mixed` request into
//! requests and change sets, and writing the `multipart/mixed` answer.
//!
//! Reading uses `multer` for the MIME framing (boundaries, part headers;
//! nested change sets are read the same way with their own boundary) and
//! `httparse` for the HTTP request each `application/http` part carries.
//! Writing is hand-written: `multer` only reads, and the answer is a few
//! lines of framing around the parts' own status lines, headers and bodies.
//!
//! What runs the parts (faults, the undo log, the journal) is the gate's
//! business (`gate.rs`); this module neither reads nor writes the store.

use std::convert::Infallible;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use bytes::Bytes;
use futures_util::FutureExt;

use super::error::{DataverseError, PAYLOAD};
use crate::call::Reply;

/// The most operations one batch may hold (L-batch: "up to 1,000").
pub(crate) const MAX_OPERATIONS: usize = 1000;

/// One request inside a batch, as the client wrote it.
#[derive(Debug, Clone)]
pub(crate) struct PartRequest {
    /// The part's `Content-ID`, if it has one.
    pub content_id: Option<String>,
    pub method: Method,
    /// The request target as written: absolute, absolute-path, `$1…`, or
    /// relative to the service root.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A top-level item of a batch.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A request on its own (a GET, or a write outside any change set).
    Single(PartRequest),
    /// Requests that succeed or fail as one.
    ChangeSet(Vec<PartRequest>),
}

/// One answer inside the batch response.
#[derive(Debug, Clone)]
pub(crate) struct PartReply {
    pub content_id: Option<String>,
    pub reply: Reply,
}

/// A top-level item of the answer.
#[derive(Debug, Clone)]
pub(crate) enum ItemReply {
    Single(PartReply),
    ChangeSet(Vec<PartReply>),
}

fn bad(message: impl Into<String>) -> DataverseError {
    DataverseError::new(400, PAYLOAD, message)
}

/// The boundary of a `multipart/mixed` content type.
pub(crate) fn boundary(content_type: Option<&str>) -> Result<String, DataverseError> {
    let fix = "send Content-Type: multipart/mixed; boundary=batch_<id>";
    let text = content_type
        .ok_or_else(|| bad(format!("The $batch request has no Content-Type: {fix}.")))?;
    let mime: mime::Mime = text.parse().map_err(|_| {
        bad(format!(
            "The $batch Content-Type '{text}' is not valid: {fix}."
        ))
    })?;
    if mime.type_() != mime::MULTIPART || mime.subtype().as_str() != "mixed" {
        return Err(bad(format!(
            "The $batch Content-Type '{text}' is not multipart/mixed: {fix}."
        )));
    }
    mime.get_param(mime::BOUNDARY)
        .map(|b| b.as_str().to_string())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "The $batch Content-Type '{text}' names no boundary: {fix}."
            ))
        })
}

/// A MIME part: its headers and its content.
struct Mime {
    headers: HeaderMap,
    data: Bytes,
}

/// Every part of a `multipart/mixed` body (read in one pass; see `numora::upload`).
fn mime_parts(body: Bytes, boundary: &str) -> Result<Vec<Mime>, DataverseError> {
    // multer expects the body to open with the boundary line; clients such as
    // DynamicsWebApi start with a blank line, which MIME allows as preamble.
    let start = find(&body, format!("--{boundary}").as_bytes()).unwrap_or(0);
    let body = body.slice(start..);
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(body)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let read = async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            let headers = field.headers().clone();
            let data = field.bytes().await.map_err(|e| e.to_string())?;
            parts.push(Mime { headers, data });
        }
        Ok::<_, String>(parts)
    };
    read.now_or_never()
        .unwrap_or_else(|| Err("the body could not be read in one pass".into()))
        .map_err(|e| bad(format!("The $batch body is not valid multipart/mixed ({e}): each part must open with --{boundary} and the body must end with --{boundary}--.")))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Reads a `$batch` body into its items.
pub(crate) fn parse(content_type: Option<&str>, body: Bytes) -> Result<Vec<Item>, DataverseError> {
    let boundary = boundary(content_type)?;
    let mut items = Vec::new();
    let mut operations = 0;
    for part in mime_parts(body, &boundary)? {
        let ct = header_text(&part.headers, "content-type").unwrap_or("");
        if ct.to_ascii_lowercase().starts_with("multipart/mixed") {
            let inner = self::boundary(Some(ct))?;
            let mut requests = Vec::new();
            for p in mime_parts(part.data, &inner)? {
                let request = part_request(&p)?;
                if request.method == Method::GET {
                    return Err(bad(format!(
                        "A change set may only hold writes; move the GET {} outside the change set.",
                        request.target
                    )));
                }
                requests.push(request);
            }
            operations += requests.len();
            items.push(Item::ChangeSet(requests));
        } else {
            items.push(Item::Single(part_request(&part)?));
            operations += 1;
        }
    }
    if operations > MAX_OPERATIONS {
        return Err(bad(format!(
            "The $batch holds {operations} operations; the limit is {MAX_OPERATIONS}: split it into several batches."
        )));
    }
    Ok(items)
}

/// The HTTP request an `application/http` part carries.
fn part_request(part: &Mime) -> Result<PartRequest, DataverseError> {
    let ct = header_text(&part.headers, "content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/http") {
        return Err(bad(format!(
            "A $batch part has Content-Type '{ct}'; each part must be application/http (or a multipart/mixed change set)."
        )));
    }
    let content_id = header_text(&part.headers, "content-id").map(str::to_string);
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut slots);
    let head = match request.parse(&part.data) {
        Ok(httparse::Status::Complete(n)) => n,
        // A request with no blank line after its headers (e.g. a bare GET).
        Ok(httparse::Status::Partial) => {
            let mut data = part.data.to_vec();
            data.extend_from_slice(b"\r\n\r\n");
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut retry = httparse::Request::new(&mut slots);
            return match retry.parse(&data) {
                Ok(httparse::Status::Complete(_)) => to_request(content_id, &retry, Bytes::new()),
                _ => Err(bad("A $batch part holds an incomplete HTTP request: write the request line, the headers and a blank line.")),
            };
        }
        Err(e) => {
            return Err(bad(format!(
                "A $batch part holds no valid HTTP request ({e}): write 'METHOD URL HTTP/1.1', the headers and a blank line."
            )))
        }
    };
    let body = part.data.slice(head..);
    let body = trim_trailing_newlines(body);
    to_request(content_id, &request, body)
}

fn trim_trailing_newlines(mut body: Bytes) -> Bytes {
    while body.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        body.truncate(body.len() - 1);
    }
    body
}

fn to_request(
    content_id: Option<String>,
    request: &httparse::Request<'_, '_>,
    body: Bytes,
) -> Result<PartRequest, DataverseError> {
    let method = request
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| bad("A $batch part has no HTTP method."))?;
    let target = request.path.unwrap_or_default().to_string();
    let mut headers = HeaderMap::new();
    for h in request.headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(name, value);
        }
    }
    Ok(PartRequest {
        content_id,
        method,
        target,
        headers,
        body,
    })
}

/// Writes the batch answer: a `200` whose `multipart/mixed` body holds one
/// part per answered item, change sets nested under their own boundary.
pub(crate) fn write(batch_id: &str, items: &[ItemReply]) -> Reply {
    let outer = format!("batchresponse_{batch_id}");
    let mut out: Vec<u8> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        push(&mut out, &format!("--{outer}\r\n"));
        match item {
            ItemReply::Single(part) => write_part(&mut out, part),
            ItemReply::ChangeSet(parts) => {
                let inner = format!("changesetresponse_{batch_id}_{n}");
                push(
                    &mut out,
                    &format!("Content-Type: multipart/mixed; boundary={inner}\r\n\r\n"),
                );
                for part in parts {
                    push(&mut out, &format!("--{inner}\r\n"));
                    write_part(&mut out, part);
                }
                push(&mut out, &format!("--{inner}--\r\n"));
            }
        }
    }
    push(&mut out, &format!("--{outer}--\r\n"));
    Reply::new(StatusCode::OK)
        .with_body(out)
        .with_header(
            header::CONTENT_TYPE,
            format!("multipart/mixed; boundary={outer}"),
        )
        .with_header(HeaderName::from_static("odata-version"), "4.0")
}

fn push(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

fn write_part(out: &mut Vec<u8>, part: &PartReply) {
    push(out, "Content-Type: application/http\r\n");
    push(out, "Content-Transfer-Encoding: binary\r\n");
    if let Some(id) = &part.content_id {
        push(out, &format!("Content-ID: {id}\r\n"));
    }
    push(out, "\r\n");
    let status = part.reply.status;
    push(
        out,
        &format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
    );
    for (name, value) in &part.reply.headers {
        if let Ok(value) = value.to_str() {
            push(out, &format!("{name}: {value}\r\n"));
        }
    }
    push(out, "\r\n");
    if !part.reply.body.is_empty() {
        out.extend_from_slice(&part.reply.body);
        push(out, "\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "\r\n--batch_1\r\nContent-Type: multipart/mixed;boundary=changeset_2\r\n\r\n--changeset_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST http://h/api/data/v9.2/teams HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"A\"}\r\n--changeset_2--\r\n--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET teams?$select=name HTTP/1.1\r\nAccept: application/json\r\n\r\n--batch_1--\r\n";

    #[test]
    fn reads_change_sets_and_single_requests() {
        let items = parse(
            Some("multipart/mixed;boundary=batch_1"),
            Bytes::from_static(BODY.as_bytes()),
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        let Item::ChangeSet(cs) = &items[0] else {
            panic!("a change set first")
        };
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].content_id.as_deref(), Some("1"));
        assert_eq!(cs[0].method, Method::POST);
        assert_eq!(cs[0].target, "http://h/api/data/v9.2/teams");
        assert_eq!(&cs[0].body[..], b"{\"name\":\"A\"}");
        let Item::Single(get) = &items[1] else {
            panic!("a single request second")
        };
        assert_eq!(get.method, Method::GET);
        assert_eq!(get.target, "teams?$select=name");
        assert!(get.body.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        let body = || Bytes::from_static(BODY.as_bytes());
        assert_eq!(parse(None, body()).unwrap_err().status, 400);
        let e = parse(Some("application/json"), body()).unwrap_err();
        assert!(e.message.contains("multipart/mixed"), "{}", e.message);
        assert!(parse(Some("multipart/mixed; boundary=other"), body()).is_err());
        let get_in_change_set = BODY.replace("POST http://h/api/data/v9.2/teams", "GET teams");
        let e = parse(
            Some("multipart/mixed;boundary=batch_1"),
            Bytes::from(get_in_change_set),
        )
        .unwrap_err();
        assert!(
            e.message.contains("outside the change set"),
            "{}",
            e.message
        );
    }

    #[test]
    fn writes_nested_change_set_answers() {
        let ok = Reply::new(StatusCode::NO_CONTENT).with_header(
            HeaderName::from_static("odata-entityid"),
            "http://h/api/data/v9.2/teams(1)",
        );
        let reply = write(
            "x",
            &[
                ItemReply::ChangeSet(vec![PartReply {
                    content_id: Some("1".into()),
                    reply: ok,
                }]),
                ItemReply::Single(PartReply {
                    content_id: None,
                    reply: Reply::new(StatusCode::OK).with_body("{}"),
                }),
            ],
        );
        let text = String::from_utf8(reply.body.to_vec()).unwrap();
        assert!(text.starts_with("--batchresponse_x\r\nContent-Type: multipart/mixed; boundary=changesetresponse_x_0\r\n\r\n--changesetresponse_x_0\r\n"));
        assert!(text.contains("Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nodata-entityid: http://h/api/data/v9.2/teams(1)\r\n\r\n--changesetresponse_x_0--\r\n"));
        assert!(text.ends_with("HTTP/1.1 200 OK\r\n\r\n{}\r\n--batchresponse_x--\r\n"));
    }
}
