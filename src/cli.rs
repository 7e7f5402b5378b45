//! The command line, as clap structures and nothing else: parsing happens here, validation and
//! merging with the config file happen in `config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "medtech",
    version,
    about = "Provision and verify a HIPAA-oriented healthcare data pipeline on AWS",
    long_about = "Provision and verify a HIPAA-oriented healthcare data pipeline on AWS, directly \
                  through the AWS SDK. Region and credentials come from the standard AWS chain \
                  (--region/--profile flags, AWS_REGION, AWS_PROFILE, ~/.aws).",
    after_help = "Exit codes: 0 success; 1 an AWS operation or a check failed; 2 invalid input \
                  (nothing was changed); 3 state file locked or unusable; 4 AWS unreachable or \
                  credentials rejected; 130 interrupted (state saved, run again to resume)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Environment name; every AWS name ends in it (lowercase, digits, '-', at most 20).
    #[arg(long, short = 'e', global = true, env = "MEDTECH_ENV")]
    pub env: Option<String>,

    /// AWS region (otherwise AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// AWS shared-config profile (otherwise AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (an emulator, a proxy); otherwise AWS_ENDPOINT_URL.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,

    /// Config file (TOML). Default: ./medtech.toml when it exists.
    #[arg(long, global = true, env = "MEDTECH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory of the state files.
    #[arg(
        long,
        global = true,
        env = "MEDTECH_STATE_DIR",
        default_value = "state"
    )]
    pub state_dir: PathBuf,

    /// Where `up` writes the flat outputs file.
    #[arg(
        long,
        global = true,
        env = "MEDTECH_OUTPUTS_FILE",
        default_value = "cfn-outputs/flat-outputs.json"
    )]
    pub outputs_file: PathBuf,

    /// Answer yes to confirmations (required for `destroy` when there is no terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// More log detail (-v, -vv, -vvv); RUST_LOG overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// Scale every wait, poll interval and backoff by this factor (for benchmarks against an
    /// emulator whose latencies are scaled the same way). 1 means real time.
    #[arg(
        long,
        global = true,
        env = "MEDTECH_TIME_SCALE",
        default_value_t = 1.0,
        hide = true
    )]
    pub time_scale: f64,

    /// `json` prints a machine-readable result on stdout; progress stays on stderr.
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Text, env = "MEDTECH_OUTPUT")]
    pub output: OutputMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or converge every resource, wait until usable, write state and outputs.
    Up(UpArgs),
    /// Show what `up` would create, change or leave; changes nothing.
    Plan(PlanArgs),
    /// Read every resource back from AWS and check every required setting.
    Verify(VerifyArgs),
    /// Print the stack outputs.
    Outputs(OutputsArgs),
    /// Delete everything in reverse dependency order and clear the state.
    Destroy(DestroyArgs),
    /// Print the dependency graph the engine walks (DOT, or JSON with --output json).
    Graph,
    /// Inspect the state file, or rebuild it from what AWS reports.
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state file (ids and ARNs only; no AWS call).
    Show,
    /// Find every resource in AWS (by recorded id, else by name and tags) and rewrite the state.
    Refresh(RefreshArgs),
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Settings that `up` and `plan` both take, since `plan` must predict `up` exactly.
#[derive(Debug, Args, Default)]
pub struct StackArgs {
    /// Steps run at once.
    #[arg(long, env = "MEDTECH_PARALLELISM")]
    pub parallelism: Option<usize>,

    /// VPC CIDR block (default 10.0.0.0/16).
    #[arg(long, env = "MEDTECH_VPC_CIDR")]
    pub vpc_cidr: Option<String>,

    /// Retention of the audit and flow-log groups, days (default 365, at least 90).
    #[arg(long)]
    pub log_retention_days: Option<i32>,

    /// Kinesis shards (default 2).
    #[arg(long)]
    pub kinesis_shards: Option<i32>,

    /// Kinesis retention, hours (24 to 8760; default 24).
    #[arg(long)]
    pub kinesis_retention_hours: Option<i32>,

    /// RDS instance class (default db.t4g.medium).
    #[arg(long)]
    pub rds_instance_class: Option<String>,

    /// RDS storage, GiB (default 100).
    #[arg(long)]
    pub rds_storage_gb: Option<i32>,

    /// ElastiCache node type (default cache.t4g.medium).
    #[arg(long)]
    pub redis_node_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Exit 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Report format (default: table, or json with --output json).
    #[arg(long, value_enum)]
    pub format: Option<VerifyFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Table,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// json (default), env (KEY=value lines) or shell (export statements, quoted).
    #[arg(long, value_enum, default_value_t = OutputsFormat::Json)]
    pub format: OutputsFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    Json,
    Env,
    Shell,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Delete the RDS instance without the final snapshot `medtech-rds-<env>-final-<timestamp>`.
    #[arg(long)]
    pub skip_final_snapshot: bool,

    /// Delete the secrets at once instead of after their recovery window (their names are
    /// reserved until then, so an immediate re-create of the environment would fail).
    #[arg(long)]
    pub force_delete_secrets: bool,
}
