//! `/_mock/workspaces/{ws}/verdicts`, `/_mock/workspaces/{ws}/journal/mark`
//! and the P1-8 settings (`outbox_max_page`, journal limits).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{bad, body_json, ok, workspace, Result};
use crate::app::AppState;
use crate::world::journal::JournalEntry;
use crate::world::lock;
use crate::world::workspace::Workspace;

/// `GET /_mock/workspaces/{ws}/verdicts`: the findings on what clients did.
pub async fn verdicts(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let report = crate::verdicts::judge(&lock(&ws));
    Ok(ok(StatusCode::OK, report.to_json()))
}

/// `POST /_mock/workspaces/{ws}/journal/mark` `{"label": "run 2"}`: records a
/// run boundary (a scheduled flow's next run starts here).
pub async fn journal_mark(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let label = match body.get("label") {
        None | Some(Value::Null) => "run boundary".to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            return Err(bad(
                "label must be a non-empty string, e.g. {\"label\": \"run 2\"}",
            ))
        }
    };
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let path = format!("/_mock/workspaces/{id}/journal/mark");
    let call = crate::call::Call {
        method: axum::http::Method::POST,
        path,
        query: None,
        headers: Default::default(),
        body: Default::default(),
        origin: String::new(),
    };
    let mut entry = JournalEntry::of(
        "mark",
        &call,
        "POST /_mock/workspaces/{ws}/journal/mark",
        201,
    );
    entry.internal = true;
    entry.label = Some(label.clone());
    entry.request = None;
    w.log_call(entry);
    let seq = w.journal.all().last().map(|e| e.seq).unwrap_or_default();
    Ok(ok(StatusCode::CREATED, json!({"seq": seq, "label": label})))
}

/// The settings `PATCH /_mock/workspaces/{ws}/settings` accepts besides the
/// original ones: `outbox_max_page` (a number, or null to lift the cap),
/// `journal_max_entries`, `journal_max_bytes`.
pub fn edit_settings(w: &mut Workspace, body: &Value) -> Result<()> {
    if let Some(v) = body.get("outbox_max_page") {
        w.settings.outbox_max_page = match v {
            Value::Null => None,
            v => Some(
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        bad("outbox_max_page must be a positive integer (or null for no cap)")
                    })?,
            ),
        };
    }
    let mut limits = (w.settings.journal_max_entries, w.settings.journal_max_bytes);
    for (name, slot) in [("journal_max_entries", 0), ("journal_max_bytes", 1)] {
        if let Some(v) = body.get(name) {
            let n = v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| bad(format!("{name} must be a positive integer")))?;
            if slot == 0 {
                limits.0 = n;
            } else {
                limits.1 = n;
            }
        }
    }
    if limits != (w.settings.journal_max_entries, w.settings.journal_max_bytes) {
        w.settings.journal_max_entries = limits.0;
        w.settings.journal_max_bytes = limits.1;
        w.journal.set_limits(limits.0, limits.1);
    }
    Ok(())
}
