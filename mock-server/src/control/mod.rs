//! The control API (`/_mock`): workspaces, clock, documents in any state,
//! faults, journal, Dataverse rows, webhooks, state dump. It never ticks a
//! workspace's clock, so reading state does not change it.

mod state;
mod verdicts;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::call::Reply;
use crate::fixtures::{DocumentFixture, Fixture};
use crate::numora::NumoraError;
use crate::world::clock::ClockMode;
use crate::world::faults::FaultSpec;
use crate::world::journal::JournalFilter;
use crate::world::model::{ActiveStatus, ApiKey, Status, SCOPES};
use crate::world::time::{format_duration, format_millis, parse_duration, parse_rfc3339};
use crate::world::workspace::Workspace;
use crate::world::{lock, SharedWorkspace};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset_all))
        .route("/workspaces", get(workspaces_list).post(workspaces_create))
        .route(
            "/workspaces/{ws}",
            get(workspace_get).delete(workspace_delete),
        )
        .route("/workspaces/{ws}/reset", post(workspace_reset))
        .route("/workspaces/{ws}/clock", get(clock_get).patch(clock_set))
        .route("/workspaces/{ws}/clock/advance", post(clock_advance))
        .route(
            "/workspaces/{ws}/documents",
            get(documents_list).post(documents_create),
        )
        .route(
            "/workspaces/{ws}/documents/{id}",
            get(document_get).patch(document_edit),
        )
        .route(
            "/workspaces/{ws}/faults",
            get(faults_list).post(faults_add).delete(faults_clear),
        )
        .route("/workspaces/{ws}/faults/{id}", delete(faults_delete))
        .route(
            "/workspaces/{ws}/journal",
            get(journal_list).delete(journal_clear),
        )
        .route("/workspaces/{ws}/journal/count", get(journal_count))
        // Verdicts and run boundaries (P1-8): handlers in verdicts.rs.
        .route(
            "/workspaces/{ws}/journal/mark",
            post(verdicts::journal_mark),
        )
        .route("/workspaces/{ws}/verdicts", get(verdicts::verdicts))
        .route("/workspaces/{ws}/state", get(state::dump).put(state::load))
        .route(
            "/workspaces/{ws}/dataverse/{entity_set}",
            get(dataverse_rows).post(dataverse_insert),
        )
        .route(
            "/workspaces/{ws}/dataverse/{entity_set}/{id}",
            delete(dataverse_delete),
        )
        .route(
            "/workspaces/{ws}/webhooks",
            get(webhooks_list).post(webhooks_add),
        )
        .route(
            "/workspaces/{ws}/webhooks/deliveries",
            get(webhook_deliveries),
        )
        .route("/workspaces/{ws}/events", get(events_list))
        .route("/workspaces/{ws}/sessions/expire", post(sessions_expire))
        .route("/workspaces/{ws}/keys", get(keys_list).post(keys_add))
        .route(
            "/workspaces/{ws}/keys/{key}",
            axum::routing::patch(keys_edit),
        )
        .route(
            "/workspaces/{ws}/connections/{id}",
            axum::routing::patch(connection_edit),
        )
        .route(
            "/workspaces/{ws}/workflows/{id}",
            axum::routing::patch(workflow_edit),
        )
        .route(
            "/workspaces/{ws}/settings",
            axum::routing::patch(settings_edit),
        )
}

/// With `--admin-token`, every control call must carry
/// `Authorization: Bearer <token>` (or `X-Admin-Token: <token>`).
pub async fn admin_guard(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(expected) = &state.admin_token {
        let headers = req.headers();
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let direct = headers.get("x-admin-token").and_then(|v| v.to_str().ok());
        if bearer.or(direct).map(str::trim) != Some(expected.as_str()) {
            return ControlError(NumoraError::Unauthorized(
                "the control API needs the admin token: send Authorization: Bearer <admin token>"
                    .into(),
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// A control API failure, in the Numora error envelope.
pub struct ControlError(NumoraError);

impl From<NumoraError> for ControlError {
    fn from(e: NumoraError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        // The control API keeps no per-call ids; one fixed id keeps the
        // envelope's rule (request_id equals the x-request-id header).
        const ID: &str = "req_control";
        Reply::json(self.0.status(), &self.0.body(ID))
            .with_header(HeaderName::from_static("x-request-id"), ID)
            .into_response()
    }
}

type Result<T> = std::result::Result<T, ControlError>;

fn ok(status: StatusCode, data: Value) -> Response {
    Reply::json(status, &json!({ "data": data })).into_response()
}

fn bad(message: impl Into<String>) -> ControlError {
    ControlError(NumoraError::InvalidPayload(message.into()))
}

fn not_found(what: &str, id: &str) -> ControlError {
    ControlError(NumoraError::not_found(what, id))
}

pub(crate) fn workspace(state: &AppState, id: &str) -> Result<SharedWorkspace> {
    state
        .registry
        .workspace(id)
        .ok_or_else(|| not_found("workspace", id))
}

pub(crate) fn body_json(body: &Bytes) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| bad(format!("the request body is not valid JSON: {e}")))
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
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

fn keys_json(keys: &[ApiKey]) -> Value {
    Value::Array(
        keys.iter()
            .map(
                |k| json!({"key": k.key, "name": k.name, "scopes": k.scopes, "revoked": k.revoked}),
            )
            .collect(),
    )
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

async fn workspaces_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
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

/// Inline fixtures: a JSON object, or a YAML string.
pub(crate) fn fixture_from(value: &Value) -> Result<Fixture> {
    match value {
        Value::String(yaml) => Fixture::from_yaml("fixtures", yaml).map_err(|e| bad(e.to_string())),
        other => Fixture::from_json(other.clone()).map_err(|e| bad(e.to_string())),
    }
}

async fn workspaces_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let seed = match body.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| bad("seed must be a non-negative integer"))?,
        ),
    };
    let fixture = body
        .get("fixtures")
        .filter(|v| !v.is_null())
        .map(fixture_from)
        .transpose()?;
    let created = state
        .registry
        .create(seed, fixture)
        .map_err(|e| bad(e.to_string()))?;
    let ws = workspace(&state, &created.id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::CREATED, json))
}

async fn workspace_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::OK, json))
}

async fn workspace_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    if id == "default" {
        return Err(ControlError(NumoraError::Conflict(
            "the default workspace cannot be deleted; reset it instead".into(),
        )));
    }
    if !state.registry.remove(&id) {
        return Err(not_found("workspace", &id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn workspace_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    state.registry.reset(&id).map_err(|e| bad(e.to_string()))?;
    let ws = workspace(&state, &id)?;
    let json = workspace_json(&lock(&ws), &origin(&headers));
    Ok(ok(StatusCode::OK, json))
}

fn clock_json(ws: &Workspace) -> Value {
    json!({
        "now": format_millis(ws.now()),
        "mode": ws.clock.mode(),
        "tick": format_duration(ws.clock.tick()),
        "pending_jobs": ws.scheduler.len(),
        "next_job_at": ws.scheduler.pending().next().map(|(at, _)| format_millis(at)),
    })
}

async fn clock_get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = clock_json(&lock(&ws));
    Ok(ok(StatusCode::OK, json))
}

async fn clock_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if let Some(mode) = body.get("mode") {
        let mode: ClockMode = mode
            .as_str()
            .ok_or_else(|| bad("mode must be a string"))?
            .parse()
            .map_err(bad)?;
        w.clock.set_mode(mode);
    }
    if let Some(tick) = body.get("tick") {
        let text = tick
            .as_str()
            .ok_or_else(|| bad("tick must be a duration string such as \"1s\""))?;
        w.clock.set_tick(
            parse_duration(text).ok_or_else(|| bad(format!("tick: '{text}' is not a duration")))?,
        );
    }
    Ok(ok(StatusCode::OK, clock_json(&w)))
}

async fn clock_advance(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    {
        let mut w = lock(&ws);
        match (
            body.get("by").and_then(Value::as_str),
            body.get("to").and_then(Value::as_str),
        ) {
            (Some(by), None) => {
                let ms = parse_duration(by).ok_or_else(|| {
                    bad(format!("by: '{by}' is not a duration (e.g. 5s, 2m, 1h)"))
                })?;
                w.clock.advance(ms);
            }
            (None, Some(to)) => {
                let at = parse_rfc3339(to)
                    .ok_or_else(|| bad(format!("to: '{to}' is not an RFC 3339 timestamp")))?;
                w.clock.advance_to(at);
            }
            _ => return Err(bad(
                "send exactly one of {\"by\": \"5s\"} or {\"to\": \"2026-03-24T03:00:00.000Z\"}",
            )),
        }
        w.run_due();
    }
    settle_webhooks(&ws).await;
    let json = clock_json(&lock(&ws));
    Ok(ok(StatusCode::OK, json))
}

/// A clock advance is time travel: before it answers, every webhook attempt
/// that falls inside the advanced window is made and its answer recorded
/// (retries included), bounded by the webhook timeout. Ordinary API calls do
/// not wait for receivers.
async fn settle_webhooks(ws: &SharedWorkspace) {
    const POLL: std::time::Duration = std::time::Duration::from_millis(2);
    let budget = {
        let w = lock(ws);
        (w.settings.webhook_timeout.max(0) as u64 + 1_000) / 2
    };
    for _ in 0..budget {
        let in_flight = {
            let mut w = lock(ws);
            w.run_due();
            w.webhooks.in_flight()
        };
        if in_flight == 0 {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn documents_list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w
        .documents
        .values()
        .map(crate::numora::control_json)
        .collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

async fn documents_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let fixture: DocumentFixture =
        serde_json::from_value(body).map_err(|e| bad(format!("document: {e}")))?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let doc_id = w
        .insert_fixture_document(&fixture, "document")
        .map_err(|e| bad(e.to_string()))?;
    let json = crate::numora::control_json(&w.documents[&doc_id]);
    Ok(ok(StatusCode::CREATED, json))
}

async fn document_get(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let d = w
        .documents
        .get(&doc)
        .ok_or_else(|| not_found("document", &doc))?;
    Ok(ok(StatusCode::OK, crate::numora::control_json(d)))
}

/// Edits a document as the review UI would: changing the result of a
/// finalized document sends it back to `review_required`, un-finalized.
async fn document_edit(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let edit = body
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object"))?
        .clone();
    const KNOWN: [&str; 9] = [
        "fields",
        "line_items",
        "metadata",
        "status",
        "finalized",
        "processing",
        "review_state",
        "external_id",
        "failure_reason",
    ];
    if let Some(unknown) = edit.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown document property '{unknown}' (expected one of {})",
            KNOWN.join(", ")
        )));
    }
    let status: Option<Status> = edit
        .get("status")
        .map(|s| serde_json::from_value(s.clone()).map_err(|e| bad(format!("status: {e}"))))
        .transpose()?;
    let finalized = edit
        .get("finalized")
        .map(|f| {
            f.as_bool()
                .ok_or_else(|| bad("finalized must be true or false"))
        })
        .transpose()?;
    let processing = edit
        .get("processing")
        .map(|p| serde_json::from_value(p.clone()).map_err(|e| bad(format!("processing: {e}"))))
        .transpose()?;
    let review_state = edit
        .get("review_state")
        .map(|r| {
            serde_json::from_value::<Option<crate::world::model::ReviewState>>(r.clone())
                .map_err(|e| bad(format!("review_state: {e}")))
        })
        .transpose()?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if !w.documents.contains_key(&doc) {
        return Err(not_found("document", &doc));
    }
    let now = w.now();
    let changes_result = edit.contains_key("fields") || edit.contains_key("line_items");
    w.update_document(&doc, |d| {
        if let Some(Value::Object(fields)) = edit.get("fields") {
            for (name, value) in fields {
                let field = match value {
                    Value::Object(o) if o.contains_key("value") => value.clone(),
                    other => json!({"value": other, "confidence": 1.0}),
                };
                d.fields.insert(name.clone(), field);
            }
        }
        if let Some(Value::Array(items)) = edit.get("line_items") {
            d.line_items = items
                .iter()
                .enumerate()
                .filter_map(|(n, i)| {
                    let mut item = i.as_object()?.clone();
                    item.entry("id")
                        .or_insert_with(|| json!(format!("li_{}", n + 1)));
                    Some(item)
                })
                .collect();
        }
        if let Some(Value::Object(m)) = edit.get("metadata") {
            d.metadata = m.clone();
        }
        if let Some(ext) = edit.get("external_id") {
            d.external_id = ext.as_str().map(str::to_string);
        }
        if let Some(reason) = edit.get("failure_reason") {
            d.failure_reason = reason.as_str().map(str::to_string);
        }
        if changes_result && d.finalized {
            d.finalized = false;
            d.status = Status::ReviewRequired;
        }
        if let Some(s) = status {
            d.status = s;
        }
        if let Some(f) = finalized {
            d.finalized = f;
        }
        if let Some(p) = processing {
            d.processing = p;
        }
        if let Some(r) = review_state {
            d.review_state = r.and_then(crate::world::model::ReviewState::normalized);
        }
        d.updated_at = now;
    });
    let json = crate::numora::control_json(&w.documents[&doc]);
    Ok(ok(StatusCode::OK, json))
}

fn faults_json(w: &Workspace) -> Value {
    serde_json::to_value(w.faults.list()).unwrap_or(Value::Null)
}

async fn faults_list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = faults_json(&lock(&ws));
    Ok(ok(StatusCode::OK, json))
}

async fn faults_add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let spec: FaultSpec = serde_json::from_value(body).map_err(|e| bad(format!("fault: {e}")))?;
    spec.validate().map_err(bad)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let fault_id = match &spec.id {
        Some(given) if w.faults.contains(given) => {
            return Err(ControlError(NumoraError::Conflict(format!(
                "a fault with id '{given}' already exists"
            ))))
        }
        Some(given) => given.clone(),
        None => w.ids.prefixed("flt_", now),
    };
    let added = serde_json::to_value(w.faults.add(fault_id, spec)).unwrap_or(Value::Null);
    Ok(ok(StatusCode::CREATED, added))
}

async fn faults_delete(
    State(state): State<AppState>,
    Path((id, fault)): Path<(String, String)>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    if !lock(&ws).faults.remove(&fault) {
        return Err(not_found("fault", &fault));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn faults_clear(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    lock(&ws).faults.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
struct JournalQuery {
    method: Option<String>,
    path: Option<String>,
    api: Option<String>,
    status: Option<u16>,
    internal: Option<bool>,
    since: Option<u64>,
}

impl JournalQuery {
    fn filter(&self) -> JournalFilter {
        JournalFilter {
            method: self.method.clone(),
            path: self.path.clone(),
            api: self.api.clone(),
            status: self.status,
            since: self.since,
        }
    }
}

async fn journal_list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<JournalQuery>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let filter = q.filter();
    let data: Vec<Value> = w
        .journal
        .entries(&filter)
        .filter(|e| q.internal.is_none_or(|i| e.internal == i))
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

async fn journal_count(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<JournalQuery>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let filter = q.filter();
    let count = w
        .journal
        .entries(&filter)
        .filter(|e| q.internal.is_none_or(|i| e.internal == i))
        .count();
    Ok(ok(StatusCode::OK, json!({"count": count})))
}

async fn journal_clear(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    lock(&ws).journal.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
struct OrgQuery {
    org: Option<String>,
}

async fn dataverse_rows(
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
    method: axum::http::Method,
    resource: &str,
    body: Option<Value>,
) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "prefer",
        axum::http::HeaderValue::from_static("return=representation"),
    );
    let call = crate::call::Call {
        method,
        path: format!("/api/data/v9.2/{resource}"),
        query: None,
        headers,
        body: body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default().into())
            .unwrap_or_default(),
        origin: "http://internal".into(),
    };
    w.dataverse_exchange(org, "control-api", &call, true)
}

/// Adds a row (e.g. a supplier) as if a Dataverse user had created it.
async fn dataverse_insert(
    State(state): State<AppState>,
    Path((id, set)): Path<(String, String)>,
    Query(q): Query<OrgQuery>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let org = q.org.unwrap_or_else(|| "default".into());
    Ok(dataverse_call(&mut w, &org, axum::http::Method::POST, &set, Some(body)).into_response())
}

/// Removes a row (e.g. a supplier or the owner team): a domain fault.
async fn dataverse_delete(
    State(state): State<AppState>,
    Path((id, set, row)): Path<(String, String, String)>,
    Query(q): Query<OrgQuery>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let org = q.org.unwrap_or_else(|| "default".into());
    Ok(dataverse_call(
        &mut w,
        &org,
        axum::http::Method::DELETE,
        &format!("{set}({row})"),
        None,
    )
    .into_response())
}

async fn webhooks_list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
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

async fn webhooks_add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let w = &mut *w;
    let endpoint = w
        .webhooks
        .add_endpoint_json(body, &mut w.ids, now)
        .map_err(|e| bad(format!("webhook: {e}")))?;
    let json = json!({"id": endpoint.id, "url": endpoint.spec.url, "events": endpoint.spec.events, "has_secret": !endpoint.spec.secret.is_empty()});
    Ok(ok(StatusCode::CREATED, json))
}

async fn webhook_deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
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

async fn events_list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w.events.iter().map(|e| e.to_json()).collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
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

async fn keys_list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = keys_json(&lock(&ws).keys);
    Ok(ok(StatusCode::OK, json))
}

fn scopes_from(value: Option<&Value>) -> Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(vec!["*".into()]);
    };
    let scopes: Vec<String> = serde_json::from_value(value.clone())
        .map_err(|_| bad("scopes must be a list of strings"))?;
    if let Some(s) = scopes
        .iter()
        .find(|s| *s != "*" && !SCOPES.contains(&s.as_str()))
    {
        return Err(bad(format!(
            "unknown scope '{s}' (expected * or one of {})",
            SCOPES.join(", ")
        )));
    }
    Ok(scopes)
}

async fn keys_add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let scopes = scopes_from(body.get("scopes"))?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let key = match body.get("key").and_then(Value::as_str) {
        Some(k) if !state.registry.key_available(k, &id) => {
            return Err(ControlError(NumoraError::Conflict(
                "that key is already in use".into(),
            )))
        }
        Some(k) => k.to_string(),
        None => format!("sk_test_{}", w.ids.token(32)),
    };
    let record = ApiKey {
        key,
        name: body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        scopes,
        revoked: false,
    };
    w.keys.push(record.clone());
    state.registry.reindex_keys(&id, &w.keys);
    Ok(ok(StatusCode::CREATED, keys_json(&[record])[0].clone()))
}

async fn keys_edit(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let scopes = body
        .get("scopes")
        .map(|s| scopes_from(Some(s)))
        .transpose()?;
    let record = w
        .keys
        .iter_mut()
        .find(|k| k.key == key)
        .ok_or_else(|| not_found("API key", &key))?;
    if let Some(revoked) = body.get("revoked").and_then(Value::as_bool) {
        record.revoked = revoked;
    }
    if let Some(scopes) = scopes {
        record.scopes = scopes;
    }
    let json = keys_json(std::slice::from_ref(record))[0].clone();
    Ok(ok(StatusCode::OK, json))
}

fn active_status(body: &Value) -> Result<Option<ActiveStatus>> {
    body.get("status")
        .map(|s| {
            serde_json::from_value(s.clone()).map_err(|_| bad("status must be active or inactive"))
        })
        .transpose()
}

async fn connection_edit(
    State(state): State<AppState>,
    Path((id, conn)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let status = active_status(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let c = w
        .connections
        .iter_mut()
        .find(|c| c.id == conn)
        .ok_or_else(|| not_found("connection", &conn))?;
    if let Some(s) = status {
        c.status = s;
    }
    if let Some(team) = body.get("owner_team").and_then(Value::as_str) {
        c.owner_team = team.to_string();
    }
    Ok(ok(
        StatusCode::OK,
        json!({"id": c.id, "status": c.status, "owner_team": c.owner_team, "org": c.org}),
    ))
}

async fn workflow_edit(
    State(state): State<AppState>,
    Path((id, wf)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let status = active_status(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let workflow = w
        .workflows
        .iter_mut()
        .find(|x| x.id == wf)
        .ok_or_else(|| not_found("workflow", &wf))?;
    if let Some(s) = status {
        workflow.status = s;
        workflow.updated_at = now;
    }
    Ok(ok(StatusCode::OK, workflow.to_json()))
}

async fn settings_edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = body_json(&body)?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if let Some(route) = body.get("route") {
        w.settings.route = serde_json::from_value(route.clone())
            .map_err(|_| bad("route must be workflow or n8n_executor"))?;
    }
    if let Some(hook) = body.get("n8n_webhook") {
        w.settings.n8n_webhook =
            serde_json::from_value(hook.clone()).map_err(|e| bad(format!("n8n_webhook: {e}")))?;
    }
    verdicts::edit_settings(&mut w, &body)?;
    if let Some(limit) = body.get("rate_limit") {
        w.settings.rate_limit = limit
            .as_u64()
            .and_then(|l| u32::try_from(l).ok())
            .ok_or_else(|| bad("rate_limit must be a positive integer"))?;
    }
    for (name, slot) in [
        ("session_ttl", 0),
        ("processing_delay", 1),
        ("run_delay", 2),
    ] {
        if let Some(v) = body.get(name) {
            let text = v
                .as_str()
                .ok_or_else(|| bad(format!("{name} must be a duration string")))?;
            let ms = parse_duration(text)
                .ok_or_else(|| bad(format!("{name}: '{text}' is not a duration")))?;
            match slot {
                0 => w.settings.session_ttl = ms,
                1 => w.settings.processing_delay = ms,
                _ => w.settings.run_delay = ms,
            }
        }
    }
    Ok(ok(
        StatusCode::OK,
        json!({
            "route": w.settings.route,
            "rate_limit": w.settings.rate_limit,
            "session_ttl": format_duration(w.settings.session_ttl),
            "processing_delay": format_duration(w.settings.processing_delay),
            "run_delay": format_duration(w.settings.run_delay),
            "outbox_max_page": w.settings.outbox_max_page,
            "journal_max_entries": w.settings.journal_max_entries,
            "journal_max_bytes": w.settings.journal_max_bytes,
        }),
    ))
}
