//! `POST /v1/dynamics/session`: a short-lived Dataverse token.

use axum::http::StatusCode;
use serde_json::json;

use super::body::{self, Need};
use super::error::{NumoraError, NumoraResult};
use super::handler::Answer;
use crate::call::Call;
use crate::world::model::ActiveStatus;
use crate::world::time::format_millis;
use crate::world::workspace::{Session, Workspace};

/// Tokens name their workspace, so any listener can route them without a
/// shared index: `dv.<workspace id>.<random>`.
pub(super) fn mint_token(ws: &mut Workspace) -> String {
    format!("dv.{}.{}", ws.id, ws.ids.token(40))
}

#[derive(serde::Deserialize)]
struct SessionBody {
    connection_id: Option<String>,
}

/// `POST /v1/dynamics/session`
pub(super) fn create(ws: &mut Workspace, call: &Call) -> NumoraResult<Answer> {
    let wanted = body::parse::<SessionBody>(call, Need::Optional)?.connection_id;
    let connection = match &wanted {
        Some(id) => {
            let c = ws
                .connections
                .iter()
                .find(|c| &c.id == id)
                .ok_or_else(|| NumoraError::not_found("connection", id))?;
            if c.status != ActiveStatus::Active {
                return Err(NumoraError::Conflict(format!(
                    "connection '{id}' is not active"
                )));
            }
            c
        }
        None => ws
            .connections
            .iter()
            .find(|c| c.status == ActiveStatus::Active && c.provider == "dynamics365")
            .ok_or_else(|| {
                NumoraError::Conflict(
                    "no active Dynamics 365 connection is configured in this workspace".into(),
                )
            })?,
    }
    .clone();
    let token = mint_token(ws);
    let expires_at = ws.now() + ws.settings.session_ttl;
    ws.sessions.insert(
        token.clone(),
        Session {
            connection_id: connection.id.clone(),
            org: connection.org.clone(),
            expires_at,
        },
    );
    let origin = &call.origin;
    Ok((
        StatusCode::OK,
        json!({
            "data": {
                "provider": connection.provider,
                "token_type": "Bearer",
                "access_token": token,
                "expires_at": format_millis(expires_at),
                "organization_url": origin,
                "organization_origin": origin,
                "api_base_url": format!("{origin}/api/data/v9.2"),
                "connection": {
                    "id": connection.id,
                    "status": connection.status,
                    "organization_url": origin,
                    "tenant_id": connection.tenant_id,
                    "client_id": connection.client_id,
                }
            }
        }),
    ))
}
