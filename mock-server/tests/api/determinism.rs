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
