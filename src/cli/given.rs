//! Which name set each value: an error about a bad value must point at the thing the user
//! wrote (`MEDTECH_VPC_CIDR`, not `--vpc-cidr`, when the variable set it), or they look for
//! a flag they never passed.

use std::collections::BTreeMap;
use std::fmt;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// For each argument set on the command line or by its environment variable (not by a
/// default), the name it was set by: `--flag` or `VARIABLE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Given(BTreeMap<String, String>);

impl Given {
    /// Reads the sources of `matches`, parsed by `cmd` (built, so global arguments have
    /// reached the subcommands).
    pub fn from_matches(cmd: &Command, matches: &ArgMatches) -> Self {
        let mut given = BTreeMap::new();
        collect(cmd, matches, &mut given);
        Self(given)
    }

    /// The name the argument `id` (a field of the clap structs) was set by, if it was set.
    pub fn by(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// The field to name in a message about argument `id`: what set it, else `otherwise`
    /// (a config file key, when the value came from there).
    pub fn field(&self, id: &str, otherwise: impl fmt::Display) -> String {
        self.by(id)
            .map_or_else(|| otherwise.to_string(), str::to_owned)
    }
}

fn collect(cmd: &Command, matches: &ArgMatches, given: &mut BTreeMap<String, String>) {
    for id in matches.ids() {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == id) else {
            continue;
        };
        let name = match matches.value_source(id.as_str()) {
            Some(ValueSource::CommandLine) => arg.get_long().map(|long| format!("--{long}")),
            Some(ValueSource::EnvVariable) => {
                arg.get_env().map(|env| env.to_string_lossy().into_owned())
            }
            _ => None,
        };
        if let Some(name) = name {
            given.insert(id.as_str().to_owned(), name);
        }
    }
    if let Some((name, sub_matches)) = matches.subcommand()
        && let Some(sub) = cmd.find_subcommand(name)
    {
        collect(sub, sub_matches, given);
    }
}
