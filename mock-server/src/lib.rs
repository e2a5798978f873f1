//! A deterministic, stateful fake of the Numora Public API and of the
//! Microsoft Dataverse Web API it writes to.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mock_server::StartError> {
//! let server = mock_server::MockServer::builder().seed(7).start().await?;
//! let base = server.url();        // http://127.0.0.1:PORT
//! let key = server.api_key();     // the default workspace's key
//! # let _ = (base, key);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `server` — the builder and the handle (stops on drop); `coalesce` makes
//!   each connection wait one turn before it writes, so responses to requests
//!   that arrived together leave together.
//! - `app` — axum routes; they only convert requests to [`call::Call`]s.
//! - `world` — the registry of workspaces; each workspace (one lock) holds its
//!   clock, seeded ids, scheduler, documents, runs, fault rules, journal and
//!   Dataverse store.
//! - `numora` — the `/v1` pipeline and handlers, and the internal workflow.
//! - `dataverse` — the Web API engine (OData queries, writes, metadata) over
//!   the tables held in `world::tables`.
//! - `control` — the `/_mock` API, one file per resource.
//! - `ui` — the inspector page at `/_mock/ui`, embedded assets.
//! - `app_state` — the state every route shares (apart from `app`, so that
//!   `control` need not import the router that mounts it).
//! - `strict` — the one wording of an unknown-key refusal.
//! - `webhooks` — endpoints, signed deliveries and retries.
//! - `verdicts` — judges a client from the journal and the state (read only).
//! - `fixtures` — the YAML fixture format and the embedded default world.

mod app;
mod app_state;
mod call;
mod coalesce;
mod control;
mod dataverse;
mod driver;
mod fault_pipeline;
pub mod fixtures;
mod numora;
mod openapi;
mod server;
mod strict;
mod ui;
mod verdicts;
mod webhooks;
mod world;

pub use server::{MockServer, MockServerBuilder, ServerHandle, StartError};
pub use world::clock::ClockMode;
pub use world::faults::{parse_compact as parse_fault, FaultSpec};
pub use world::time::parse_duration;
pub use world::wall::{ManualWall, SystemWall, WallSource};
