//! `/_mock/workspaces/{ws}/faults[/{id}]`: fault rules.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use serde_json::Value;

use super::common::{bad, body, conflict, not_found, ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::faults::FaultSpec;
use crate::world::lock;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/faults", get(list).post(add).delete(clear))
        .route("/workspaces/{ws}/faults/{id}", delete(remove))
}

async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = serde_json::to_value(lock(&ws).faults.list()).unwrap_or(Value::Null);
    Ok(ok(StatusCode::OK, json))
}

/// The body is a [`FaultSpec`], which refuses unknown keys.
async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let spec: FaultSpec = body(&raw, "fault rule")?;
    spec.validate().map_err(bad)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let fault_id = match &spec.id {
        Some(given) if w.faults.contains(given) => {
            return Err(conflict(format!(
                "a fault with id '{given}' already exists"
            )))
        }
        Some(given) => given.clone(),
        None => w.ids.prefixed("flt_", now),
    };
    let added = serde_json::to_value(w.faults.add(fault_id, spec)).unwrap_or(Value::Null);
    Ok(ok(StatusCode::CREATED, added))
}

async fn remove(
    State(state): State<AppState>,
    Path((id, fault)): Path<(String, String)>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    if !lock(&ws).faults.remove(&fault) {
        return Err(not_found("fault", &fault));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    lock(&ws).faults.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}
