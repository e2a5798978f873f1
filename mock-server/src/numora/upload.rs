//! Reading `multipart/form-data` uploads, with `multer`.
//!
//! Handlers run synchronously under the workspace lock while `multer` reads
//! a stream asynchronously. The whole body is already in memory (the body
//! limit bounds it), so the stream `multer` reads is one ready chunk: every
//! future it returns completes on its first poll, and `now_or_never` drives
//! it without a runtime or a thread.
//!
//! `multer` reads part headers with `httparse`, which refuses control
//! characters in a header (a field name such as `"\u{11}x"` sent raw). The
//! upload route accepts such parts (unknown fields are ignored, as the
//! seeds' clients send extra fields), so [`tolerant`] turns control bytes in
//! part headers into spaces before `multer` sees them. Nothing else changes.

use std::convert::Infallible;

use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use futures_util::FutureExt;

/// One part of an upload.
pub(super) struct Part {
    pub name: String,
    pub filename: Option<String>,
    /// The part's `Content-Type` header, as sent.
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The boundary of a `multipart/form-data` content type, if it names one.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    multer::parse_boundary(content_type).ok()
}

/// Every part of `body`, in order; the error says what is malformed.
pub(super) fn parts(body: Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let body = tolerant(body, boundary);
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(body)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let read = async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().ok_or("a part has no name")?.to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string());
            let data = field.bytes().await.map_err(|e| e.to_string())?;
            parts.push(Part {
                name,
                filename,
                content_type,
                data,
            });
        }
        Ok(parts)
    };
    read.now_or_never()
        .unwrap_or_else(|| Err("the body could not be read in one pass".into()))
}

/// `body` with every control byte (other than CR, LF and tab) inside a
/// part's header block replaced by a space. A copy is made only when one
/// is found.
fn tolerant(body: Bytes, boundary: &str) -> Bytes {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let is_control = |b: u8| b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t') || b == 0x7f;
    let mut out: Option<Vec<u8>> = None;
    let mut at = 0;
    while let Some(found) = find(&body[at..], delimiter) {
        let headers_start = at + found + delimiter.len();
        let headers_end =
            find(&body[headers_start..], b"\r\n\r\n").map_or(body.len(), |end| headers_start + end);
        for i in headers_start..headers_end {
            if is_control(body[i]) {
                out.get_or_insert_with(|| body.to_vec())[i] = b' ';
            }
        }
        at = headers_end.max(headers_start);
        if at >= body.len() {
            break;
        }
    }
    out.map_or(body, Bytes::from)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_fields_and_files() {
        let body = bytes::Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\ninvoice_v2\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--XX--\r\n",
        );
        let parts = super::parts(body.clone(), "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].data[..], b"invoice_v2");
        assert_eq!(parts[1].filename.as_deref(), Some("a.pdf"));
        assert_eq!(parts[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(&parts[1].data[..], b"%PDF-1.7");
        assert!(super::parts(body, "YY").is_err());
        assert_eq!(
            super::boundary("multipart/form-data; boundary=\"XX\"").as_deref(),
            Some("XX")
        );
        assert_eq!(super::boundary("multipart/form-data"), None);
    }

    #[test]
    fn control_bytes_in_part_headers_are_read_as_spaces() {
        let body = bytes::Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"a\x11b\"\r\n\r\nv\x11\r\n--XX\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\ninvoice_v2\r\n--XX--\r\n",
        );
        let parts = super::parts(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "a b");
        // Only headers are touched: the part's data keeps its bytes.
        assert_eq!(&parts[0].data[..], b"v\x11");
        assert_eq!(parts[1].name, "schema");
    }
}
