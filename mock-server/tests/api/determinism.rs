//! DESIGN §3: the same fixtures, seed and requests give the same bytes.

use crate::helpers::*;

async fn transcript(seed: u64) -> Vec<String> {
    let app = app_with(mock_server::MockServer::builder().seed(seed)).await;
    let steps: Vec<(&str, String, Option<String>)> = vec![
        (
            "GET",
            "/v1/delivery/outbox?provider=dynamics365&limit=2".into(),
            None,
        ),
        (
            "POST",
            "/v1/documents".into(),
            Some(r#"{"schema":"invoice_v2","file_url":"https://example.com/x.pdf"}"#.into()),
        ),
        (
            "POST",
            format!("/v1/documents/{SEED_DOC}/dispatch"),
            Some("{}".into()),
        ),
        ("POST", "/v1/dynamics/session".into(), Some("{}".into())),
        (
            "POST",
            format!("/v1/documents/{OBRIEN_DOC}/delivery"),
            Some(callback("failed", "e-1", "")),
        ),
        ("GET", format!("/v1/documents/{SEED_DOC}"), None),
        ("GET", "/v1/documents/nope".into(), None),
        ("GET", format!("/v1/documents/{SEED_DOC}/delivery"), None),
        (
            "GET",
            "/v1/delivery/outbox?provider=dynamics365&limit=2".into(),
            None,
        ),
    ];
    let mut out = Vec::new();
    for (method, path, body) in steps {
        let r = app
            .send(method, &path, Some(&app.key.clone()), body.as_deref())
            .await;
        let mut headers: Vec<String> = r
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "date")
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
            .collect();
        headers.sort();
        out.push(format!(
            "{}\n{}\n{}",
            r.status,
            headers.join("\n"),
            r.text.replace(&app.server.url(), "ORIGIN")
        ));
    }
    out
}

#[tokio::test]
async fn two_servers_with_the_same_seed_answer_byte_for_byte_alike() {
    let a = transcript(42).await;
    let b = transcript(42).await;
    assert_eq!(a, b);
    let c = transcript(43).await;
    assert_ne!(a, c, "a different seed gives different ids");
}

/// A new workspace's answer keeps its fields in one order (clients and
/// recorded transcripts compare bytes): the workspace, then its keys, each
/// key's fields in order, then the base URLs and the time.
#[tokio::test]
async fn a_new_workspace_answers_its_fields_in_order() {
    let app = app().await;
    let r = app
        .send("POST", "/_mock/workspaces", None, Some("{}"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    let data = &body["data"];
    let id = data["id"].as_str().unwrap();
    let key = data["api_key"].as_str().unwrap();
    let origin = data["numora_base_url"].as_str().unwrap();
    assert!(id.starts_with("ws_"), "{id}");
    assert!(key.starts_with("sk_test_"), "{key}");
    let readonly = data["api_keys"][1]["key"].as_str().unwrap();
    let expected = format!(
        concat!(
            r#"{{"data":{{"id":"{id}","seed":{seed},"api_key":"{key}","api_keys":["#,
            r#"{{"key":"{key}","name":"default (all scopes)","scopes":["*"],"revoked":false}},"#,
            r#"{{"key":"{readonly}","name":"read-only","scopes":["documents:read","delivery:read","workflows:read","destinations:read"],"revoked":false}}],"#,
            r#""numora_base_url":"{origin}","dataverse_organization_url":"{origin}","#,
            r#""now":"{now}"}}}}"#
        ),
        id = id,
        seed = data["seed"].as_u64().unwrap(),
        key = key,
        readonly = readonly,
        origin = origin,
        now = data["now"].as_str().unwrap(),
    );
    assert_eq!(r.text, expected);
    assert_ne!(key, app.key, "the copy gets keys of its own");
    assert_eq!(r.header("content-type"), Some("application/json"));
}
