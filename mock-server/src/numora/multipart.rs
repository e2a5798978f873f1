//! A small `multipart/form-data` reader for document uploads.
//!
//! The whole body is already in memory (the upload limit bounds it), so the
//! parts are slices of it; no streaming is needed.

pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: bytes::Bytes,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    memchr::memmem::find(&haystack[from..], needle).map(|i| i + from)
}

fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

pub fn parse(body: &bytes::Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut pos = find(body, delimiter, 0).ok_or("the boundary does not occur in the body")?;
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        let head_start = pos
            + if body[pos..].starts_with(b"\r\n") {
                2
            } else {
                0
            };
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or("a part has no header end")?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let data_start = head_end + 4;
        let next = find(body, delimiter, data_start).ok_or("the closing boundary is missing")?;
        let data_end = if next >= 2 && &body[next - 2..next] == b"\r\n" {
            next - 2
        } else {
            next
        };
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(value, "name");
                filename = param(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_string());
            }
        }
        parts.push(Part {
            name: name.ok_or("a part has no name")?,
            filename,
            content_type,
            data: body.slice(data_start..data_end),
        });
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_fields_and_files() {
        let body = bytes::Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\ninvoice_v2\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--XX--\r\n",
        );
        let parts = super::parse(&body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].data[..], b"invoice_v2");
        assert_eq!(parts[1].filename.as_deref(), Some("a.pdf"));
        assert_eq!(&parts[1].data[..], b"%PDF-1.7");
        assert!(super::parse(&body, "YY").is_err());
    }
}
