//! What the scenarios run against, and the HTTP client that talks to it.
//!
//! A [`Target`] is a base URL plus what it can do ([`Capabilities`]). For
//! each scenario it opens a [`Session`]: on a target with a control API, a
//! fresh workspace with its own keys; otherwise the target's URL and the
//! given key. Every request of a scenario goes through
//! [`Session::send`], which refuses writes the run is not allowed to make,
//! so that the no-writes promise does not depend on every scenario being
//! tagged correctly.

#[cfg(feature = "embedded")]
pub(crate) mod embedded;
pub(crate) mod remote;

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::runner::result::{RequestRecord, ResponseRecord};
use crate::scenario::model::Method;
use crate::scenario::template::Vars;

/// What a target offers, probed once before any scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// The fake's control API answers (`GET /_mock/health`).
    pub control: bool,
    /// Writes may be sent to the API under test.
    pub writes: bool,
    /// Documents may be dispatched (a write that reaches the deployment's
    /// CRM through its workflow): a fake, or --allow-dispatch.
    pub dispatch: bool,
}

/// A target the scenarios run against.
#[derive(Debug)]
pub(crate) struct Target {
    /// What reports call it (`embedded fake`, or the URL).
    pub label: String,
    /// Origin of the target, no trailing slash.
    pub url: String,
    /// The key given on the command line (targets without control).
    pub api_key: Option<String>,
    pub capabilities: Capabilities,
    /// Where the OpenAPI document comes from (URL or file).
    pub openapi_source: String,
    client: reqwest::Client,
    openapi: OnceCell<Result<Arc<Value>, String>>,
    /// Keeps an in-process fake alive for as long as the target.
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// The error of a request that got no HTTP response, or was refused.
#[derive(Debug, Clone)]
pub(crate) struct SendError {
    pub request: RequestRecord,
    pub message: String,
}

impl Target {
    pub(crate) fn new(
        label: String,
        url: String,
        api_key: Option<String>,
        capabilities: Capabilities,
        openapi_source: Option<String>,
        guard: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Target {
        let url = url.trim_end_matches('/').to_owned();
        Target {
            label,
            openapi_source: openapi_source.unwrap_or_else(|| format!("{url}/openapi.json")),
            url,
            api_key,
            capabilities,
            client: http_client(),
            openapi: OnceCell::new(),
            _guard: guard,
        }
    }

    /// The HTTP client every request to this target goes through.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The OpenAPI document, fetched once.
    pub(crate) async fn openapi(&self) -> Result<Arc<Value>, String> {
        self.openapi
            .get_or_init(|| async {
                let src = &self.openapi_source;
                let text = if src.starts_with("http://") || src.starts_with("https://") {
                    let resp = self
                        .client
                        .get(src)
                        .send()
                        .await
                        .map_err(|e| format!("cannot fetch OpenAPI document {src}: {e}"))?;
                    if !resp.status().is_success() {
                        return Err(format!(
                            "cannot fetch OpenAPI document {src}: status {}",
                            resp.status().as_u16()
                        ));
                    }
                    resp.text()
                        .await
                        .map_err(|e| format!("cannot read OpenAPI document {src}: {e}"))?
                } else {
                    std::fs::read_to_string(src)
                        .map_err(|e| format!("cannot read OpenAPI document {src}: {e}"))?
                };
                serde_json::from_str(&text)
                    .map(Arc::new)
                    .map_err(|e| format!("OpenAPI document {src} is not JSON: {e}"))
            })
            .await
            .clone()
    }

    /// Open a session for one scenario: a fresh workspace when the target
    /// has control, else the target itself.
    pub(crate) async fn open(
        &self,
        seed: Option<u64>,
        fixtures: Option<&Value>,
    ) -> Result<Session, String> {
        if !self.capabilities.control {
            let api_key = self
                .api_key
                .clone()
                .ok_or("no API key: pass --api-key or set NUMORA_API_KEY")?;
            return Ok(Session {
                client: self.client.clone(),
                base_url: self.url.clone(),
                control_url: None,
                api_key,
                keys: IndexMap::new(),
                workspace: None,
                writes: self.capabilities.writes,
                dispatch: self.capabilities.dispatch,
            });
        }
        let mut body = serde_json::Map::new();
        if let Some(seed) = seed {
            body.insert("seed".into(), json!(seed));
        }
        if let Some(f) = fixtures {
            body.insert("fixtures".into(), f.clone());
        }
        let url = format!("{}/_mock/workspaces", self.url);
        let resp = self
            .client
            .post(&url)
            .json(&Value::Object(body))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("POST {url}: {e}"))?;
        if status != 201 && status != 200 {
            return Err(format!(
                "cannot create a workspace: POST {url} answered {status}: {text}"
            ));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("POST {url}: body is not JSON ({e}): {text}"))?;
        let data = &v["data"];
        let id = data["id"]
            .as_str()
            .ok_or_else(|| format!("POST {url}: no data.id in {text}"))?
            .to_owned();
        let api_key = data["api_key"]
            .as_str()
            .ok_or_else(|| format!("POST {url}: no data.api_key in {text}"))?
            .to_owned();
        let base_url = data["numora_base_url"]
            .as_str()
            .unwrap_or(&self.url)
            .trim_end_matches('/')
            .to_owned();
        let mut keys = IndexMap::new();
        for k in data["api_keys"].as_array().into_iter().flatten() {
            if let (Some(name), Some(key)) = (k["name"].as_str(), k["key"].as_str()) {
                keys.insert(name.to_owned(), key.to_owned());
            }
        }
        Ok(Session {
            client: self.client.clone(),
            base_url,
            control_url: Some(format!("{}/_mock/workspaces/{id}", self.url)),
            api_key,
            keys,
            workspace: Some(id),
            writes: true,
            dispatch: true,
        })
    }
}

/// Whether a request path dispatches a document or a workflow run (the
/// writes that reach a CRM).
pub(crate) fn is_dispatch(path: &str) -> bool {
    path.split('?')
        .next()
        .unwrap_or("")
        .trim_end_matches('/')
        .ends_with("/dispatch")
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// One scenario's view of the target.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    client: reqwest::Client,
    /// Base URL of the Numora API (`/v1/...` is appended).
    pub base_url: String,
    /// `…/_mock/workspaces/{ws}` when the target has control.
    pub control_url: Option<String>,
    pub api_key: String,
    /// Named keys of the workspace (`{{keys.<name>}}`).
    pub keys: IndexMap<String, String>,
    pub workspace: Option<String>,
    /// Whether writes may be sent to the API under test.
    pub writes: bool,
    /// Whether dispatches may be sent.
    pub dispatch: bool,
}

/// An HTTP request ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Session {
    /// The variables every scenario can use.
    pub(crate) fn builtin_vars(&self) -> Vars {
        let mut v = Vars::new();
        v.insert("api_key".into(), json!(self.api_key));
        v.insert("base_url".into(), json!(self.base_url));
        v.insert("origin".into(), json!(origin_of(&self.base_url)));
        v.insert(
            "workspace_id".into(),
            self.workspace
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        for (name, key) in &self.keys {
            v.insert(format!("keys.{name}"), json!(key));
        }
        v
    }

    /// Send a request to the API under test. Writes are refused when the
    /// run may not write.
    pub(crate) async fn send(&self, out: Outgoing) -> Result<ResponseRecord, SendError> {
        if out.method.is_write() && !self.writes {
            return Err(SendError {
                request: record_of(&out),
                message: format!(
                    "refused to send {}: the target has no control API and --allow-writes was not given",
                    out.method.as_str()
                ),
            });
        }
        if out.method.is_write() && is_dispatch(&out.url) && !self.dispatch {
            return Err(SendError {
                request: record_of(&out),
                message: "refused to dispatch: the target has no control API and --allow-dispatch was not given".into(),
            });
        }
        self.send_raw(out).await
    }

    /// Send a control API request (path relative to the workspace, or
    /// absolute when it starts with `/_mock/`).
    pub(crate) async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ResponseRecord, SendError> {
        let base = self.control_url.as_deref().unwrap_or_default();
        let url = if path.starts_with("/_mock/") {
            let origin = base.split("/_mock/").next().unwrap_or_default();
            format!("{origin}{path}")
        } else {
            format!("{base}/{}", path.trim_start_matches('/'))
        };
        let mut headers = Vec::new();
        let body = body.map(|b| {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            serde_json::to_vec(b).unwrap_or_default()
        });
        let out = Outgoing {
            method,
            url,
            headers,
            body,
        };
        if self.control_url.is_none() {
            return Err(SendError {
                request: record_of(&out),
                message: "the target has no control API".into(),
            });
        }
        self.send_raw(out).await
    }

    async fn send_raw(&self, out: Outgoing) -> Result<ResponseRecord, SendError> {
        let record = record_of(&out);
        let method = reqwest::Method::from_bytes(out.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut req = self.client.request(method, &out.url);
        for (k, v) in &out.headers {
            req = req.header(k, v);
        }
        if let Some(b) = out.body {
            req = req.body(b);
        }
        let resp = req.send().await.map_err(|e| SendError {
            request: record.clone(),
            message: format!("no response: {}", error_chain(&e)),
        })?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = resp.bytes().await.map_err(|e| SendError {
            request: record.clone(),
            message: format!("response body broken off: {}", error_chain(&e)),
        })?;
        Ok(ResponseRecord::new(record, status, headers, bytes.to_vec()))
    }
}

fn record_of(out: &Outgoing) -> RequestRecord {
    RequestRecord {
        method: out.method.as_str().to_owned(),
        url: out.url.clone(),
        headers: out
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("authorization") {
                    redact_auth(v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        body: out
            .body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
    }
}

/// Keep the scheme and a short prefix of a credential; reports are shared.
fn redact_auth(v: &str) -> String {
    match v.split_once(' ') {
        Some((scheme, token)) if token.len() > 8 => {
            format!(
                "{scheme} {}…",
                &token[..token.char_indices().nth(6).map_or(0, |(i, _)| i)]
            )
        }
        _ => v.to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// `scheme://host:port` of a URL.
pub(crate) fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find('/').unwrap_or(rest.len());
            format!("{}{}", &url[..i + 3], &rest[..end])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_drops_the_path() {
        assert_eq!(origin_of("http://127.0.0.1:80/v1/x"), "http://127.0.0.1:80");
        assert_eq!(origin_of("https://a.b"), "https://a.b");
    }

    #[test]
    fn credentials_are_shortened_in_records() {
        assert_eq!(redact_auth("Bearer sk_live_abcdefghijk"), "Bearer sk_liv…");
        assert_eq!(redact_auth("Bearer x"), "Bearer x");
    }

    /// The harness must stay an independent oracle: only the embedded
    /// target may name the fake's crate.
    #[test]
    fn only_embedded_rs_names_the_fake() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        let mut offenders = Vec::new();
        let needle = ["mock_server", "::"].concat();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs")
                    && !p.ends_with("target/embedded.rs")
                    && std::fs::read_to_string(&p).unwrap().contains(&needle)
                {
                    offenders.push(p.display().to_string());
                }
            }
        }
        assert!(offenders.is_empty(), "files naming the fake: {offenders:?}");
    }
}
