//! Snapshots of normalised response bodies, in insta's `.snap` file format.
//!
//! The runner is not a test, so it cannot use insta's assertion macros
//! (they panic and print on their own). It writes and reads the same file
//! format instead, so `cargo insta review` works on the `.snap.new` files a
//! mismatch leaves behind.
//!
//! Redactions are *dynamic*: a value is masked only when it has the shape
//! its kind must have (`doc_` + 26 Crockford base32, RFC 3339 with
//! milliseconds, …). A value with the wrong shape is left as it is, so the
//! snapshot shows it and fails instead of hiding it. The same set applies to
//! the fake and to a real deployment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{json, Value};

use super::result::{AssertionResult, ResponseRecord};

/// Where snapshots live and whether to (re)write them.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotConfig {
    pub dir: PathBuf,
    pub update: bool,
}

/// `--snapshots` defaults to `snapshots/` next to the first root given, so
/// running a subdirectory (`scenarios/numora/documents`) or one file would
/// look in `scenarios/numora/snapshots`. When the configured directory is
/// that naive default, use the one next to the scenario's library instead
/// (the library root holds `scenario.schema.json`); an explicit
/// `--snapshots` is kept as given.
pub(crate) fn effective_dir(configured: &Path, given_root: &Path, library_root: &Path) -> PathBuf {
    let naive_base = if given_root
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml")
    {
        given_root.parent().and_then(Path::parent)
    } else {
        given_root.parent()
    };
    let naive = naive_base.unwrap_or(Path::new(".")).join("snapshots");
    if configured != naive {
        return configured.to_owned();
    }
    library_root
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
}

/// The scenario a snapshot belongs to.
pub(crate) struct SnapshotContext<'a> {
    pub config: &'a SnapshotConfig,
    pub scenario_id: &'a str,
    pub scenario_file: &'a str,
}

struct Patterns {
    whole_id: Regex,
    id_in_text: Regex,
    datetime: Regex,
    datetime_in_text: Regex,
    origin: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let prefixed = r"(?:doc|run|evt|req|cur|dst|wf|dla|flt|ws|conn)_[0-9a-hjkmnp-tv-z]{26}";
        let uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
        let ok = |r: &str| Regex::new(r).expect("the redaction patterns are valid");
        Patterns {
            whole_id: ok(&format!("^(?:{prefixed}|{uuid})$")),
            id_in_text: ok(&format!(r"\b(?:{prefixed}|{uuid})\b")),
            datetime: ok(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"),
            datetime_in_text: ok(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z"),
            origin: ok(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+"),
        }
    })
}

/// Mask ids, timestamps, request ids, tokens, cursors and loopback origins.
pub(crate) fn redact(v: &Value) -> Value {
    redact_at(None, v)
}

fn redact_at(key: Option<&str>, v: &Value) -> Value {
    let p = patterns();
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), redact_at(Some(k), x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| redact_at(key, x)).collect()),
        Value::String(s) => {
            let k = key.unwrap_or("");
            if k == "request_id" && !s.is_empty() {
                return json!("[request_id]");
            }
            if (k == "access_token" || k == "token" || k == "api_key") && !s.is_empty() {
                return json!("[token]");
            }
            if k == "next_cursor" && !s.is_empty() {
                return json!("[cursor]");
            }
            if p.whole_id.is_match(s) {
                return json!("[id]");
            }
            if (k.ends_with("_at") || k == "now") && p.datetime.is_match(s) {
                return json!("[datetime]");
            }
            let s2 = p.origin.replace_all(s, "[origin]");
            let s3 = p.id_in_text.replace_all(&s2, "[id]");
            json!(s3.into_owned())
        }
        other => other.clone(),
    }
}

/// Timestamps inside free text (error messages) are masked too, whatever
/// their precision: only fields named `*_at` are shape-checked.
pub(crate) fn redact_text(s: &str) -> String {
    let p = patterns();
    let s = p.origin.replace_all(s, "[origin]");
    let s = p.id_in_text.replace_all(&s, "[id]");
    p.datetime_in_text
        .replace_all(&s, "[datetime]")
        .into_owned()
}

impl SnapshotContext<'_> {
    pub(crate) fn file_for(&self, name: &str) -> PathBuf {
        let stem = format!("{}__{name}", self.scenario_id.replace('/', "__"));
        self.config.dir.join(format!("{stem}.snap"))
    }

    /// Compare the normalised response with the stored snapshot.
    pub(crate) fn check(&self, name: &str, resp: &ResponseRecord) -> AssertionResult {
        let label = format!("snapshot {name}");
        let content = normalise(resp);
        let file = self.file_for(name);
        let stored = read_snapshot(&file);
        match stored {
            Some(old) if old == content => {
                AssertionResult::new(label, true, json!(old), json!(content))
            }
            Some(old) => {
                if self.config.update {
                    let r = write_snapshot(&file, self.scenario_file, name, &content);
                    return AssertionResult::new(label, r.is_ok(), json!(content), json!(content))
                        .with_message(format!("updated {}", file.display()));
                }
                let new_file = file.with_extension("snap.new");
                let _ = write_snapshot(&new_file, self.scenario_file, name, &content);
                AssertionResult::new(label, false, json!(old), json!(content)).with_message(format!(
                    "differs from {} (new version written to {}; review it, or rerun with --update-snapshots)",
                    file.display(),
                    new_file.display()
                ))
            }
            None if self.config.update => {
                let r = write_snapshot(&file, self.scenario_file, name, &content);
                AssertionResult::new(label, r.is_ok(), json!(content), json!(content))
                    .with_message(format!("created {}", file.display()))
            }
            None => AssertionResult::new(label, false, json!("<no snapshot>"), json!(content))
                .with_message(format!(
                    "{} does not exist; rerun with --update-snapshots to create it",
                    file.display()
                )),
        }
    }
}

/// The text a snapshot holds: status line, then the redacted body as
/// pretty JSON with sorted keys (or the redacted text if not JSON).
pub(crate) fn normalise(resp: &ResponseRecord) -> String {
    let body = match &resp.json {
        Some(v) => sorted_pretty(&redact(v)),
        None => redact_text(&resp.body),
    };
    format!("status: {}\n{body}", resp.status)
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn sorted_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&sorted(v)).unwrap_or_default()
}

fn read_snapshot(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    // insta format: `---` header `---` then the content.
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].trim_end_matches('\n').to_owned())
}

fn write_snapshot(path: &Path, source: &str, name: &str, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = format!("---\nsource: {source}\nexpression: {name}\n---\n{content}\n");
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_well_shaped_values() {
        let v = json!({
            "id": "doc_0123456789abcdefghjkmnpqrs",
            "other": "4be38121-3791-4856-80d5-c57dbec2cf78",
            "bad_id": "doc_123",
            "updated_at": "2026-03-24T02:36:37.684Z",
            "created_at": "2026-03-24T02:36:37Z",
            "status_url": "/v1/documents/doc_0123456789abcdefghjkmnpqrs",
            "error": {"request_id": "n8n-outbox-001"},
            "organization_url": "http://127.0.0.1:41234",
            "line": "li_1"
        });
        let r = redact(&v);
        assert_eq!(r["id"], "[id]");
        assert_eq!(r["other"], "[id]");
        assert_eq!(r["bad_id"], "doc_123");
        assert_eq!(r["updated_at"], "[datetime]");
        assert_eq!(
            r["created_at"], "2026-03-24T02:36:37Z",
            "wrong precision must show"
        );
        assert_eq!(r["status_url"], "/v1/documents/[id]");
        assert_eq!(r["error"]["request_id"], "[request_id]");
        assert_eq!(r["organization_url"], "[origin]");
        assert_eq!(r["line"], "li_1");
    }

    #[test]
    fn a_subdirectory_run_uses_the_library_snapshots() {
        let lib = Path::new("scenarios");
        let sub = Path::new("scenarios/numora/documents");
        assert_eq!(
            effective_dir(Path::new("scenarios/numora/snapshots"), sub, lib),
            Path::new("snapshots")
        );
        let file = Path::new("scenarios/numora/documents/a.yaml");
        assert_eq!(
            effective_dir(Path::new("scenarios/numora/snapshots"), file, lib),
            Path::new("snapshots")
        );
        assert_eq!(
            effective_dir(Path::new("elsewhere"), sub, lib),
            Path::new("elsewhere")
        );
        assert_eq!(
            effective_dir(Path::new("snapshots"), lib, lib),
            Path::new("snapshots")
        );
    }

    #[test]
    fn snapshot_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("conf-snap-{}", std::process::id()));
        let f = dir.join("a.snap");
        write_snapshot(&f, "x.yaml", "n", "status: 200\n{}").unwrap();
        assert_eq!(read_snapshot(&f).as_deref(), Some("status: 200\n{}"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
