//! Schemas, destinations, mappings, workflows and runs.

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};

use super::body::{self, Need, Provider, Text};
use super::error::{NumoraError, NumoraResult};
use super::handler::Answer;
use crate::call::Call;
use crate::world::model::*;
use crate::world::time::format_millis;
use crate::world::workspace::Workspace;

/// `GET /v1/schemas`
pub(super) fn schemas() -> NumoraResult<Answer> {
    let data: Vec<Value> = SCHEMAS
        .iter()
        .map(|(id, label)| json!({"id": id, "label": label, "status": "active"}))
        .collect();
    Ok((StatusCode::OK, json!({"data": data})))
}

/// `GET /v1/destinations`
pub(super) fn destinations_list(ws: &Workspace) -> NumoraResult<Answer> {
    let data: Vec<Value> = ws.destinations.iter().map(Destination::to_json).collect();
    Ok((
        StatusCode::OK,
        json!({"data": data, "meta": {"next_cursor": null}}),
    ))
}

#[derive(serde::Deserialize)]
struct DestinationBody {
    provider: Provider,
    display_name: Text,
    credentials: Option<Map<String, Value>>,
    connection_id: Option<String>,
}

/// `POST /v1/destinations`
pub(super) fn destinations_create(ws: &mut Workspace, call: &Call) -> NumoraResult<Answer> {
    let body: DestinationBody = body::parse(call, Need::Required)?;
    let provider = body.provider.0;
    let display_name = body.display_name.0;
    let credentials = body.credentials.map(Value::Object);
    let connection_id = body.connection_id;
    if let Some(c) = &connection_id {
        if !ws.connections.iter().any(|x| &x.id == c) {
            return Err(NumoraError::InvalidValue(format!(
                "connection_id '{c}' does not name a connection"
            )));
        }
    }
    let now = ws.now();
    let destination = Destination {
        id: ws.ids.prefixed("dst_", now),
        provider,
        display_name,
        status: ActiveStatus::Active,
        connection_id: connection_id.or_else(|| ws.connections.first().map(|c| c.id.clone())),
        credentials,
        created_at: now,
        updated_at: now,
    };
    let json = destination.to_json();
    ws.destinations.push(destination);
    Ok((StatusCode::CREATED, json!({"data": json})))
}

/// `POST /v1/destinations/{id}/test`: calls the org's WhoAmI.
pub(super) fn destinations_test(ws: &mut Workspace, id: &str) -> NumoraResult<Answer> {
    let destination = ws
        .destinations
        .iter()
        .find(|d| d.id == id)
        .cloned()
        .ok_or_else(|| NumoraError::not_found("destination", id))?;
    let connection = destination
        .connection_id
        .as_ref()
        .and_then(|c| ws.connections.iter().find(|x| &x.id == c))
        .cloned();
    let now = ws.now();
    let (ok, details) = match connection {
        None => (
            false,
            json!({"error": {"code": "connection_missing", "message": "the destination has no connection"}}),
        ),
        Some(c) if c.status != ActiveStatus::Active => (
            false,
            json!({"error": {"code": "connection_inactive", "message": format!("connection '{}' is not active", c.id)}}),
        ),
        Some(c) => {
            let probe = Call {
                method: Method::GET,
                path: "/api/data/v9.2/WhoAmI".into(),
                query: None,
                headers: HeaderMap::new(),
                body: Default::default(),
                origin: "http://internal".into(),
            };
            let reply =
                crate::dataverse::gate::exchange(ws, &c.org, "destination-test", &probe, true);
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            if reply.status.is_success() {
                (
                    true,
                    json!({"whoami": {
                        "UserId": body.get("UserId"),
                        "BusinessUnitId": body.get("BusinessUnitId"),
                        "OrganizationId": body.get("OrganizationId"),
                    }}),
                )
            } else {
                (
                    false,
                    json!({"error": {
                        "http_status": reply.status.as_u16(),
                        "code": body.pointer("/error/code"),
                        "message": body.pointer("/error/message"),
                    }}),
                )
            }
        }
    };
    Ok((
        StatusCode::OK,
        json!({"data": {
            "destination_id": id,
            "status": if ok { "succeeded" } else { "failed" },
            "checked_at": format_millis(now),
            "details": details,
        }}),
    ))
}

fn mapping_key(ws: &Workspace, schema: &str, destination: &str) -> NumoraResult<(String, String)> {
    if !is_known_schema(schema) {
        return Err(NumoraError::InvalidSchema(SCHEMA_ERROR.into()));
    }
    if !ws.destinations.iter().any(|d| d.id == destination) {
        return Err(NumoraError::not_found("destination", destination));
    }
    Ok((schema.to_string(), destination.to_string()))
}

fn mapping_json(schema: &str, destination: &str, body: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("schema".into(), json!(schema));
    out.insert("destination".into(), json!(destination));
    for (k, v) in body {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// `GET /v1/mappings/{schema}/{destination}`
pub(super) fn mapping_get(ws: &Workspace, schema: &str, destination: &str) -> NumoraResult<Answer> {
    let key = mapping_key(ws, schema, destination)?;
    let body = ws.mappings.get(&key).ok_or_else(|| {
        NumoraError::NotFound(format!(
            "no mapping from {schema} to destination '{destination}'"
        ))
    })?;
    Ok((
        StatusCode::OK,
        json!({"data": mapping_json(schema, destination, body)}),
    ))
}

/// Validates every source path of a mapping body against its schema.
/// The text settings of each mapping section (all optional strings).
const MAPPING_TEXT: [(&str, &[&str]); 4] = [
    ("record", &["entity_set"]),
    ("line_items", &["entity_set", "parent_navigation"]),
    (
        "supplier",
        &[
            "entity_set",
            "id_column",
            "match_column",
            "navigation",
            "source",
        ],
    ),
    (
        "owner_team",
        &["entity_set", "id_column", "match_column", "navigation"],
    ),
];

fn invalid(message: String) -> NumoraError {
    NumoraError::InvalidValue(message)
}

fn validate_mapping(schema: &str, body: &Map<String, Value>) -> NumoraResult<()> {
    for (section, texts) in MAPPING_TEXT {
        let Some(value) = body.get(section) else {
            continue;
        };
        let object = value
            .as_object()
            .ok_or_else(|| invalid(format!("{section} must be a JSON object")))?;
        for key in texts {
            if object.get(*key).is_some_and(|v| !v.is_string()) {
                return Err(invalid(format!("{section}.{key} must be a string")));
            }
        }
        if let Some(columns) = object.get("columns") {
            let columns = columns.as_object().ok_or_else(|| {
                invalid(format!(
                    "{section}.columns must be an object of column: source path"
                ))
            })?;
            for (column, source) in columns {
                let source = source.as_str().ok_or_else(|| {
                    invalid(format!(
                        "{section}.columns.{column} must be a source path string"
                    ))
                })?;
                super::schemas::check_source_path(schema, source)
                    .map_err(|m| invalid(format!("{section}.columns.{column}: {m}")))?;
            }
        }
    }
    if let Some(source) = body
        .get("supplier")
        .and_then(|s| s.get("source"))
        .and_then(Value::as_str)
    {
        super::schemas::check_source_path(schema, source)
            .map_err(|m| invalid(format!("supplier.source: {m}")))?;
    }
    Ok(())
}

/// `PUT /v1/mappings/{schema}/{destination}`
pub(super) fn mapping_put(
    ws: &mut Workspace,
    schema: &str,
    destination: &str,
    call: &Call,
) -> NumoraResult<Answer> {
    let key = mapping_key(ws, schema, destination)?;
    // The mapping is stored and echoed as sent, so it stays a JSON object;
    // validate_mapping checks the sections the internal workflow reads.
    let mut body = body::object(call, Need::Required)?;
    body.remove("schema");
    body.remove("destination");
    if !body.contains_key("record") {
        return Err(NumoraError::missing("record"));
    }
    validate_mapping(schema, &body)?;
    std::sync::Arc::make_mut(&mut ws.mappings).insert(key, body.clone());
    Ok((
        StatusCode::OK,
        json!({"data": mapping_json(schema, destination, &body)}),
    ))
}

/// `GET /v1/workflows`
pub(super) fn workflows_list(ws: &Workspace) -> NumoraResult<Answer> {
    let data: Vec<Value> = ws.workflows.iter().map(Workflow::to_json).collect();
    Ok((
        StatusCode::OK,
        json!({"data": data, "meta": {"next_cursor": null}}),
    ))
}

/// The only execution mode there is.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExecutionMode {
    Queued,
}

#[derive(serde::Deserialize)]
struct WorkflowDispatchBody {
    document_id: Text,
    /// Read only to reject other modes.
    #[allow(dead_code)]
    execution_mode: Option<ExecutionMode>,
}

/// `POST /v1/workflows/{id}/dispatch`
pub(super) fn workflow_dispatch(ws: &mut Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    let workflow = ws
        .workflows
        .iter()
        .find(|w| w.id == id)
        .cloned()
        .ok_or_else(|| NumoraError::not_found("workflow", id))?;
    let body: WorkflowDispatchBody = body::parse(call, Need::Required)?;
    let document_id = body.document_id.0;
    let doc = ws
        .documents
        .get(document_id.as_str())
        .ok_or_else(|| NumoraError::not_found("document", &document_id))?;
    if !doc.finalized || !matches!(doc.status, Status::Reviewed | Status::PushFailed) {
        return Err(NumoraError::Conflict(format!(
            "document '{document_id}' is {}{}; only reviewed and finalized documents can be dispatched",
            doc.status.as_str(),
            if doc.finalized { "" } else { " and not finalized" }
        )));
    }
    if workflow.status != ActiveStatus::Active {
        return Err(NumoraError::Conflict(format!(
            "workflow '{id}' is not active"
        )));
    }
    if workflow.schema != doc.schema {
        return Err(NumoraError::Conflict(format!(
            "workflow '{id}' handles {} documents, not {}",
            workflow.schema, doc.schema
        )));
    }
    let provider = ws
        .destinations
        .iter()
        .find(|d| d.id == workflow.destination_id)
        .map(|d| d.provider.clone())
        .unwrap_or_else(|| "dynamics365".into());
    let run_id = ws.queue_run(&document_id, Some(id.to_string()), &provider);
    let now = ws.now();
    ws.update_document(&document_id, |d| {
        d.status = Status::PushPending;
        d.updated_at = now;
    });
    Ok((
        StatusCode::ACCEPTED,
        json!({"data": {"run_id": run_id, "workflow_id": id, "status": "queued", "execution_mode": "queued"}}),
    ))
}

fn find_run<'a>(ws: &'a Workspace, id: &str) -> NumoraResult<&'a Run> {
    ws.runs
        .get(id)
        .ok_or_else(|| NumoraError::not_found("run", id))
}

/// `GET /v1/runs/{id}`
pub(super) fn run_get(ws: &Workspace, id: &str) -> NumoraResult<Answer> {
    Ok((StatusCode::OK, json!({"data": find_run(ws, id)?.to_json()})))
}

/// `GET /v1/runs/{id}/logs`
pub(super) fn run_logs(ws: &Workspace, id: &str) -> NumoraResult<Answer> {
    let run = find_run(ws, id)?;
    Ok((
        StatusCode::OK,
        json!({"data": run.logs, "meta": {"run_id": id, "status": run.status}}),
    ))
}
