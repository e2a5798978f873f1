//! `GET|PUT /_mock/workspaces/{ws}/state`: the state dump, and loading one back.
//!
//! A loaded body is a fixture, so it refuses unknown keys like a fixture file.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::common::{bad, body_json, fixture_error, fixture_from, ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::lock;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/workspaces/{ws}/state", get(dump).put(load))
}

/// The whole workspace as deterministic JSON, in the fixture format.
async fn dump(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let fixture = lock(&ws).to_fixture();
    let body = serde_json::to_vec_pretty(&fixture).map_err(|e| bad(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Replaces the workspace's state with a dump (or any fixture).
async fn load(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let body = body_json(&raw)?;
    let fixture = fixture_from(&body)?;
    let created = state.registry.load(&id, fixture).map_err(fixture_error)?;
    let keys: Vec<String> = crate::world::lock(&created.workspace)
        .keys
        .iter()
        .map(|k| k.key.clone())
        .collect();
    Ok(ok(
        StatusCode::OK,
        serde_json::json!({"id": created.id, "api_keys": keys}),
    ))
}
