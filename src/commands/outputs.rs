//! `medtech outputs`: prints the outputs — of one environment from its state with `--env`,
//! else the last outputs file `up` wrote; all of them, or the one named. No AWS call but the
//! S3 backend's read, so it is instant.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::cli::{GlobalArgs, OutputsArgs, OutputsFormat};
use crate::config::ConfigError;
use crate::error::{Error, exit};
use crate::outputs;

use super::session::peek;

pub(super) async fn run(global: &GlobalArgs, args: &OutputsArgs) -> Result<u8, Error> {
    let values = match &global.env {
        Some(_) => {
            let (settings, place, state) = peek(global).await?;
            let env = settings.env();
            let state = state.ok_or_else(|| {
                Error::Config(ConfigError {
                    field: format!("--env {env}"),
                    problem: format!(
                        "no state in {place}; run `medtech up --env {env}` first, or point --state-dir or --state-backend at it"
                    ),
                })
            })?;
            outputs::build(env.as_str(), &state.region, &state.resources)
        }
        None => {
            let path: &PathBuf = &global.outputs_file;
            if !path.exists() {
                return Err(Error::Config(ConfigError {
                    field: "--outputs-file".into(),
                    problem: format!(
                        "{} does not exist; run `medtech up --env NAME` first, or pass --env NAME",
                        path.display()
                    ),
                }));
            }
            outputs::read(path)?
        }
    };
    let text = match &args.name {
        None => render(values, args.format),
        Some(name) => {
            let one = outputs::select(&values, name)?;
            match (args.raw, args.format) {
                // Scripts want the bare value: `$(medtech outputs vpc_id --raw)`.
                (true, _) => one.values().map(outputs::to_raw).collect(),
                // The value alone is valid JSON (a quoted string, an array), like `jq .key`.
                (false, OutputsFormat::Json) => one.values().map(json).collect(),
                (false, format) => render(one, format),
            }
        }
    };
    crate::stdout::write(&text);
    Ok(exit::OK)
}

fn render(values: Map<String, Value>, format: OutputsFormat) -> String {
    match format {
        OutputsFormat::Json => json(&Value::Object(values)),
        OutputsFormat::Env => outputs::to_env(&values, false),
        OutputsFormat::Shell => outputs::to_env(&values, true),
    }
}

/// Pretty JSON, as `serde_json::to_string_pretty` writes it: a `Value` always serializes.
fn json(value: &Value) -> String {
    format!("{value:#}\n")
}
