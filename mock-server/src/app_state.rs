//! What every HTTP handler is given: the world's registry and the server's
//! settings. Kept apart from the router so the route modules (`app`,
//! `control`) can share it without importing each other.

use std::sync::Arc;

use crate::world::Registry;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub control: bool,
    pub admin_token: Option<String>,
    /// How long a client may take to send a request (headers, then body).
    pub read_timeout: std::time::Duration,
}
