//! The control API (`/_mock`): workspaces, clock, documents in any state,
//! faults, journal, Dataverse rows, webhooks, keys, settings, state dump.
//! It never ticks a workspace's clock, so reading state does not change it.
//!
//! One file per resource, each declaring its own routes and typed bodies;
//! `common` holds what they share. This file only assembles the router.
//! Every body refuses unknown keys (see `common::typed`).

mod clock;
pub(crate) mod common;
mod dataverse;
mod documents;
mod faults;
mod guard;
mod journal;
mod keys;
mod settings;
mod state;
mod verdicts;
mod webhooks;
mod workspaces;

use axum::Router;

use crate::app_state::AppState;

pub(crate) use guard::admin_guard;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(workspaces::routes())
        .merge(clock::routes())
        .merge(documents::routes())
        .merge(faults::routes())
        .merge(journal::routes())
        .merge(state::routes())
        .merge(dataverse::routes())
        .merge(webhooks::routes())
        .merge(keys::routes())
        .merge(settings::routes())
        .merge(verdicts::routes())
        .merge(crate::ui::routes())
}
