//! Setting a case up: a fresh workspace on a fake, or the documents given
//! with --var on another target, and the model that mirrors them.

use super::*;

/// Eligible documents a fake's world gets on top of the default world's.
const EXTRA_DOCUMENTS: usize = 24;

/// The `n`-th extra document: reviewed, finalized, an invoice of a vendor
/// the default world's Dataverse knows, updated between 00:00 and 07:59.
fn extra_document(n: usize) -> Value {
    json!({
        "id": format!("props-extra-{n:02}"),
        "schema": "invoice_v2",
        "status": "reviewed",
        "finalized": true,
        "updated_at": format!("2026-03-24T{:02}:{:02}:30.000Z", n % 8, (n * 7) % 60),
        "fields": {
            "vendor_name": "Northwind Traders",
            "invoice_number": format!("INV-PROPS-{n:02}"),
            "invoice_total": 100.0,
        },
    })
}

/// Prepare the case's session and model.
pub(super) async fn setup(
    target: &Target,
    world: &World,
    case: u64,
) -> Result<(Session, Model, Vec<Value>), String> {
    match world {
        World::Fake { seed } => {
            let session = target.open(Some(*seed), None).await?;
            let clock = session
                .control(Method::Patch, "clock", Some(&json!({"mode": "frozen"})))
                .await
                .map_err(|e| format!("freezing the clock: {}", e.message))?;
            let now = clock
                .json
                .as_ref()
                .and_then(|j| j["data"]["now"].as_str())
                .and_then(ms_of)
                .ok_or_else(|| {
                    format!(
                        "freezing the clock answered {}: {}",
                        clock.status,
                        short(&clock.body)
                    )
                })?;
            let mut steps = vec![json!({"control": {"clock": {"mode": "frozen"}}})];
            let mut docs = default_world();
            // Two dozen more eligible documents, interleaved with the
            // world's by updated_at, so outbox walks span many pages.
            for n in 0..EXTRA_DOCUMENTS {
                let doc = extra_document(n);
                let r = session
                    .control(Method::Post, "documents", Some(&doc))
                    .await
                    .map_err(|e| format!("seeding a document: {}", e.message))?;
                if r.status != 201 {
                    return Err(format!(
                        "seeding a document answered {}: {}",
                        r.status,
                        short(&r.body)
                    ));
                }
                let id = doc["id"].as_str().unwrap_or_default();
                let mut d = Doc::new(id, Status::Reviewed, true);
                d.prior_attempts = Some(0);
                docs.push(d);
                steps.push(json!({"control": {"seed_document": doc}}));
            }
            let model = Model::new(docs, true, now, now, "p".into());
            Ok((session, model, steps))
        }
        World::Remote { docs } => {
            let session = target.open(None, None).await?;
            let mut model_docs = Vec::new();
            let mut base = wall_clock_ms() + 3_600_000;
            for id in docs {
                let get = |path: String| {
                    let session = session.clone();
                    async move {
                        let out = Outgoing {
                            method: Method::Get,
                            url: format!("{}{path}", session.base_url),
                            headers: vec![(
                                "authorization".into(),
                                format!("Bearer {}", session.api_key),
                            )],
                            body: None,
                        };
                        session
                            .send(out)
                            .await
                            .map_err(|e| format!("GET {path}: {}", e.message))
                    }
                };
                let r = get(format!("/v1/documents/{id}")).await?;
                if r.status != 200 {
                    return Err(format!(
                        "document {id}: GET answered {}: {}",
                        r.status,
                        short(&r.body)
                    ));
                }
                let status = status_of(&r).ok_or_else(|| {
                    format!("document {id}: no known status in {}", short(&r.body))
                })?;
                let finalized = matches!(
                    status,
                    Status::Reviewed
                        | Status::PushPending
                        | Status::PushSucceeded
                        | Status::PushFailed
                );
                let mut d = Doc::new(id, status, finalized);
                if status == Status::PushPending {
                    d.status = Known::InFlight { after: None };
                }
                let a = get(format!(
                    "/v1/documents/{id}/delivery?provider={PROVIDER}&limit=1"
                ))
                .await?;
                let newest = a
                    .json
                    .as_ref()
                    .map(|j| j["data"][0].clone())
                    .unwrap_or(Value::Null);
                if let Some(at) = newest["attempted_at"].as_str().and_then(ms_of) {
                    base = base.max(at + 60_000);
                    // Stamped ahead of the clock (an earlier run of props):
                    // later than any run's attempt, so it keeps deciding
                    // the status when a run finishes.
                    if at > wall_clock_ms() + 600_000 {
                        let implied = Driver::outcome_of(&newest).document_status();
                        d.latest = Some((at, 0, implied));
                    }
                }
                model_docs.push(d);
            }
            // Whole seconds keep the scenario files readable.
            base = (base / 1_000 + 1) * 1_000;
            let nonce = format!("{}-{case}", wall_clock_ms());
            Ok((
                session,
                Model::new(model_docs, false, base, base, nonce),
                Vec::new(),
            ))
        }
    }
}
