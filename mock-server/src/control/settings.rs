//! `/_mock/workspaces/{ws}/settings`, `…/connections/{id}` and
//! `…/workflows/{id}`: how the workspace is configured.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::patch;
use axum::Router;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::common::{bad, body, not_found, ok, workspace, Result};
use crate::app_state::AppState;
use crate::fixtures::{DeliveryRoute, N8nWebhookFixture};
use crate::world::lock;
use crate::world::model::ActiveStatus;
use crate::world::time::{format_duration, parse_duration};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/settings", patch(settings_edit))
        .route("/workspaces/{ws}/connections/{id}", patch(connection_edit))
        .route("/workspaces/{ws}/workflows/{id}", patch(workflow_edit))
}

/// `PATCH …/settings`: durations are strings such as `5s`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    #[serde(default)]
    route: Option<DeliveryRoute>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "present")]
    n8n_webhook: Option<Option<N8nWebhookFixture>>,
    #[serde(default)]
    rate_limit: Option<u32>,
    #[serde(default)]
    session_ttl: Option<String>,
    #[serde(default)]
    processing_delay: Option<String>,
    #[serde(default)]
    run_delay: Option<String>,
    /// Caps every outbox page; `null` lifts the cap.
    #[serde(default, deserialize_with = "present")]
    outbox_max_page: Option<Option<usize>>,
    #[serde(default)]
    journal_max_entries: Option<usize>,
    #[serde(default)]
    journal_max_bytes: Option<usize>,
}

/// `PATCH …/connections/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionBody {
    #[serde(default)]
    status: Option<ActiveStatus>,
    #[serde(default)]
    owner_team: Option<String>,
}

/// `PATCH …/workflows/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowBody {
    #[serde(default)]
    status: Option<ActiveStatus>,
}

/// A key that is present (even as `null`) is `Some`, so `null` can clear.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn duration(name: &str, text: Option<String>) -> Result<Option<i64>> {
    text.map(|t| parse_duration(&t).ok_or_else(|| bad(format!("{name}: '{t}' is not a duration"))))
        .transpose()
}

async fn settings_edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let req: SettingsBody = body(&raw, "settings")?;
    let session_ttl = duration("session_ttl", req.session_ttl)?;
    let processing_delay = duration("processing_delay", req.processing_delay)?;
    let run_delay = duration("run_delay", req.run_delay)?;
    if req.outbox_max_page == Some(Some(0)) {
        return Err(bad(
            "outbox_max_page must be a positive integer (or null for no cap)",
        ));
    }
    for (name, value) in [
        ("journal_max_entries", req.journal_max_entries),
        ("journal_max_bytes", req.journal_max_bytes),
    ] {
        if value == Some(0) {
            return Err(bad(format!("{name} must be a positive integer")));
        }
    }
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if let Some(route) = req.route {
        w.settings.route = route;
    }
    if let Some(hook) = req.n8n_webhook {
        w.settings.n8n_webhook = hook;
    }
    if let Some(limit) = req.rate_limit {
        w.settings.rate_limit = limit;
    }
    if let Some(ms) = session_ttl {
        w.settings.session_ttl = ms;
    }
    if let Some(ms) = processing_delay {
        w.settings.processing_delay = ms;
    }
    if let Some(ms) = run_delay {
        w.settings.run_delay = ms;
    }
    if let Some(cap) = req.outbox_max_page {
        w.settings.outbox_max_page = cap;
    }
    let entries = req
        .journal_max_entries
        .unwrap_or(w.settings.journal_max_entries);
    let bytes = req
        .journal_max_bytes
        .unwrap_or(w.settings.journal_max_bytes);
    if (entries, bytes) != (w.settings.journal_max_entries, w.settings.journal_max_bytes) {
        w.settings.journal_max_entries = entries;
        w.settings.journal_max_bytes = bytes;
        w.journal.set_limits(entries, bytes);
    }
    Ok(ok(
        StatusCode::OK,
        json!({
            "route": w.settings.route,
            "rate_limit": w.settings.rate_limit,
            "session_ttl": format_duration(w.settings.session_ttl),
            "processing_delay": format_duration(w.settings.processing_delay),
            "run_delay": format_duration(w.settings.run_delay),
            "outbox_max_page": w.settings.outbox_max_page,
            "journal_max_entries": w.settings.journal_max_entries,
            "journal_max_bytes": w.settings.journal_max_bytes,
        }),
    ))
}

async fn connection_edit(
    State(state): State<AppState>,
    Path((id, conn)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let req: ConnectionBody = body(&raw, "connection edit")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let c = w
        .connections
        .iter_mut()
        .find(|c| c.id == conn)
        .ok_or_else(|| not_found("connection", &conn))?;
    if let Some(s) = req.status {
        c.status = s;
    }
    if let Some(team) = req.owner_team {
        c.owner_team = team;
    }
    Ok(ok(
        StatusCode::OK,
        json!({"id": c.id, "status": c.status, "owner_team": c.owner_team, "org": c.org}),
    ))
}

async fn workflow_edit(
    State(state): State<AppState>,
    Path((id, wf)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let req: WorkflowBody = body(&raw, "workflow edit")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    let now = w.now();
    let workflow = w
        .workflows
        .iter_mut()
        .find(|x| x.id == wf)
        .ok_or_else(|| not_found("workflow", &wf))?;
    if let Some(s) = req.status {
        workflow.status = s;
        workflow.updated_at = now;
    }
    Ok(ok(StatusCode::OK, workflow.to_json()))
}
