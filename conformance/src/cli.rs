//! Raw command-line arguments (clap). Validation happens in `config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Check that a Numora API deployment (or the fake) behaves as the docs
/// promise, by replaying the YAML scenarios of `scenarios/`.
///
/// With no --target, the fake is started in-process and every scenario runs
/// in a fresh workspace of it. With --target, any deployment is checked:
/// scenarios it cannot support are skipped with the reason, and nothing is
/// written to a target without a control API unless --allow-writes is given.
///
/// Exit status: 0 all passed, 1 a scenario failed, 2 usage, configuration or
/// scenario parse error.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `conformance [OPTIONS]` is `conformance run [OPTIONS]`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a target (the default command).
    Run(RunArgs),
    /// Parse and validate scenarios without sending any request.
    Check(CheckArgs),
    /// List the scenarios that a run with these filters would select.
    List(ListArgs),
    /// Receive webhook deliveries, verify their signatures and report each.
    Listen(ListenArgs),
    /// Print the fake's verdicts on what a client did in a workspace
    /// (exit 1 when a finding at or above --fail-on exists).
    Audit(crate::audit::AuditArgs),
    /// Run a client command once per failure case, each in a fresh
    /// workspace, and judge what it left behind.
    Sweep(crate::sweep::SweepArgs),
}

/// The whole command line: the scenario commands of [`Cli`], plus `props`.
///
/// Check that a Numora API deployment (or the fake) behaves as the docs
/// promise, by replaying the YAML scenarios of `scenarios/` (`run`, the
/// default) or by model-based property tests (`props`).
///
/// With no --target, the fake is started in-process and every scenario runs
/// in a fresh workspace of it. With --target, any deployment is checked:
/// scenarios it cannot support are skipped with the reason, and nothing is
/// written to a target without a control API unless --allow-writes is given.
///
/// Exit status: 0 all passed, 1 a scenario or property failed, 2 usage,
/// configuration or scenario parse error.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, args_conflicts_with_subcommands = true)]
pub struct Invocation {
    #[command(subcommand)]
    pub command: Option<TopCommand>,
    /// `conformance [OPTIONS]` is `conformance run [OPTIONS]`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum TopCommand {
    #[command(flatten)]
    Scenarios(Command),
    /// Model-based property tests of delivery callbacks, dispatch, the
    /// outbox and the document status machine.
    Props(PropsArgs),
}

impl Invocation {
    /// The scenario command line, or the arguments of `props`.
    pub fn split(self) -> Result<Cli, PropsArgs> {
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
pub const DEFAULT_MAX_OPS: usize = 24;

#[derive(Debug, Clone, Args)]
pub struct PropsArgs {
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

    /// Let the properties dispatch documents and record delivery attempts
    /// on a target without a control API. They change real data: use a
    /// test workspace.
    #[arg(long)]
    pub allow_writes: bool,

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
pub enum Format {
    Human,
    Json,
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// Only rules the seeds or docs state.
    Documented,
    /// Also rules inferred from the docs.
    Inferred,
    /// Everything, including the fake's own behaviour.
    Fake,
}

#[derive(Debug, Clone, Args)]
pub struct Selection {
    /// Scenario files or directories [default: ./scenarios].
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
pub struct RunArgs {
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
    /// control API. They change real data: use a test workspace.
    #[arg(long)]
    pub allow_writes: bool,

    /// Set a variable used by scenarios (repeatable), e.g. the id of a
    /// reviewed document that a real target holds.
    ///
    /// Example: --var reviewed_document_id=4be38121-3791-4856-80d5-c57dbec2cf78
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub format: Format,

    /// Also write a report to this file. Its format follows the extension
    /// (`.xml` JUnit, `.json` JSON, anything else human) unless
    /// --report-format is given.
    ///
    /// Example: --report target/conformance.xml
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Format of the --report file.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "report")]
    pub report_format: Option<Format>,

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
pub struct CheckArgs {
    #[command(flatten)]
    pub selection: Selection,

    /// Also check that every `schema:` names a component of this OpenAPI
    /// document (file or URL).
    #[arg(long, value_name = "URL|FILE")]
    pub openapi: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
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
