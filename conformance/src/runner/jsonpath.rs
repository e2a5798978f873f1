//! A small JSON path: `$`, `.name`, `['name']`, `[3]`, `[-1]`, `[*]`.
//!
//! Enough for response bodies, and small enough that its behaviour is
//! obvious from this file. A path with a wildcard selects a list.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(i64),
    Wildcard,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    segments: Vec<Segment>,
}

/// What a path selects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// Nothing there (a missing key or index, or a walk through a scalar).
    Missing,
    /// One value.
    One(Value),
    /// A wildcard path: every match, in document order.
    Many(Vec<Value>),
}

impl Selection {
    /// The selected value, with a wildcard's matches as an array.
    pub(crate) fn value(&self) -> Option<Value> {
        match self {
            Selection::Missing => None,
            Selection::One(v) => Some(v.clone()),
            Selection::Many(v) => Some(Value::Array(v.clone())),
        }
    }
}

impl Path {
    pub(crate) fn parse(text: &str) -> Result<Path, String> {
        let err = |why: &str| format!("bad JSON path `{text}`: {why}");
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| err("must start with `$`"))?;
        let chars: Vec<char> = rest.chars().collect();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                        end += 1;
                    }
                    if end == start {
                        return Err(err("empty name after `.`"));
                    }
                    let name: String = chars[start..end].iter().collect();
                    segments.push(if name == "*" {
                        Segment::Wildcard
                    } else {
                        Segment::Key(name)
                    });
                    i = end;
                }
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|c| *c == ']')
                        .map(|p| p + i)
                        .ok_or_else(|| err("missing `]`"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if inner == "*" {
                        segments.push(Segment::Wildcard);
                    } else if let Some(q) = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    {
                        segments.push(Segment::Key(q.to_owned()));
                    } else {
                        let n: i64 = inner
                            .parse()
                            .map_err(|_| err("index must be a number, `*` or a quoted name"))?;
                        segments.push(Segment::Index(n));
                    }
                    i = close + 1;
                }
                c => return Err(err(&format!("unexpected `{c}`; use `.name` or `[0]`"))),
            }
        }
        Ok(Path { segments })
    }

    /// Why the path selects nothing in `root`, naming the nearest key that
    /// exists: "`$.data` has no key `stauts`; did you mean `status`?".
    /// `None` when it does select something, or goes through a wildcard.
    pub(crate) fn explain_missing(&self, root: &Value) -> Option<String> {
        let mut at = String::from("$");
        let mut v = root;
        for seg in &self.segments {
            let next = match (seg, v) {
                (Segment::Key(k), Value::Object(m)) => match m.get(k) {
                    Some(x) => x,
                    None => {
                        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                        let mut why = format!("`{at}` has no key `{k}`");
                        match crate::scenario::location::did_you_mean(k, &keys) {
                            Some(s) => why.push_str(&format!("; did you mean `{s}`?")),
                            None if keys.is_empty() => why.push_str(" (it is an empty object)"),
                            None => {
                                let shown: Vec<&str> = keys.iter().take(12).copied().collect();
                                why.push_str(&format!("; its keys: {}", shown.join(", ")));
                                if keys.len() > shown.len() {
                                    why.push_str(", …");
                                }
                            }
                        }
                        return Some(why);
                    }
                },
                (Segment::Index(n), Value::Array(a)) => {
                    let idx = if *n < 0 { a.len() as i64 + *n } else { *n };
                    match usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                        Some(x) => x,
                        None => {
                            return Some(format!(
                                "`{at}` has {} item{}, so there is no [{n}]",
                                a.len(),
                                if a.len() == 1 { "" } else { "s" }
                            ))
                        }
                    }
                }
                (Segment::Wildcard, _) => return None,
                (seg, other) => {
                    let kind = crate::scenario::model::JsonType::of(other).as_str();
                    let wanted = match seg {
                        Segment::Key(_) => "an object",
                        _ => "an array",
                    };
                    return Some(format!("`{at}` is {kind}, not {wanted}"));
                }
            };
            match seg {
                Segment::Key(k) if k.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                    at.push('.');
                    at.push_str(k);
                }
                Segment::Key(k) => at.push_str(&format!("['{k}']")),
                Segment::Index(n) => at.push_str(&format!("[{n}]")),
                Segment::Wildcard => {}
            }
            v = next;
        }
        None
    }

    /// Remove what the path selects from `root` (every match of a
    /// wildcard path).
    pub(crate) fn remove(&self, root: &mut Value) {
        fn walk(v: &mut Value, segs: &[Segment]) {
            let Some((first, rest)) = segs.split_first() else {
                return;
            };
            let last = rest.is_empty();
            match (first, v) {
                (Segment::Key(k), Value::Object(m)) => {
                    if last {
                        m.shift_remove(k);
                    } else if let Some(x) = m.get_mut(k) {
                        walk(x, rest);
                    }
                }
                (Segment::Index(n), Value::Array(a)) => {
                    let idx = if *n < 0 { a.len() as i64 + *n } else { *n };
                    let Ok(i) = usize::try_from(idx) else { return };
                    if last {
                        if i < a.len() {
                            a.remove(i);
                        }
                    } else if let Some(x) = a.get_mut(i) {
                        walk(x, rest);
                    }
                }
                (Segment::Wildcard, Value::Array(a)) => {
                    if last {
                        a.clear();
                    } else {
                        a.iter_mut().for_each(|x| walk(x, rest));
                    }
                }
                (Segment::Wildcard, Value::Object(m)) => {
                    if last {
                        m.clear();
                    } else {
                        m.values_mut().for_each(|x| walk(x, rest));
                    }
                }
                _ => {}
            }
        }
        walk(root, &self.segments);
    }

    pub(crate) fn select(&self, root: &Value) -> Selection {
        let wildcard = self.segments.contains(&Segment::Wildcard);
        let mut current = vec![root];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                match (seg, v) {
                    (Segment::Key(k), Value::Object(m)) => next.extend(m.get(k)),
                    (Segment::Index(n), Value::Array(a)) => {
                        let idx = if *n < 0 { a.len() as i64 + *n } else { *n };
                        if idx >= 0 {
                            next.extend(a.get(idx as usize));
                        }
                    }
                    (Segment::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                    (Segment::Wildcard, Value::Object(m)) => next.extend(m.values()),
                    _ => {}
                }
            }
            current = next;
        }
        if wildcard {
            Selection::Many(current.into_iter().cloned().collect())
        } else {
            match current.first() {
                Some(v) => Selection::One((*v).clone()),
                None => Selection::Missing,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_names_the_nearest_existing_one() {
        let body = serde_json::json!({"data": {"id": "d", "status": "ok", "items": [1]}});
        let why = |p: &str| Path::parse(p).unwrap().explain_missing(&body);
        assert_eq!(
            why("$.data.stauts").as_deref(),
            Some("`$.data` has no key `stauts`; did you mean `status`?")
        );
        assert_eq!(
            why("$.data.zzzzzzzz").as_deref(),
            Some("`$.data` has no key `zzzzzzzz`; its keys: id, status, items")
        );
        assert_eq!(
            why("$.data.items[3]").as_deref(),
            Some("`$.data.items` has 1 item, so there is no [3]")
        );
        assert_eq!(
            why("$.data.id.x").as_deref(),
            Some("`$.data.id` is string, not an object")
        );
        assert_eq!(why("$.data.status"), None);
    }
    use serde_json::json;

    fn sel(path: &str, v: &Value) -> Selection {
        Path::parse(path).unwrap().select(v)
    }

    #[test]
    fn walks_keys_indexes_and_wildcards() {
        let v =
            json!({"data": [{"id": "a", "x.y": 1}, {"id": "b"}], "meta": {"next_cursor": null}});
        assert_eq!(sel("$", &v), Selection::One(v.clone()));
        assert_eq!(sel("$.data[1].id", &v), Selection::One(json!("b")));
        assert_eq!(sel("$.data[-1].id", &v), Selection::One(json!("b")));
        assert_eq!(sel("$.data[0]['x.y']", &v), Selection::One(json!(1)));
        assert_eq!(
            sel("$.data[*].id", &v),
            Selection::Many(vec![json!("a"), json!("b")])
        );
        assert_eq!(sel("$.meta.next_cursor", &v), Selection::One(Value::Null));
        assert_eq!(sel("$.meta.missing", &v), Selection::Missing);
        assert_eq!(sel("$.data[5]", &v), Selection::Missing);
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(Path::parse("data.id").is_err());
        assert!(Path::parse("$.data[").is_err());
        assert!(Path::parse("$..x").is_err());
        assert!(Path::parse("$.a[x]").is_err());
    }
}
