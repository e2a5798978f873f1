//! `/_mock/workspaces/{ws}/documents[/{id}]`: documents in any state.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

use super::common::{bad, body, not_found, ok, typed, workspace, Result};
use crate::app_state::AppState;
use crate::fixtures::DocumentFixture;
use crate::numora::control_json;
use crate::world::lock;
use crate::world::model::{JsonItems, JsonMap, ProcessingOutcome, ReviewState, Status};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/documents", get(list).post(create))
        .route("/workspaces/{ws}/documents/{id}", get(one).patch(edit))
}

/// `PATCH …/documents/{id}`: what the review UI can change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    /// Merged into the fields; a bare value becomes `{value, confidence: 1.0}`.
    #[serde(default)]
    fields: Option<Map<String, Value>>,
    /// Replaces the line items; items without an `id` get `li_<n>`.
    #[serde(default)]
    line_items: Option<Vec<Value>>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    finalized: Option<bool>,
    #[serde(default)]
    processing: Option<ProcessingOutcome>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    review_state: Option<Option<ReviewState>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    external_id: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    failure_reason: Option<Option<String>>,
}

/// A key that is present (even as `null`) is `Some`, so `null` can clear.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let data: Vec<Value> = w.documents.values().map(|d| control_json(d)).collect();
    Ok(ok(StatusCode::OK, Value::Array(data)))
}

async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let fixture: DocumentFixture = typed(super::common::body_json(&raw)?, "document")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let doc_id = w
        .insert_fixture_document(fixture, "document")
        .map_err(|e| bad(e.to_string()))?;
    let json = control_json(&w.documents[doc_id.as_str()]);
    Ok(ok(StatusCode::CREATED, json))
}

async fn one(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let w = lock(&ws);
    let d = w
        .documents
        .get(doc.as_str())
        .ok_or_else(|| not_found("document", &doc))?;
    Ok(ok(StatusCode::OK, control_json(d)))
}

/// Edits a document as the review UI would: changing the result of a
/// finalized document sends it back to `review_required`, un-finalized.
async fn edit(
    State(state): State<AppState>,
    Path((id, doc)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let req: EditBody = body(&raw, "document edit")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if !w.documents.contains_key(doc.as_str()) {
        return Err(not_found("document", &doc));
    }
    let now = w.now();
    let changes_result = req.fields.is_some() || req.line_items.is_some();
    w.update_document(&doc, |d| {
        if let Some(fields) = &req.fields {
            let mut all = d.fields.to_map();
            for (name, value) in fields {
                let field = match value {
                    Value::Object(o) if o.contains_key("value") => value.clone(),
                    other => json!({"value": other, "confidence": 1.0}),
                };
                all.insert(name.clone(), field);
            }
            d.fields = JsonMap::from_map(&all);
        }
        if let Some(items) = &req.line_items {
            let items: Vec<Map<String, Value>> = items
                .iter()
                .enumerate()
                .filter_map(|(n, i)| {
                    let mut item = i.as_object()?.clone();
                    item.entry("id")
                        .or_insert_with(|| json!(format!("li_{}", n + 1)));
                    Some(item)
                })
                .collect();
            d.line_items = JsonItems::from_items(&items);
        }
        if let Some(m) = &req.metadata {
            d.metadata = JsonMap::from_map(m);
        }
        if let Some(ext) = &req.external_id {
            d.external_id = ext.clone();
        }
        if let Some(reason) = &req.failure_reason {
            d.failure_reason = reason.clone();
        }
        if changes_result && d.finalized {
            d.finalized = false;
            d.status = Status::ReviewRequired;
        }
        if let Some(s) = req.status {
            d.status = s;
        }
        if let Some(f) = req.finalized {
            d.finalized = f;
        }
        if let Some(p) = req.processing {
            d.processing = p;
        }
        if let Some(r) = &req.review_state {
            d.review_state = r.clone().and_then(ReviewState::normalized);
        }
        d.updated_at = now;
    });
    let json = control_json(&w.documents[doc.as_str()]);
    Ok(ok(StatusCode::OK, json))
}
