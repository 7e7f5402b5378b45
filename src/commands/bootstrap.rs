//! `medtech state bootstrap s3://BUCKET[/PREFIX]`: makes (or adopts) the bucket a team keeps
//! its state in, reporting each setting as it goes, and ends with the command to use it.
//! It serves every environment, so it takes no `--env` and reads no stack settings.

use serde_json::json;

use crate::aws::Clients;
use crate::cli::{BootstrapArgs, GlobalArgs, OutputMode};
use crate::config::location::S3Location;
use crate::config::{ConfigError, state_target_of};
use crate::error::{Error, exit};
use crate::naming::EnvName;
use crate::state::bootstrap;

pub(super) async fn run(global: &GlobalArgs, args: &BootstrapArgs) -> Result<u8, Error> {
    let location = S3Location::parse(&args.location).map_err(|problem| {
        ConfigError::new(format!("s3://BUCKET/PREFIX {:?}", args.location), problem)
    })?;
    if args.noncurrent_days < 1 {
        return Err(ConfigError::new(
            format!("--noncurrent-days {}", args.noncurrent_days),
            "must be at least 1: the days an old state version is kept after a newer one replaces it",
        )
        .into());
    }
    // Where `up` will look for the bucket: the flags, and `[state]` of medtech.toml.
    let clients = Clients::connect(&state_target_of(global)?).await?;
    let quiet = global.quiet;
    let settings = bootstrap::run(&clients, &location, args.noncurrent_days, &mut |s| {
        if !quiet {
            eprintln!("{:<22}{} ({})", s.name, s.action.as_str(), s.value);
        }
    })
    .await?;
    if global.output == OutputMode::Json {
        let report = json!({
            "format_version": crate::stdout::FORMAT_VERSION,
            "bucket": location.bucket(),
            "prefix": location.prefix(),
            "region": clients.region,
            "settings": settings,
        });
        crate::outln!("{report}");
    }
    if !quiet {
        let env = global
            .env
            .as_deref()
            .filter(|e| EnvName::parse(e).is_ok())
            .unwrap_or("ENV");
        eprintln!("next: medtech up --env {env} --state-backend {location}");
    }
    Ok(exit::OK)
}
