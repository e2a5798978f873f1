//! DESIGN §2: API keys, scopes, 401/403, workspace isolation.

use crate::helpers::*;

#[tokio::test]
async fn missing_and_unknown_keys_are_401_with_the_envelope() {
    let app = app().await;
    let r = app
        .send("GET", &format!("/v1/documents/{SEED_DOC}"), None, None)
        .await;
    r.assert_error(401, "unauthorized");
    let r = app
        .send(
            "GET",
            &format!("/v1/documents/{SEED_DOC}"),
            Some("sk_live_nope"),
            None,
        )
        .await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_revoked_key_is_401() {
    let app = app().await;
    let r = app
        .control(
            "PATCH",
            &format!("/keys/{READONLY_KEY}"),
            Some(r#"{"revoked":true}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send(
            "GET",
            &format!("/v1/documents/{SEED_DOC}"),
            Some(READONLY_KEY),
            None,
        )
        .await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_key_without_the_scope_is_403_and_changes_nothing() {
    let app = app().await;
    let r = app
        .send(
            "GET",
            &format!("/v1/documents/{SEED_DOC}"),
            Some(READONLY_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .send(
            "POST",
            &format!("/v1/documents/{SEED_DOC}/dispatch"),
            Some(READONLY_KEY),
            Some("{}"),
        )
        .await;
    let body = r.assert_error(403, "forbidden");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("delivery:write"));
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
    let r = app
        .send(
            "POST",
            "/v1/dynamics/session",
            Some(READONLY_KEY),
            Some("{}"),
        )
        .await;
    r.assert_error(403, "forbidden");
}

#[tokio::test]
async fn another_workspaces_documents_are_404() {
    let app = app().await;
    let r = app
        .send("POST", "/_mock/workspaces", None, Some(r#"{"seed": 3}"#))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let other_key = created["data"]["api_key"].as_str().unwrap().to_string();
    assert_ne!(other_key, app.key, "a second workspace gets its own key");
    // A document created in the default workspace is invisible to the other one.
    let r = app
        .post(
            "/v1/documents",
            r#"{"schema":"invoice_v2","file_url":"https://example.com/a.pdf"}"#,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["data"]["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            "GET",
            &format!("/v1/documents/{id}"),
            Some(&other_key),
            None,
        )
        .await;
    r.assert_error(404, "not_found");
    // The other workspace has its own copy of the default world, separately mutable.
    let r = app
        .send(
            "POST",
            &format!("/v1/documents/{SEED_DOC}/dispatch"),
            Some(&other_key),
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.status_of(SEED_DOC).await, "reviewed");
}
