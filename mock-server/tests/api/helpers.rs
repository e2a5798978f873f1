//! Test helpers: a real server on a free port and a small client.

use mock_server::{MockServer, ServerHandle};
use serde_json::Value;

pub(crate) const SEED_DOC: &str = "4be38121-3791-4856-80d5-c57dbec2cf78";
pub(crate) const ACME_DOC: &str = "1f7a3c92-8e4d-4b61-9c05-d2e8a7b6f310";
pub(crate) const OBRIEN_DOC: &str = "6b2e9f40-1c7d-4a85-b3e6-0f9a2d7c5e81";
pub(crate) const FAILED_PUSH_DOC: &str = "c3d8e1b5-7a2f-4e90-8b14-5d6f9a0e2c73";
pub(crate) const PENDING_DOC: &str = "5e4a0d27-9b13-4c68-a2f5-7e1c3b8d9f06";
pub(crate) const SUCCEEDED_DOC: &str = "a8f2c6d1-4e3b-4f97-9d20-1b5c7e8a0f42";
pub(crate) const REVIEW_DOC: &str = "doc_01jpwq4q9m7q4q2k8dax1x1q5n";
pub(crate) const NOT_FINAL_DOC: &str = "0e9b7c5a-3f21-4d8e-b6a4-9c2f1e0d8b57";
pub(crate) const RECEIPT_DOC: &str = "doc_01jq0c8e1f4h7j0k3m6n9p2q5r";
pub(crate) const READONLY_KEY: &str = "sk_test_numora_mock_readonly";

pub(crate) struct App {
    pub server: ServerHandle,
    pub client: reqwest::Client,
    pub key: String,
}

pub(crate) struct Res {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Res {
    pub(crate) async fn read(res: reqwest::Response) -> Res {
        Res {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap_or_default(),
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the Numora error envelope and that request_id matches the header.
    pub(crate) fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {}", self.text);
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert_eq!(
            body["error"]["request_id"].as_str(),
            self.header("x-request-id"),
            "request_id must equal the x-request-id header"
        );
        body
    }
}

pub(crate) async fn app() -> App {
    app_with(MockServer::builder().seed(7)).await
}

pub(crate) async fn app_yaml(yaml: &str) -> App {
    app_with(MockServer::builder().seed(7).fixtures_yaml(yaml)).await
}

pub(crate) async fn app_with(builder: mock_server::MockServerBuilder) -> App {
    let server = builder.start().await.expect("server starts");
    let key = server.api_key();
    App {
        server,
        client: reqwest::Client::new(),
        key,
    }
}

impl App {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url(), path)
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Res {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Res::read(req.send().await.expect("request sent")).await
    }

    /// One Dataverse Web API call: `path` under `/api/data/v9.2/`, with a
    /// bearer token when given and extra headers; a body goes as JSON
    /// unless the headers name another content type.
    pub(crate) async fn dataverse(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Res {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, self.url(&format!("/api/data/v9.2/{path}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(b);
        }
        Res::read(req.send().await.expect("request sent")).await
    }

    pub(crate) async fn get(&self, path: &str) -> Res {
        self.send("GET", path, Some(&self.key.clone()), None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &str) -> Res {
        self.send("POST", path, Some(&self.key.clone()), Some(body))
            .await
    }

    pub(crate) async fn put(&self, path: &str, body: &str) -> Res {
        self.send("PUT", path, Some(&self.key.clone()), Some(body))
            .await
    }

    /// The rows of a Dataverse table of the default workspace (control API).
    pub(crate) async fn rows(&self, table: &str) -> Vec<serde_json::Value> {
        let r = self
            .control("GET", &format!("/dataverse/{table}"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["data"].as_array().cloned().unwrap_or_default()
    }

    /// A control API call on the default workspace.
    pub(crate) async fn control(&self, method: &str, path: &str, body: Option<&str>) -> Res {
        self.send(
            method,
            &format!("/_mock/workspaces/default{path}"),
            None,
            body,
        )
        .await
    }

    pub(crate) async fn status_of(&self, doc: &str) -> String {
        self.get(&format!("/v1/documents/{doc}")).await.json()["data"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(crate) async fn advance(&self, by: &str) {
        let r = self
            .control(
                "POST",
                "/clock/advance",
                Some(&format!(r#"{{"by":"{by}"}}"#)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

pub(crate) fn callback(status: &str, execution_id: &str, extra: &str) -> String {
    format!(
        r#"{{"provider":"dynamics365","status":"{status}","execution_id":"{execution_id}","attempted_at":"2026-03-24T03:00:00.000Z"{extra}}}"#
    )
}

/// A Dataverse session token for the app's default key.
pub(crate) async fn token(app: &App) -> String {
    let r = app.post("/v1/dynamics/session", "{}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}
