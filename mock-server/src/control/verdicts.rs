//! `/_mock/workspaces/{ws}/verdicts` (the findings on what clients did) and
//! `/_mock/workspaces/{ws}/journal/mark` (the run boundaries they read).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::common::{bad, body, ok, workspace, Result};
use crate::app_state::AppState;
use crate::call::Call;
use crate::world::journal::JournalEntry;
use crate::world::lock;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/journal/mark", post(journal_mark))
        .route("/workspaces/{ws}/verdicts", get(verdicts))
}

/// `POST …/journal/mark`: `{"label": "run 2"}`, the label optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    #[serde(default)]
    label: Option<String>,
}

/// `GET /_mock/workspaces/{ws}/verdicts`: the findings on what clients did.
async fn verdicts(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let report = crate::verdicts::judge(&lock(&ws));
    Ok(ok(StatusCode::OK, report.to_json()))
}

/// `POST /_mock/workspaces/{ws}/journal/mark` `{"label": "run 2"}`: records a
/// run boundary (a scheduled flow's next run starts here).
async fn journal_mark(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let req: MarkBody = body(&raw, "journal mark")?;
    let label = match req.label {
        None => "run boundary".to_string(),
        Some(s) if !s.trim().is_empty() => s,
        Some(_) => {
            return Err(bad(
                "label must be a non-empty string, e.g. {\"label\": \"run 2\"}",
            ))
        }
    };
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let call = Call {
        method: axum::http::Method::POST,
        path: format!("/_mock/workspaces/{id}/journal/mark"),
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
