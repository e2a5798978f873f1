//! `/_mock/workspaces/{ws}/dataverse/…` and `…/sessions/expire`: Dataverse
//! rows as a Dataverse user would change them, and session expiry.
//!
//! Row bodies are Dataverse rows (any columns the table has), so they go
//! through the ordinary Dataverse gate, which judges their keys itself.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{body_json, not_found, ok, workspace, Result};
use crate::app_state::AppState;
use crate::call::{Call, Reply};
use crate::world::lock;
use crate::world::workspace::Workspace;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/workspaces/{ws}/dataverse/{entity_set}",
            get(rows).post(insert),
        )
        .route(
            "/workspaces/{ws}/dataverse/{entity_set}/{id}",
            delete(remove),
        )
        .route("/workspaces/{ws}/sessions/expire", post(sessions_expire))
}

#[derive(Deserialize)]
struct OrgQuery {
    org: Option<String>,
}

async fn rows(
    State(state): State<AppState>,
    Path((id, set)): Path<(String, String)>,
    Query(q): Query<OrgQuery>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let org = q.org.unwrap_or_else(|| "default".into());
    let rows = w
        .dataverse
        .rows(&org, &set)
        .ok_or_else(|| not_found("Dataverse table", &format!("{org}/{set}")))?;
    Ok(ok(StatusCode::OK, Value::Array(rows)))
}

/// Runs one Dataverse call for the control API through the ordinary gate.
fn dataverse_call(
    w: &mut Workspace,
    org: &str,
    method: Method,
    resource: &str,
    body: Option<Value>,
) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("prefer", HeaderValue::from_static("return=representation"));
    let call = Call {
        method,
        path: format!("/api/data/v9.2/{resource}"),
        query: None,
        headers,
        body: body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default().into())
            .unwrap_or_default(),
        origin: "http://internal".into(),
    };
    crate::dataverse::gate::exchange(w, org, "control-api", &call, true)
}

/// Adds a row (e.g. a supplier) as if a Dataverse user had created it.
async fn insert(
    State(state): State<AppState>,
    Path((id, set)): Path<(String, String)>,
    Query(q): Query<OrgQuery>,
    raw: Bytes,
) -> Result<Response> {
    let body = body_json(&raw)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let org = q.org.unwrap_or_else(|| "default".into());
    Ok(dataverse_call(&mut w, &org, Method::POST, &set, Some(body)).into_response())
}

/// Removes a row (e.g. a supplier or the owner team): a domain fault.
async fn remove(
    State(state): State<AppState>,
    Path((id, set, row)): Path<(String, String, String)>,
    Query(q): Query<OrgQuery>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let org = q.org.unwrap_or_else(|| "default".into());
    Ok(
        dataverse_call(&mut w, &org, Method::DELETE, &format!("{set}({row})"), None)
            .into_response(),
    )
}

async fn sessions_expire(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let mut expired = 0;
    for session in w.sessions.values_mut() {
        if session.expires_at > now {
            session.expires_at = now;
            expired += 1;
        }
    }
    Ok(ok(StatusCode::OK, json!({"expired": expired})))
}
