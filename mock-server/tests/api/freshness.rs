//! A document read and the outbox show every change at once: the views the
//! fake keeps rendered between reads never outlive a change, whichever way
//! the document changed (review actions, callbacks, dispatch and its run,
//! edits, processing on the clock, reset, a loaded state, another workspace
//! of the same fixture).
//!
//! Each read is checked against the control API's view of the same
//! document, which is built afresh on every call.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::*;

/// The keys of the public document view.
const VIEW_KEYS: [&str; 12] = [
    "id",
    "schema",
    "status",
    "external_id",
    "metadata",
    "review_state",
    "duplicate_of",
    "created_at",
    "updated_at",
    "status_url",
    "result_url",
    "dispatch_url",
];

/// The keys an outbox item shares with the document view.
const ITEM_KEYS: [&str; 7] = [
    "schema",
    "status",
    "external_id",
    "metadata",
    "result_url",
    "dispatch_url",
    "updated_at",
];

async fn fresh_view(app: &App, ws: &str, doc: &str) -> Value {
    let r = app
        .send(
            "GET",
            &format!("/_mock/workspaces/{ws}/documents/{doc}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].clone()
}

/// `GET /v1/documents/{doc}` with `key`, checked against the control view.
async fn served_in(app: &App, ws: &str, key: &str, doc: &str) -> Value {
    let r = app
        .send("GET", &format!("/v1/documents/{doc}"), Some(key), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.json()["data"].clone();
    let fresh = fresh_view(app, ws, doc).await;
    assert_eq!(data.as_object().unwrap().len(), VIEW_KEYS.len(), "{data}");
    for key in VIEW_KEYS {
        assert_eq!(data[key], fresh[key], "{doc}: `{key}` is stale");
    }
    data
}

async fn served(app: &App, doc: &str) -> Value {
    served_in(app, "default", &app.key, doc).await
}

/// The outbox's first page by document id, each item checked against the
/// control view of its document.
async fn outbox(app: &App) -> BTreeMap<String, Value> {
    let r = app.get("/v1/delivery/outbox?limit=100").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut items = BTreeMap::new();
    for item in r.json()["data"].as_array().unwrap() {
        let id = item["document_id"].as_str().unwrap().to_string();
        let fresh = fresh_view(app, "default", &id).await;
        for key in ITEM_KEYS {
            assert_eq!(item[key], fresh[key], "outbox item {id}: `{key}` is stale");
        }
        items.insert(id, item.clone());
    }
    assert!(
        !items.is_empty(),
        "the default world has eligible documents"
    );
    items
}

/// Gives the default workspace its own copy of `doc` (a workspace shares
/// its documents with its fixture's until it first changes one), so the
/// change a test makes next changes that copy in place.
async fn own(app: &App, doc: &str) {
    edit(app, doc, r#"{"metadata":{"own":"copy"}}"#).await;
}

async fn edit(app: &App, doc: &str, body: &str) {
    let r = app
        .control("PATCH", &format!("/documents/{doc}"), Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn approve_and_reject_show_in_the_next_read_and_page() {
    let app = app().await;
    own(&app, REVIEW_DOC).await;
    own(&app, SEED_DOC).await;
    let before = served(&app, REVIEW_DOC).await;
    assert_eq!(before["status"], "review_required");
    assert!(!outbox(&app).await.contains_key(REVIEW_DOC));
    let r = app
        .post(
            &format!("/v1/documents/{REVIEW_DOC}/actions/approve"),
            &json!({"expected_updated_at": before["updated_at"]}).to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = served(&app, REVIEW_DOC).await;
    assert_eq!(after["status"], "reviewed");
    assert_ne!(after["updated_at"], before["updated_at"]);
    let page = outbox(&app).await;
    assert_eq!(page[REVIEW_DOC]["status"], "reviewed");
    assert_eq!(page[REVIEW_DOC]["updated_at"], after["updated_at"]);

    assert_eq!(served(&app, SEED_DOC).await["status"], "reviewed");
    assert!(outbox(&app).await.contains_key(SEED_DOC));
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/actions/reject"), "{}")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(served(&app, SEED_DOC).await["status"], "failed");
    assert!(!outbox(&app).await.contains_key(SEED_DOC));
}

#[tokio::test]
async fn callbacks_show_in_the_next_read_and_page() {
    let app = app().await;
    own(&app, FAILED_PUSH_DOC).await;
    let before = served(&app, FAILED_PUSH_DOC).await;
    assert_eq!(before["status"], "push_failed");
    assert_eq!(outbox(&app).await[FAILED_PUSH_DOC]["status"], "push_failed");
    let path = format!("/v1/documents/{FAILED_PUSH_DOC}/delivery");
    let success = r#"{"provider":"dynamics365","status":"succeeded","execution_id":"exec-fresh-1","attempted_at":"2026-03-25T00:00:00.000Z","external_record_id":"rec-1"}"#;
    let r = app.post(&path, success).await;
    assert!(r.status < 300, "{}", r.text);
    let pushed = served(&app, FAILED_PUSH_DOC).await;
    assert_eq!(pushed["status"], "push_succeeded");
    assert_ne!(pushed["updated_at"], before["updated_at"]);
    assert!(!outbox(&app).await.contains_key(FAILED_PUSH_DOC));

    // A later failure moves it back into the outbox, at its new instant.
    let later = r#"{"provider":"dynamics365","status":"failed","execution_id":"exec-fresh-2","attempted_at":"2026-03-26T00:00:00.000Z","error_code":"boom"}"#;
    let r = app.post(&path, later).await;
    assert!(r.status < 300, "{}", r.text);
    let failed = served(&app, FAILED_PUSH_DOC).await;
    assert_eq!(failed["status"], "push_failed");
    let page = outbox(&app).await;
    assert_eq!(page[FAILED_PUSH_DOC]["status"], "push_failed");
    assert_eq!(page[FAILED_PUSH_DOC]["updated_at"], failed["updated_at"]);
}

#[tokio::test]
async fn a_dispatch_and_its_run_on_the_clock_show_in_the_next_read() {
    let app = app().await;
    own(&app, ACME_DOC).await;
    assert_eq!(served(&app, ACME_DOC).await["status"], "reviewed");
    assert!(outbox(&app).await.contains_key(ACME_DOC));
    let r = app
        .post(&format!("/v1/documents/{ACME_DOC}/dispatch"), "{}")
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(served(&app, ACME_DOC).await["status"], "push_pending");
    assert!(!outbox(&app).await.contains_key(ACME_DOC));
    app.advance("1h").await;
    let done = served(&app, ACME_DOC).await;
    assert!(
        done["status"] == "push_succeeded" || done["status"] == "push_failed",
        "the run finished: {done}"
    );
}

#[tokio::test]
async fn processing_on_the_clock_shows_in_the_next_read() {
    let app = app().await;
    let r = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v2","file_url":"https://files.example/a.pdf"}"#,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["data"]["id"].as_str().unwrap().to_string();
    let before = served(&app, &id).await;
    assert_eq!(before["status"], "processing");
    app.advance("1h").await;
    let after = served(&app, &id).await;
    assert_eq!(after["status"], "review_required");
    assert_ne!(after["updated_at"], before["updated_at"]);
}

#[tokio::test]
async fn edits_show_in_the_next_read_and_page() {
    let app = app().await;
    served(&app, SEED_DOC).await;
    outbox(&app).await;
    edit(
        &app,
        SEED_DOC,
        r#"{"metadata":{"batch":"new \"quoted\" \\ value","n":2},"external_id":"ext-édité"}"#,
    )
    .await;
    let edited = served(&app, SEED_DOC).await;
    assert_eq!(
        edited["metadata"],
        json!({"batch": "new \"quoted\" \\ value", "n": 2})
    );
    assert_eq!(edited["external_id"], "ext-édité");
    let page = outbox(&app).await;
    assert_eq!(page[SEED_DOC]["metadata"], edited["metadata"]);
    assert_eq!(page[SEED_DOC]["external_id"], "ext-édité");

    edit(
        &app,
        SEED_DOC,
        r#"{"external_id":null,"review_state":{"version":3,"confirmed_general_field_names":["vendor_name"]}}"#,
    )
    .await;
    let edited = served(&app, SEED_DOC).await;
    assert_eq!(edited["external_id"], Value::Null);
    assert_eq!(edited["review_state"]["version"], 3);
    assert_eq!(outbox(&app).await[SEED_DOC]["external_id"], Value::Null);

    // A changed result sends it back to review: out of the outbox.
    edit(&app, SEED_DOC, r#"{"fields":{"vendor_name":"Other"}}"#).await;
    assert_eq!(served(&app, SEED_DOC).await["status"], "review_required");
    assert!(!outbox(&app).await.contains_key(SEED_DOC));
}

#[tokio::test]
async fn reset_and_a_loaded_state_show_in_the_next_read_and_page() {
    let app = app().await;
    let path = format!("/v1/documents/{SEED_DOC}");
    let first = app.get(&path).await.text;
    let first_page = app.get("/v1/delivery/outbox?limit=100").await.text;
    edit(&app, SEED_DOC, r#"{"metadata":{"changed":true}}"#).await;
    assert_eq!(
        served(&app, SEED_DOC).await["metadata"],
        json!({"changed": true})
    );
    let r = app.control("POST", "/reset", None).await;
    assert!(r.status < 300, "{}", r.text);
    assert_eq!(
        app.get(&path).await.text,
        first,
        "reset brings the first read back"
    );
    assert_eq!(
        app.get("/v1/delivery/outbox?limit=100").await.text,
        first_page
    );

    // The same world loaded with one document's metadata changed.
    let mut dump = app.control("GET", "/state", None).await.json();
    let docs = dump["documents"].as_array_mut().unwrap();
    let doc = docs.iter_mut().find(|d| d["id"] == SEED_DOC).unwrap();
    doc["metadata"] = json!({"loaded": "from a state"});
    let r = app.control("PUT", "/state", Some(&dump.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let loaded = served(&app, SEED_DOC).await;
    assert_eq!(loaded["metadata"], json!({"loaded": "from a state"}));
    assert_eq!(outbox(&app).await[SEED_DOC]["metadata"], loaded["metadata"]);
}

#[tokio::test]
async fn workspaces_of_one_fixture_never_see_each_others_changes() {
    let app = app().await;
    let mut spaces = Vec::new();
    for _ in 0..2 {
        let r = app
            .send("POST", "/_mock/workspaces", None, Some("{}"))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let data = r.json()["data"].clone();
        spaces.push((
            data["id"].as_str().unwrap().to_string(),
            data["api_key"].as_str().unwrap().to_string(),
        ));
    }
    // Both read the document they share before either changes it.
    for (ws, key) in &spaces {
        assert_eq!(
            served_in(&app, ws, key, SEED_DOC).await["metadata"],
            served_in(&app, "default", &app.key, SEED_DOC).await["metadata"]
        );
    }
    let (ws, key) = &spaces[0];
    let r = app
        .send(
            "PATCH",
            &format!("/_mock/workspaces/{ws}/documents/{SEED_DOC}"),
            None,
            Some(r#"{"metadata":{"only":"here"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let changed = served_in(&app, ws, key, SEED_DOC).await;
    assert_eq!(changed["metadata"], json!({"only": "here"}));
    let (other, other_key) = &spaces[1];
    let untouched = served_in(&app, other, other_key, SEED_DOC).await;
    assert_ne!(untouched["metadata"], changed["metadata"]);
    let default = served(&app, SEED_DOC).await;
    assert_eq!(default["metadata"], untouched["metadata"]);
}

#[tokio::test]
async fn a_page_asked_again_follows_the_page_size_setting() {
    let app = app().await;
    let url = "/v1/delivery/outbox?limit=100";
    let count = |r: &Value| r["data"].as_array().map(Vec::len);
    let full = count(&app.get(url).await.json()).unwrap();
    assert!(
        full > 1,
        "the default world has more than one eligible document"
    );
    let set = |max: usize| {
        let body = json!({ "outbox_max_page": max }).to_string();
        let app = &app;
        async move {
            let r = app.control("PATCH", "/settings", Some(&body)).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    set(1).await;
    let page = app.get(url).await.json();
    assert_eq!(count(&page), Some(1));
    assert!(page["meta"]["next_cursor"].is_string());
    set(100).await;
    let page = app.get(url).await.json();
    assert_eq!(count(&page), Some(full));
    assert!(page["meta"]["next_cursor"].is_null());
}
