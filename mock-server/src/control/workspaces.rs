//! `/_mock/health`, `/_mock/reset` and `/_mock/workspaces[/{ws}[/reset]]`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::{
    bad, body, conflict, fixture_error, fixture_from, not_found, ok, ok_view, origin, workspace,
    Result,
};
use super::keys::KeyView;
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

/// A workspace as the control API shows it, serialized straight from the
/// workspace (no intermediate JSON value: creating a workspace answers with
/// this, and building a value tree cost more than the copy itself).
#[derive(Serialize)]
struct WorkspaceView<'a> {
    id: &'a str,
    seed: u64,
    /// The first key that is not revoked.
    api_key: Option<&'a str>,
    api_keys: Vec<KeyView<'a>>,
    numora_base_url: &'a str,
    dataverse_organization_url: &'a str,
    now: String,
}

fn workspace_view<'a>(ws: &'a Workspace, origin: &'a str) -> WorkspaceView<'a> {
    WorkspaceView {
        id: &ws.id,
        seed: ws.seed,
        api_key: ws.keys.iter().find(|k| !k.revoked).map(|k| k.key.as_str()),
        api_keys: ws.keys.iter().map(KeyView::of).collect(),
        numora_base_url: origin,
        dataverse_organization_url: origin,
        now: format_millis(ws.now()),
    }
}

/// `{"data": …}` with `status`, the workspace as [`WorkspaceView`] shows it.
fn workspace_reply(status: StatusCode, ws: &Workspace, origin: &str) -> Response {
    ok_view(status, &workspace_view(ws, origin))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&headers);
    let data: Vec<Value> = state
        .registry
        .workspace_ids()
        .iter()
        .filter_map(|id| state.registry.workspace(id))
        .map(|ws| serde_json::to_value(workspace_view(&lock(&ws), &origin)).unwrap_or(Value::Null))
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
    let origin = origin(&headers);
    let reply = workspace_reply(StatusCode::CREATED, &lock(&created.workspace), &origin);
    Ok(reply)
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let origin = origin(&headers);
    let reply = workspace_reply(StatusCode::OK, &lock(&ws), &origin);
    Ok(reply)
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
    let origin = origin(&headers);
    let reply = workspace_reply(StatusCode::OK, &lock(&ws), &origin);
    Ok(reply)
}
