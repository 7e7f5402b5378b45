//! How each subcommand presents itself: clap propagates every global option to every
//! subcommand, so `medtech graph --help` would offer `--region` and `--state-dir`, which graph
//! never reads. Here each subcommand's help hides the global options it ignores (a hidden
//! option still parses, so a script that passes one everywhere keeps working) and ends with
//! examples.

use clap::{Arg, Command};

/// Global options that matter only to commands that change the stack: the tests' time scale,
/// and how long to wait for a state lock.
const CHANGE: [&str; 2] = ["time_scale", "lock_timeout"];

/// Every global option but the output ones (-v, -q, --output, --color).
const ALL_BUT_OUTPUT: [&str; 10] = [
    "env",
    "region",
    "profile",
    "endpoint_url",
    "config",
    "state_dir",
    "state_backend",
    "outputs_file",
    "time_scale",
    "lock_timeout",
];

/// What `state bootstrap` ignores: it makes a bucket, for no environment in particular.
const BOOTSTRAP: [&str; 6] = [
    "env",
    "state_dir",
    "state_backend",
    "outputs_file",
    "time_scale",
    "lock_timeout",
];

/// For each subcommand (by path), the global options it ignores.
const IGNORED: [(&[&str], &[&str]); 13] = [
    (&["graph"], &ALL_BUT_OUTPUT),
    (&["controls"], &ALL_BUT_OUTPUT),
    (&["completions"], &ALL_BUT_OUTPUT),
    (&["man"], &ALL_BUT_OUTPUT),
    // These read the state, in S3 too, so they keep the AWS options.
    (&["outputs"], &CHANGE),
    (&["plan"], &["lock_timeout"]),
    (&["verify"], &["lock_timeout"]),
    (&["state", "show"], &CHANGE),
    (&["state", "history"], &CHANGE),
    (&["state", "unlock"], &CHANGE),
    (&["state", "bootstrap"], &BOOTSTRAP),
    (&["state", "migrate"], &["time_scale"]),
    (&["rotate"], &["outputs_file"]),
];

/// One example per subcommand, shown after its options.
const EXAMPLES: [(&str, &str); 11] = [
    (
        "up",
        "medtech up --env dev\n  medtech up --env prod --config prod.toml --output json",
    ),
    (
        "plan",
        "medtech plan --env dev\n  medtech plan --env prod --detailed-exitcode   # 0 no changes, 2 changes, 1 error",
    ),
    (
        "verify",
        "medtech verify --env dev\n  medtech verify --env prod --format junit > hipaa.xml",
    ),
    (
        "outputs",
        "medtech outputs --env dev\n  medtech outputs RdsEndpoint --raw --env dev\n  eval \"$(medtech outputs --env dev --format shell)\"",
    ),
    (
        "destroy",
        "medtech destroy --env dev\n  medtech destroy --env ci-1234 --yes --skip-final-snapshot --force-delete-secrets",
    ),
    (
        "rotate",
        "medtech rotate --env dev\n  medtech rotate --env prod --if-older-than 30d   # daily: rotates what is a month old\n  medtech rotate --env prod --secret redis --grace 15m",
    ),
    ("graph", "medtech graph | dot -Tsvg > stack.svg"),
    (
        "controls",
        "medtech controls > docs/hipaa-controls.md\n  medtech controls --format json | jq '.controls[] | select(.severity == \"critical\")'",
    ),
    (
        "state",
        "medtech state show --env dev\n  medtech state refresh --env dev\n  medtech state bootstrap s3://acme-medtech-state/teams\n  medtech state migrate --env dev --to s3://acme-medtech-state/teams\n  medtech state history --env dev --state-backend s3://acme-medtech-state/teams",
    ),
    (
        "completions",
        "medtech completions bash > ~/.local/share/bash-completion/completions/medtech",
    ),
    ("man", "medtech man > ~/.local/share/man/man1/medtech.1"),
];

/// `cmd` with each subcommand's help shaped: ignored global options hidden, examples added.
pub(super) fn shaped(mut cmd: Command) -> Command {
    cmd = without_env_values(cmd);
    for (path, ignored) in IGNORED {
        // clap does not propagate a global option to a subcommand that defines its own: a
        // hidden copy there parses the same and is not offered.
        let hidden: Vec<Arg> = ignored
            .iter()
            .filter_map(|id| cmd.get_arguments().find(|a| a.get_id() == id))
            .map(|arg| arg.clone().hide(true))
            .collect();
        cmd = with_args(cmd, path, hidden);
    }
    for (name, example) in EXAMPLES {
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.after_help(format!("Examples:\n  {example}"))
        });
    }
    cmd.build();
    cmd
}

/// Help names the variable behind each option, never its value: help lands in CI logs, and
/// the same text must come out on every machine.
fn without_env_values(cmd: Command) -> Command {
    cmd.mut_args(|arg| arg.hide_env_values(true))
        .mut_subcommands(without_env_values)
}

/// `cmd` with `args` added to the subcommand at `path`.
fn with_args(cmd: Command, path: &[&str], args: Vec<Arg>) -> Command {
    match path {
        [] => cmd.args(args),
        [name, rest @ ..] => cmd.mut_subcommand(*name, |sub| with_args(sub, rest, args)),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn help_of(path: &[&str]) -> String {
        let mut cmd = shaped(Cli::command());
        for name in path {
            cmd = cmd.find_subcommand(name).cloned().expect("subcommand");
        }
        cmd.render_long_help().to_string()
    }

    #[test]
    fn graph_offers_no_aws_or_state_option() {
        let help = help_of(&["graph"]);
        for flag in ["--region", "--state-dir", "--env", "--yes"] {
            assert!(!help.contains(flag), "graph offers {flag}:\n{help}");
        }
        assert!(help.contains("--output"), "{help}");
        assert!(help.contains("Examples:"), "{help}");
    }

    #[test]
    fn up_offers_the_aws_options_under_the_global_heading() {
        let help = help_of(&["up"]);
        let global = help
            .find("Global options:")
            .expect("a Global options heading");
        assert!(help[global..].contains("--region"), "{help}");
        assert!(help[..global].contains("--vpc-cidr"), "{help}");
        assert!(!help.contains("--yes"), "{help}");
    }

    #[test]
    fn every_subcommand_has_an_example() {
        for sub in shaped(Cli::command()).get_subcommands() {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            assert!(
                EXAMPLES.iter().any(|(n, _)| *n == name),
                "{name} has no example"
            );
        }
    }
}
