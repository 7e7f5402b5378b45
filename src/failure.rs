//! How a failed run reports itself: one line on stderr, for people and logs, and with
//! `--output json` one JSON object on stdout for tools — unless the command already printed
//! its result document there (a failed step is in that document), since stdout holds exactly
//! one JSON document per run.

use std::ffi::OsString;

use serde_json::json;

use crate::error::{Error, exit};
use crate::stdout::FORMAT_VERSION;

/// What a run that failed says about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, in the words of the exit-code table (`invalid_input`, `aws_access`).
    pub kind: &'static str,
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    pub fn of(err: Error) -> Self {
        let exit_code = err.exit_code();
        // Our errors' own text already says what failed and why; the sources would only
        // repeat it.
        let text = err.to_string();
        Self {
            kind: exit::kind(exit_code),
            message: text.replace('\n', " "),
            exit_code,
        }
    }

    /// A command line clap rejected, on one line: clap's usage errors span several, and a
    /// pipeline log wants one.
    pub fn usage(err: &clap::Error) -> Self {
        let rendered = err.render().to_string();
        let line: Vec<&str> = rendered
            .lines()
            .map(|l| l.trim().trim_start_matches("error: "))
            .filter(|l| {
                !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
            })
            .collect();
        Self {
            kind: exit::kind(exit::INVALID_INPUT),
            message: format!("{}; see --help", line.join(" ")),
            exit_code: exit::INVALID_INPUT,
        }
    }

    /// Under `plan --detailed-exitcode` 2 means "changes pending": a failure that exits 2
    /// would pass a drift gate as drift, so every failure is 1 there, as in terraform. The kind
    /// still says what went wrong.
    pub fn under_detailed_exitcode(self) -> Self {
        self.exiting(exit::FAILED)
    }

    /// A command whose exit codes mean something of their own (`verify`: 2 is "could not
    /// run") exits with its code; the kind still says what went wrong.
    pub fn exiting(mut self, exit_code: u8) -> Self {
        self.exit_code = exit_code;
        self
    }

    /// Reports the failure; `command` is what ran (`plan`, `state refresh`), when the command
    /// line was understood.
    pub fn report(&self, command: Option<&str>, json: bool) {
        eprintln!("error: {}", self.message);
        if json && !crate::stdout::written() {
            crate::outln!("{}", self.document(command));
        }
    }

    /// `{"format_version", "command", "error": {"kind", "message", "exit_code"}}`.
    pub fn document(&self, command: Option<&str>) -> serde_json::Value {
        json!({
            "format_version": FORMAT_VERSION,
            "command": command,
            "error": {
                "kind": self.kind,
                "message": self.message,
                "exit_code": self.exit_code,
            },
        })
    }
}

/// What a command line asks for, read from the raw arguments and environment: when clap
/// rejects the line, these still decide how the rejection is reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Asked {
    pub json: bool,
    pub detailed_exitcode: bool,
}

impl Asked {
    pub fn scan(args: &[OsString], var: impl Fn(&str) -> Option<String>) -> Self {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let flag_json = args
            .windows(2)
            .any(|w| w[0] == "--output" && w[1] == "json")
            || args.iter().any(|a| a == "--output=json");
        let env_json = var("MEDTECH_OUTPUT").is_some_and(|v| v == "json");
        let truthy =
            |v: String| !matches!(v.as_str(), "" | "0" | "false" | "no" | "off" | "n" | "f");
        Self {
            json: flag_json || env_json,
            detailed_exitcode: args.iter().any(|a| a == "--detailed-exitcode")
                || var("MEDTECH_DETAILED_EXITCODE").is_some_and(truthy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(args: &[&str], vars: &[(&str, &str)]) -> Asked {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Asked::scan(&args, |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn json_and_the_detailed_exitcode_are_seen_in_a_rejected_line() {
        assert_eq!(
            asked(
                &[
                    "medtech",
                    "plan",
                    "--output",
                    "json",
                    "--detailed-exitcode",
                    "--bogus"
                ],
                &[]
            ),
            Asked {
                json: true,
                detailed_exitcode: true
            }
        );
        assert!(asked(&["medtech", "--output=json"], &[]).json);
        assert!(asked(&["medtech"], &[("MEDTECH_OUTPUT", "json")]).json);
        assert!(asked(&["medtech"], &[("MEDTECH_DETAILED_EXITCODE", "1")]).detailed_exitcode);
        assert_eq!(
            asked(
                &["medtech", "plan"],
                &[("MEDTECH_DETAILED_EXITCODE", "false")]
            ),
            Asked::default()
        );
    }

    #[test]
    fn the_document_names_the_kind_and_the_code() {
        let failure = Failure {
            kind: "invalid_input",
            message: "invalid input: --env \"Bad\": use lowercase".into(),
            exit_code: exit::INVALID_INPUT,
        };
        let doc = failure.document(Some("plan"));
        assert_eq!(doc["format_version"], FORMAT_VERSION);
        assert_eq!(doc["command"], "plan");
        assert_eq!(doc["error"]["kind"], "invalid_input");
        assert_eq!(doc["error"]["exit_code"], 2);
        let gated = failure.under_detailed_exitcode().document(None);
        assert_eq!(gated["error"]["exit_code"], 1);
        assert_eq!(gated["error"]["kind"], "invalid_input");
    }
}
