//! `/_mock/health`, `/_mock/reset` and `/_mock/workspaces[/{ws}[/reset]]`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{
    bad, body, conflict, fixture_error, fixture_from, not_found, ok, origin, workspace, Result,
};
use super::keys::keys_json;
use crate::app_state::AppState;
use crate::call::Reply;
use crate::world::lock;
use crate::world::time::format_millis;
use crate::world::workspace::Workspace;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset_all))
        .route("/workspaces", get(list).post(create))
        .route("/workspaces/{ws}", get(one).delete(remove))
        .route("/workspaces/{ws}/reset", post(reset))
}

/// `POST /workspaces`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    seed: Option<u64>,
    /// A fixture: a JSON object, or YAML text.
    #[serde(default)]
    fixtures: Option<Value>,
}

async fn health(State(state): State<AppState>) -> Response {
    Reply::json(
        StatusCode::OK,
        &json!({"status": "ok", "service": "numora-mock-server", "version": env!("CARGO_PKG_VERSION"), "workspaces": state.registry.workspace_ids().len()}),
    )
    .into_response()
}

async fn reset_all(State(state): State<AppState>) -> Result<Response> {
    for id in state.registry.workspace_ids() {
        state.registry.reset(&id).map_err(|e| bad(e.to_string()))?;
    }
    Ok(ok(
        StatusCode::OK,
        json!({"reset": state.registry.workspace_ids()}),
    ))
}

fn workspace_json(ws: &Workspace, origin: &str) -> Value {
    json!({
        "id": ws.id,
        "seed": ws.seed,
        "api_key": ws.keys.iter().find(|k| !k.revoked).map(|k| k.key.clone()),
        "api_keys": keys_json(&ws.keys),
        "numora_base_url": origin,
        "dataverse_organization_url": origin,
        "now": format_millis(ws.now()),
    })
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&headers);
    let data: Vec<Value> = state
        .registry
        .workspace_ids()
        .iter()
        .filter_map(|id| state.registry.workspace(id))
        .map(|ws| workspace_json(&lock(&ws), &origin))
        .collect();
    ok(StatusCode::OK, Value::Array(data))
}

async fn create(State(state): State<AppState>, headers: HeaderMap, raw: Bytes) -> Result<Response> {
    let req: CreateBody = body(&raw, "workspace")?;
    let fixture = req
        .fixtures
        .as_ref()
        .filter(|v| !v.is_null())
        .map(fixture_from)
        .transpose()?;
    let created = state
        .registry
        .create(req.seed, fixture)
        .map_err(fixture_error)?;
    let ws = workspace(&state, &created.id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::CREATED, json))
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::OK, json))
}

async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    if id == "default" {
        return Err(conflict(
            "the default workspace cannot be deleted; reset it instead",
        ));
    }
    if !state.registry.remove(&id) {
        return Err(not_found("workspace", &id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    state.registry.reset(&id).map_err(|e| bad(e.to_string()))?;
    let ws = workspace(&state, &id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::OK, json))
}
