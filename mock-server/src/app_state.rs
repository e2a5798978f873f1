//! The state every route shares. It lives apart from `app` (the router) so
//! that the control API can name it without importing the router that
//! mounts it: `app` and `control` both depend on this file, not on each other.

use std::sync::Arc;

use crate::world::Registry;

#[derive(Clone, Debug)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub control: bool,
    pub admin_token: Option<String>,
    /// How long a client may take to send a request (headers, then body).
    pub read_timeout: std::time::Duration,
}
