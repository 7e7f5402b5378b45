//! `Settings`: everything a run needs, merged once from flags > environment variables >
//! `medtech.toml` > defaults, and validated before the first AWS call. Nothing here talks to
//! AWS; the region is only checked for shape, the SDK resolves it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub(crate) mod location;
mod network;
mod services;

pub(crate) use network::Network;
pub(crate) use services::{
    Alarms, BACKUP_START_WINDOW_MINUTES, Backup, Iam, Kinesis, Logs, Rds, Redis, Retirement,
    Secrets, Services, Timeouts,
};

use crate::cli::{Given, GlobalArgs, StackArgs};
use crate::naming::{EnvName, Names};
use crate::tags::RESERVED_TAG_KEYS;
use location::S3Location;

pub(crate) const DEFAULT_CONFIG_FILE: &str = "medtech.toml";
pub(crate) const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
pub(crate) const DEFAULT_PARALLELISM: usize = 10;
const MAX_PARALLELISM: usize = 64;
/// AWS allows 50 tags a resource; medtech's own take six of them.
const MAX_USER_TAGS: usize = 50 - RESERVED_TAG_KEYS.len();

/// A rejected input: which field, and what to do about it. Displayed on one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The validated settings of one run.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub names: Names,
    pub aws: AwsTarget,
    pub network: Network,
    pub user_tags: BTreeMap<String, String>,
    pub parallelism: usize,
    /// 1 in real use; smaller to run against a time-scaled emulator.
    pub time_scale: f64,
    pub services: Services,
    pub state_dir: PathBuf,
    /// The S3 state backend; `None`: the local `state_dir`.
    pub state_backend: Option<S3Location>,
    /// Where the state backend's calls go: the stack's target, unless `[state]` names another
    /// profile (a bucket in another account) or region.
    pub state_aws: AwsTarget,
    pub outputs_file: PathBuf,
}

/// Where AWS calls go; `None` leaves the choice to the standard AWS chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct AwsTarget {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// `medtech.toml` as written by the user; unknown keys are errors, not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    network: FileNetwork,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    engine: FileEngine,
    // Each section by name, not `#[serde(flatten)] Services`: a flattened value is buffered
    // before it is read, and its errors lose their place in the file (every one said line 1).
    #[serde(default)]
    logs: Logs,
    #[serde(default)]
    kinesis: Kinesis,
    #[serde(default)]
    rds: Rds,
    #[serde(default)]
    redis: Redis,
    #[serde(default)]
    alarms: Alarms,
    #[serde(default)]
    iam: Iam,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    destroy: Retirement,
    #[serde(default)]
    secrets: Secrets,
    #[serde(default)]
    backup: Backup,
    #[serde(default)]
    state: FileState,
}

impl FileConfig {
    fn services(&self) -> Services {
        Services {
            logs: self.logs.clone(),
            kinesis: self.kinesis.clone(),
            rds: self.rds.clone(),
            redis: self.redis.clone(),
            alarms: self.alarms.clone(),
            iam: self.iam.clone(),
            timeouts: self.timeouts.clone(),
            destroy: self.destroy.clone(),
            secrets: self.secrets.clone(),
            backup: self.backup.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNetwork {
    vpc_cidr: Option<String>,
    public_subnet_cidrs: Option<Vec<String>>,
    private_subnet_cidrs: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileState {
    backend: Option<String>,
    profile: Option<String>,
    region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEngine {
    parallelism: Option<usize>,
}

impl Settings {
    /// Merges and validates. `stack` carries the flags of commands that shape the stack.
    pub(crate) fn resolve(global: &GlobalArgs, stack: &StackArgs) -> Result<Self, ConfigError> {
        let given = &global.given;
        let raw_env = global.env.as_deref().ok_or_else(|| {
            ConfigError::new("--env", "missing; pass --env NAME or set MEDTECH_ENV")
        })?;
        let env = EnvName::parse(raw_env).map_err(|problem| {
            ConfigError::new(
                format!("{} {raw_env:?}", given.field("env", "--env")),
                problem,
            )
        })?;
        let (file_name, file) = load_file(global.config.as_deref(), given)?;
        // A value from the file is named `file:key`, as the user finds it.
        let in_file = |key: &str| format!("{file_name}:{key}");

        let aws = aws_target(global)?;

        let vpc_field = given.field("vpc_cidr", in_file("network.vpc_cidr"));
        let vpc_raw = stack
            .vpc_cidr
            .as_deref()
            .or(file.network.vpc_cidr.as_deref())
            .unwrap_or(DEFAULT_VPC_CIDR);
        let network = Network::new(
            &file_name,
            &vpc_field,
            vpc_raw,
            file.network.public_subnet_cidrs.as_deref(),
            file.network.private_subnet_cidrs.as_deref(),
        )?;

        let parallelism = stack
            .parallelism
            .or(file.engine.parallelism)
            .unwrap_or(DEFAULT_PARALLELISM);
        if !(1..=MAX_PARALLELISM).contains(&parallelism) {
            return Err(ConfigError::new(
                given.field("parallelism", in_file("engine.parallelism")),
                format!("{parallelism} is out of range; use 1 to {MAX_PARALLELISM}"),
            ));
        }

        validate_user_tags(&file_name, &file.tags)?;
        let services = file.services().resolve(stack, given, &file_name)?;
        if !(global.time_scale > 0.0 && global.time_scale <= 1.0) {
            return Err(ConfigError::new(
                given.field("time_scale", "MEDTECH_TIME_SCALE"),
                format!(
                    "{} is out of range; use a factor above 0 and at most 1",
                    global.time_scale
                ),
            ));
        }

        // The flag and MEDTECH_STATE_BACKEND (clap reads both into the flag) beat the file.
        let state_backend = match (&global.state_backend, &file.state.backend) {
            (Some(raw), _) => Some((given.field("state_backend", "--state-backend"), raw)),
            (None, Some(raw)) => Some((in_file("state.backend"), raw)),
            (None, None) => None,
        }
        .map(|(field, raw)| {
            S3Location::parse(raw)
                .map_err(|problem| ConfigError::new(format!("{field} {raw:?}"), problem))
        })
        .transpose()?;
        let state_aws = state_target(&aws, &file.state, &file_name)?;

        Ok(Self {
            names: Names::new(env),
            aws,
            network,
            user_tags: file.tags,
            parallelism,
            time_scale: global.time_scale,
            services,
            state_dir: global.state_dir.clone(),
            state_backend,
            state_aws,
            outputs_file: global.outputs_file.clone(),
        })
    }

    pub(crate) fn env(&self) -> &EnvName {
        self.names.env()
    }
}

/// The config file as it is named in messages, and what it holds (nothing when there is none).
/// Where the stack's calls go, from the flags and their environment variables.
fn aws_target(global: &GlobalArgs) -> Result<AwsTarget, ConfigError> {
    let given = &global.given;
    Ok(AwsTarget {
        region: global
            .region
            .clone()
            .map(|raw| validate_region(&given.field("region", "--region"), raw))
            .transpose()?,
        profile: global.profile.clone(),
        endpoint_url: global
            .endpoint_url
            .clone()
            .map(|raw| validate_endpoint(&given.field("endpoint_url", "--endpoint-url"), raw))
            .transpose()?,
    })
}

/// Where the state backend's calls go: `aws`, unless `[state]` names another profile (a
/// bucket in another account) or region.
fn state_target(
    aws: &AwsTarget,
    state: &FileState,
    file_name: &str,
) -> Result<AwsTarget, ConfigError> {
    Ok(AwsTarget {
        region: match (&state.region, &state.profile) {
            (Some(raw), _) => Some(validate_region(
                &format!("{file_name}:state.region"),
                raw.clone(),
            )?),
            // Another profile brings its own region, as the AWS CLI's does.
            (None, Some(_)) => None,
            (None, None) => aws.region.clone(),
        },
        profile: state.profile.clone().or_else(|| aws.profile.clone()),
        endpoint_url: aws.endpoint_url.clone(),
    })
}

/// The state backend's target for a command of no environment (`state bootstrap`): the flags,
/// and `[state]` of the configuration file.
pub(crate) fn state_target_of(global: &GlobalArgs) -> Result<AwsTarget, ConfigError> {
    let (file_name, file) = load_file(global.config.as_deref(), &global.given)?;
    state_target(&aws_target(global)?, &file.state, &file_name)
}

fn load_file(explicit: Option<&Path>, given: &Given) -> Result<(String, FileConfig), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !default.exists() {
                return Ok((DEFAULT_CONFIG_FILE.to_owned(), FileConfig::default()));
            }
            default
        }
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::new(
            format!("{} {shown}", given.field("config", "--config")),
            format!("cannot read it ({e}); check the path"),
        )
    })?;
    let file = toml::from_str(&text).map_err(|e| {
        let place = e.span().map_or(shown.clone(), |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("{shown} line {line} column {column}")
        });
        // toml's own message can span lines (it quotes the source); keep the first.
        let message = plain_types(e.message().lines().next().unwrap_or("invalid TOML").trim());
        ConfigError::new(
            place,
            format!("{message}; see docs/configuration.md for the keys"),
        )
    })?;
    Ok((shown, file))
}

/// serde names the Rust type it wanted (`expected i32`); a user wants words.
fn plain_types(message: &str) -> String {
    const WORDS: [(&str, &str); 10] = [
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("u8", "a whole number"),
        ("u16", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("usize", "a whole number"),
        ("f64", "a number"),
        ("a sequence", "a list"),
        ("a boolean", "true or false"),
    ];
    let mut out = message.to_owned();
    for (rust, words) in WORDS {
        out = out.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    out
}

/// `field` names what set the value (`--region`, `AWS_REGION`).
pub(crate) fn validate_region(field: &str, raw: String) -> Result<String, ConfigError> {
    // AWS region names: AREA-DIRECTION-N (us-east-1, ap-southeast-7), with a partition infix
    // in some (us-gov-west-1, us-iso-east-1, eusc-de-east-1). Checked by shape, not against a
    // list, so regions AWS opens later need no new medtech.
    const AREAS: [&str; 14] = [
        "af", "ap", "ca", "cn", "eu", "eusc", "il", "me", "mx", "sa", "us", "gov", "iso", "isob",
    ];
    const DIRECTIONS: [&str; 9] = [
        "north",
        "south",
        "east",
        "west",
        "central",
        "northeast",
        "northwest",
        "southeast",
        "southwest",
    ];
    let parts: Vec<&str> = raw.split('-').collect();
    let shaped = parts.len() >= 3
        && AREAS.contains(&parts[0])
        && parts[parts.len() - 2..parts.len() - 1]
            .iter()
            .all(|d| DIRECTIONS.contains(d))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n >= 1)
        && parts[1..parts.len() - 2]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    if shaped {
        Ok(raw)
    } else {
        Err(ConfigError::new(
            format!("{field} {raw:?}"),
            "is not an AWS region name; use one like us-east-1 or eu-central-1",
        ))
    }
}

fn validate_endpoint(field: &str, raw: String) -> Result<String, ConfigError> {
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(raw),
        _ => Err(ConfigError::new(
            format!("{field} {raw:?}"),
            "is not an http(s) URL; write it like http://127.0.0.1:5000",
        )),
    }
}

fn validate_user_tags(file: &str, tags: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    if tags.len() > MAX_USER_TAGS {
        return Err(ConfigError::new(
            format!("{file}:tags"),
            format!(
                "{} tags given; AWS allows 50 a resource and medtech uses {}, so give at most {MAX_USER_TAGS}",
                tags.len(),
                RESERVED_TAG_KEYS.len()
            ),
        ));
    }
    for (key, value) in tags {
        let field = format!("{file}:tags.{key}");
        if RESERVED_TAG_KEYS.contains(&key.as_str()) {
            return Err(ConfigError::new(
                field,
                "is set by medtech itself; remove it from [tags]",
            ));
        }
        if key.is_empty() || key.chars().count() > 128 {
            return Err(ConfigError::new(field, "tag keys take 1 to 128 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ConfigError::new(
                field,
                "the aws: prefix is reserved by AWS; rename the key",
            ));
        }
        if value.chars().count() > 256 {
            return Err(ConfigError::new(
                field,
                "tag values take at most 256 characters",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::cli::{Cli, Command};

    /// The arguments of `medtech up ARGS`, parsed as the binary parses them.
    fn parsed(args: &[&str]) -> (GlobalArgs, StackArgs) {
        let line = ["medtech", "up"].iter().chain(args);
        let cli = Cli::parse_from_args(line).expect("parses");
        match cli.command {
            Command::Up(up) => (cli.global, up.stack),
            _ => unreachable!("parsed as up"),
        }
    }

    fn global(env: Option<&str>, config: Option<PathBuf>) -> GlobalArgs {
        let config = config.map(|p| p.display().to_string());
        let mut args = Vec::new();
        if let Some(env) = env {
            args.extend(["--env", env]);
        }
        if let Some(config) = &config {
            args.extend(["--config", config.as_str()]);
        }
        parsed(&args).0
    }

    fn with_file(body: &str) -> (tempfile::NamedTempFile, GlobalArgs) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(body.as_bytes()).unwrap();
        let args = global(Some("dev"), Some(file.path().to_path_buf()));
        (file, args)
    }

    #[test]
    fn defaults_split_the_vpc_into_four_subnets() {
        let settings =
            Settings::resolve(&global(Some("dev"), None), &StackArgs::default()).unwrap();
        let n = &settings.network;
        assert_eq!(n.vpc_cidr.to_string(), "10.0.0.0/16");
        assert_eq!(n.public_subnets[0].to_string(), "10.0.0.0/20");
        assert_eq!(n.public_subnets[1].to_string(), "10.0.16.0/20");
        assert_eq!(n.private_subnets[0].to_string(), "10.0.32.0/20");
        assert_eq!(n.private_subnets[1].to_string(), "10.0.48.0/20");
        assert_eq!(settings.parallelism, DEFAULT_PARALLELISM);
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let (_f, args) =
            with_file("[network]\nvpc_cidr = \"10.1.0.0/16\"\n[engine]\nparallelism = 3\n");
        let from_file = Settings::resolve(&args, &StackArgs::default()).unwrap();
        assert_eq!(from_file.network.vpc_cidr.to_string(), "10.1.0.0/16");
        assert_eq!(from_file.parallelism, 3);
        let flags = StackArgs {
            parallelism: Some(5),
            vpc_cidr: Some("10.2.0.0/16".into()),
            ..Default::default()
        };
        let from_flags = Settings::resolve(&args, &flags).unwrap();
        assert_eq!(from_flags.network.vpc_cidr.to_string(), "10.2.0.0/16");
        assert_eq!(from_flags.parallelism, 5);
    }

    #[test]
    fn the_state_backend_takes_its_own_profile_and_region_from_the_file() {
        let (_f, mut args) = with_file(
            "[state]\nbackend = \"s3://acme-state/teams\"\nprofile = \"shared\"\nregion = \"eu-west-1\"\n",
        );
        args.region = Some("us-east-2".into());
        let settings = Settings::resolve(&args, &StackArgs::default()).unwrap();
        assert_eq!(settings.aws.region.as_deref(), Some("us-east-2"));
        assert_eq!(settings.aws.profile, None);
        assert_eq!(settings.state_aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.state_aws.profile.as_deref(), Some("shared"));
        assert_eq!(
            settings.state_backend.map(|l| l.to_string()).as_deref(),
            Some("s3://acme-state/teams")
        );

        // Without them, the backend goes where the stack goes.
        let (_f, mut args) = with_file("[state]\nbackend = \"s3://acme-state\"\n");
        args.region = Some("us-east-2".into());
        args.profile = Some("ci".into());
        let settings = Settings::resolve(&args, &StackArgs::default()).unwrap();
        assert_eq!(settings.state_aws.region.as_deref(), Some("us-east-2"));
        assert_eq!(settings.state_aws.profile.as_deref(), Some("ci"));

        let (_f, args) = with_file("[state]\nregion = \"mars-1\"\n");
        let err = rejected(&args, &StackArgs::default()).to_string();
        assert!(err.contains("state.region") && !err.contains('\n'), "{err}");
    }

    fn rejected(args: &GlobalArgs, stack: &StackArgs) -> ConfigError {
        Settings::resolve(args, stack).expect_err("should be rejected")
    }

    #[test]
    fn errors_name_the_field_on_one_line() {
        let cases: [(&[&str], &str); 8] = [
            (&[], "--env"),
            (&["--env", "Dev"], "--env \"Dev\""),
            (&["--env", "dev", "--vpc-cidr", "10.0.0.0/33"], "--vpc-cidr"),
            (&["--env", "dev", "--vpc-cidr", "10.0.0.1/16"], "--vpc-cidr"),
            (&["--env", "dev", "--vpc-cidr", "8.8.0.0/16"], "--vpc-cidr"),
            (&["--env", "dev", "--vpc-cidr", "10.0.0.0/12"], "--vpc-cidr"),
            (&["--env", "dev", "--parallelism", "0"], "--parallelism"),
            (&["--env", "dev", "--parallelism", "500"], "--parallelism"),
        ];
        for (args, field) in cases {
            let (global, stack) = parsed(args);
            let err = rejected(&global, &stack);
            assert_eq!(err.field, field, "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_value_from_the_file_is_named_file_colon_key() {
        let (file, args) = with_file("[engine]\nparallelism = 100\n");
        let err = rejected(&args, &StackArgs::default());
        assert_eq!(
            err.field,
            format!("{}:engine.parallelism", file.path().display())
        );
    }

    #[test]
    fn user_tags_keep_within_what_aws_takes() {
        let many: BTreeMap<String, String> = (0..=MAX_USER_TAGS)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        let long_key = "k".repeat(129);
        let cases = [
            (many, "f:tags".to_owned()),
            (
                BTreeMap::from([(long_key.clone(), "v".to_owned())]),
                format!("f:tags.{long_key}"),
            ),
            (
                BTreeMap::from([("team".to_owned(), "v".repeat(257))]),
                "f:tags.team".to_owned(),
            ),
            (
                BTreeMap::from([("aws:team".to_owned(), "v".to_owned())]),
                "f:tags.aws:team".to_owned(),
            ),
            (
                BTreeMap::from([(RESERVED_TAG_KEYS[0].to_owned(), "v".to_owned())]),
                format!("f:tags.{}", RESERVED_TAG_KEYS[0]),
            ),
        ];
        for (tags, field) in cases {
            let err = validate_user_tags("f", &tags).expect_err(&field);
            assert_eq!(err.field, field, "{err}");
        }
        let most: BTreeMap<String, String> = (0..MAX_USER_TAGS)
            .map(|i| (format!("k{i}"), "v".repeat(256)))
            .collect();
        validate_user_tags("f", &most).expect("the most AWS takes");
    }

    #[test]
    fn file_errors_name_the_key() {
        let cases = [
            ("[network]\nvpc = \"10.0.0.0/16\"\n", "line 2"),
            ("not toml at all [", "line 1"),
            (
                "[logs]\nretention_days = 365\n\n[kinesis]\nshard_count = 2\nretention_hours = \"x\"\n",
                "line 6 column 19",
            ),
            ("[rds]\nengine_version = \"16\"\ninstance = 1\n", "line 3"),
            (
                "[kinesis]\nshard_count = \"two\"\n",
                "expected a whole number",
            ),
            (
                "[network]\npublic_subnet_cidrs = [\"10.0.0.0/24\"]\n",
                "network.public_subnet_cidrs",
            ),
            (
                "[network]\npublic_subnet_cidrs = [\"10.0.0.0/24\", \"10.9.0.0/24\"]\n",
                "network.public_subnet_cidrs",
            ),
            (
                "[network]\npublic_subnet_cidrs = [\"10.0.0.0/24\", \"10.0.1.0/24\"]\nprivate_subnet_cidrs = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\n",
                "network",
            ),
            ("[tags]\nProject = \"x\"\n", "tags.Project"),
            ("[tags]\n\"aws:x\" = \"y\"\n", "tags.aws:x"),
        ];
        for (body, field) in cases {
            let (_f, args) = with_file(body);
            let err = rejected(&args, &StackArgs::default());
            assert!(err.to_string().contains(field), "{body:?} gave {err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn missing_config_file_is_an_error_only_when_named() {
        let args = global(Some("dev"), Some("/nonexistent/medtech.toml".into()));
        assert!(
            rejected(&args, &StackArgs::default())
                .field
                .starts_with("--config")
        );
    }
}
