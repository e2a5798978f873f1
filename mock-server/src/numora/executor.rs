//! The internal workflow that dispatch runs: the seeds' "Invoice_v2 Executor
//! Mapping", executed inside the fake against the workspace's Dataverse org,
//! driven by the mapping resource. Every Dataverse call goes through the same
//! gate (fault rules, journal) as an external client's.

use axum::http::{header, HeaderMap, HeaderValue, Method};
use serde_json::{json, Map, Value};

mod resume;

use crate::call::{Call, Reply};
use crate::world::model::*;
use crate::world::time::{format_millis, Millis};
use crate::world::workspace::Workspace;

/// The origin the internal workflow uses for its own Dataverse calls.
const INTERNAL_ORIGIN: &str = "http://internal";

/// How a run ended.
struct Outcome {
    status: AttemptStatus,
    record_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

impl Outcome {
    fn failed(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: AttemptStatus::Failed,
            record_id: None,
            error_code: Some(code.into()),
            error_message: Some(message.into()),
        }
    }
    fn skipped(code: &str, message: String) -> Self {
        Self {
            status: AttemptStatus::Skipped,
            record_id: None,
            error_code: Some(code.into()),
            error_message: Some(message),
        }
    }
}

/// An OData string literal: single quotes doubled.
pub(crate) fn odata_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn query_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

struct Ctx<'a> {
    ws: &'a mut Workspace,
    run_id: String,
    org: String,
    at: Millis,
}

impl Ctx<'_> {
    fn call(
        &mut self,
        node: &str,
        method: Method,
        resource: &str,
        query: Option<String>,
        body: Option<&Value>,
    ) -> (Reply, Option<Value>) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        if body.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        let call = Call {
            method: method.clone(),
            path: format!("/api/data/v9.2/{resource}"),
            query,
            headers,
            body: body
                .map(|b| serde_json::to_vec(b).unwrap_or_default().into())
                .unwrap_or_default(),
            origin: INTERNAL_ORIGIN.into(),
        };
        let before = self.ws.now();
        let reply = crate::dataverse::gate::exchange(
            self.ws,
            &self.org.clone(),
            "internal-workflow",
            &call,
            true,
        );
        // Virtual latency injected by a fault moves the run's own time too.
        self.at += self.ws.now() - before;
        let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
        let message = json
            .as_ref()
            .and_then(|j| j.pointer("/error/message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| reply.status.canonical_reason().unwrap_or("").to_string());
        if let Some(run) = self.ws.runs.get_mut(&self.run_id) {
            run.logs.push(RunLog {
                node: node.to_string(),
                at: format_millis(self.at),
                method: method.to_string(),
                path: call.path.clone() + &call.query.map(|q| format!("?{q}")).unwrap_or_default(),
                status: reply.status.as_u16(),
                message,
            });
        }
        (reply, json)
    }
}

fn failure_of(reply: &Reply, json: &Option<Value>, step: &str) -> Outcome {
    let status = reply.status.as_u16();
    let message = json
        .as_ref()
        .and_then(|j| j.pointer("/error/message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Dataverse answered {status} with an unreadable body"));
    let code = if status == 429 {
        "crm_429".to_string()
    } else {
        format!("crm_{status}")
    };
    Outcome::failed(code, format!("{step}: {message}"))
}

/// Looks a row up by one column; Ok(None) on a miss.
fn lookup(
    ctx: &mut Ctx<'_>,
    node: &str,
    set: &str,
    id_column: &str,
    column: &str,
    value: &str,
) -> Result<Option<String>, Outcome> {
    let query = format!(
        "$select={id_column}&$filter={}&$top=1",
        query_encode(&format!("{column} eq {}", odata_string(value)))
    );
    let (reply, json) = ctx.call(node, Method::GET, set, Some(query), None);
    if !reply.status.is_success() {
        return Err(failure_of(&reply, &json, node));
    }
    Ok(json
        .as_ref()
        .and_then(|j| j.pointer("/value/0"))
        .and_then(|row| row.get(id_column))
        .and_then(Value::as_str)
        .map(str::to_string))
}

/// The id at the end of an `OData-EntityId` header.
fn created_id(reply: &Reply) -> Option<String> {
    let entity = reply.header("odata-entityid")?;
    let inside = entity.rsplit_once('(')?.1.strip_suffix(')')?;
    Some(inside.to_string())
}

/// Reads a mapping source path from a document (and a line item).
pub(crate) fn source_value(
    doc: &Document,
    item: Option<(usize, &Map<String, Value>)>,
    path: &str,
) -> Value {
    if let Some(rest) = path.strip_prefix("fields.") {
        let (name, leaf) = rest.rsplit_once('.').unwrap_or((rest, "value"));
        return doc
            .fields
            .get(name)
            .and_then(|f| f.get(leaf).cloned())
            .unwrap_or(Value::Null);
    }
    if let Some(key) = path.strip_prefix("line_items[*].") {
        return match (item, key) {
            (Some((n, _)), "position") => json!(n + 1),
            (Some((_, item)), key) => item.get(key).cloned().unwrap_or(Value::Null),
            (None, _) => Value::Null,
        };
    }
    match path {
        "document.id" => json!(&*doc.id),
        "document.external_id" => json!(doc.external_id),
        _ => path
            .strip_prefix("metadata.")
            .and_then(|k| doc.metadata.get(k))
            .unwrap_or(Value::Null),
    }
}

fn columns(mapping: &Map<String, Value>, section: &str) -> Vec<(String, String)> {
    mapping
        .get(section)
        .and_then(|s| s.get("columns"))
        .and_then(Value::as_object)
        .map(|c| {
            c.iter()
                .filter_map(|(col, src)| src.as_str().map(|s| (col.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A mapping setting such as `/owner_team/entity_set`, or `default`.
fn text(mapping: &Map<String, Value>, pointer: &str, default: &str) -> String {
    let mut parts = pointer.trim_start_matches('/').split('/');
    let first = parts.next().and_then(|key| mapping.get(key));
    parts
        .try_fold(first, |node, key| Some(node.and_then(|n| n.get(key))))
        .flatten()
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

fn run_steps(
    ctx: &mut Ctx<'_>,
    doc: &Document,
    owner_team: &str,
    mapping: &Map<String, Value>,
) -> Outcome {
    let team_set = text(mapping, "/owner_team/entity_set", "teams");
    let team_id_col = text(mapping, "/owner_team/id_column", "teamid");
    let team_match = text(mapping, "/owner_team/match_column", "name");
    let team_nav = text(mapping, "/owner_team/navigation", "ownerid");
    let team = match lookup(
        ctx,
        "team_lookup",
        &team_set,
        &team_id_col,
        &team_match,
        owner_team,
    ) {
        Err(failure) => return failure,
        Ok(None) => {
            return Outcome::skipped(
                "team_not_found",
                format!("No team matched owner team name \"{owner_team}\"."),
            )
        }
        Ok(Some(id)) => id,
    };
    let supplier_set = text(mapping, "/supplier/entity_set", "otcm_suppliers");
    let supplier_id_col = text(mapping, "/supplier/id_column", "otcm_supplierid");
    let supplier_match = text(mapping, "/supplier/match_column", "otcm_name");
    let supplier_source = text(mapping, "/supplier/source", "fields.vendor_name.value");
    let supplier_nav = text(mapping, "/supplier/navigation", "otcm_SupplierId");
    let vendor = match source_value(doc, None, &supplier_source) {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let supplier = match lookup(
        ctx,
        "supplier_lookup",
        &supplier_set,
        &supplier_id_col,
        &supplier_match,
        &vendor,
    ) {
        Err(failure) => return failure,
        Ok(None) => {
            return Outcome::skipped(
                "supplier_not_found",
                format!("No supplier matched vendor_name \"{vendor}\"."),
            )
        }
        Ok(Some(id)) => id,
    };
    let record_set = text(mapping, "/record/entity_set", "otcm_inboundinvoices");
    let mut record = Map::new();
    for (column, source) in columns(mapping, "record") {
        record.insert(column, source_value(doc, None, &source));
    }
    record.insert(
        format!("{supplier_nav}@odata.bind"),
        json!(format!("/{supplier_set}({supplier})")),
    );
    record.insert(
        format!("{team_nav}@odata.bind"),
        json!(format!("/{team_set}({team})")),
    );
    // A retry after a failed attempt first looks for the invoice an earlier
    // run wrote, and completes it instead of writing a second one.
    let earlier = match resume::find_invoice(ctx, doc, mapping, &record_set) {
        Err(failure) => return failure,
        Ok(found) => found,
    };
    let invoice_id = match earlier {
        Some(id) => id,
        None => {
            let (reply, json) = ctx.call(
                "invoice_create",
                Method::POST,
                &record_set,
                None,
                Some(&Value::Object(record)),
            );
            if !reply.status.is_success() {
                return failure_of(&reply, &json, "invoice_create");
            }
            let Some(invoice_id) = created_id(&reply) else {
                return Outcome::failed(
                    "crm_invalid_response",
                    "invoice_create: no OData-EntityId in the answer",
                );
            };
            invoice_id
        }
    };
    if !mapping.contains_key("line_items") {
        // A mapping without a line-item section writes the invoice only.
        return Outcome {
            status: AttemptStatus::Succeeded,
            record_id: Some(invoice_id),
            error_code: None,
            error_message: None,
        };
    }
    let item_set = text(
        mapping,
        "/line_items/entity_set",
        "otcm_inboundinvoicelineitems",
    );
    let parent_nav = text(
        mapping,
        "/line_items/parent_navigation",
        "otcm_InboundInvoiceId",
    );
    let item_columns = columns(mapping, "line_items");
    let written =
        match resume::written_items(ctx, doc, mapping, &item_set, &parent_nav, &invoice_id) {
            Err(failure) => return failure,
            Ok(written) => written,
        };
    for (n, item) in doc.line_items.to_items().iter().enumerate() {
        if written.contains(&(n + 1)) {
            continue;
        }
        let mut row = Map::new();
        for (column, source) in &item_columns {
            row.insert(column.clone(), source_value(doc, Some((n, item)), source));
        }
        row.insert(
            format!("{parent_nav}@odata.bind"),
            json!(format!("/{record_set}({invoice_id})")),
        );
        row.insert(
            format!("{team_nav}@odata.bind"),
            json!(format!("/{team_set}({team})")),
        );
        let node = format!("line_item_create_{}", n + 1);
        let (reply, json) = ctx.call(
            &node,
            Method::POST,
            &item_set,
            None,
            Some(&Value::Object(row)),
        );
        if !reply.status.is_success() {
            return failure_of(&reply, &json, &node);
        }
    }
    Outcome {
        status: AttemptStatus::Succeeded,
        record_id: Some(invoice_id),
        error_code: None,
        error_message: None,
    }
}

/// Executes a queued run at virtual instant `at`.
pub(crate) fn execute(ws: &mut Workspace, run_id: &str, at: Millis) {
    let Some(run) = ws
        .runs
        .get(run_id)
        .filter(|r| r.status == RunStatus::Queued)
        .cloned()
    else {
        return;
    };
    let Some(doc) = ws.documents.get(run.document_id.as_str()).cloned() else {
        return;
    };
    if !doc.finalized {
        // Edited (sent back to review) after dispatch: only reviewed and
        // finalized documents are pushed, so the run ends without writing.
        if let Some(r) = ws.runs.get_mut(run_id) {
            r.status = RunStatus::Failed;
            r.started_at = Some(at);
            r.finished_at = Some(at);
            r.error_code = Some("document_not_finalized".into());
            r.error_message = Some(format!(
                "document '{}' was edited after dispatch and is no longer reviewed and finalized",
                doc.id
            ));
        }
        crate::webhooks::emit(ws, "run.failed", &doc.id, at, Some(run_id));
        return;
    }
    if let Some(r) = ws.runs.get_mut(run_id) {
        r.status = RunStatus::Running;
        r.started_at = Some(at);
    }
    let workflow = run
        .workflow_id
        .as_ref()
        .and_then(|id| ws.workflows.iter().find(|w| &w.id == id))
        .cloned();
    let destination = workflow
        .as_ref()
        .and_then(|w| ws.destinations.iter().find(|d| d.id == w.destination_id))
        .cloned();
    let connection = destination
        .as_ref()
        .and_then(|d| d.connection_id.as_ref())
        .and_then(|c| ws.connections.iter().find(|x| &x.id == c))
        .or_else(|| ws.connections.iter().find(|c| c.provider == run.provider))
        .cloned();
    let mapping = destination
        .as_ref()
        .and_then(|d| ws.mappings.get(&(doc.schema.to_string(), d.id.clone())))
        .cloned();
    let mut ctx = Ctx {
        ws,
        run_id: run_id.to_string(),
        org: connection
            .as_ref()
            .map(|c| c.org.clone())
            .unwrap_or_default(),
        at,
    };
    let outcome = match (&connection, &mapping) {
        (None, _) => Outcome::failed(
            "connection_missing",
            "no Dynamics 365 connection is configured for this destination",
        ),
        (Some(c), _) if c.status != ActiveStatus::Active => Outcome::failed(
            "connection_inactive",
            format!("connection '{}' is not active", c.id),
        ),
        (_, None) => Outcome::failed(
            "mapping_missing",
            format!("no mapping for schema {} to this destination", doc.schema),
        ),
        (Some(c), Some(m)) => run_steps(&mut ctx, &doc, &c.owner_team.clone(), m),
    };
    let finished = ctx.at;
    let data = DeliveryData {
        provider: provider_name(run.provider.clone()),
        status: outcome.status,
        execution_id: run_id.to_string(),
        attempted_at: finished,
        external_record_id: outcome.record_id.clone(),
        external_url: None,
        error_code: outcome.error_code.clone(),
        error_message: outcome.error_message.clone(),
    };
    if let Some(r) = ws.runs.get_mut(run_id) {
        r.status = if outcome.status == AttemptStatus::Failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        r.outcome = Some(outcome.status);
        r.external_record_id = outcome.record_id;
        r.error_code = outcome.error_code;
        r.error_message = outcome.error_message;
        r.finished_at = Some(finished);
    }
    crate::webhooks::record_attempt(
        ws,
        &run.document_id,
        data,
        AttemptSource::Dispatch,
        Some(run_id.to_string()),
        finished,
    );
    if outcome.status == AttemptStatus::Failed {
        crate::webhooks::emit(ws, "run.failed", &run.document_id, finished, Some(run_id));
    }
}

/// The route era: notify the shared n8n webhook instead of running the workflow.
/// The document stays `push_pending` until a delivery callback arrives.
pub(crate) fn notify_n8n(ws: &mut Workspace, document_id: &str, provider: &str) -> String {
    let now = ws.now();
    let run_id = ws.new_run(document_id, None, provider);
    let jobs = ws.webhooks.enqueue_n8n(
        &ws.settings.n8n_webhook.clone(),
        document_id,
        &run_id,
        provider,
        &mut ws.ids,
        now,
    );
    for (due, delivery_id) in jobs {
        ws.scheduler.schedule(
            due,
            crate::world::workspace::Job::DeliverWebhook { delivery_id },
        );
    }
    run_id
}
