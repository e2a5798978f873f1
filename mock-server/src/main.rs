//! `mock-server`: run the fake.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mock_server::{parse_fault, ClockMode, MockServer};

/// A deterministic fake of the Numora Public API and of the Dataverse Web API
/// it writes to, with a control API under /_mock for scripting the world.
///
/// With no arguments it serves the embedded default world on
/// http://127.0.0.1:4010: reviewed invoices in the outbox, a Dynamics 365
/// connection, and a Dataverse org with a team and suppliers. Its first line
/// on stdout is `listening on http://127.0.0.1:PORT`; wait for it, for
/// `GET /_mock/health` to answer 200, or for the --ready-file to appear.
///
/// Examples:
///   mock-server
///   mock-server --port 0 --seed 7
///   mock-server --port 0 --ready-file /tmp/fake.json
///   mock-server --threads 4    (many busy workspaces on a machine with cores to spare)
///   mock-server --fixtures my-world.yaml --clock frozen
///   mock-server --fault 'dataverse:POST:/api/data/v9.2/otcm_inboundinvoices,status=429,times=1'
///   RUST_LOG=mock_server=debug mock-server    (one log line per request)
///
/// Logging: RUST_LOG (tracing env-filter syntax) selects what goes to stderr;
/// the default shows warnings only, `info` adds workspace lifecycle, `debug`
/// one line per request.
#[derive(Debug, Parser)]
#[command(name = "mock-server", version, verbatim_doc_comment)]
struct Cli {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4010)]
    port: u16,

    /// Address to bind. The control API refuses a non-loopback address unless --admin-token is given.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,

    /// Seed for every generated id (same seed + fixtures + requests = same bytes).
    /// [default: the fixture's `seed`, else 1]
    #[arg(long)]
    seed: Option<u64>,

    /// A YAML fixture file describing the world. [default: the embedded default world]
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,

    /// How virtual time moves: `step` (each request moves it by --tick), `frozen`
    /// (only POST /_mock/workspaces/{ws}/clock/advance moves it) or `real` (wall clock).
    /// [default: the fixture's `clock.mode`, else step]
    #[arg(long, value_name = "MODE")]
    clock: Option<ClockMode>,

    /// How far `step` mode moves per request, e.g. 1s, 250ms.
    /// [default: the fixture's `clock.tick`, else 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_tick)]
    tick: Option<i64>,

    /// Turn the control API (/_mock) off, to imitate a real deployment.
    #[arg(long)]
    no_control: bool,

    /// Require `Authorization: Bearer TOKEN` on the control API.
    #[arg(long, value_name = "TOKEN", env = "NUMORA_MOCK_ADMIN_TOKEN")]
    admin_token: Option<String>,

    /// A fault rule for the default workspace (repeatable), in the compact syntax
    /// `api[:METHOD][:path-glob],key=value,…`, e.g.
    /// `numora:POST:/v1/documents/*/dispatch,status=409,times=1` or
    /// `dataverse:POST:/api/data/v9.2/otcm_inboundinvoices,status=429,retry_after=5`.
    /// Keys: status code message retry_after times after entity_set document_id
    /// header event latency real drop malformed duplicate sign_with backdate
    /// expire_session.
    /// [default: none]
    #[arg(long, value_name = "RULE", value_parser = parse_fault_arg, verbatim_doc_comment)]
    fault: Vec<mock_server::FaultSpec>,

    /// How long a client may take to send a request's headers, and then its
    /// body, before the connection is closed (e.g. 10s). [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_tick)]
    read_timeout: Option<i64>,

    /// Keep the world across restarts: every workspace is saved to PATH on
    /// SIGTERM/SIGINT and restored from it at start when it exists. [default: none]
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,

    /// Threads that serve requests. Each workspace's state sits behind one
    /// lock, so a single thread serves the most requests per CPU second (no
    /// hand-offs between threads) and keeps the order of events plain; more
    /// threads help only when many workspaces are busy at once on a machine
    /// with cores to spare.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,

    /// Once the server accepts connections, write
    /// `{"url", "api_key", "organization_url", "control_url", "pid"}` as JSON to
    /// PATH (a temporary file renamed into place, so a reader never sees half of
    /// it), for harnesses that cannot read stdout. Removed again on a clean stop.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
}

fn parse_tick(text: &str) -> Result<i64, String> {
    mock_server::parse_duration(text)
        .ok_or_else(|| format!("'{text}' is not a duration (e.g. 1s, 250ms)"))
}

fn parse_fault_arg(text: &str) -> Result<mock_server::FaultSpec, String> {
    parse_fault(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(cli.threads))
            .enable_all()
            .build()
    };
    match runtime {
        Ok(runtime) => runtime.block_on(serve(cli)),
        Err(e) => {
            eprintln!("mock-server: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> ExitCode {
    init_logging();
    let mut builder = MockServer::builder()
        .addr(SocketAddr::new(cli.host, cli.port))
        .control(!cli.no_control);
    if let Some(seed) = cli.seed {
        builder = builder.seed(seed);
    }
    if let Some(path) = cli.fixtures {
        builder = builder.fixtures(path);
    }
    if let Some(mode) = cli.clock {
        builder = builder.clock(mode);
    }
    if let Some(tick) = cli.tick {
        builder = builder.tick_millis(tick);
    }
    if let Some(token) = cli.admin_token {
        builder = builder.admin_token(token);
    }
    for fault in cli.fault {
        builder = builder.fault(fault);
    }
    if let Some(path) = &cli.state_file {
        builder = builder.state_file(path);
    }
    if let Some(ms) = cli.read_timeout {
        builder = builder.read_timeout(std::time::Duration::from_millis(ms.max(1) as u64));
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mock-server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &cli.ready_file {
        if let Err(e) = server.write_ready_file(path) {
            eprintln!(
                "mock-server: cannot write the ready file {}: {e} (give --ready-file a path in a writable directory)",
                path.display()
            );
            server.stop().await;
            return ExitCode::from(2);
        }
    }
    let stop = shutdown_signal();
    let url = server.url();
    println!("listening on {url}");
    println!("api key: {}", server.api_key());
    println!("dataverse organization url: {url}");
    println!(
        "control api: {}",
        if cli.no_control {
            "off".to_string()
        } else {
            format!("{url}/_mock")
        }
    );
    stop.await;
    if let Some(path) = &cli.ready_file {
        let _ = std::fs::remove_file(path);
    }
    if let Some(path) = &cli.state_file {
        if let Err(e) = server.save_state(path) {
            eprintln!(
                "mock-server: cannot save the state to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        eprintln!("mock-server: state saved to {}", path.display());
    }
    server.stop().await;
    ExitCode::SUCCESS
}

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default: warnings).
fn init_logging() {
    // Without RUST_LOG the filter is one level: a plain level filter does
    // what `EnvFilter::new("warn")` would, without running (and mapping in)
    // the directive parser at every start.
    if std::env::var_os("RUST_LOG").is_none() {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::level_filters::LevelFilter::WARN)
            .with_writer(std::io::stderr)
            .try_init();
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Installs the SIGTERM/SIGINT handlers at once and returns the wait for
/// either. Called before the listening line is printed, so a signal sent as
/// soon as that line is read is never met by the default action (an unclean
/// exit that leaves the ready file behind).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
