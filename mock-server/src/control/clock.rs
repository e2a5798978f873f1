//! `/_mock/workspaces/{ws}/clock[/advance]`: read, set and move the virtual clock.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{bad, body, ok, workspace, Result};
use crate::app_state::AppState;
use crate::world::clock::ClockMode;
use crate::world::time::{format_duration, format_millis, parse_duration, parse_rfc3339};
use crate::world::workspace::Workspace;
use crate::world::{lock, SharedWorkspace};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/clock", get(read).patch(set))
        .route("/workspaces/{ws}/clock/advance", post(advance))
}

/// `PATCH …/clock`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    /// `real`, `frozen` or `step`.
    #[serde(default)]
    mode: Option<String>,
    /// A duration such as `1s`.
    #[serde(default)]
    tick: Option<String>,
}

/// `POST …/clock/advance`: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn clock_json(ws: &Workspace) -> Value {
    json!({
        "now": format_millis(ws.now()),
        "mode": ws.clock.mode(),
        "tick": format_duration(ws.clock.tick()),
        "pending_jobs": ws.scheduler.len(),
        "next_job_at": ws.scheduler.pending().next().map(|(at, _)| format_millis(at)),
    })
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let ws = workspace(&state, &id)?;
    let json = clock_json(&lock(&ws));
    Ok(ok(StatusCode::OK, json))
}

async fn set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let req: SetBody = body(&raw, "clock setting")?;
    let ws = workspace(&state, &id)?;
    let mut w = lock(&ws);
    if let Some(mode) = req.mode {
        let mode: ClockMode = mode.parse().map_err(bad)?;
        w.clock.set_mode(mode);
    }
    if let Some(text) = req.tick {
        w.clock.set_tick(
            parse_duration(&text)
                .ok_or_else(|| bad(format!("tick: '{text}' is not a duration")))?,
        );
    }
    Ok(ok(StatusCode::OK, clock_json(&w)))
}

async fn advance(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let req: AdvanceBody = body(&raw, "clock advance")?;
    let ws = workspace(&state, &id)?;
    {
        let mut w = lock(&ws);
        match (req.by, req.to) {
            (Some(by), None) => {
                let ms = parse_duration(&by).ok_or_else(|| {
                    bad(format!("by: '{by}' is not a duration (e.g. 5s, 2m, 1h)"))
                })?;
                w.clock.advance(ms);
            }
            (None, Some(to)) => {
                let at = parse_rfc3339(&to)
                    .ok_or_else(|| bad(format!("to: '{to}' is not an RFC 3339 timestamp")))?;
                w.clock.advance_to(at);
            }
            _ => return Err(bad(
                "send exactly one of {\"by\": \"5s\"} or {\"to\": \"2026-03-24T03:00:00.000Z\"}",
            )),
        }
        crate::driver::run_due(&mut w);
    }
    settle_webhooks(&ws).await;
    let json = clock_json(&lock(&ws));
    Ok(ok(StatusCode::OK, json))
}

/// A clock advance is time travel: before it answers, every webhook attempt
/// that falls inside the advanced window is made and its answer recorded
/// (retries included), bounded by the webhook timeout. Ordinary API calls do
/// not wait for receivers.
async fn settle_webhooks(ws: &SharedWorkspace) {
    const POLL: std::time::Duration = std::time::Duration::from_millis(2);
    let budget = {
        let w = lock(ws);
        (w.settings.webhook_timeout.max(0) as u64 + 1_000) / 2
    };
    for _ in 0..budget {
        let in_flight = {
            let mut w = lock(ws);
            crate::driver::run_due(&mut w);
            w.webhooks.in_flight()
        };
        if in_flight == 0 {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
