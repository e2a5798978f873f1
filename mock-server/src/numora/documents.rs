//! Documents: create, read, result, approve, reject.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::body::{self, Need, Text, Timestamp};
use super::error::{NumoraError, NumoraResult};
use super::handler::{Answer, Outcome, Payload};
use super::upload;
use crate::call::Call;
use crate::world::model::*;
use crate::world::time::format_millis;
use crate::world::workspace::{external_key, Job, Workspace};

/// The documented upload limit.
pub(super) const MAX_UPLOAD: usize = 30 * 1024 * 1024;

/// The documented upload formats: (extension, media type).
const FORMATS: [(&str, &str); 10] = [
    ("pdf", "application/pdf"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
];

fn supported(name: &str, media_type: Option<&str>) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let by_ext = ext
        .as_deref()
        .is_some_and(|e| e == "bmp" || FORMATS.iter().any(|(x, _)| *x == e));
    let by_type = media_type.is_some_and(|t| {
        let t = t
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        t == "image/bmp" || FORMATS.iter().any(|(_, m)| *m == t)
    });
    by_ext || by_type
}

fn unsupported(name: &str) -> NumoraError {
    NumoraError::UnsupportedFileType(format!(
        "file type of '{name}' is not supported; supported formats: PDF, JPEG/JPG, PNG, TIFF, HEIC, HEIF, WEBP, GIF, BMP"
    ))
}

fn find<'a>(ws: &'a Workspace, id: &str) -> NumoraResult<&'a Document> {
    ws.documents
        .get(id)
        .map(|d| &**d)
        .ok_or_else(|| NumoraError::not_found("document", id))
}

/// What a create request carries, whichever way it came.
struct Submission {
    schema: String,
    file_url: Option<String>,
    external_id: Option<String>,
    metadata: Map<String, Value>,
}

/// The JSON form of `POST /v1/documents`.
#[derive(serde::Deserialize)]
struct CreateBody {
    schema: Text,
    file_url: Text,
    external_id: Option<String>,
    metadata: Option<Map<String, Value>>,
}

fn json_submission(call: &Call) -> NumoraResult<Submission> {
    let body: CreateBody = body::parse(call, Need::Required)?;
    let file_url = body.file_url.0;
    let path = file_url.split(['?', '#']).next().unwrap_or_default();
    if !(file_url.starts_with("http://") || file_url.starts_with("https://")) {
        return Err(NumoraError::InvalidValue(
            "file_url must be an http or https URL".into(),
        ));
    }
    if path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.') && !supported(last, None))
    {
        return Err(unsupported(path.rsplit('/').next().unwrap_or(path)));
    }
    Ok(Submission {
        schema: body.schema.0,
        file_url: Some(file_url),
        external_id: body.external_id,
        metadata: body.metadata.unwrap_or_default(),
    })
}

fn multipart_submission(call: &Call, boundary: &str) -> NumoraResult<Submission> {
    let parts = upload::parts(call.body.clone(), boundary).map_err(|e| {
        NumoraError::InvalidPayload(format!("the multipart body could not be read: {e}"))
    })?;
    let text = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    };
    let schema = text("schema").ok_or_else(|| NumoraError::missing("schema"))?;
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| NumoraError::missing("file"))?;
    if file.data.len() > MAX_UPLOAD {
        return Err(NumoraError::FileTooLarge(
            "file size exceeds the 30 MB limit".into(),
        ));
    }
    let filename = file.filename.clone().unwrap_or_else(|| "file".into());
    if !supported(&filename, file.content_type.as_deref()) {
        return Err(unsupported(&filename));
    }
    let metadata = match text("metadata") {
        None => Map::new(),
        Some(m) => match serde_json::from_str(&m) {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(NumoraError::InvalidValue(
                    "metadata must be a JSON object".into(),
                ))
            }
        },
    };
    Ok(Submission {
        schema,
        file_url: None,
        external_id: text("external_id").filter(|e| !e.is_empty()),
        metadata,
    })
}

/// `POST /v1/documents`
pub(super) fn create(ws: &mut Workspace, call: &Call) -> NumoraResult<Answer> {
    let content_type = call.content_type().unwrap_or_default().to_string();
    let submission = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = upload::boundary(&content_type).ok_or_else(|| {
            NumoraError::InvalidPayload("multipart/form-data needs a boundary".into())
        })?;
        multipart_submission(call, &boundary)?
    } else {
        json_submission(call)?
    };
    let Some(schema) = catalog_schema(&submission.schema) else {
        return Err(NumoraError::InvalidSchema(SCHEMA_ERROR.into()));
    };
    if let Some(ext) = &submission.external_id {
        if let Some(existing) = ws.by_external.get(&external_key(&submission.schema, ext)) {
            let doc = find(ws, existing)?;
            return Ok((StatusCode::OK, json!({"data": doc.to_json()})));
        }
    }
    let now = ws.now();
    let id = ws.ids.prefixed("doc_", now);
    let shared: std::sync::Arc<str> = id.as_str().into();
    let date = &format_millis(now)[..10];
    let (confidence, fields, line_items) =
        super::schemas::extract(&submission.schema, &mut ws.ids, date);
    let doc = Document {
        id: shared.clone(),
        schema,
        status: Status::Processing,
        finalized: false,
        external_id: submission.external_id.clone(),
        metadata: JsonMap::from_map(&submission.metadata),
        review_state: None,
        duplicate_of: None,
        created_at: now,
        updated_at: now,
        confidence,
        fields: JsonMap::from_map(&fields),
        line_items: JsonItems::from_items(&line_items),
        file_url: submission.file_url,
        processing: ProcessingOutcome::Succeed,
        failure_reason: None,
        attempts: Vec::new(),
        latest_attempt: None,
        by_execution: Default::default(),
        rendered: Default::default(),
    };
    if let Some(ext) = &submission.external_id {
        std::sync::Arc::make_mut(&mut ws.by_external)
            .insert(external_key(&submission.schema, ext), id.as_str().into());
    }
    std::sync::Arc::make_mut(&mut ws.documents).insert(shared, std::sync::Arc::new(doc));
    ws.scheduler.schedule(
        now + ws.settings.processing_delay,
        Job::FinishProcessing {
            document_id: id.clone(),
        },
    );
    crate::webhooks::emit(ws, "document.processing", &id, now, None);
    Ok((
        StatusCode::ACCEPTED,
        json!({"data": find(ws, &id)?.to_json()}),
    ))
}

/// `GET /v1/documents/{id}`
pub(super) fn get(ws: &Workspace, id: &str) -> Outcome {
    // Rendered once per version of the document, then shared by every answer.
    Ok((StatusCode::OK, Payload::Raw(find(ws, id)?.answer_bytes())))
}

/// The same answer as a JSON value (for the actions that end with the document).
fn get_json(ws: &Workspace, id: &str) -> NumoraResult<Answer> {
    Ok((StatusCode::OK, json!({"data": find(ws, id)?.to_json()})))
}

/// `GET /v1/documents/{id}/result`
pub(super) fn result(ws: &Workspace, id: &str) -> NumoraResult<Answer> {
    let doc = find(ws, id)?;
    match doc.status {
        Status::Processing => Err(NumoraError::Conflict(format!(
            "document '{id}' is still processing; poll GET /v1/documents/{id} until it leaves processing"
        ))),
        Status::Failed if doc.fields.is_empty() => Err(NumoraError::Conflict(format!(
            "document '{id}' failed processing and has no result: {}",
            doc.failure_reason.as_deref().unwrap_or("unknown reason")
        ))),
        _ => Ok((StatusCode::OK, json!({"data": doc.to_result_json()}))),
    }
}

/// Checks a review state against the document's result.
fn review_state(state: Option<ReviewState>, doc: &Document) -> NumoraResult<Option<ReviewState>> {
    let Some(state) = state else {
        return Ok(None);
    };
    for name in &state.confirmed_general_field_names {
        if !doc.fields.contains_key(name) {
            return Err(NumoraError::InvalidValue(format!(
                "review_state.confirmed_general_field_names: '{name}' is not a field of this document's result"
            )));
        }
    }
    for li in &state.confirmed_line_item_ids {
        if !doc
            .line_items
            .to_items()
            .iter()
            .any(|item| item.get("id").and_then(Value::as_str) == Some(li.as_str()))
        {
            return Err(NumoraError::InvalidValue(format!(
                "review_state.confirmed_line_item_ids: '{li}' is not a line item of this document's result"
            )));
        }
    }
    Ok(state.normalized())
}

#[derive(serde::Deserialize)]
struct ApproveBody {
    expected_updated_at: Timestamp,
    review_state: Option<ReviewState>,
}

/// `POST /v1/documents/{id}/actions/approve`
pub(super) fn approve(ws: &mut Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    let doc = find(ws, id)?;
    let body: ApproveBody = body::parse(call, Need::Required)?;
    let expected = body.expected_updated_at.0;
    let state = review_state(body.review_state, doc)?;
    if doc.status != Status::ReviewRequired {
        return Err(NumoraError::Conflict(format!(
            "document '{id}' is {}; only review_required documents can be approved",
            doc.status.as_str()
        )));
    }
    if expected != doc.updated_at {
        return Err(NumoraError::Conflict(format!(
            "expected_updated_at {} is stale: the document was updated at {}; refetch it and review again",
            format_millis(expected),
            format_millis(doc.updated_at)
        )));
    }
    let now = ws.now();
    ws.update_document(id, |doc| {
        doc.status = Status::Reviewed;
        doc.finalized = true;
        doc.review_state = state;
        doc.updated_at = now;
    });
    crate::webhooks::emit(ws, "document.reviewed", id, now, None);
    get_json(ws, id)
}

#[derive(serde::Deserialize)]
struct RejectBody {
    reason: Option<String>,
}

/// `POST /v1/documents/{id}/actions/reject`
pub(super) fn reject(ws: &mut Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    let doc = find(ws, id)?;
    let reason = body::parse::<RejectBody>(call, Need::Optional)?.reason;
    if !matches!(doc.status, Status::ReviewRequired | Status::Reviewed) {
        return Err(NumoraError::Conflict(format!(
            "document '{id}' is {}; only review_required or reviewed documents can be rejected",
            doc.status.as_str()
        )));
    }
    let now = ws.now();
    ws.update_document(id, |doc| {
        doc.status = Status::Failed;
        doc.finalized = false;
        doc.failure_reason = Some(reason.unwrap_or_else(|| "rejected in review".into()));
        doc.updated_at = now;
    });
    get_json(ws, id)
}

/// The internal view the control API shows (adds `finalized` and attempts).
pub(crate) fn control_json(doc: &Document) -> Value {
    let mut v = doc.to_json();
    v["finalized"] = json!(doc.finalized);
    v["failure_reason"] = json!(doc.failure_reason);
    v["result"] = doc.to_result_json()["data"].clone();
    v["attempts"] = Value::Array(doc.attempts.iter().map(Attempt::to_json).collect());
    v
}
