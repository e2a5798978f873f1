//! Rules an almost-right fake would break while passing the coarser tests:
//! the rate limit's arithmetic, the session token's exact lifetime, "same
//! data" compared as instants, `meta.replayed`, ties broken by arrival, and a
//! document re-approved in the middle of an outbox walk.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

const OUTBOX: &str = "/v1/delivery/outbox?provider=dynamics365";

fn frozen_with(yaml: &str) -> mock_server::MockServerBuilder {
    mock_server::MockServer::builder()
        .seed(7)
        .clock(mock_server::ClockMode::Frozen)
        .fixtures_yaml(yaml.to_string())
}

fn limited(limit: u32) -> String {
    mock_server::fixtures::DEFAULT_WORLD.replace("rate_limit: 600", &format!("rate_limit: {limit}"))
}

fn header_u64(r: &Res, name: &str) -> u64 {
    r.header(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a number: {e}"))
}

/// docs/behaviour.md "Rate limit": rejected requests do not count. A limiter
/// that counted its 429s (a sliding window, say) would still refuse the first
/// request of the next window after a burst of rejections.
#[tokio::test]
async fn rejected_requests_do_not_count_against_the_limit() {
    let app = app_with(frozen_with(&limited(3))).await;
    for remaining in ["2", "1", "0"] {
        let r = app.get("/v1/schemas").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("x-rate-limit-remaining"), Some(remaining));
    }
    app.advance("30s").await;
    for _ in 0..5 {
        let r = app.get("/v1/schemas").await;
        r.assert_error(429, "rate_limited");
        assert_eq!(r.header("x-rate-limit-remaining"), Some("0"));
        assert_eq!(r.header("x-rate-limit-limit"), Some("3"));
    }
    // The window of the first three ends; the five 429s left no trace.
    app.advance("30s").await;
    for remaining in ["2", "1", "0"] {
        let r = app.get("/v1/schemas").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("x-rate-limit-remaining"), Some(remaining));
    }
}

/// docs/behaviour.md "Rate limit": a 429's `retry-after` is the same number as
/// its `x-rate-limit-reset`, and waiting exactly that long is enough (one
/// second less is not).
#[tokio::test]
async fn retry_after_equals_the_reset_and_waiting_that_long_is_enough() {
    let app = app_with(frozen_with(&limited(1))).await;
    assert_eq!(app.get("/v1/schemas").await.status, 200);
    app.advance("17s").await;
    let r = app.get("/v1/schemas").await;
    r.assert_error(429, "rate_limited");
    let retry = header_u64(&r, "retry-after");
    assert_eq!(retry, header_u64(&r, "x-rate-limit-reset"));
    assert_eq!(retry, 43, "60 s window, 17 s gone");
    app.advance(&format!("{}s", retry - 1)).await;
    let r = app.get("/v1/schemas").await;
    assert_eq!(r.status, 429, "one second early: {}", r.text);
    assert_eq!(header_u64(&r, "retry-after"), 1);
    assert_eq!(header_u64(&r, "x-rate-limit-reset"), 1);
    app.advance("1s").await;
    assert_eq!(app.get("/v1/schemas").await.status, 200);
}

/// docs/behaviour.md "Rate limit": no key, no budget, no headers; a revoked
/// key is a known key and its 401 carries the headers like any answer.
#[tokio::test]
async fn only_a_401_without_a_known_key_lacks_rate_limit_headers() {
    let app = app().await;
    for key in [None, Some("sk_unknown")] {
        let r = app.send("GET", "/v1/schemas", key, None).await;
        r.assert_error(401, "unauthorized");
        assert_eq!(r.header("x-rate-limit-limit"), None, "{key:?}");
    }
    let r = app
        .control(
            "PATCH",
            &format!("/keys/{READONLY_KEY}"),
            Some(r#"{"revoked":true}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send("GET", "/v1/schemas", Some(READONLY_KEY), None)
        .await;
    r.assert_error(401, "unauthorized");
    assert_eq!(r.header("x-rate-limit-limit"), Some("600"));
}

async fn session_token(app: &App) -> String {
    let r = app.post("/v1/dynamics/session", "{}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

async fn who_am_i(app: &App, token: &str) -> u16 {
    app.send("GET", "/api/data/v9.2/WhoAmI", Some(token), None)
        .await
        .status
}

/// DESIGN §2 and docs/behaviour.md "Token": valid for `session_ttl` (15 virtual
/// minutes): still good at 14:59, refused at 15:00 exactly.
#[tokio::test]
async fn the_session_token_works_at_14_59_and_is_refused_at_15_00() {
    let app = app_with(frozen_with(mock_server::fixtures::DEFAULT_WORLD)).await;
    let token = session_token(&app).await;
    app.advance("14m59s").await;
    assert_eq!(who_am_i(&app, &token).await, 200, "at 14:59");
    app.advance("1s").await;
    assert_eq!(who_am_i(&app, &token).await, 401, "at 15:00");
}

fn delivery(doc: &str) -> String {
    format!("/v1/documents/{doc}/delivery")
}

/// The idempotency rule: an identical replay is 200 with `meta.replayed`
/// true, a first recording 201 with false; the same instant in another
/// offset and precision is the same data.
#[tokio::test]
async fn meta_replayed_tells_a_replay_from_a_first_recording() {
    let app = app().await;
    let first = r#"{"provider":"dynamics365","status":"failed","execution_id":"r-1","attempted_at":"2026-03-24T03:00:00.000Z","error_code":"crm_429","error_message":"throttled","external_url":"https://org.example/r/1"}"#;
    let r = app.post(&delivery(SEED_DOC), first).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["meta"]["replayed"], false);
    let recorded = r.json()["data"].clone();
    let same_instant = first.replace("2026-03-24T03:00:00.000Z", "2026-03-24T05:00:00+02:00");
    for body in [first.to_string(), same_instant] {
        let r = app.post(&delivery(SEED_DOC), &body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        assert_eq!(r.json()["meta"]["replayed"], true);
        assert_eq!(r.json()["data"], recorded, "the recorded attempt");
    }
}

/// The idempotency rule, field by field: a replay that changes any one of the
/// same-data fields is 409 naming that field, and changes nothing. (The only
/// provider is `dynamics365`, so a changed provider is an invalid value, 422,
/// before any comparison.)
#[tokio::test]
async fn a_changed_replay_of_each_same_data_field_is_409_naming_it() {
    let app = app().await;
    let base = json!({
        "provider": "dynamics365", "status": "failed", "execution_id": "f-1",
        "attempted_at": "2026-03-24T03:00:00.000Z", "external_record_id": "crm-1",
        "external_url": "https://org.example/r/1", "error_code": "crm_500",
        "error_message": "server error",
    });
    let r = app.post(&delivery(SEED_DOC), &base.to_string()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let changes: [(&str, Value); 6] = [
        ("status", json!("skipped")),
        ("attempted_at", json!("2026-03-24T03:00:00.001Z")),
        ("external_record_id", json!("crm-2")),
        ("external_url", json!("https://org.example/r/2")),
        ("error_code", json!("crm_503")),
        ("error_message", json!("other")),
    ];
    for (field, value) in changes {
        let mut body = base.clone();
        body[field] = value;
        let r = app.post(&delivery(SEED_DOC), &body.to_string()).await;
        let err = r.assert_error(409, "conflict");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
        for other in [
            "status",
            "attempted_at",
            "external_record_id",
            "external_url",
            "error_code",
            "error_message",
        ] {
            if other != field && !field.contains(other) && !other.contains(field) {
                assert!(
                    !message.contains(&format!("{other},"))
                        && !message.contains(&format!("{other})")),
                    "{field} changed, but the message names {other}: {message}"
                );
            }
        }
    }
    let mut body = base.clone();
    body["provider"] = json!("sap");
    let r = app.post(&delivery(SEED_DOC), &body.to_string()).await;
    r.assert_error(422, "invalid_payload");
    let list = app.get(&delivery(SEED_DOC)).await.json();
    let ids: Vec<&Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["execution_id"])
        .filter(|id| *id == "f-1")
        .collect();
    assert_eq!(ids.len(), 1, "one attempt for f-1");
    assert_eq!(app.status_of(SEED_DOC).await, "push_failed");
}

/// docs/behaviour.md "Status" and "Attempt list": attempts at the same instant
/// are ordered by arrival, the later one newest, and the document follows it.
/// The first is written in another offset, so a server comparing text would
/// take it for the later one.
#[tokio::test]
async fn ties_in_attempted_at_are_broken_by_arrival() {
    let app = app().await;
    for (doc, first, second, status) in [
        (SEED_DOC, "succeeded", "failed", "push_failed"),
        (ACME_DOC, "failed", "succeeded", "push_succeeded"),
    ] {
        let body = |status: &str, execution: &str, at: &str| {
            json!({"provider": "dynamics365", "status": status, "execution_id": execution,
                   "attempted_at": at, "external_record_id": "crm-9"})
            .to_string()
        };
        let r = app
            .post(
                &delivery(doc),
                &body(first, "tie-1", "2026-03-24T05:00:00+02:00"),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app
            .post(
                &delivery(doc),
                &body(second, "tie-2", "2026-03-24T03:00:00.000Z"),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json()["meta"]["document_status"], status);
        assert_eq!(app.status_of(doc).await, status, "{doc}");
        let list = app.get(&delivery(doc)).await.json();
        let order: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["execution_id"].as_str())
            .filter(|id| id.starts_with("tie-"))
            .collect();
        assert_eq!(order, ["tie-2", "tie-1"], "newest first, ties by arrival");
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["document_id"].as_str().unwrap().to_string())
        .collect()
}

/// docs/behaviour.md "Outbox paging": a document that leaves the outbox and
/// becomes eligible again while a walk is under way appears at its new
/// position (again, after the pages already read); nothing is skipped.
#[tokio::test]
async fn a_document_re_approved_mid_walk_reappears_and_nothing_is_skipped() {
    let app = app().await;
    let all = ids(&app.get(&format!("{OUTBOX}&limit=100")).await.json());
    assert_eq!(all.len(), 5, "{all:?}");
    let first = app.get(&format!("{OUTBOX}&limit=2")).await.json();
    let mut seen = ids(&first);
    let moved = seen[0].clone();
    // Edit the first document seen (back to review), then approve it again.
    let r = app
        .control(
            "PATCH",
            &format!("/documents/{moved}"),
            Some(r#"{"fields":{"invoice_number":"INV-REAPPROVED"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.status_of(&moved).await, "review_required");
    let current = app.get(&format!("/v1/documents/{moved}")).await.json();
    let body = json!({"expected_updated_at": current["data"]["updated_at"], "review_state": null});
    let r = app
        .post(
            &format!("/v1/documents/{moved}/actions/approve"),
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let mut cursor = first["meta"]["next_cursor"]
        .as_str()
        .expect("five documents, two a page")
        .to_string();
    let mut pages = 1;
    loop {
        let page = app
            .get(&format!("{OUTBOX}&limit=2&cursor={cursor}"))
            .await
            .json();
        seen.extend(ids(&page));
        pages += 1;
        assert!(pages < 10, "the walk ends");
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(
        seen.last(),
        Some(&moved),
        "the re-approved document comes last, at its new position: {seen:?}"
    );
    assert_eq!(seen.iter().filter(|d| **d == moved).count(), 2, "{seen:?}");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), all.len(), "nothing skipped: {seen:?}");
    assert_eq!(seen.len(), all.len() + 1);
}

/// The control API's clock shows the queue: how many jobs wait and when the
/// next falls due (a dispatch queues its run `run_delay` ahead, before the
/// fixture's processing document, due 5 s after start). Written to catch a
/// scheduler whose listing of pending jobs is empty (a mutant the suite
/// missed).
#[tokio::test]
async fn the_clock_view_names_the_next_queued_job() {
    let app = app_with(frozen_with(mock_server::fixtures::DEFAULT_WORLD)).await;
    let clock = app.control("GET", "/clock", None).await.json();
    assert_eq!(clock["data"]["now"], "2026-03-24T09:00:00.000Z");
    assert_eq!(clock["data"]["next_job_at"], "2026-03-24T09:00:05.000Z");
    let jobs = clock["data"]["pending_jobs"].as_u64().expect("a count");
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let clock = app.control("GET", "/clock", None).await.json();
    assert_eq!(clock["data"]["next_job_at"], "2026-03-24T09:00:02.000Z");
    assert_eq!(clock["data"]["pending_jobs"], jobs + 1);
    app.advance("2s").await;
    let clock = app.control("GET", "/clock", None).await.json();
    assert_eq!(clock["data"]["next_job_at"], "2026-03-24T09:00:05.000Z");
    assert_eq!(clock["data"]["pending_jobs"], jobs);
}
