//! Path globs for fault rules and journal filters: `*` matches exactly one
//! segment (or part of one, as in `doc_*`), `**` any number of segments.

pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                segment_matches(first, segment) && segments_match(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` inside a segment matches any run of characters.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == segment;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !segment.starts_with(first) || !segment[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &segment[first.len()..segment.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn globs() {
        assert!(path_matches(
            "/v1/documents/*/dispatch",
            "/v1/documents/abc/dispatch"
        ));
        assert!(!path_matches(
            "/v1/documents/*/dispatch",
            "/v1/documents/abc/delivery"
        ));
        assert!(path_matches("/api/**", "/api/data/v9.2/otcm_suppliers"));
        assert!(path_matches(
            "/api/data/v9.2/otcm_*",
            "/api/data/v9.2/otcm_suppliers"
        ));
        assert!(path_matches(
            "/api/data/v9.2/teams*",
            "/api/data/v9.2/teams(abc)"
        ));
        assert!(!path_matches("/v1/*", "/v1/documents/x"));
        assert!(path_matches("**", "/anything/at/all"));
    }

    #[test]
    fn stars_inside_a_segment_match_in_order() {
        assert!(path_matches("/x/doc_*_x", "/x/doc_1_x"));
        assert!(!path_matches("/x/doc_*_x", "/x/doc_1_y"));
        assert!(!path_matches("/v9.2/otcm_*", "/v9.2/accounts"));
        assert!(!path_matches("/v9.2/*_x", "/v9.2/x_y"));
        // Each middle part is found after the previous one.
        assert!(path_matches("/x/a*b*b*c", "/x/aXbYbc"));
        assert!(!path_matches("/x/a*b*b*c", "/x/aXbYc"));
        assert!(path_matches("/x/a*bc*d", "/x/a-bc-bc-d"));
        assert!(!path_matches("/x/a*bc*bc*d", "/x/a-bcd"));
    }
}
