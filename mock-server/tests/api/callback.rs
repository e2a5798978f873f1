//! Seed 001 (Delivery Status Callback) and the idempotency page.

use crate::helpers::*;

fn path(doc: &str) -> String {
    format!("/v1/documents/{doc}/delivery")
}

#[tokio::test]
async fn new_execution_id_is_201_identical_replay_200_changed_replay_409() {
    let app = app().await;
    let ok = callback(
        "succeeded",
        "n8n-1",
        r#","external_record_id":"crm-row-001""#,
    );
    let r = app.post(&path(SEED_DOC), &ok).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let first = r.json();
    assert_eq!(first["data"]["status"], "succeeded");
    assert_eq!(first["data"]["execution_id"], "n8n-1");
    assert_eq!(first["data"]["external_record_id"], "crm-row-001");
    assert!(first["data"]["id"].as_str().unwrap().starts_with("dla_"));
    assert_eq!(app.status_of(SEED_DOC).await, "push_succeeded");

    let r = app.post(&path(SEED_DOC), &ok).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["data"],
        first["data"],
        "the replay returns the recorded attempt"
    );

    let changed = callback("failed", "n8n-1", r#","error_code":"crm_429""#);
    let r = app.post(&path(SEED_DOC), &changed).await;
    let body = r.assert_error(409, "conflict");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("status"));
    assert_eq!(
        app.status_of(SEED_DOC).await,
        "push_succeeded",
        "a changed replay changes nothing"
    );

    let list = app.get(&path(SEED_DOC)).await.json();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "exactly one attempt per execution_id"
    );
}

#[tokio::test]
async fn status_follows_the_latest_attempt_and_skipped_counts_as_success() {
    let app = app().await;
    let failed = r#"{"provider":"dynamics365","status":"failed","execution_id":"e-1","error_code":"crm_429","attempted_at":"2026-03-24T03:00:00.000Z"}"#;
    assert_eq!(app.post(&path(SEED_DOC), failed).await.status, 201);
    assert_eq!(app.status_of(SEED_DOC).await, "push_failed");
    // An older attempt arriving later does not decide the status.
    let older = r#"{"provider":"dynamics365","status":"succeeded","execution_id":"e-0","external_record_id":"x","attempted_at":"2026-03-24T02:00:00.000Z"}"#;
    assert_eq!(app.post(&path(SEED_DOC), older).await.status, 201);
    assert_eq!(app.status_of(SEED_DOC).await, "push_failed");
    let skipped = r#"{"provider":"dynamics365","status":"skipped","execution_id":"e-2","error_code":"supplier_not_found","error_message":"No supplier matched vendor_name \"Acme Supplies Ltd\".","attempted_at":"2026-03-24T04:00:00.000Z"}"#;
    assert_eq!(app.post(&path(SEED_DOC), skipped).await.status, 201);
    assert_eq!(app.status_of(SEED_DOC).await, "push_succeeded");
    // Skipped keeps the document out of the outbox (no automatic retries).
    let outbox = app
        .get("/v1/delivery/outbox?provider=dynamics365&limit=100")
        .await
        .json();
    assert!(!outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["document_id"] == SEED_DOC));
    // Newest first.
    let list = app.get(&path(SEED_DOC)).await.json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["execution_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e-2", "e-1", "e-0"]);
}

#[tokio::test]
async fn a_missing_required_field_is_400_naming_it() {
    let app = app().await;
    for field in ["provider", "status", "execution_id", "attempted_at"] {
        let mut body: serde_json::Value =
            serde_json::from_str(&callback("failed", "e", "")).unwrap();
        body.as_object_mut().unwrap().remove(field);
        let r = app.post(&path(SEED_DOC), &body.to_string()).await;
        let err = r.assert_error(400, "invalid_payload");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{}",
            r.text
        );
    }
    let r = app
        .post(&path(SEED_DOC), &callback("succeeded", "e", ""))
        .await;
    let err = r.assert_error(400, "invalid_payload");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("external_record_id"));
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400_even_with_the_fields_in_order() {
    let app = app().await;
    // The members' values in their declared order: a struct reader would
    // take them positionally; the API reads objects only.
    let array = r#"["dynamics365","succeeded","n8n-arr","2026-03-24T03:00:00.000Z","crm-1",null,null,null]"#;
    for body in [array, " [\"dynamics365\"]", "\"text\"", "42"] {
        let r = app.post(&path(SEED_DOC), body).await;
        r.assert_error(400, "invalid_payload");
    }
    assert_ne!(app.status_of(SEED_DOC).await, "push_succeeded");
}

#[tokio::test]
async fn a_bad_enum_or_timestamp_is_422() {
    let app = app().await;
    let r = app.post(&path(SEED_DOC), &callback("done", "e", "")).await;
    r.assert_error(422, "invalid_payload");
    let bad_time = r#"{"provider":"dynamics365","status":"failed","execution_id":"e","attempted_at":"yesterday"}"#;
    let err = app
        .post(&path(SEED_DOC), bad_time)
        .await
        .assert_error(422, "invalid_payload");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("attempted_at"));
    let bad_provider = r#"{"provider":"salesforce","status":"failed","execution_id":"e","attempted_at":"2026-03-24T03:00:00.000Z"}"#;
    app.post(&path(SEED_DOC), bad_provider)
        .await
        .assert_error(422, "invalid_payload");
}

#[tokio::test]
async fn a_document_that_is_not_finalized_is_409_and_unknown_404() {
    let app = app().await;
    let r = app
        .post(&path(REVIEW_DOC), &callback("failed", "e", ""))
        .await;
    r.assert_error(409, "conflict");
    let r = app
        .post(&path(NOT_FINAL_DOC), &callback("failed", "e", ""))
        .await;
    r.assert_error(409, "conflict");
    let r = app
        .post(&path("doc_missing"), &callback("failed", "e", ""))
        .await;
    r.assert_error(404, "not_found");
}

#[tokio::test]
async fn the_audit_list_pages_with_a_cursor() {
    let app = app().await;
    for n in 0..5 {
        let body = format!(
            r#"{{"provider":"dynamics365","status":"failed","execution_id":"e-{n}","attempted_at":"2026-03-24T0{n}:00:00.000Z"}}"#
        );
        assert_eq!(app.post(&path(SEED_DOC), &body).await.status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        let q = match &cursor {
            Some(c) => format!("{}?provider=dynamics365&limit=2&cursor={c}", path(SEED_DOC)),
            None => format!("{}?provider=dynamics365&limit=2", path(SEED_DOC)),
        };
        let page = app.get(&q).await.json();
        for a in page["data"].as_array().unwrap() {
            seen.push(a["execution_id"].as_str().unwrap().to_string());
        }
        assert!(seen.len() <= 5, "the walk ends: {seen:?}");
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["e-4", "e-3", "e-2", "e-1", "e-0"]);
    assert_eq!(
        pages, 3,
        "the page holding the last attempt has no next_cursor"
    );
    // A page that holds exactly the rest ends the walk too.
    let whole = app
        .get(&format!("{}?provider=dynamics365&limit=5", path(SEED_DOC)))
        .await
        .json();
    assert_eq!(whole["data"].as_array().unwrap().len(), 5);
    assert!(whole["meta"]["next_cursor"].is_null(), "{whole}");
    // A cursor belongs to the document it was issued for.
    let first = app.get(&format!("{}?limit=2", path(SEED_DOC))).await.json();
    let cursor = first["meta"]["next_cursor"].as_str().expect("more pages");
    app.get(&format!("{}?cursor={cursor}", path(ACME_DOC)))
        .await
        .assert_error(400, "invalid_payload");
    app.get(&format!("{}?cursor=garbage", path(SEED_DOC)))
        .await
        .assert_error(400, "invalid_payload");
}

#[tokio::test]
async fn an_execution_id_may_hold_255_characters_not_256() {
    let app = app().await;
    // Characters, not bytes: 255 two-byte characters are allowed.
    let longest = "é".repeat(255);
    let r = app
        .post(&path(SEED_DOC), &callback("failed", &longest, ""))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let err = app
        .post(&path(SEED_DOC), &callback("failed", &"x".repeat(256), ""))
        .await
        .assert_error(422, "invalid_payload");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("execution_id"));
}
