//! `/_mock/workspaces/{ws}/journal[/count]`: the request journal. Its
//! run-boundary marks (`journal/mark`) sit with the verdicts that read them,
//! in `verdicts.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::common::{ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::journal::JournalFilter;
use crate::world::lock;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/journal", get(list).delete(clear))
        .route("/workspaces/{ws}/journal/count", get(count))
}

async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(filter): Query<JournalFilter>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w
        .journal
        .entries(&filter)
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

async fn count(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(filter): Query<JournalFilter>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let count = w.journal.entries(&filter).count();
    Ok(ok(StatusCode::OK, json!({"count": count})))
}

async fn clear(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    lock(&ws).journal.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}
