//! `/_mock/workspaces/{ws}/keys[/{key}]`: API keys and their scopes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{bad, body, conflict, not_found, ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::lock;
use crate::world::model::{ApiKey, SCOPES};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/keys", get(list).post(add))
        .route("/workspaces/{ws}/keys/{key}", patch(edit))
}

/// `POST …/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// Generated (`sk_test_…`) if absent.
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// `*` (the default) or scope names.
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// `PATCH …/keys/{key}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// A key as the control API shows it.
#[derive(Serialize)]
pub(super) struct KeyView<'a> {
    key: &'a str,
    name: &'a str,
    scopes: &'a [String],
    revoked: bool,
}

impl<'a> KeyView<'a> {
    pub(super) fn of(key: &'a ApiKey) -> KeyView<'a> {
        KeyView {
            key: &key.key,
            name: &key.name,
            scopes: &key.scopes,
            revoked: key.revoked,
        }
    }
}

/// Keys as the control API shows them.
pub(super) fn keys_json(keys: &[ApiKey]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| serde_json::to_value(KeyView::of(k)).unwrap_or(Value::Null))
            .collect(),
    )
}

async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = keys_json(&lock(&ws).keys);
    Ok(ok(StatusCode::OK, json))
}

fn checked_scopes(scopes: Vec<String>) -> Result<Vec<String>> {
    if let Some(s) = scopes
        .iter()
        .find(|s| *s != "*" && !SCOPES.contains(&s.as_str()))
    {
        return Err(bad(format!(
            "unknown scope '{s}' (expected * or one of {})",
            SCOPES.join(", ")
        )));
    }
    Ok(scopes)
}

async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let req: AddBody = body(&raw, "API key")?;
    let scopes = checked_scopes(req.scopes.unwrap_or_else(|| vec!["*".into()]))?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let key = match req.key {
        Some(k) if !state.registry.key_available(&k, &id) => {
            return Err(conflict("that key is already in use"))
        }
        Some(k) => k,
        None => format!("sk_test_{}", w.ids.token(32)),
    };
    let record = ApiKey {
        key,
        name: req.name.unwrap_or_default(),
        scopes,
        revoked: false,
    };
    w.keys.push(record.clone());
    state.registry.reindex_keys(&id, &w.keys);
    Ok(ok(StatusCode::CREATED, keys_json(&[record])[0].clone()))
}

async fn edit(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let req: EditBody = body(&raw, "API key edit")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let scopes = req.scopes.map(checked_scopes).transpose()?;
    let record = w
        .keys
        .iter_mut()
        .find(|k| k.key == key)
        .ok_or_else(|| not_found("API key", &key))?;
    if let Some(revoked) = req.revoked {
        record.revoked = revoked;
    }
    if let Some(scopes) = scopes {
        record.scopes = scopes;
    }
    let json = keys_json(std::slice::from_ref(record))[0].clone();
    Ok(ok(StatusCode::OK, json))
}
