//! A target given by URL: probe what it offers.

use serde_json::Value;

use super::{http_client, Capabilities, Target};

/// Probe `url`: a `GET /_mock/health` answering 200 with `"status":"ok"`
/// means a fake with a control API (and so fresh workspaces, where writes
/// are harmless). Only a GET is sent.
pub(crate) async fn connect(
    url: &str,
    api_key: Option<String>,
    allow_writes: bool,
    allow_dispatch: bool,
    openapi: Option<String>,
) -> Result<Target, String> {
    let url = url.trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "--target `{url}` must start with http:// or https://"
        ));
    }
    let control = probe_control(&url).await?;
    if !control && api_key.is_none() {
        return Err(format!(
            "{url} has no control API, so it needs an API key: pass --api-key or set NUMORA_API_KEY"
        ));
    }
    Ok(Target::new(
        url.clone(),
        url,
        api_key,
        Capabilities {
            control,
            writes: control || allow_writes,
            dispatch: control || allow_writes && allow_dispatch,
        },
        openapi,
        None,
    ))
}

async fn probe_control(url: &str) -> Result<bool, String> {
    let health = format!("{url}/_mock/health");
    let resp = http_client()
        .get(&health)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    if resp.status().as_u16() != 200 {
        return Ok(false);
    }
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Ok(body["status"] == "ok" || body["data"]["status"] == "ok")
}
