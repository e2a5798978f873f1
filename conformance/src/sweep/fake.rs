//! The sweep's own calls to the fake: set a case up (settings, clock,
//! documents, control calls, faults), read the journal, and gather the
//! facts the contract is judged on (public reads with the workspace's key,
//! Dataverse rows through the control API).

use std::collections::HashMap;

use serde_json::Value;

use super::case::{Case, DocOutcome, Mode};
use super::judge::{self, Attempt, DocFacts, DocJudgement};
use crate::scenario::model::Method;
use crate::target::{Session, Target};

pub(super) async fn control_ok(
    session: &Session,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let r = session
        .control(method, path, body)
        .await
        .map_err(|e| format!("{} {path}: {}", method.as_str(), e.message))?;
    if !(200..300).contains(&r.status) {
        return Err(format!(
            "{} {path} answered {}: {}",
            method.as_str(),
            r.status,
            r.body.chars().take(400).collect::<String>()
        ));
    }
    Ok(r.json.unwrap_or(Value::Null))
}

/// A public GET with the workspace's key.
async fn public_get(target: &Target, session: &Session, path: &str) -> Result<Value, String> {
    let url = format!("{}{path}", session.base_url);
    let r = target
        .client()
        .get(&url)
        .bearer_auth(&session.api_key)
        .header("x-request-id", "conformance-sweep-judge")
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| format!("GET {path}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "GET {path} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {path}: not JSON ({e})"))
}

/// Every document the outbox offers now (following `next_cursor`).
pub(super) async fn outbox(target: &Target, session: &Session) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let path = match &cursor {
            Some(c) => format!("/v1/delivery/outbox?provider=dynamics365&limit=100&cursor={c}"),
            None => "/v1/delivery/outbox?provider=dynamics365&limit=100".to_owned(),
        };
        let v = public_get(target, session, &path).await?;
        for d in v["data"].as_array().into_iter().flatten() {
            if let Some(id) = d["document_id"].as_str() {
                ids.push(id.to_owned());
            }
        }
        match v["meta"]["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => return Ok(ids),
        }
    }
    Err("the outbox kept answering a next_cursor after 200 pages".into())
}

pub(super) async fn apply_case(c: &Case, session: &Session) -> Result<(), String> {
    if let Some(s) = &c.settings {
        control_ok(session, Method::Patch, "settings", Some(s)).await?;
    }
    if let Some(clock) = &c.clock {
        control_ok(session, Method::Patch, "clock", Some(clock)).await?;
    }
    for d in &c.documents {
        control_ok(session, Method::Post, "documents", Some(d)).await?;
    }
    for call in &c.setup {
        control_ok(session, call.method, &call.path, call.body.as_ref()).await?;
    }
    Ok(())
}

/// Why the case's faults could not be added.
#[derive(Debug)]
pub(super) enum FaultError {
    /// The fake refused the rule (400): it cannot inject this failure.
    Refused(String),
    Other(String),
}

pub(super) async fn add_faults(c: &Case, session: &Session) -> Result<Vec<String>, FaultError> {
    let mut ids = Vec::new();
    for f in &c.faults {
        let r = session
            .control(Method::Post, "faults", Some(f))
            .await
            .map_err(|e| FaultError::Other(format!("POST faults: {}", e.message)))?;
        if r.status == 400 {
            return Err(FaultError::Refused(format!(
                "this fake cannot inject the case's fault {f}: {}",
                r.body.chars().take(300).collect::<String>()
            )));
        }
        if !(200..300).contains(&r.status) {
            return Err(FaultError::Other(format!(
                "POST faults answered {}: {}",
                r.status,
                r.body.chars().take(300).collect::<String>()
            )));
        }
        if let Some(id) = r.json.as_ref().and_then(|v| v["data"]["id"].as_str()) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

pub(super) async fn journal_count(session: &Session, query: &str) -> Result<u64, String> {
    let v = control_ok(
        session,
        Method::Get,
        &format!("journal/count?{query}"),
        None,
    )
    .await?;
    v["data"]["count"]
        .as_u64()
        .ok_or_else(|| format!("journal/count?{query}: no data.count"))
}

pub(super) async fn detect_mode(session: &Session) -> Result<Option<Mode>, String> {
    let dispatched = journal_count(
        session,
        "method=POST&path=/v1/documents/*/dispatch&internal=false",
    )
    .await?;
    let called_back = journal_count(
        session,
        "method=POST&path=/v1/documents/*/delivery&internal=false",
    )
    .await?;
    Ok(match (dispatched > 0, called_back > 0) {
        (true, false) => Some(Mode::Dispatch),
        (false, true) => Some(Mode::Executor),
        (true, true) => Some(if dispatched >= called_back {
            Mode::Dispatch
        } else {
            Mode::Executor
        }),
        (false, false) => None,
    })
}

pub(super) async fn attempts_before(session: &Session) -> Result<HashMap<String, usize>, String> {
    let v = control_ok(session, Method::Get, "documents", None).await?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d["id"].as_str()?.to_owned(),
                d["attempts"].as_array().map_or(0, Vec::len),
            ))
        })
        .collect())
}

/// Gather the facts and judge every document eligible at the start.
pub(super) async fn judge_contract(
    target: &Target,
    session: &Session,
    eligible: &[String],
    before: &HashMap<String, usize>,
    allow: &[DocOutcome],
) -> Result<Vec<DocJudgement>, String> {
    let rows = |set: &str| format!("dataverse/{set}");
    let invoices = control_ok(session, Method::Get, &rows("otcm_inboundinvoices"), None).await?;
    let lines = control_ok(
        session,
        Method::Get,
        &rows("otcm_inboundinvoicelineitems"),
        None,
    )
    .await?;
    let suppliers = control_ok(session, Method::Get, &rows("otcm_suppliers"), None).await?;
    let supplier_names: Vec<String> = suppliers["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["otcm_name"].as_str().map(str::to_owned))
        .collect();
    let still = outbox(target, session).await?;
    let mut facts = Vec::new();
    let mut attempts_by_doc = HashMap::new();
    for id in eligible {
        let doc = public_get(target, session, &format!("/v1/documents/{id}")).await?;
        let atts = public_get(
            target,
            session,
            &format!("/v1/documents/{id}/delivery?provider=dynamics365&limit=100"),
        )
        .await?;
        let result = public_get(target, session, &format!("/v1/documents/{id}/result")).await?;
        let attempts: Vec<Attempt> = atts["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Attempt::from_json)
            .collect();
        attempts_by_doc.insert(id.clone(), attempts.clone());
        let vendor = result["data"]["data"]["fields"]["vendor_name"]["value"].as_str();
        facts.push(DocFacts {
            id: id.clone(),
            status: doc["data"]["status"].as_str().unwrap_or("").to_owned(),
            attempts,
            attempts_before: before.get(id).copied().unwrap_or(0),
            in_outbox: still.contains(id),
            result_lines: result["data"]["data"]["line_items"]
                .as_array()
                .map_or(0, Vec::len),
            invoices: Vec::new(),
            supplier_exists: vendor.map(|v| supplier_names.iter().any(|s| s == v)),
        });
    }
    let empty = Vec::new();
    let linked = judge::link_rows(
        invoices["data"].as_array().unwrap_or(&empty),
        lines["data"].as_array().unwrap_or(&empty),
        &attempts_by_doc,
    );
    Ok(facts
        .into_iter()
        .map(|mut f| {
            f.invoices = linked.get(&f.id).cloned().unwrap_or_default();
            judge::classify(&f, allow)
        })
        .collect())
}
