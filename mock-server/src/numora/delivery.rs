//! Delivery: the outbox, dispatch, retry-push and the delivery callback.

use axum::http::StatusCode;
use serde_json::json;

use super::body::{self, Need, Provider, Text, Timestamp};
use super::error::{NumoraError, NumoraResult};
use super::handler::{written, Answer, Outcome, Payload};
use super::query::{self, limit};
use crate::call::Call;
use crate::fixtures::DeliveryRoute;
use crate::world::ids::{crockford_decode, crockford_encode};
use crate::world::model::*;
use crate::world::time::{format_millis, Millis, Stamp};
use crate::world::wire::{put_opt, put_stamp, put_str};
use crate::world::workspace::{OutboxPage, Workspace};

fn encode_cursor(parts: &[&str]) -> String {
    format!("cur_{}", crockford_encode(parts.join("|").as_bytes()))
}

fn decode_cursor(text: &str, kind: &str) -> NumoraResult<Vec<String>> {
    let bad = || {
        NumoraError::InvalidPayload(
            "cursor is not valid: pass meta.next_cursor back unchanged".into(),
        )
    };
    let raw = text.strip_prefix("cur_").ok_or_else(bad)?;
    let bytes = crockford_decode(raw).ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('|').map(str::to_string).collect();
    if parts.first().map(String::as_str) != Some(kind) {
        return Err(bad());
    }
    Ok(parts)
}

/// `GET /v1/delivery/outbox`
pub(super) fn outbox(ws: &Workspace, call: &Call) -> Outcome {
    let provider = Provider::or_default(query::provider(call)?);
    let limit = limit(call, 50, 100)?.min(ws.settings.outbox_max_page.unwrap_or(usize::MAX));
    // A handful of schemas: a scan beats a tree search per document.
    let schemas = ws.schemas_with_destination(&provider);
    // The last page answered is kept with its question; a cursor in it was
    // valid for its provider when the page was made.
    let cursor = call.query_param("cursor").unwrap_or_default();
    if let Some(body) = ws.outbox.page(&provider, &schemas, &cursor, limit) {
        return Ok((StatusCode::OK, Payload::Raw(body)));
    }
    let after = if cursor.is_empty() {
        None
    } else {
        let parts = decode_cursor(&cursor, "o")?;
        let bad = || {
            NumoraError::InvalidPayload(
                "cursor is not valid: pass meta.next_cursor back unchanged".into(),
            )
        };
        if parts.len() != 4 {
            return Err(bad());
        }
        if parts[1] != provider {
            return Err(NumoraError::InvalidPayload(format!(
                "cursor belongs to provider '{}', not '{provider}'",
                parts[1]
            )));
        }
        let at: Millis = parts[2].parse().map_err(|_| bad())?;
        Some((at, parts[3].clone()))
    };
    let mut page: Vec<&Document> = Vec::with_capacity(limit.min(100) + 1);
    page.extend(
        ws.outbox_after(after.as_ref())
            .filter(|d| schemas.contains(&d.schema))
            .take(limit + 1),
    );
    let next_cursor = if page.len() > limit {
        page.truncate(limit);
        page.last()
            .map(|d| encode_cursor(&["o", &provider, &d.updated_at.to_string(), &d.id]))
    } else {
        None
    };
    // `{"data":[item,…],"meta":{"provider":…,"next_cursor":…}}`: each item's
    // bytes are ready (rendered once per version of the document), so the
    // page is built in one buffer of its exact size and sent without a copy.
    let items: Vec<&[u8]> = page.iter().map(|d| d.outbox_item_bytes()).collect();
    let mut meta = Vec::with_capacity(96);
    meta.extend_from_slice(b"],\"meta\":{\"provider\":");
    put_str(&mut meta, &provider);
    meta.extend_from_slice(b",\"next_cursor\":");
    match &next_cursor {
        Some(cursor) => put_str(&mut meta, cursor),
        None => meta.extend_from_slice(b"null"),
    }
    meta.extend_from_slice(b"}}");
    let size = b"{\"data\":[".len()
        + items.iter().map(|item| item.len()).sum::<usize>()
        + items.len().saturating_sub(1)
        + meta.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"data\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(&meta);
    let body = bytes::Bytes::from(out);
    ws.outbox.keep_page(OutboxPage {
        provider: provider.to_string(),
        schemas: schemas.iter().map(|s| s.to_string()).collect(),
        cursor,
        limit,
        body: body.clone(),
    });
    Ok((StatusCode::OK, Payload::Raw(body)))
}

fn find<'a>(ws: &'a Workspace, id: &str) -> NumoraResult<&'a Document> {
    ws.documents
        .get(id)
        .map(|d| &**d)
        .ok_or_else(|| NumoraError::not_found("document", id))
}

/// Checks that a document may be pushed now, and starts the push.
fn start_push(
    ws: &mut Workspace,
    id: &str,
    provider: &str,
    allowed: &[Status],
) -> NumoraResult<Answer> {
    let doc = find(ws, id)?;
    if !doc.finalized {
        return Err(NumoraError::Conflict(format!(
            "document '{id}' is not reviewed and finalized (status {}); approve it first",
            doc.status.as_str()
        )));
    }
    if !allowed.contains(&doc.status) {
        let expected: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
        return Err(NumoraError::Conflict(format!(
            "document '{id}' is {}; it can be pushed only from {}",
            doc.status.as_str(),
            expected.join(" or ")
        )));
    }
    let schema = doc.schema;
    let run_id = match ws.settings.route {
        DeliveryRoute::Workflow => {
            let workflow = ws.active_workflow(schema, provider).ok_or_else(|| {
                NumoraError::Conflict(format!(
                    "no active workflow delivers {schema} documents to {provider}"
                ))
            })?;
            let workflow_id = workflow.id.clone();
            ws.queue_run(id, Some(workflow_id), provider)
        }
        DeliveryRoute::N8nExecutor => {
            if ws.settings.n8n_webhook.is_none() {
                return Err(NumoraError::Conflict(
                    "the delivery route is n8n_executor but no shared n8n webhook is configured"
                        .into(),
                ));
            }
            crate::numora::executor::notify_n8n(ws, id, provider)
        }
    };
    let now = ws.now();
    ws.update_document(id, |doc| {
        doc.status = Status::PushPending;
        doc.updated_at = now;
    });
    Ok((
        StatusCode::ACCEPTED,
        json!({"data": find(ws, id)?.to_json(), "meta": {"run_id": run_id}}),
    ))
}

/// The optional body of dispatch and retry-push.
#[derive(serde::Deserialize)]
struct PushBody {
    provider: Option<Provider>,
}

fn push_provider(call: &Call) -> NumoraResult<String> {
    let body: PushBody = body::parse(call, Need::Optional)?;
    Ok(Provider::or_default(body.provider))
}

/// `POST /v1/documents/{id}/dispatch`
pub(super) fn dispatch(ws: &mut Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    find(ws, id)?;
    let provider = push_provider(call)?;
    start_push(ws, id, &provider, &[Status::Reviewed, Status::PushFailed])
}

/// `POST /v1/documents/{id}/actions/retry-push`
pub(super) fn retry_push(ws: &mut Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    find(ws, id)?;
    let provider = push_provider(call)?;
    start_push(ws, id, &provider, &[Status::PushFailed])
}

/// The members [`CallbackHead`] reads.
const CALLBACK_HEAD: [&str; 5] = [
    "status",
    "provider",
    "execution_id",
    "attempted_at",
    "external_record_id",
];

/// The fields of a delivery callback read before the `succeeded` rule.
#[derive(serde::Deserialize)]
struct CallbackHead {
    status: AttemptStatus,
    provider: Provider,
    execution_id: Text,
    attempted_at: Timestamp,
    external_record_id: Option<String>,
}

/// The fields read after it.
#[derive(serde::Deserialize)]
struct CallbackDetails {
    external_url: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// Reads a delivery callback. The documented order of checks: every
/// required field present (400), then their values (422), then
/// `external_record_id` when `succeeded` (400), then the optional details.
fn parse_callback(call: &Call) -> NumoraResult<DeliveryData> {
    match plain_callback(call) {
        Some(data) => {
            check_execution_id(&data.execution_id)?;
            check_succeeded(data.status, data.external_record_id.as_deref())?;
            Ok(data)
        }
        None => general_callback(call),
    }
}

/// The usual callback, read straight into its fields: a JSON object whose
/// members all have their documented types and valid values. Anything else
/// (a missing member, a null, a wrong type or value, a repeated member) is
/// `None`, and [`general_callback`] reads it again and words the error.
fn plain_callback(call: &Call) -> Option<DeliveryData> {
    // The members read only to be checked are borrowed from the body (one
    // with an escape is not plain: the general reader takes it).
    #[derive(serde::Deserialize)]
    struct Plain<'a> {
        provider: &'a str,
        status: &'a str,
        execution_id: String,
        attempted_at: &'a str,
        external_record_id: Option<String>,
        external_url: Option<String>,
        error_code: Option<String>,
        error_message: Option<String>,
    }
    // Only an object: serde would also read an array into the fields.
    if call.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let plain: Plain<'_> = serde_json::from_slice(&call.body).ok()?;
    let status = AttemptStatus::parse(plain.status)?;
    let provider = PROVIDERS.iter().find(|p| **p == plain.provider)?;
    if plain.execution_id.trim().is_empty() {
        return None;
    }
    let attempted_at = crate::world::time::parse_rfc3339(plain.attempted_at)?;
    Some(DeliveryData {
        provider: std::borrow::Cow::Borrowed(provider),
        status,
        execution_id: plain.execution_id,
        attempted_at,
        external_record_id: plain.external_record_id,
        external_url: plain.external_url,
        error_code: plain.error_code,
        error_message: plain.error_message,
    })
}

fn check_execution_id(execution_id: &str) -> NumoraResult<()> {
    if execution_id.chars().count() > 255 {
        return Err(NumoraError::InvalidValue(
            "execution_id must be at most 255 characters".into(),
        ));
    }
    Ok(())
}

fn check_succeeded(status: AttemptStatus, external_record_id: Option<&str>) -> NumoraResult<()> {
    if status == AttemptStatus::Succeeded && external_record_id.is_none_or(|s| s.trim().is_empty())
    {
        return Err(NumoraError::InvalidPayload(
            "external_record_id is required when status is succeeded".into(),
        ));
    }
    Ok(())
}

/// Reads any callback body member by member, in the documented order of checks.
fn general_callback(call: &Call) -> NumoraResult<DeliveryData> {
    let mut map = body::object(call, Need::Required)?;
    body::require(
        &map,
        &["provider", "status", "execution_id", "attempted_at"],
    )?;
    // Each half reads its own members (neither refuses unknown ones), so the
    // members are moved into the half that reads them instead of copied.
    let mut head_members = serde_json::Map::new();
    for name in CALLBACK_HEAD {
        if let Some(value) = map.remove(name) {
            head_members.insert(name.to_string(), value);
        }
    }
    let head: CallbackHead = body::typed(head_members)?;
    let execution_id = head.execution_id.0;
    check_execution_id(&execution_id)?;
    check_succeeded(head.status, head.external_record_id.as_deref())?;
    let details: CallbackDetails = body::typed(map)?;
    Ok(DeliveryData {
        provider: provider_name(head.provider.0),
        status: head.status,
        execution_id,
        attempted_at: head.attempted_at.0,
        external_record_id: head.external_record_id,
        external_url: details.external_url,
        error_code: details.error_code,
        error_message: details.error_message,
    })
}

/// Names the fields in which a replay differs from the recorded attempt.
fn differences(a: &DeliveryData, b: &DeliveryData) -> Vec<&'static str> {
    let mut diff = Vec::new();
    if a.provider != b.provider {
        diff.push("provider");
    }
    if a.status != b.status {
        diff.push("status");
    }
    if a.attempted_at != b.attempted_at {
        diff.push("attempted_at");
    }
    if a.external_record_id != b.external_record_id {
        diff.push("external_record_id");
    }
    if a.external_url != b.external_url {
        diff.push("external_url");
    }
    if a.error_code != b.error_code {
        diff.push("error_code");
    }
    if a.error_message != b.error_message {
        diff.push("error_message");
    }
    diff
}

/// An attempt as the API shows it, borrowed: the same members in the same
/// order as [`Attempt::to_json`], serialized without a value tree.
#[derive(serde::Serialize)]
struct AttemptView<'a> {
    id: &'a str,
    document_id: &'a str,
    provider: &'a str,
    status: &'static str,
    execution_id: &'a str,
    external_record_id: &'a Option<String>,
    external_url: &'a Option<String>,
    error_code: &'a Option<String>,
    error_message: &'a Option<String>,
    attempted_at: Stamp,
    recorded_at: Stamp,
    source: AttemptSource,
    run_id: &'a Option<String>,
}

impl<'a> AttemptView<'a> {
    fn of(attempt: &'a Attempt) -> Self {
        let d = &attempt.data;
        AttemptView {
            id: &attempt.id,
            document_id: &attempt.document_id,
            provider: &d.provider,
            status: d.status.as_str(),
            execution_id: &d.execution_id,
            external_record_id: &d.external_record_id,
            external_url: &d.external_url,
            error_code: &d.error_code,
            error_message: &d.error_message,
            attempted_at: Stamp(d.attempted_at),
            recorded_at: Stamp(attempt.recorded_at),
            source: attempt.source,
            run_id: &attempt.run_id,
        }
    }
}

/// A callback's answer: the attempt and what it did to the document.
#[derive(serde::Serialize)]
struct CallbackAnswer<'a> {
    data: AttemptView<'a>,
    meta: CallbackMeta,
}

#[derive(serde::Serialize)]
struct CallbackMeta {
    document_status: &'static str,
    replayed: bool,
}

impl CallbackAnswer<'_> {
    /// Appends the answer as `serde_json::to_writer` would write it (the
    /// hand-written writer of `world/wire.rs`; a test compares the two).
    fn write_json(&self, out: &mut Vec<u8>) {
        let a = &self.data;
        out.extend_from_slice(b"{\"data\":{\"id\":");
        put_str(out, a.id);
        out.extend_from_slice(b",\"document_id\":");
        put_str(out, a.document_id);
        out.extend_from_slice(b",\"provider\":");
        put_str(out, a.provider);
        out.extend_from_slice(b",\"status\":");
        put_str(out, a.status);
        out.extend_from_slice(b",\"execution_id\":");
        put_str(out, a.execution_id);
        out.extend_from_slice(b",\"external_record_id\":");
        put_opt(out, a.external_record_id.as_deref());
        out.extend_from_slice(b",\"external_url\":");
        put_opt(out, a.external_url.as_deref());
        out.extend_from_slice(b",\"error_code\":");
        put_opt(out, a.error_code.as_deref());
        out.extend_from_slice(b",\"error_message\":");
        put_opt(out, a.error_message.as_deref());
        out.extend_from_slice(b",\"attempted_at\":");
        put_stamp(out, a.attempted_at);
        out.extend_from_slice(b",\"recorded_at\":");
        put_stamp(out, a.recorded_at);
        out.extend_from_slice(match a.source {
            AttemptSource::Callback => b",\"source\":\"callback\",\"run_id\":",
            AttemptSource::Dispatch => b",\"source\":\"dispatch\",\"run_id\":",
        });
        put_opt(out, a.run_id.as_deref());
        out.extend_from_slice(b"},\"meta\":{\"document_status\":");
        put_str(out, self.meta.document_status);
        out.extend_from_slice(if self.meta.replayed {
            b",\"replayed\":true}}"
        } else {
            b",\"replayed\":false}}"
        });
    }
}

/// `POST /v1/documents/{id}/delivery`
pub(super) fn callback(ws: &mut Workspace, id: &str, call: &Call) -> Outcome {
    let doc = find(ws, id)?;
    let data = parse_callback(call)?;
    if !doc.finalized {
        return Err(NumoraError::Conflict(format!(
            "document '{id}' is not reviewed and finalized (status {}); delivery cannot be recorded",
            doc.status.as_str()
        )));
    }
    if let Some(index) = doc.attempt_by_execution(&data.execution_id) {
        let recorded = &doc.attempts[index];
        let diff = differences(&recorded.data, &data);
        if diff.is_empty() {
            let answer = CallbackAnswer {
                data: AttemptView::of(recorded),
                meta: CallbackMeta {
                    document_status: doc.status.as_str(),
                    replayed: true,
                },
            };
            return written(StatusCode::OK, |out| answer.write_json(out));
        }
        return Err(NumoraError::Conflict(format!(
            "execution_id '{}' was already recorded with different delivery data ({}); use a new execution_id for a new attempt",
            data.execution_id,
            diff.join(", ")
        )));
    }
    let now = ws.now();
    let attempt = crate::webhooks::record_attempt(ws, id, data, AttemptSource::Callback, None, now)
        .ok_or_else(|| NumoraError::not_found("document", id))?;
    let status = find(ws, id)?.status;
    let answer = CallbackAnswer {
        data: AttemptView::of(&attempt),
        meta: CallbackMeta {
            document_status: status.as_str(),
            replayed: false,
        },
    };
    written(StatusCode::CREATED, |out| answer.write_json(out))
}

/// `GET /v1/documents/{id}/delivery`
pub(super) fn list(ws: &Workspace, id: &str, call: &Call) -> NumoraResult<Answer> {
    let doc = find(ws, id)?;
    let provider_filter = query::provider(call)?.map(|p| p.0);
    let limit = limit(call, 20, 100)?;
    let after: Option<(Millis, usize)> = match call.query_param("cursor").filter(|c| !c.is_empty())
    {
        None => None,
        Some(cursor) => {
            let parts = decode_cursor(&cursor, "a")?;
            let bad = || {
                NumoraError::InvalidPayload(
                    "cursor is not valid: pass meta.next_cursor back unchanged".into(),
                )
            };
            if parts.len() != 4 || parts[1] != id {
                return Err(bad());
            }
            Some((
                parts[2].parse().map_err(|_| bad())?,
                parts[3].parse().map_err(|_| bad())?,
            ))
        }
    };
    // Newest first: attempted_at descending, then arrival descending.
    let mut order: Vec<usize> = (0..doc.attempts.len())
        .filter(|&i| {
            provider_filter
                .as_ref()
                .is_none_or(|p| &doc.attempts[i].data.provider == p)
        })
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse((doc.attempts[i].data.attempted_at, i)));
    let start = match after {
        None => 0,
        Some(key) => order
            .iter()
            .position(|&i| (doc.attempts[i].data.attempted_at, i) < key)
            .unwrap_or(order.len()),
    };
    let page: Vec<usize> = order.iter().skip(start).take(limit).copied().collect();
    let next_cursor = (start + page.len() < order.len())
        .then(|| page.last())
        .flatten()
        .map(|&i| {
            encode_cursor(&[
                "a",
                id,
                &doc.attempts[i].data.attempted_at.to_string(),
                &i.to_string(),
            ])
        });
    Ok((
        StatusCode::OK,
        json!({
            "data": page.iter().map(|&i| doc.attempts[i].to_json()).collect::<Vec<_>>(),
            "meta": {"document_id": id, "next_cursor": next_cursor, "document_status": doc.status.as_str(), "updated_at": format_millis(doc.updated_at)},
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_callback_reader_agrees_with_the_general_one_or_leaves_it_the_body() {
        let bodies = [
            r#"{"provider":"dynamics365","status":"succeeded","execution_id":"e-1","attempted_at":"2026-03-23T00:00:00.000Z","external_record_id":"rec-1"}"#,
            r#" { "status" : "failed", "provider":"dynamics365", "execution_id":"e-2", "attempted_at":"2026-03-23T00:00:00Z", "error_code":"E1", "error_message":"no" } "#,
            // Escapes in the members read by borrowing: left to the general reader.
            r#"{"provider":"dynamics\u0033\u0036\u0035","status":"succeeded","execution_id":"e-3","attempted_at":"2026-03-23T00:00:00.000Z","external_record_id":"rec-3"}"#,
            r#"{"provider":"dynamics365","status":"s\u0075cceeded","execution_id":"e-4","attempted_at":"2026-03-23T00:00:00.000Z","external_record_id":"rec-4"}"#,
            r#"{"provider":"dynamics365","status":"skipped","execution_id":"e-\n5","attempted_at":"2026\u002d03-23T00:00:00.000Z","external_url":null}"#,
            // Refused by both.
            r#"{"provider":"other","status":"succeeded","execution_id":"e-6","attempted_at":"2026-03-23T00:00:00.000Z","external_record_id":"rec-6"}"#,
            r#"{"provider":"dynamics365","status":"succeeded","execution_id":"e-7","attempted_at":"yesterday","external_record_id":"rec-7"}"#,
        ];
        let call_of = |body: &str| {
            Call::to_v1_x(
                axum::http::Method::POST,
                None,
                &[],
                body.as_bytes().to_vec(),
            )
        };
        for body in bodies {
            let call = call_of(body);
            let general = general_callback(&call).ok();
            if let Some(quick) = plain_callback(&call) {
                assert_eq!(Some(quick), general, "{body}");
            }
            assert_eq!(parse_callback(&call).ok(), general, "{body}");
        }
        let escaped = call_of(bodies[2]);
        assert!(plain_callback(&escaped).is_none());
        assert_eq!(parse_callback(&escaped).unwrap().provider, "dynamics365");
    }

    fn attempt(details: bool) -> Attempt {
        let some = |text: &str| details.then(|| text.to_string());
        Attempt {
            id: "att_1".into(),
            document_id: "doc \"1\"".into(),
            data: DeliveryData {
                provider: "dynamics365".into(),
                status: AttemptStatus::Failed,
                execution_id: "exec-é-1".into(),
                attempted_at: 1_774_000_000_123,
                external_record_id: some("rec-1"),
                external_url: some("https://x.example/rec-1"),
                error_code: some("E\n1"),
                error_message: some("it failed"),
            },
            source: AttemptSource::Callback,
            run_id: some("run_1"),
            recorded_at: 1_774_000_001_000,
        }
    }

    #[test]
    fn the_attempt_view_writes_the_same_bytes_as_the_attempt_value() {
        for details in [false, true] {
            let attempt = attempt(details);
            let view = serde_json::to_string(&AttemptView::of(&attempt)).unwrap();
            let value = serde_json::to_string(&attempt.to_json()).unwrap();
            assert_eq!(view, value);
        }
    }

    #[test]
    fn the_callback_answer_writer_writes_what_serde_json_writes() {
        for (details, source, replayed) in [
            (false, AttemptSource::Callback, false),
            (true, AttemptSource::Dispatch, true),
            (true, AttemptSource::Callback, true),
            (false, AttemptSource::Dispatch, false),
        ] {
            let mut attempt = attempt(details);
            attempt.source = source;
            let answer = CallbackAnswer {
                data: AttemptView::of(&attempt),
                meta: CallbackMeta {
                    document_status: "push_succeeded",
                    replayed,
                },
            };
            let mut out = Vec::new();
            answer.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&answer).unwrap()
            );
        }
    }
}
