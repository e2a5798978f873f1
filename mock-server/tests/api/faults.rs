//! fault rules (each action on each API, after/times, isolation),
//! clock control, and the request journal.

use crate::helpers::*;

async fn add(app: &App, rule: &str) -> serde_json::Value {
    let r = app.control("POST", "/faults", Some(rule)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["data"].clone()
}

#[tokio::test]
async fn numora_respond_uses_the_envelope_and_retry_after() {
    let app = app().await;
    add(&app, r#"{"api":"numora","method":"GET","path":"/v1/delivery/outbox","times":1,"respond":{"status":429,"retry_after":12}}"#).await;
    let r = app.get("/v1/delivery/outbox?provider=dynamics365").await;
    r.assert_error(429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("12"));
    assert_eq!(
        app.get("/v1/delivery/outbox?provider=dynamics365")
            .await
            .status,
        200
    );
    add(
        &app,
        r#"{"api":"numora","path":"/v1/documents/*","times":1,"respond":{"status":503}}"#,
    )
    .await;
    app.get(&format!("/v1/documents/{SEED_DOC}"))
        .await
        .assert_error(503, "provider_error");
}

#[tokio::test]
async fn numora_custom_body_and_document_selector() {
    let app = app().await;
    add(&app, &format!(r#"{{"api":"numora","document_id":"{ACME_DOC}","respond":{{"status":500,"body":{{"oops":true}}}}}}"#)).await;
    let r = app.get(&format!("/v1/documents/{ACME_DOC}")).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json(), serde_json::json!({"oops": true}));
    assert_eq!(
        app.get(&format!("/v1/documents/{SEED_DOC}")).await.status,
        200,
        "other documents are untouched"
    );
}

#[tokio::test]
async fn after_and_times_count_matching_calls() {
    let app = app().await;
    let rule = add(&app, r#"{"api":"numora","method":"GET","path":"/v1/schemas","after":2,"times":2,"respond":{"status":500}}"#).await;
    let statuses: Vec<u16> = futures_statuses(&app, "/v1/schemas", 6).await;
    assert_eq!(statuses, [200, 200, 500, 500, 200, 200]);
    let listed = app.control("GET", "/faults", None).await.json();
    assert_eq!(listed["data"][0]["id"], rule["id"]);
    assert_eq!(listed["data"][0]["hits"], 2);
    assert_eq!(listed["data"][0]["matched"], 6);
    let r = app
        .control(
            "DELETE",
            &format!("/faults/{}", rule["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.control("GET", "/faults", None).await.json()["data"],
        serde_json::json!([])
    );
}

async fn futures_statuses(app: &App, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(app.get(path).await.status);
    }
    out
}

#[tokio::test]
async fn virtual_latency_moves_the_clock_and_malformed_bodies_do_not_parse() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    add(&app, r#"{"api":"numora","method":"GET","path":"/v1/schemas","times":1,"latency":{"virtual":"30s"}}"#).await;
    let before = app.control("GET", "/clock", None).await.json()["data"]["now"].clone();
    assert_eq!(app.get("/v1/schemas").await.status, 200);
    let after = app.control("GET", "/clock", None).await.json()["data"]["now"].clone();
    assert_eq!(before, "2026-03-24T09:00:00.000Z");
    assert_eq!(after, "2026-03-24T09:00:30.000Z");
    add(
        &app,
        r#"{"api":"numora","method":"GET","path":"/v1/workflows","times":1,"malformed_body":true}"#,
    )
    .await;
    let r = app.get("/v1/workflows").await;
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.text).is_err(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn dropped_connections_fail_at_the_client_and_change_nothing() {
    let app = app().await;
    add(&app, r#"{"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","times":1,"drop_connection":true}"#).await;
    let res = app
        .client
        .post(app.url(&format!("/v1/documents/{SEED_DOC}/dispatch")))
        .bearer_auth(&app.key)
        .body("{}")
        .send()
        .await;
    let failed = match res {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "the client must see a broken connection");
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
}

#[tokio::test]
async fn dataverse_faults_apply_to_external_clients_too() {
    let app = app().await;
    let token = app.post("/v1/dynamics/session", "{}").await.json()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    add(
        &app,
        r#"{"api":"dataverse","entity_set":"otcm_suppliers","times":1,"respond":{"status":429}}"#,
    )
    .await;
    let url = app.url("/api/data/v9.2/otcm_suppliers?$top=1");
    let r = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "0x80072322");
    assert_eq!(
        app.client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    add(
        &app,
        r#"{"api":"dataverse","entity_set":"teams","times":1,"malformed_body":true}"#,
    )
    .await;
    let text = app
        .client
        .get(app.url("/api/data/v9.2/teams"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
}

#[tokio::test]
async fn rules_are_isolated_between_workspaces() {
    let app = app().await;
    add(
        &app,
        r#"{"api":"numora","path":"/v1/schemas","respond":{"status":500}}"#,
    )
    .await;
    let created = app
        .send("POST", "/_mock/workspaces", None, Some("{}"))
        .await
        .json();
    let other = created["data"]["api_key"].as_str().unwrap();
    assert_eq!(
        app.send("GET", "/v1/schemas", Some(other), None)
            .await
            .status,
        200
    );
    assert_eq!(app.get("/v1/schemas").await.status, 500);
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_reason() {
    let app = app().await;
    let r = app
        .control(
            "POST",
            "/faults",
            Some(r#"{"api":"numora","path":"/v1/schemas"}"#),
        )
        .await;
    r.assert_error(400, "invalid_payload");
    assert!(r.text.contains("needs an action"));
    let r = app
        .control(
            "POST",
            "/faults",
            Some(r#"{"api":"crm","respond":{"status":500}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn faults_from_the_builder_and_compact_syntax() {
    let spec = mock_server::parse_fault("numora:POST:/v1/documents/*/dispatch,status=409,times=1")
        .unwrap();
    let app = app_with(mock_server::MockServer::builder().seed(7).fault(spec)).await;
    app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await
        .assert_error(409, "conflict");
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn the_journal_records_and_counts_calls() {
    let app = app().await;
    add(&app, r#"{"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","times":1,"respond":{"status":409}}"#).await;
    app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await;
    app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await;
    app.get("/v1/schemas").await;
    let count = app
        .control(
            "GET",
            "/journal/count?method=POST&path=/v1/documents/*/dispatch",
            None,
        )
        .await
        .json();
    assert_eq!(count["data"]["count"], 2);
    let entries = app
        .control("GET", "/journal?method=POST", None)
        .await
        .json();
    let entries = entries["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["route"], "POST /v1/documents/{id}/dispatch");
    assert_eq!(entries[0]["status"], 409);
    assert!(entries[0]["fault"].as_str().unwrap().starts_with("flt_"));
    assert_eq!(entries[1]["status"], 202);
    assert!(entries[1]["fault"].is_null());
    assert_eq!(entries[0]["workspace"], "default");
    // The internal workflow's Dataverse calls are journaled too, marked internal.
    app.advance("2s").await;
    let internal = app
        .control("GET", "/journal/count?api=dataverse&internal=true", None)
        .await
        .json();
    assert_eq!(internal["data"]["count"], 6);
    assert_eq!(app.control("DELETE", "/journal", None).await.status, 204);
    assert_eq!(
        app.control("GET", "/journal/count", None).await.json()["data"]["count"],
        0
    );
}

#[tokio::test]
async fn clock_control() {
    let app = app().await;
    let c = app.control("GET", "/clock", None).await.json();
    assert_eq!(c["data"]["mode"], "step");
    assert_eq!(c["data"]["tick"], "1s");
    let c = app
        .control(
            "PATCH",
            "/clock",
            Some(r#"{"mode":"frozen","tick":"250ms"}"#),
        )
        .await
        .json();
    assert_eq!(c["data"]["mode"], "frozen");
    assert_eq!(c["data"]["tick"], "250ms");
    let c = app
        .control("POST", "/clock/advance", Some(r#"{"by":"1m30s"}"#))
        .await
        .json();
    assert_eq!(c["data"]["now"], "2026-03-24T09:01:30.000Z");
    let r = app
        .control("POST", "/clock/advance", Some(r#"{"by":"soon"}"#))
        .await;
    r.assert_error(400, "invalid_payload");
    let r = app
        .control("PATCH", "/clock", Some(r#"{"mode":"sideways"}"#))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn removing_the_supplier_row_makes_dispatch_skip() {
    let app = app().await;
    let r = app
        .control(
            "DELETE",
            "/dataverse/otcm_suppliers/11d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    app.advance("2s").await;
    let attempt = &app
        .get(&format!("/v1/documents/{SEED_DOC}/delivery"))
        .await
        .json()["data"][0];
    assert_eq!(attempt["status"], "skipped");
    assert_eq!(attempt["error_code"], "supplier_not_found");
    // And a row can be added back, as a Dataverse user would.
    let r = app
        .control(
            "POST",
            "/dataverse/otcm_suppliers",
            Some(r#"{"otcm_name":"Northwind Traders"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn dataverse_latency_and_dropped_connections() {
    let app = app_with(
        mock_server::MockServer::builder()
            .seed(7)
            .clock(mock_server::ClockMode::Frozen),
    )
    .await;
    let token = app.post("/v1/dynamics/session", "{}").await.json()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    add(&app, r#"{"api":"dataverse","path":"/api/data/v9.2/WhoAmI","times":1,"latency":{"virtual":"45s"}}"#).await;
    let before = app.control("GET", "/clock", None).await.json()["data"]["now"].clone();
    let r = app
        .client
        .get(app.url("/api/data/v9.2/WhoAmI"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = app.control("GET", "/clock", None).await.json()["data"]["now"].clone();
    assert_ne!(before, after);
    add(
        &app,
        r#"{"api":"dataverse","path":"/api/data/v9.2/WhoAmI","times":1,"drop_connection":true}"#,
    )
    .await;
    let res = app
        .client
        .get(app.url("/api/data/v9.2/WhoAmI"))
        .bearer_auth(&token)
        .send()
        .await;
    let failed = match res {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "the client must see a broken connection");
}
