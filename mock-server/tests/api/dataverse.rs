//! Through HTTP: the Dataverse fake reached with a session token, and
//! dispatch writing into it. Items cite reference/dataverse.md.

use crate::helpers::*;
use serde_json::Value;

async fn dv(
    app: &App,
    token: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Res {
    let body = body.map(str::to_string);
    app.dataverse(token, method, path_and_query, body, headers)
        .await
}

/// §7: a missing, unknown or expired token is 401 with WWW-Authenticate.
#[tokio::test]
async fn tokens_are_checked() {
    let app = app().await;
    let r = dv(&app, None, "GET", "WhoAmI", None, &[]).await;
    assert_eq!(r.status, 401);
    let www = r.header("www-authenticate").unwrap();
    assert!(
        www.starts_with("Bearer authorization_uri=https://login.microsoftonline.com/"),
        "{www}"
    );
    assert!(
        www.contains(&format!("resource_id={}/", app.server.url())),
        "{www}"
    );
    let r = dv(&app, Some("dv.default.forged"), "GET", "WhoAmI", None, &[]).await;
    assert_eq!(r.status, 401);
    let t = token(&app).await;
    assert_eq!(
        dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await.status,
        200
    );
    let r = app.control("POST", "/sessions/expire", None).await;
    assert_eq!(r.status, 200);
    let r = dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
}

/// DESIGN §2: tokens expire after the session TTL on the virtual clock.
#[tokio::test]
async fn tokens_expire_on_the_virtual_clock() {
    let app = app().await;
    let t = token(&app).await;
    assert_eq!(
        dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await.status,
        200
    );
    app.advance("15m").await;
    assert_eq!(
        dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await.status,
        401
    );
}

/// A token of one workspace never reaches another workspace's rows.
#[tokio::test]
async fn a_token_is_bound_to_its_workspace() {
    let app = app().await;
    let t = token(&app).await;
    let other = t.replacen("dv.default.", "dv.ws_other.", 1);
    assert_eq!(
        dv(&app, Some(&other), "GET", "WhoAmI", None, &[])
            .await
            .status,
        401
    );
}

/// §1.1, §1.4, §1.5: percent-encoded option names (n8n), quote escaping,
/// absolute links built from the request's own origin, minimal metadata.
#[tokio::test]
async fn queries_work_as_n8n_and_dynamicswebapi_send_them() {
    let app = app().await;
    let t = token(&app).await;
    let r = dv(&app, Some(&t), "GET", "otcm_suppliers?%24select=otcm_name&%24filter=otcm_name%20eq%20'O''Brien%20Office%20Supply'", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json; odata.metadata=minimal"));
    let body = r.json();
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/api/data/v9.2/$metadata#otcm_suppliers(otcm_name)",
            app.server.url()
        )
    );
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["otcm_name"], "O'Brien Office Supply");
    assert!(
        body["value"][0]["otcm_supplierid"].is_string(),
        "primary key always returned"
    );
    assert!(body["value"][0]["@odata.etag"]
        .as_str()
        .unwrap()
        .starts_with("W/\""));
    // Paging: nextLink absolute on our origin, and following it finishes the set.
    let mut url = format!(
        "{}/api/data/v9.2/otcm_suppliers?$select=otcm_name",
        app.server.url()
    );
    let mut names = Vec::new();
    loop {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&t)
            .header("Prefer", "odata.maxpagesize=2")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["preference-applied"], "odata.maxpagesize=2");
        let page: Value = res.json().await.unwrap();
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["otcm_name"].as_str().unwrap().to_string()),
        );
        assert!(names.len() <= 5, "the walk ends: {names:?}");
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&app.server.url()), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(names.len(), 5);
}

/// §1.5/§1.6/§1.7: the documented failures.
#[tokio::test]
async fn bad_queries_fail_as_dataverse_fails() {
    let app = app().await;
    let t = token(&app).await;
    let r = dv(
        &app,
        Some(&t),
        "GET",
        "otcm_suppliers?$filter=otcm_name%20eq%20'O'Brien'",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unterminated literal"),
        "{}",
        r.text
    );
    let r = dv(
        &app,
        Some(&t),
        "GET",
        "otcm_suppliers?$select=Name",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Could not find a property named 'Name'"));
    let r = dv(&app, Some(&t), "GET", "Otcm_suppliers", None, &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Resource not found for the segment"));
    let r = dv(
        &app,
        Some(&t),
        "GET",
        "otcm_suppliers(00000000-0000-0000-0000-000000000001)",
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "0x80040217");
}

/// §3: create 204 + OData-EntityId on our origin; binds checked.
#[tokio::test]
async fn creates_and_binds() {
    let app = app().await;
    let t = token(&app).await;
    let r = dv(
        &app,
        Some(&t),
        "POST",
        "otcm_suppliers",
        Some(r#"{"otcm_name":"Tailspin Toys"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let entity = r.header("odata-entityid").unwrap().to_string();
    assert!(
        entity.starts_with(&format!(
            "{}/api/data/v9.2/otcm_suppliers(",
            app.server.url()
        )),
        "{entity}"
    );
    let r = dv(&app, Some(&t), "POST", "otcm_inboundinvoices", Some(r#"{"otcm_name":"X","otcm_supplierid@odata.bind":"/otcm_suppliers(11d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f)"}"#), &[]).await;
    assert_eq!(r.status, 400, "lower-cased navigation property: {}", r.text);
    assert!(r.text.contains("undeclared property"));
    let r = dv(&app, Some(&t), "POST", "otcm_inboundinvoices", Some(r#"{"otcm_name":"X","otcm_SupplierId@odata.bind":"/otcm_suppliers(00000000-0000-0000-0000-000000000009)"}"#), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = dv(
        &app,
        Some(&t),
        "POST",
        "otcm_suppliers",
        Some(r#"{"otcm_Name":"bad"}"#),
        &[("Prefer", "return=representation")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "0x80048d19");
}

/// §6: service protection limits per token on virtual time.
#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let yaml = format!(
        "{}\n",
        mock_server::fixtures::DEFAULT_WORLD.replace(
            "dataverse:\n  orgs:",
            "dataverse:\n  service_protection: {requests: 2, window: 300s}\n  orgs:"
        )
    );
    let app = app_yaml(&yaml).await;
    let t = token(&app).await;
    assert_eq!(
        dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await.status,
        200
    );
    assert_eq!(
        dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await.status,
        200
    );
    let r = dv(&app, Some(&t), "GET", "WhoAmI", None, &[]).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(r.json()["error"]["code"], "0x80072322");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 2 over time window of 300 seconds"));
}

/// DESIGN §4.6: dispatching each reviewed document of the default world ends
/// with the right rows, or a skipped attempt for the missing supplier; the
/// vendor with an apostrophe is found.
#[tokio::test]
async fn dispatch_writes_the_default_world_into_dataverse() {
    let app = app().await;
    let docs = [
        SEED_DOC,
        "9d0c6f1a-52e4-4b7e-8a31-6f2d0b9c4e17",
        ACME_DOC,
        OBRIEN_DOC,
        FAILED_PUSH_DOC,
    ];
    for d in docs {
        assert_eq!(
            app.post(&format!("/v1/documents/{d}/dispatch"), "{}")
                .await
                .status,
            202
        );
    }
    app.advance("3s").await;
    let invoices = app.rows("otcm_inboundinvoices").await;
    assert_eq!(
        invoices.len(),
        4,
        "one invoice per document with a supplier"
    );
    let lines = app.rows("otcm_inboundinvoicelineitems").await;
    assert_eq!(lines.len(), 3 + 1 + 1 + 1);
    for d in docs {
        let attempts = app.get(&format!("/v1/documents/{d}/delivery")).await.json();
        let latest = &attempts["data"][0];
        assert_eq!(latest["source"], "dispatch");
        if d == ACME_DOC {
            assert_eq!(latest["status"], "skipped");
            assert_eq!(latest["error_code"], "supplier_not_found");
            assert_eq!(app.status_of(d).await, "push_succeeded");
        } else {
            assert_eq!(latest["status"], "succeeded", "{d}: {latest}");
            let id = latest["external_record_id"].as_str().unwrap();
            let row = invoices
                .iter()
                .find(|r| r["otcm_inboundinvoiceid"] == id)
                .expect("the attempt names the invoice row");
            assert_eq!(row["otcm_numoradocumentid"], d);
            assert!(row["_otcm_supplierid_value"].is_string() && row["_ownerid_value"].is_string());
            assert_eq!(app.status_of(d).await, "push_succeeded");
        }
    }
    let obrien = invoices
        .iter()
        .find(|r| r["otcm_numoradocumentid"] == OBRIEN_DOC)
        .unwrap();
    assert_eq!(
        obrien["_otcm_supplierid_value"],
        "33f4a5b6-c7d8-4e9f-a0b1-2c3d4e5f6071"
    );
    // The run logs show one node per Dataverse call.
    let run = app
        .get(&format!("/v1/documents/{SEED_DOC}/delivery"))
        .await
        .json()["data"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = app.get(&format!("/v1/runs/{run}/logs")).await.json();
    let nodes: Vec<&str> = logs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        [
            "team_lookup",
            "supplier_lookup",
            "invoice_create",
            "line_item_create_1",
            "line_item_create_2",
            "line_item_create_3"
        ]
    );
}

/// an injected Dataverse 429 ends push_failed with a crm_429
/// attempt, a failed run and push.failed / run.failed events.
#[tokio::test]
async fn an_injected_dataverse_429_fails_the_push() {
    let app = app().await;
    let rule = r#"{"api":"dataverse","method":"POST","entity_set":"otcm_inboundinvoices","times":1,"respond":{"status":429,"retry_after":7}}"#;
    let added = app.control("POST", "/faults", Some(rule)).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let r = app
        .post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
        .await;
    let run = r.json()["meta"]["run_id"].as_str().unwrap().to_string();
    app.advance("2s").await;
    assert_eq!(app.status_of(SEED_DOC).await, "push_failed");
    let attempt = &app
        .get(&format!("/v1/documents/{SEED_DOC}/delivery"))
        .await
        .json()["data"][0];
    assert_eq!(attempt["status"], "failed");
    assert_eq!(attempt["error_code"], "crm_429");
    let run = app.get(&format!("/v1/runs/{run}")).await.json();
    assert_eq!(run["data"]["status"], "failed");
    assert_eq!(run["data"]["error"]["code"], "crm_429");
    let events = app.control("GET", "/events", None).await.json();
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"push.failed") && kinds.contains(&"run.failed"),
        "{kinds:?}"
    );
    let faults = app.control("GET", "/faults", None).await.json();
    assert_eq!(faults["data"][0]["hits"], 1);
    // The document is back in the outbox; a retry succeeds (the rule is spent).
    assert_eq!(
        app.post(&format!("/v1/documents/{SEED_DOC}/dispatch"), "{}")
            .await
            .status,
        202
    );
    app.advance("2s").await;
    assert_eq!(app.status_of(SEED_DOC).await, "push_succeeded");
}
