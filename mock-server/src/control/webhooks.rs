//! `/_mock/workspaces/{ws}/webhooks[/deliveries]` and `…/events`: webhook
//! endpoints, their deliveries, and the events raised.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::common::{bad, body_json, ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::lock;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/webhooks", get(list).post(add))
        .route("/workspaces/{ws}/webhooks/deliveries", get(deliveries))
        .route("/workspaces/{ws}/events", get(events))
}

async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w
        .webhooks
        .endpoints
        .iter()
        .map(|e| json!({"id": e.id, "url": e.spec.url, "events": e.spec.events, "has_secret": !e.spec.secret.is_empty()}))
        .collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

/// The body is an endpoint spec (`id`, `url`, `secret`, `events`), read by
/// the webhook layer, which refuses unknown keys; the message is reworded here.
async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let body = body_json(&raw)?;
    if !body.is_object() {
        return Err(bad("the webhook endpoint must be a JSON object"));
    }
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let w = &mut *w;
    let endpoint = w
        .webhooks
        .add_endpoint_json(body, &mut w.ids, now)
        .map_err(|e| match crate::strict::UnknownField::parse(&e) {
            Some(u) => bad(u.describe("webhook endpoint")),
            None => bad(format!("webhook: {e}")),
        })?;
    let json = json!({"id": endpoint.id, "url": endpoint.spec.url, "events": endpoint.spec.events, "has_secret": !endpoint.spec.secret.is_empty()});
    Ok(ok(StatusCode::CREATED, json))
}

async fn deliveries(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w
        .webhooks
        .deliveries
        .values()
        .map(|d| d.to_json())
        .collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

async fn events(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w.events.iter().map(|e| e.to_json()).collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}
