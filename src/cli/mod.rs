//! The command line, as clap structures and nothing else: parsing happens here, validation and
//! merging with the config file happen in `config`.

mod given;
mod help;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use given::Given;

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

impl Cli {
    /// The command line as medtech presents it: clap's definition with each subcommand's help
    /// offering only the options it uses. Completions and the man page come from here too.
    pub fn definition() -> clap::Command {
        help::shaped(Self::command())
    }

    /// The help of the deepest subcommand `args` names (`medtech state` gives state's), for a
    /// command line that stops short of a subcommand.
    pub fn help_for(args: &[OsString]) -> String {
        let mut cmd = Self::definition();
        for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
            if let Some(sub) = cmd.find_subcommand(arg) {
                cmd = sub.clone();
            }
        }
        cmd.render_help().to_string()
    }

    /// Parses, and records which flag or environment variable set each value (`Given`).
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = Self::definition();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches)?;
        cli.global.given = Given::from_matches(&cmd, &matches);
        Ok(cli)
    }
}

/// Options every subcommand takes; `help::shaped` hides those a subcommand ignores.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Environment name; every AWS name ends in it (lowercase, digits, '-', at most 20).
    #[arg(long, short = 'e', global = true, env = "MEDTECH_ENV")]
    pub env: Option<String>,

    /// AWS region (otherwise the profile's region).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,

    /// AWS shared-config profile.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (an emulator, a proxy).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
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

    /// Keep the state in S3 instead: s3://BUCKET/PREFIX, shared by every machine and locked
    /// with S3 conditional writes (overrides --state-dir).
    #[arg(
        long,
        global = true,
        env = "MEDTECH_STATE_BACKEND",
        value_name = "S3_URL"
    )]
    pub state_backend: Option<String>,

    /// How long `up`, `destroy`, `rotate` and `state refresh` wait for an environment another
    /// run has locked (e.g. 5m); by default they stop at once, naming the holder.
    #[arg(
        long,
        global = true,
        env = "MEDTECH_LOCK_TIMEOUT",
        value_name = "DURATION",
        value_parser = humantime::parse_duration
    )]
    pub lock_timeout: Option<std::time::Duration>,

    /// Where `up` writes the flat outputs file (`destroy` removes it).
    #[arg(
        long,
        global = true,
        env = "MEDTECH_OUTPUTS_FILE",
        default_value = "cfn-outputs/flat-outputs.json"
    )]
    pub outputs_file: PathBuf,

    /// More log detail (-v, -vv, -vvv); RUST_LOG overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", env = "MEDTECH_VERBOSE")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(long, short = 'q', global = true, env = "MEDTECH_QUIET", value_parser = FalseyValueParser::new())]
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

    /// Colour: `auto` only on a terminal; NO_COLOR turns it off and CLICOLOR_FORCE on.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "MEDTECH_COLOR")]
    pub color: ColorChoice,

    /// Which flag or environment variable set each value, for messages about it.
    #[arg(skip)]
    pub given: Given,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
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
    /// Rotate the database password and the Redis AUTH token with the Secrets Manager staging
    /// protocol (AWSPENDING, then AWSCURRENT); a killed run is finished by the next one.
    Rotate(RotateArgs),
    /// Print the dependency graph the engine walks (DOT, or JSON with --output json).
    Graph,
    /// List every control `verify` checks, with severity, HIPAA safeguard, fix, Prowler and
    /// Config equivalents (Markdown, or JSON with --format json). No AWS call.
    Controls(ControlsArgs),
    /// Inspect the state file, or rebuild it from what AWS reports.
    #[command(subcommand)]
    State(StateCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `medtech man > medtech.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Command {
    /// The subcommand as typed (`plan`, `state refresh`), for reports of what ran.
    pub fn path(&self) -> &'static str {
        match self {
            Self::Up(_) => "up",
            Self::Plan(_) => "plan",
            Self::Verify(_) => "verify",
            Self::Outputs(_) => "outputs",
            Self::Destroy(_) => "destroy",
            Self::Rotate(_) => "rotate",
            Self::Graph => "graph",
            Self::Controls(_) => "controls",
            Self::State(StateCommand::Show(_)) => "state show",
            Self::State(StateCommand::History) => "state history",
            Self::State(StateCommand::Bootstrap(_)) => "state bootstrap",
            Self::State(StateCommand::Migrate(_)) => "state migrate",
            Self::State(StateCommand::Refresh(_)) => "state refresh",
            Self::State(StateCommand::Unlock(_)) => "state unlock",
            Self::Completions(_) => "completions",
            Self::Man => "man",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state (ids and ARNs only; no AWS call but the S3 backend's read), or with
    /// --version one earlier version of the S3 state object.
    Show(ShowArgs),
    /// List the versions of the S3 state object of --env: when, by which command and run.
    History,
    /// Create the S3 bucket for team state (versioned, KMS-encrypted with its own key, private,
    /// TLS only, old versions expiring), or check and complete an existing one.
    Bootstrap(BootstrapArgs),
    /// Move the state of --env to another backend (s3://BUCKET/PREFIX, or local), with both
    /// locks held, and check the copy before the original goes.
    Migrate(MigrateArgs),
    /// Find every resource in AWS (by recorded id, else by name and tags) and rewrite the state.
    Refresh(RefreshArgs),
    /// Break the S3 state lock of --env whose id a blocked run printed, e.g. after the run
    /// holding it was killed; says whose it was. Any other lock id is refused.
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A version id that `medtech state history` listed (S3 backend only).
    #[arg(long)]
    pub version: Option<String>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Where the state will live: s3://BUCKET or s3://BUCKET/PREFIX.
    #[arg(value_name = "s3://BUCKET/PREFIX")]
    pub location: String,
    /// Days an old state version is kept after a newer one replaces it.
    #[arg(long, default_value_t = 90)]
    pub noncurrent_days: i32,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The backend to move to: s3://BUCKET/PREFIX, or `local` for --state-dir.
    #[arg(long, value_name = "s3://BUCKET/PREFIX|local")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The lock id, as the refused run printed it.
    #[arg(long)]
    pub lock_id: String,
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
    #[arg(long, env = "MEDTECH_LOG_RETENTION_DAYS")]
    pub log_retention_days: Option<i32>,

    /// Kinesis shards (default 2).
    #[arg(long, env = "MEDTECH_KINESIS_SHARDS")]
    pub kinesis_shards: Option<i32>,

    /// Kinesis retention, hours (24 to 8760; default 168).
    #[arg(long, env = "MEDTECH_KINESIS_RETENTION_HOURS")]
    pub kinesis_retention_hours: Option<i32>,

    /// RDS instance class (default db.t4g.medium).
    #[arg(long, env = "MEDTECH_RDS_INSTANCE_CLASS")]
    pub rds_instance_class: Option<String>,

    /// RDS storage, GiB (default 100).
    #[arg(long, env = "MEDTECH_RDS_STORAGE_GB")]
    pub rds_storage_gb: Option<i32>,

    /// ElastiCache node type (default cache.t4g.medium).
    #[arg(long, env = "MEDTECH_REDIS_NODE_TYPE")]
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

    /// Exit 0 when nothing would change, 2 when something would, 1 on any error.
    #[arg(long, env = "MEDTECH_DETAILED_EXITCODE", value_parser = FalseyValueParser::new())]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Report format (default: table, or json with --output json).
    #[arg(long, value_enum, env = "MEDTECH_FORMAT")]
    pub format: Option<VerifyFormat>,

    /// Also check the account's security baseline in the region, read-only: CloudTrail,
    /// GuardDuty, Security Hub, AWS Config, the IAM password policy and the CIS metric-filter
    /// alarms (docs/account-baseline.md; the reads are in docs/iam-policy-account.json).
    #[arg(long, env = "MEDTECH_VERIFY_ACCOUNT", value_parser = FalseyValueParser::new())]
    pub account: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Table,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ControlsArgs {
    /// Markdown (docs/hipaa-controls.md is this) or JSON for tools.
    #[arg(long, value_enum, default_value_t = ControlsFormat::Markdown)]
    pub format: ControlsFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ControlsFormat {
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Print only this output (a key of the outputs file).
    pub name: Option<String>,

    /// With NAME: the bare value, not JSON (a list prints one item per line).
    #[arg(long, requires = "name", env = "MEDTECH_RAW", value_parser = FalseyValueParser::new())]
    pub raw: bool,

    /// json (default), env (KEY=value lines) or shell (export statements, quoted).
    #[arg(long, value_enum, default_value_t = OutputsFormat::Json, env = "MEDTECH_OUTPUTS_FORMAT")]
    pub format: OutputsFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    Json,
    Env,
    Shell,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Which credential to rotate.
    #[arg(long, value_enum, default_value_t = SecretChoice::All, env = "MEDTECH_ROTATE_SECRET")]
    pub secret: SecretChoice,

    /// Only rotate a secret whose current value is older than this (e.g. 30d): a daily
    /// scheduled run then rotates each secret once a month.
    #[arg(
        long,
        value_name = "DURATION",
        env = "MEDTECH_ROTATE_IF_OLDER_THAN",
        value_parser = humantime::parse_duration
    )]
    pub if_older_than: Option<std::time::Duration>,

    /// After a Redis rotation, keep accepting the old token this long (e.g. 10m), then retire
    /// it in the same run; without it, the next `rotate` retires it.
    #[arg(
        long,
        value_name = "DURATION",
        env = "MEDTECH_ROTATE_GRACE",
        value_parser = humantime::parse_duration
    )]
    pub grace: Option<std::time::Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecretChoice {
    /// The RDS master password.
    Rds,
    /// The ElastiCache Redis AUTH token.
    Redis,
    All,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Answer yes to the confirmation (required when there is no terminal).
    #[arg(long, short = 'y', env = "MEDTECH_YES", value_parser = FalseyValueParser::new())]
    pub yes: bool,

    /// Delete the RDS instance without the final snapshot `medtech-rds-<env>-final-<timestamp>`.
    #[arg(long, env = "MEDTECH_SKIP_FINAL_SNAPSHOT", value_parser = FalseyValueParser::new())]
    pub skip_final_snapshot: bool,

    /// Delete the secrets at once instead of after their recovery window (their names are
    /// reserved until then, so an immediate re-create of the environment would fail).
    #[arg(long, env = "MEDTECH_FORCE_DELETE_SECRETS", value_parser = FalseyValueParser::new())]
    pub force_delete_secrets: bool,

    /// Delete the backup vault's recovery points, then the vault `medtech-<env>`; without it
    /// the vault is kept with them (the next `up` takes it back).
    #[arg(long, env = "MEDTECH_DELETE_RECOVERY_POINTS", value_parser = FalseyValueParser::new())]
    pub delete_recovery_points: bool,
}
