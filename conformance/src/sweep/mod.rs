//! `conformance sweep`: run a client command once per failure case, each in
//! a fresh workspace of the fake, and judge what it left behind.
//!
//! Per case: create a workspace, apply the case (settings, clock,
//! documents, control calls, faults), note the documents the outbox offers,
//! clear the journal, then run the command `--runs` times (between runs the
//! virtual clock advances by `--interval` and a run boundary is marked in
//! the journal). Then judge: the fault fired (else `not applicable`), the
//! verdicts have no `error`, the case's expectations hold, and every
//! document eligible at the start ended in an outcome the case allows
//! ([`judge`]).
//!
//! The command is started with `tokio::process` (no shell); its environment
//! names the workspace (`NUMORA_BASE_URL`, `NUMORA_API_KEY`,
//! `NUMORA_WORKSPACE`, `NUMORA_CONTROL_URL`, `NUMORA_CASE`, `NUMORA_RUN`).

pub(crate) mod case;
mod fake;
pub(crate) mod judge;
mod process;
pub(crate) mod report;
mod result;
mod run;

pub(crate) use result::{CaseResult, CaseStatus, SweepReport};
pub(crate) use run::{run_all, SweepOptions};

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::error::{UsageError, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::target::Target;
use case::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SweepFormat {
    Human,
    Json,
    Junit,
    Md,
}

/// `conformance sweep [OPTIONS] -- CMD [ARGS…]`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SweepArgs {
    /// Base URL of a running fake with the control API [default: the fake,
    /// in-process].
    ///
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// The world of every case: a fixture file (YAML or JSON) [default: the
    /// fake's default world].
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,

    /// A YAML file of cases (`cases: [...]`) that adds to the catalog or
    /// replaces catalog cases by name (format: docs/sweep.md).
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,

    /// Run only these cases (comma-separated or repeated).
    ///
    /// Example: --only clean,dataverse_429_line_item
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    pub only: Vec<String>,

    /// The delivery mode the client uses [default: detected from the
    /// journal]. Cases for the other mode are then not run.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<Mode>,

    /// Runs of the command per case, as a scheduled flow runs again on its
    /// next tick (so recovery is judged).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub runs: u32,

    /// The schedule's interval: between runs the virtual clock advances by
    /// it.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub interval: String,

    /// Longest wall time of one run; the command is killed after it.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub timeout: String,

    /// Cases run at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallel: usize,

    /// Keep each case's workspace (its id is in the report) to inspect.
    #[arg(long)]
    pub keep: bool,

    /// Report format: on stdout, or in the --report file when one is
    /// given (stdout then gets the human report). The file's extension
    /// never decides it.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub format: SweepFormat,

    /// Write the --format report to this file.
    ///
    /// Example: --format junit --report target/sweep.xml
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Seed of the embedded fake and of the workspaces.
    #[arg(long, default_value_t = 7, value_name = "SEED")]
    pub seed: u64,

    /// List the cases (name, modes, source) and exit.
    #[arg(long)]
    pub list: bool,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// The client command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

fn read_fixtures(path: &std::path::Path) -> Result<Value, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read --fixtures {}: {e}", path.display())))?;
    serde_yaml_ng::from_str::<Value>(&text).map_err(|e| {
        UsageError(format!(
            "--fixtures {}: not YAML or JSON: {e}",
            path.display()
        ))
    })
}

/// Why `url` cannot serve a sweep, if it cannot: its control API must
/// answer (health, and the workspace routes a case needs).
async fn control_missing(url: &str) -> Result<Option<String>, UsageError> {
    let client = crate::target::http_client();
    let base = url.trim_end_matches('/');
    for (path, needs_ok_body) in [("/_mock/health", true), ("/_mock/workspaces", false)] {
        let resp = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map_err(|e| UsageError(format!("{url} did not answer: {e}")))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Ok(Some(format!("GET {path} answered {status}")));
        }
        if needs_ok_body {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if body["status"] != "ok" && body["data"]["status"] != "ok" {
                return Ok(Some(format!("GET {path} answered 200 without status ok")));
            }
        }
    }
    Ok(None)
}

async fn open_target(args: &SweepArgs) -> Result<Target, UsageError> {
    match &args.target {
        Some(url) => {
            if let Some(why) = control_missing(url).await? {
                return Err(UsageError(format!(
                    "this target has no control API ({why}); the sweep needs it to give each case a fresh workspace, inject its failure and read what the client wrote. Start mock-server and pass its URL, e.g. --target http://127.0.0.1:4010"
                )));
            }
            // The key is never used: the target has control.
            crate::target::remote::connect(url, Some(String::new()), false, false, None)
                .await
                .map_err(UsageError)
        }
        None => {
            #[cfg(feature = "embedded")]
            {
                crate::target::embedded::start(args.seed, None)
                    .await
                    .map_err(UsageError)
            }
            #[cfg(not(feature = "embedded"))]
            {
                Err(UsageError(
                    "this build has no embedded fake; pass --target URL".into(),
                ))
            }
        }
    }
}

/// The command's program, found before any case runs: a path must name an
/// executable file, a bare name must be on `PATH`.
fn check_program(program: &str) -> Result<(), UsageError> {
    use std::path::Path;
    let executable = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    let found = if program.contains(std::path::MAIN_SEPARATOR) || program.contains('/') {
        executable(Path::new(program))
    } else {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
        })
    };
    if found {
        Ok(())
    } else {
        Err(UsageError(format!(
            "the client command `{program}` was not found{}: give a program on PATH or a path to an executable after `--`",
            if program.contains('/') { "" } else { " on PATH" }
        )))
    }
}

fn render(r: &SweepReport, format: SweepFormat) -> String {
    match format {
        SweepFormat::Human => report::human(r),
        SweepFormat::Json => report::json(r) + "\n",
        SweepFormat::Junit => report::junit(r),
        SweepFormat::Md => report::markdown(r),
    }
}

/// Run `conformance sweep`; returns the exit code.
pub(crate) fn command(args: &SweepArgs) -> Result<u8, UsageError> {
    let cases = case::load(args.cases.as_deref()).map_err(UsageError)?;
    if args.list {
        for c in &cases {
            let modes = if c.modes.is_empty() {
                "both".to_owned()
            } else {
                c.modes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            println!("{}\t{modes}\t{}", c.name, c.source);
        }
        return Ok(EXIT_OK);
    }
    let cases = case::select(cases, &args.only).map_err(UsageError)?;
    if args.command.is_empty() {
        return Err(UsageError(
            "no client command: give it after `--`, e.g. conformance sweep --target http://127.0.0.1:4010 -- n8n execute --id myFlow".into(),
        ));
    }
    check_program(&args.command[0])?;
    let interval = crate::runner::wait::parse_duration(&args.interval)
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let timeout = crate::runner::wait::parse_duration(&args.timeout)
        .map_err(|e| UsageError(format!("--timeout: {e}")))?;
    if args.runs == 0 {
        return Err(UsageError("--runs must be at least 1".into()));
    }
    let fixtures = args.fixtures.as_deref().map(read_fixtures).transpose()?;
    let opts = SweepOptions {
        command: args.command.clone(),
        fixtures,
        mode: args.mode,
        runs: args.runs,
        interval,
        timeout,
        keep: args.keep,
        seed: args.seed,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))?;
    let report = rt.block_on(async {
        let target = match open_target(args).await {
            Ok(t) => t,
            Err(e) => return Err(e),
        };
        Ok(run_all(
            cases,
            Arc::new(target),
            Arc::new(opts),
            args.parallel,
            !args.quiet,
        )
        .await)
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    // With --report the file gets --format and stdout the human text, as
    // `run` does; the file's extension never decides.
    let shown = if args.report.is_some() {
        SweepFormat::Human
    } else {
        args.format
    };
    print!("{}", render(&report, shown));
    if shown != SweepFormat::Human {
        eprintln!("{}", report.summary_line());
    }
    if let Some(path) = &args.report {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, render(&report, args.format))
            .map_err(|e| UsageError(format!("cannot write report {}: {e}", path.display())))?;
    }
    Ok(if report.success() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
