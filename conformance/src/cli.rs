//! Raw command-line arguments (clap). Validation happens in `config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A scenario command line: `props` split off (see [`Invocation::split`]).
#[derive(Debug)]
pub(crate) struct Cli {
    pub command: Option<Command>,
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run scenarios against a target (the default command).
    Run(RunArgs),
    /// Parse and validate scenarios without sending any request.
    Check(CheckArgs),
    /// List the scenarios that a run with these filters would select.
    List(ListArgs),
    /// Receive webhook deliveries, verify their signatures and report each.
    Listen(ListenArgs),
    /// Send the same read requests to two targets and report every
    /// difference, field by field (exit 1 on any).
    Diff(DiffArgs),
    /// Print the fake's verdicts on what a client did in a workspace
    /// (exit 1 when a finding at or above --fail-on exists).
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(crate::audit::AuditArgs),
    /// Run a client command once per failure case, each in a fresh
    /// workspace, and judge what it left behind.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(crate::sweep::SweepArgs),
}

const AUDIT_EXAMPLES: &str = "\
Examples:
  conformance audit --target http://127.0.0.1:4010 --api-key $NUMORA_API_KEY
                                               the verdicts on the workspace your client used
  conformance audit --target http://127.0.0.1:4010 --workspace ws_1 --fail-on warning
                                               fail on warnings too
  conformance audit --target URL --format junit --report target/audit.xml
                                               a CI step with a JUnit report (stdout stays human)

Exit status: 0 no finding at or above --fail-on, 1 some, 2 usage error or
verdicts unavailable on the target.";

const SWEEP_EXAMPLES: &str = "\
Examples:
  conformance sweep -- python3 my_client.py    every case against the built-in fake
  conformance sweep --list                     the cases, their modes and sources
  conformance sweep --only clean,numora_429_outbox -- ./sync.sh
                                               two cases only
  conformance sweep --target http://127.0.0.1:4010 --mode dispatch -- n8n execute --id myFlow
                                               a client in dispatch mode, against a running fake
  conformance sweep --format junit --report target/sweep.xml -- ./sync.sh
                                               a CI step with a JUnit report (stdout stays human)

The command runs with NUMORA_BASE_URL, NUMORA_API_KEY, NUMORA_WORKSPACE,
NUMORA_CONTROL_URL, NUMORA_CASE and NUMORA_RUN set for the case's workspace.

Exit status: 0 every case passed or was not applicable, 1 a case failed,
2 usage error.";

const ABOUT: &str = "Check that a Numora API deployment (or the fake) behaves as the docs promise";

const LONG_ABOUT: &str = "\
Check that a Numora API deployment (or the fake) behaves as the docs promise,
by replaying the scenario library built into this binary (`run`, the default)
or by model-based property tests (`props`).

With no --target, the fake is started in-process and every scenario runs in a
fresh workspace of it. With --target, any deployment is checked: scenarios it
cannot support are skipped with the reason, and nothing is written to a target
without a control API unless --allow-writes is given.";

const EXAMPLES: &str = "\
Examples:
  conformance                                  run the built-in library against the built-in fake
  conformance list --tag delivery              which scenarios a run would select
  conformance run --target https://api.example --api-key $KEY --level documented
                                               check a deployment read-only
  conformance run --target URL --allow-writes --format junit --report ci.xml
                                               a CI run with a JUnit report
  conformance run my-scenarios/                run your own scenario files instead
  conformance check my-scenarios/              validate scenario files, send nothing
  conformance props --cases 200                property tests against the fake
  conformance listen --secret whsec_x          verify webhook deliveries as they arrive
  conformance diff --target http://127.0.0.1:4010 --against https://staging.example --shape-only
                                               compare the fake with a deployment, field by field
  conformance sweep -- python3 my_client.py    run a client under every failure case
  conformance audit --target http://127.0.0.1:4010
                                               the fake's verdicts on what a client did

Exit status: 0 all passed, 1 a scenario or property failed (or a gate),
2 usage, configuration or scenario parse error.";

// No doc comment here: clap would print it as the command's description.
#[derive(Debug, Parser)]
#[command(
    name = "conformance",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Invocation {
    #[command(subcommand)]
    pub command: Option<TopCommand>,
    /// `conformance [OPTIONS]` is `conformance run [OPTIONS]`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TopCommand {
    #[command(flatten)]
    Scenarios(Command),
    /// Model-based property tests of delivery callbacks, dispatch, the
    /// outbox and the document status machine.
    Props(PropsArgs),
}

/// The subcommands, for "did you mean".
const COMMANDS: &[&str] = &[
    "run", "check", "list", "listen", "diff", "audit", "sweep", "props", "help",
];

/// `conformance lsit` would otherwise be read as a scenario PATH that does
/// not exist. A first argument that is neither an option, a command nor an
/// existing path is an unknown command.
fn unknown_command(args: &[std::ffi::OsString]) -> Option<String> {
    let first = args.get(1)?.to_str()?;
    if first.starts_with('-') || COMMANDS.contains(&first) || std::path::Path::new(first).exists() {
        return None;
    }
    let mut message = format!("error: unrecognized command `{first}`\n");
    if let Some(s) = crate::scenario::location::did_you_mean(first, COMMANDS) {
        message.push_str(&format!("\n  tip: did you mean `{s}`?\n"));
    } else if first.contains('/') || first.contains('.') {
        message.push_str(&format!("\n  tip: no file or directory `{first}` exists\n"));
    }
    message.push_str("\nCommands: run (the default), check, list, listen, diff, audit, sweep, props.\nFor more information, try '--help'.");
    Some(message)
}

/// Parse the process's arguments and run the command; the exit status.
pub(crate) fn main() -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(message) = unknown_command(&args) {
        eprintln!("{message}");
        return crate::error::EXIT_USAGE;
    }
    match Invocation::parse_from(args).split() {
        Ok(cli) => crate::app::main(cli),
        Err(props) => crate::props::command(&props),
    }
}

impl Invocation {
    /// The scenario command line, or the arguments of `props`.
    pub(crate) fn split(self) -> Result<Cli, PropsArgs> {
        match self.command {
            Some(TopCommand::Props(args)) => Err(args),
            Some(TopCommand::Scenarios(command)) => Ok(Cli {
                command: Some(command),
                run: self.run,
            }),
            None => Ok(Cli {
                command: None,
                run: self.run,
            }),
        }
    }
}

/// Default of `props --max-ops`.
pub(crate) const DEFAULT_MAX_OPS: usize = 24;

#[derive(Debug, Clone, Args)]
pub(crate) struct PropsArgs {
    /// Base URL of the deployment to check [default: the fake, in-process].
    ///
    /// A target with the fake's control API gets a fresh workspace per case.
    /// Any other target needs --allow-writes and --var doc=<id>.
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// API key for a target without a control API.
    #[arg(
        long,
        env = "NUMORA_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Let the properties record delivery attempts on a target without a
    /// control API. They change real data: use a test workspace.
    #[arg(long)]
    pub allow_writes: bool,

    /// Also let them dispatch documents (which reaches the deployment's
    /// CRM through its workflow); needed on a target without a control API.
    #[arg(long, requires = "allow_writes")]
    pub allow_dispatch: bool,

    /// Documents the properties may use on a target without a control API:
    /// `doc=<id>` (repeatable) or `docs=<id>,<id>,…`. Use reviewed and
    /// finalized invoice documents.
    ///
    /// Example: --var doc=4be38121-3791-4856-80d5-c57dbec2cf78
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Cases (generated operation sequences) per property.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub cases: u32,

    /// Seed of the generator (and of the embedded fake); the same seed
    /// replays the same sequences.
    #[arg(long, default_value_t = 7, value_name = "SEED")]
    pub seed: u64,

    /// Most operations in one case.
    #[arg(long, default_value_t = DEFAULT_MAX_OPS, value_name = "N")]
    pub max_ops: usize,

    /// Directory for the scenario files of failing cases.
    #[arg(long, default_value = "props-failures", value_name = "DIR")]
    pub out: PathBuf,

    /// Print no progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people, with diffs.
    Human,
    /// One JSON document: results, timings, seed, version.
    Json,
    /// JUnit XML for CI, with times and properties.
    Junit,
    /// One self-contained HTML page (no network): summary, failures, diffs.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LevelArg {
    /// Only rules the seeds or docs state.
    Documented,
    /// Also rules inferred from the docs.
    Inferred,
    /// Everything, including the fake's own behaviour.
    Fake,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Selection {
    /// Scenario files or directories [default: the library built into
    /// this binary].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Run only scenarios up to this level of evidence.
    ///
    /// `documented` judges a real deployment only on what the seeds and docs
    /// promise; `inferred` adds rules that follow from them; `fake` (the
    /// default) adds the fake's own behaviour.
    /// Example: --level documented
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub level: Option<LevelArg>,

    /// Run only scenarios with this tag (repeatable; any tag matches).
    ///
    /// Example: --tag delivery --tag auth
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Run only scenarios whose id or name contains this text
    /// (repeatable; any matches).
    ///
    /// Example: --filter callback
    #[arg(long = "filter", value_name = "TEXT")]
    pub filters: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,

    /// Base URL of the deployment to check, e.g. https://api.numora.example
    ///
    /// Without it, the fake is started in-process. A target that answers
    /// `GET /_mock/health` is a fake with a control API: each scenario gets
    /// a fresh workspace there. Any other target is checked read-only
    /// unless --allow-writes is given.
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// API key for a target without a control API.
    ///
    /// Example: --api-key sk_live_xxxxxxxx
    #[arg(
        long,
        env = "NUMORA_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Let scenarios send POST/PUT/PATCH/DELETE to a target without a
    /// control API. They create and change only Numora documents the run
    /// made itself (each with a unique external_id); use a test workspace.
    #[arg(long)]
    pub allow_writes: bool,

    /// Also let scenarios dispatch documents on a target without a control
    /// API: a dispatch reaches the deployment's CRM through its workflow.
    #[arg(long, requires = "allow_writes")]
    pub allow_dispatch: bool,

    /// Run CMD with a state name before each scenario that declares
    /// `state: NAME` (on a target without a control API). CMD prints a JSON
    /// object of string values, which become the scenario's variables.
    ///
    /// Example: --state-hook ./make-state.sh
    #[arg(long, value_name = "CMD")]
    pub state_hook: Option<String>,

    /// Exit 1 when fewer than PCT percent of the documented rules were
    /// checked (passed or failed).
    ///
    /// Example: --min-coverage 60
    #[arg(long, value_name = "PCT")]
    pub min_coverage: Option<u8>,

    /// Exit 1 when any scenario was skipped.
    #[arg(long)]
    pub fail_on_skip: bool,

    /// Set a variable used by scenarios (repeatable), e.g. the id of a
    /// reviewed document that a real target holds.
    ///
    /// Example: --var reviewed_document_id=4be38121-3791-4856-80d5-c57dbec2cf78
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Report format: on stdout, or in the --report file when one is
    /// given (stdout then gets the human report). The file's extension
    /// never decides it.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub format: Format,

    /// Write the --format report to this file.
    ///
    /// Example: --format junit --report target/conformance.xml
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// How many scenarios run at once [default: 8 on a fake, 2 otherwise].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Seed of the embedded fake and of scenarios' fresh workspaces.
    #[arg(long, default_value_t = 7, value_name = "SEED")]
    pub seed: u64,

    /// Directory of snapshot files [default: `snapshots/` next to the
    /// scenario library].
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,

    /// Write snapshots that are missing or differ instead of failing.
    #[arg(long)]
    pub update_snapshots: bool,

    /// Where to read the OpenAPI document used by `schema:` checks: a URL
    /// or a file [default: <target>/openapi.json].
    #[arg(long, value_name = "URL|FILE")]
    pub openapi: Option<String>,

    /// Print no progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub selection: Selection,

    /// Also check that every `schema:` names a component of this OpenAPI
    /// document (file or URL).
    #[arg(long, value_name = "URL|FILE")]
    pub openapi: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DiffArgs {
    /// The first target.
    ///
    /// Example: --target http://127.0.0.1:4010
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// The target to compare it with.
    ///
    /// Example: --against https://staging.numora.example
    #[arg(long, value_name = "URL")]
    pub against: String,

    /// API key of --target (targets without a control API).
    #[arg(
        long,
        env = "NUMORA_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// API key of --against [default: --api-key].
    #[arg(long, value_name = "KEY")]
    pub against_api_key: Option<String>,

    /// Compare statuses, headers' presence, fields and types, not values:
    /// for two deployments that hold different data.
    #[arg(long)]
    pub shape_only: bool,

    /// Leave out what this JSON path selects before comparing (repeatable).
    ///
    /// Example: --ignore '$.data.metadata'
    #[arg(long = "ignore", value_name = "JSONPATH")]
    pub ignore: Vec<String>,

    /// Variables for the scenarios' requests, as for `run`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Also run the writing scenarios on both sides (each side with the
    /// ids it creates) and compare their responses step by step.
    #[arg(long)]
    pub allow_writes: bool,

    /// With --allow-writes, also the scenarios that dispatch documents.
    #[arg(long, requires = "allow_writes")]
    pub allow_dispatch: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ListenArgs {
    /// Port to listen on (0 picks a free one; the first stdout line says
    /// which).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,

    /// The webhook endpoint's secret.
    #[arg(long, env = "NUMORA_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,

    /// Status to answer to a valid delivery (e.g. 500 to exercise retries).
    #[arg(long, default_value_t = 200)]
    pub status: u16,

    /// Answer this many valid deliveries with --fail-status first, then
    /// --status.
    #[arg(long, default_value_t = 0)]
    pub fail_first: u32,

    /// Status of the first --fail-first deliveries.
    #[arg(long, default_value_t = 503)]
    pub fail_status: u16,

    /// Largest accepted distance, in seconds, between the delivery
    /// timestamp and now (0 turns the check off, e.g. for a fake whose
    /// virtual clock is far from the wall clock).
    #[arg(long, default_value_t = 300)]
    pub tolerance: u64,

    /// Use this instant as "now" (RFC 3339) instead of the system clock.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,

    /// Exit after this many deliveries.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,

    /// Print each event as a JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}
