//! The fake, started in-process when no `--target` is given.
//!
//! This is the only file of the harness that names the fake's crate, and it
//! uses only the fake's public handle: start, URL, key, stop on drop. All
//! checks go over HTTP, exactly as against a real deployment, so the
//! harness stays able to find the fake's bugs.

use super::{Capabilities, Target};

/// Start the fake without its control API, as a stand-in for a real
/// deployment (tests of the harness against such targets).
pub(crate) async fn start_without_control(
    seed: u64,
    fixtures_yaml: Option<String>,
) -> Result<Target, String> {
    let mut builder = mock_server::MockServer::builder().seed(seed).control(false);
    if let Some(yaml) = fixtures_yaml {
        builder = builder.fixtures_yaml(yaml);
    }
    let handle = builder
        .start()
        .await
        .map_err(|e| format!("cannot start the embedded fake: {e}"))?;
    let url = handle.url();
    Ok(Target::new(
        "embedded fake without control".to_owned(),
        url,
        Some(handle.api_key()),
        Capabilities {
            control: false,
            writes: false,
            dispatch: false,
        },
        None,
        Some(Box::new(handle)),
    ))
}

/// Start the fake on an ephemeral loopback port.
pub(crate) async fn start(seed: u64, openapi: Option<String>) -> Result<Target, String> {
    let handle = mock_server::MockServer::builder()
        .seed(seed)
        .start()
        .await
        .map_err(|e| format!("cannot start the embedded fake: {e}"))?;
    let url = handle.url();
    let api_key = handle.api_key();
    Ok(Target::new(
        "embedded fake".to_owned(),
        url,
        Some(api_key),
        Capabilities {
            control: true,
            writes: true,
            dispatch: true,
        },
        openapi,
        Some(Box::new(handle)),
    ))
}
