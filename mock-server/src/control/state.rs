//! State dump and load (filled in with the dump format).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{ok, workspace, Result};
use crate::app::AppState;

pub async fn dump(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let _w = crate::world::lock(&ws);
    Ok(ok(
        StatusCode::NOT_IMPLEMENTED,
        serde_json::json!({"todo": "state dump"}),
    ))
}

pub async fn load(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response> {
    let _ = workspace(&state, &id)?;
    Ok(ok(
        StatusCode::NOT_IMPLEMENTED,
        serde_json::json!({"todo": "state load"}),
    ))
}
