//! Starting the fake: the builder, the listener, and the handle that stops it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::{AppState, Front};
use crate::fixtures::{Fixture, FixtureError};
use crate::world::clock::ClockMode;
use crate::world::faults::FaultSpec;
use crate::world::load::ReadFixture;
use crate::world::time::Millis;
use crate::world::{lock, FixtureSource, Registry, WorldConfig};

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read fixtures {path}: {source}")]
    ReadFixtures {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid fixtures: {0}")]
    Fixtures(#[from] FixtureError),
    #[error("cannot listen on {addr}: {source} (pick another --port, or --port 0 for a free one)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

/// Configures and starts a fake. `MockServer::builder().seed(7).start().await`.
#[derive(Debug, Clone, Default)]
pub struct MockServerBuilder {
    seed: Option<u64>,
    fixtures_path: Option<PathBuf>,
    fixtures_yaml: Option<String>,
    addr: Option<SocketAddr>,
    clock: Option<ClockMode>,
    tick: Option<Millis>,
    control: Option<bool>,
    admin_token: Option<String>,
    faults: Vec<FaultSpec>,
    state_file: Option<PathBuf>,
    read_timeout: Option<std::time::Duration>,
    wall: Option<crate::world::wall::Wall>,
}

/// The entry point of the library.
#[derive(Debug)]
pub struct MockServer;

impl MockServer {
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }
}

/// Files at least this long are read on two threads.
const SHARED_FILE_READ: u64 = 8 << 20;

/// Reads a fixture file. A large one is read as two halves on two threads:
/// copying a hundred megabytes out of the page cache takes a tenth of a
/// second on one core.
fn read_file(path: &std::path::Path) -> std::io::Result<String> {
    #[cfg(unix)]
    if let Some(text) = read_halves(path)? {
        return Ok(text);
    }
    std::fs::read_to_string(path)
}

/// The file's text read as two halves on two threads, or `None` if it is
/// short, not a plain file, or changes as it is read (then it is read the
/// ordinary way).
#[cfg(unix)]
fn read_halves(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let len = meta.len();
    let size = match usize::try_from(len) {
        Ok(size) if meta.is_file() && len >= SHARED_FILE_READ && cores > 1 => size,
        _ => return Ok(None),
    };
    let mut bytes = vec![0u8; size];
    let (first, second) = bytes.split_at_mut(size / 2);
    let halves = std::thread::scope(|scope| {
        let second = scope.spawn(|| file.read_exact_at(second, len / 2));
        let first = file.read_exact_at(first, 0);
        let second = second
            .join()
            .unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into()));
        first.and(second)
    });
    // Shorter than it was, or longer (a byte past the end): read it again.
    if halves.is_err() || file.read_at(&mut [0u8; 1], len)? != 0 {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

impl MockServerBuilder {
    /// Replaces the wall clock behind the journal's `wall_ms` (tests move a
    /// [`crate::world::wall::ManualWall`] instead of sleeping).
    pub fn wall_clock(mut self, source: Arc<dyn crate::world::wall::WallSource>) -> Self {
        self.wall = Some(crate::world::wall::Wall::new(source));
        self
    }

    /// Seeds every id the default workspace generates.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Loads the world from a YAML fixture file instead of the default world.
    pub fn fixtures(mut self, path: impl Into<PathBuf>) -> Self {
        self.fixtures_path = Some(path.into());
        self
    }

    /// Loads the world from YAML text.
    pub fn fixtures_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.fixtures_yaml = Some(yaml.into());
        self
    }

    /// Listens on this address (default `127.0.0.1:0`, a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// `step` (default), `frozen` or `real`.
    pub fn clock(mut self, mode: ClockMode) -> Self {
        self.clock = Some(mode);
        self
    }

    /// How far `step` mode moves per request, in milliseconds.
    pub fn tick_millis(mut self, tick: Millis) -> Self {
        self.tick = Some(tick);
        self
    }

    /// Serve the control API under `/_mock` (default true).
    pub fn control(mut self, enabled: bool) -> Self {
        self.control = Some(enabled);
        self
    }

    /// Require `Authorization: Bearer <token>` on the control API.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Adds a fault rule to the default workspace.
    pub fn fault(mut self, spec: FaultSpec) -> Self {
        self.faults.push(spec);
        self
    }

    /// Restores every workspace from this state file at start, if it exists
    /// (written by [`ServerHandle::save_state`]).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// How long a client may take to send a request's headers, and then its
    /// body, before the connection is closed (default 10 s).
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Builds the world without listening (for `router()`-level tests).
    pub fn build_state(&self) -> Result<AppState, StartError> {
        let faults = self
            .faults
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let (yaml, path) = (self.fixtures_yaml.clone(), self.fixtures_path.clone());
        let read_text = |path: &PathBuf| {
            read_file(path).map_err(|source| StartError::ReadFixtures {
                path: path.display().to_string(),
                source,
            })
        };
        // The first read of a file may build the documents as it reads them
        // (a large JSON file: on two threads).
        let first_read = match (&yaml, &path) {
            (None, Some(path)) => {
                let text = read_text(path)?;
                let mut first = ReadFixture::read(&path.display().to_string(), &text)?;
                first.fixture.faults.extend(faults.iter().cloned());
                Some(first)
            }
            _ => None,
        };
        // Reads the fixture from its source; the world reads it again only to
        // build a workspace of another seed, so the parsed copy is not kept.
        let read = move || -> Result<Fixture, StartError> {
            let mut fixture = match (&yaml, &path) {
                (Some(yaml), _) => Fixture::from_yaml("fixtures", yaml)?,
                (None, Some(path)) => {
                    Fixture::from_yaml(&path.display().to_string(), &read_text(path)?)?
                }
                (None, None) => Fixture::default_world(),
            };
            fixture.faults.extend(faults.iter().cloned());
            Ok(fixture)
        };
        let first = match first_read {
            Some(first) => first,
            None => ReadFixture::from(read()?),
        };
        let fixture = &first.fixture;
        let clock = match (self.clock, self.tick) {
            (None, None) => None,
            (mode, tick) => Some((mode.or(fixture.clock.mode).unwrap_or_default(), tick)),
        };
        let source = FixtureSource(Arc::new(move || {
            read().map_err(|e| match e {
                StartError::Fixtures(e) => e,
                other => FixtureError::at("fixtures", other.to_string()),
            })
        }));
        let registry = Registry::from_read(
            WorldConfig {
                seed: self.seed,
                source,
                clock,
                wall: self.wall.clone().unwrap_or_default(),
            },
            first,
        )?;
        if let Some(path) = self.state_file.as_ref().filter(|p| p.exists()) {
            let text =
                std::fs::read_to_string(path).map_err(|source| StartError::ReadFixtures {
                    path: path.display().to_string(),
                    source,
                })?;
            let snapshot: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| StartError::Config(format!("state file {}: {e}", path.display())))?;
            registry.restore(&snapshot)?;
        }
        Ok(AppState {
            registry: Arc::new(registry),
            control: self.control.unwrap_or(true),
            admin_token: self.admin_token.clone(),
            read_timeout: self.read_timeout.unwrap_or(READ_TIMEOUT),
        })
    }

    /// Binds, starts serving in the background, and returns the handle.
    pub async fn start(self) -> Result<ServerHandle, StartError> {
        let state = self.build_state()?;
        let addr = self
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        if state.control && !addr.ip().is_loopback() && state.admin_token.is_none() {
            return Err(StartError::Config(format!(
                "refusing to serve the control API on non-loopback address {addr} without an admin token (use --admin-token or --no-control)"
            )));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let webhooks = crate::webhooks::start(&state.registry, crate::driver::run_due);
        let ticker = tokio::spawn(real_clock_ticker(state.registry.clone()));
        let app = Front::new(state.clone());
        let task = tokio::spawn(serve(listener, app, stopped, state.read_timeout));
        Ok(ServerHandle {
            addr: local,
            state,
            stop: Some(stop),
            task: Some(task),
            webhooks: Some(webhooks),
            ticker: Some(ticker),
        })
    }
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The background webhook sender.
    webhooks: Option<tokio::task::JoinHandle<()>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// `http://127.0.0.1:PORT`: the Numora base URL and the Dataverse org URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first usable API key of the default workspace.
    pub fn api_key(&self) -> String {
        self.state
            .registry
            .workspace("default")
            .map(|ws| {
                lock(&ws)
                    .keys
                    .iter()
                    .find(|k| !k.revoked)
                    .map(|k| k.key.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Stops the server and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(webhooks) = self.webhooks.take() {
            webhooks.abort();
        }
    }

    /// Writes every workspace to `path` (atomically: a temporary file, then a rename).
    pub fn save_state(&self, path: &std::path::Path) -> std::io::Result<()> {
        let snapshot = self.state.registry.snapshot();
        let text = serde_json::to_vec_pretty(&snapshot).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// What a harness needs to reach this server, as `--ready-file` writes it:
    /// `{"url", "api_key", "organization_url", "control_url", "pid"}`
    /// (`control_url` is null when the control API is off).
    pub fn ready_info(&self) -> serde_json::Value {
        let url = self.url();
        serde_json::json!({
            "url": url,
            "api_key": self.api_key(),
            "organization_url": url,
            "control_url": self.state.control.then(|| format!("{url}/_mock")),
            "pid": std::process::id(),
        })
    }

    /// Writes [`ServerHandle::ready_info`] to `path` atomically: a temporary
    /// file in the same directory, then a rename, so a harness polling for
    /// the file never reads half of it. The listener is already accepting.
    pub fn write_ready_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let name = path.file_name().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the ready file path must end with a file name",
            )
        })?;
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let mut text = serde_json::to_vec(&self.ready_info()).map_err(std::io::Error::other)?;
        text.push(b'\n');
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// Waits until the server stops (it runs until stopped or dropped).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The world this server serves (for embedding and state files).
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(webhooks) = self.webhooks.take() {
            webhooks.abort();
        }
    }
}

/// In `real` clock mode time passes without requests, so due work (runs,
/// processing, webhook retries) is run on a short wall-clock interval.
/// Other modes move only with requests or explicit advances.
async fn real_clock_ticker(registry: std::sync::Arc<Registry>) {
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(200));
    loop {
        interval.tick().await;
        // Every workspace, without copying ids or looking each up again: a
        // server holding thousands of copies pays this five times a second.
        for ws in registry.workspaces() {
            let mut w = lock(&ws);
            if w.clock.mode() == crate::world::clock::ClockMode::Real {
                crate::driver::run_due(&mut w);
            }
        }
    }
}

/// The default time a client may take to send a request's headers, and its body.
pub(crate) const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections until `stopped`, serving each with a header-read
/// timeout, so a slow or half-open client is dropped instead of held, and
/// writing the responses to requests that arrived together back to back
/// (`coalesce`).
async fn serve(
    listener: TcpListener,
    app: Front,
    mut stopped: oneshot::Receiver<()>,
    read_timeout: std::time::Duration,
) {
    use crate::coalesce::Coalesced;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(|req: hyper::Request<hyper::body::Incoming>| {
                req.map(axum::body::Body::new)
            });
        tokio::spawn(async move {
            // HTTP/1.1 only, as the real APIs are reached: no HTTP/2 code in
            // the binary (a third of a megabyte that idle servers would map).
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout);
            let service = hyper_util::service::TowerToHyperService::new(service);
            let _ = builder
                .serve_connection(Coalesced::new(TokioIo::new(stream)), service)
                .with_upgrades()
                .await;
        });
    }
}
