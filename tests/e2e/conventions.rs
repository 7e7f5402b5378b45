//! The command-line conventions a CI gate and a Terraform user rely on: exit codes under
//! `plan --detailed-exitcode`, the JSON error document, bad values named by what set them,
//! and the help and messages as they read (snapshots in `snapshots/`).

use serde_json::Value;

use crate::common::{TestContext, stderr, stdout};

/// Environment variables a case sets; an empty value removes the variable.
type Vars = &'static [(&'static str, &'static str)];

/// `plan --detailed-exitcode` answers only 0 (no changes), 2 (changes) or 1 (anything went
/// wrong): a failure that exited 2 would pass a drift gate as drift.
#[tokio::test]
async fn plan_detailed_exitcode_is_0_2_or_1_whatever_fails() {
    let t = TestContext::new("gate").await;
    t.run_ok(&["up"]);
    std::fs::write(t.path("bad.toml"), "[kinesis]\nshard_count = \"two\"\n").unwrap();
    let plan = ["plan", "--detailed-exitcode", "--env", "gate"];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { plan.iter().chain(extra).copied().collect() };
    let cases: [(&str, Vec<&str>, Vars, i32); 9] = [
        ("no changes", with(&[]), &[], 0),
        ("a change", with(&["--kinesis-shards", "3"]), &[], 2),
        (
            "a bad flag value",
            vec!["plan", "--detailed-exitcode", "--env", "Bad"],
            &[],
            1,
        ),
        (
            "a bad variable",
            vec!["plan", "--detailed-exitcode"],
            &[("MEDTECH_ENV", "Bad")],
            1,
        ),
        ("a bad config file", with(&["--config", "bad.toml"]), &[], 1),
        ("an unknown flag", with(&["--bogus"]), &[], 1),
        (
            "a flag without its value",
            vec![
                "plan",
                "--env",
                "gate",
                "--detailed-exitcode",
                "--kinesis-shards",
            ],
            &[],
            1,
        ),
        (
            "an unreachable endpoint",
            with(&["--endpoint-url", "http://127.0.0.1:1"]),
            &[],
            1,
        ),
        (
            "no credentials",
            with(&[]),
            &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
            1,
        ),
    ];
    for (case, args, env, want) in cases {
        let mut cmd = t.command(&t.path(""), &args, &[]);
        for (name, value) in env {
            if value.is_empty() {
                cmd.env_remove(name);
            } else {
                cmd.env(name, value);
            }
        }
        let out = cmd.output().expect("run medtech");
        assert_eq!(
            out.status.code(),
            Some(want),
            "{case}: medtech {args:?}: {}",
            stderr(&out)
        );
    }
}

/// With `--output json` (or MEDTECH_OUTPUT=json) a failure prints exactly one JSON document
/// on stdout: what ran, and the error's kind, message and exit code.
#[tokio::test]
async fn a_failing_command_prints_one_json_error_document() {
    let t = TestContext::new("jsonerr").await;
    let cases: [(&[&str], Vars, Value, &str, i32); 5] = [
        (
            &["plan", "--env", "Bad", "--output", "json"],
            &[],
            "plan".into(),
            "invalid_input",
            2,
        ),
        (
            &["state", "show", "--env", "nothing", "--output", "json"],
            &[],
            "state show".into(),
            "invalid_input",
            2,
        ),
        (
            &["plan", "--bogus"],
            &[("MEDTECH_OUTPUT", "json")],
            Value::Null,
            "invalid_input",
            2,
        ),
        (
            &[
                "plan",
                "--env",
                "jsonerr",
                "--output",
                "json",
                "--endpoint-url",
                "http://127.0.0.1:1",
            ],
            &[],
            "plan".into(),
            "aws_access",
            4,
        ),
        (
            &[
                "plan",
                "--env",
                "Bad",
                "--output",
                "json",
                "--detailed-exitcode",
            ],
            &[],
            "plan".into(),
            "invalid_input",
            1,
        ),
    ];
    for (args, env, command, kind, code) in cases {
        let out = t.medtech_with(args, env);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON document ({e}): {}",
                stdout(&out)
            )
        });
        assert_eq!(doc["format_version"], 1, "{doc}");
        assert_eq!(doc["command"], command, "{doc}");
        assert_eq!(doc["error"]["kind"], kind, "{doc}");
        assert_eq!(doc["error"]["exit_code"], code, "{doc}");
        let message = doc["error"]["message"].as_str().expect("a message");
        assert!(
            stderr(&out).contains(message),
            "{args:?}: the JSON message is not the one on stderr: {message}"
        );
    }
    // Without --output json stdout stays empty: the error is on stderr only.
    let out = t.medtech(&["plan", "--env", "Bad"]);
    assert_eq!(stdout(&out), "");
}

/// A bad value is named by whatever set it: the flag, the environment variable, or the
/// config file's key (`file:key`), so the user looks in the right place.
#[tokio::test]
async fn a_bad_value_is_named_by_what_set_it() {
    let t = TestContext::new("named").await;
    std::fs::write(t.path("medtech.toml"), "[engine]\nparallelism = 100\n").unwrap();
    std::fs::write(t.path("other.toml"), "[logs]\nretention_days = 7\n").unwrap();
    let cases: [(&[&str], Vars, &str); 9] = [
        (&["plan"], &[("MEDTECH_ENV", "Bad")], "MEDTECH_ENV \"Bad\""),
        (&["plan", "--env", "Bad"], &[], "--env \"Bad\""),
        (
            &["plan", "--env", "named"],
            &[("MEDTECH_VPC_CIDR", "10.0.0.0/8")],
            "MEDTECH_VPC_CIDR:",
        ),
        (
            &["plan", "--env", "named", "--vpc-cidr", "10.0.0.0/8"],
            &[],
            "--vpc-cidr:",
        ),
        (
            &["plan", "--env", "named", "--parallelism", "100"],
            &[],
            "--parallelism:",
        ),
        (
            &["plan", "--env", "named"],
            &[("MEDTECH_PARALLELISM", "0")],
            "MEDTECH_PARALLELISM:",
        ),
        (
            &["plan", "--env", "named"],
            &[],
            "medtech.toml:engine.parallelism:",
        ),
        (
            &["plan", "--env", "named", "--config", "other.toml"],
            &[],
            "other.toml:logs.retention_days:",
        ),
        (
            &["plan", "--env", "named", "--config", "other.toml"],
            &[("MEDTECH_LOG_RETENTION_DAYS", "1")],
            "MEDTECH_LOG_RETENTION_DAYS:",
        ),
    ];
    for (args, env, named) in cases {
        let out = t.medtech_with(args, env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(
            err.contains(named),
            "{args:?} {env:?}: wanted {named:?} named in: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// Every help text, as a user reads it: a command's own options first, the global ones under
/// their heading (only those it uses), one example each, and which variable sets each flag.
#[tokio::test]
async fn the_help_reads_as_snapshotted() {
    let t = TestContext::new("help").await;
    let pages: [&[&str]; 13] = [
        &["--help"],
        &["-h"],
        &["up", "--help"],
        &["plan", "--help"],
        &["verify", "--help"],
        &["outputs", "--help"],
        &["destroy", "--help"],
        &["graph", "--help"],
        &["state", "--help"],
        &["state", "show", "--help"],
        &["state", "refresh", "--help"],
        &["completions", "--help"],
        &["man", "--help"],
    ];
    for args in pages {
        let out = t.medtech(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        // `-h` is clap's summary, shorter than `--help` where the long texts differ.
        let name = match args {
            ["--help"] => "help".to_owned(),
            ["-h"] => "help_short".to_owned(),
            _ => format!("help_{}", args[..args.len() - 1].join("_")),
        };
        insta::assert_snapshot!(name, stdout(&out));
    }
}

/// The messages of bad input, as a user reads them.
#[tokio::test]
async fn bad_input_messages_read_as_snapshotted() {
    let t = TestContext::new("messages").await;
    std::fs::write(
        t.path("typed.toml"),
        "[logs]\nretention_days = 365\n\n[kinesis]\nshard_count = 2\nretention_hours = \"x\"\n",
    )
    .unwrap();
    std::fs::write(
        t.path("unknown.toml"),
        "[rds]\nengine_version = \"16\"\ninstance = 1\n",
    )
    .unwrap();
    let cases: [(&str, &[&str], Vars); 7] = [
        ("bare", &[], &[]),
        ("bare_state", &["state"], &[]),
        (
            "toml_type",
            &["plan", "--env", "messages", "--config", "typed.toml"],
            &[],
        ),
        (
            "toml_unknown_key",
            &["plan", "--env", "messages", "--config", "unknown.toml"],
            &[],
        ),
        ("env_variable", &["plan"], &[("MEDTECH_ENV", "Bad")]),
        (
            "parallelism_flag",
            &["plan", "--env", "messages", "--parallelism", "100"],
            &[],
        ),
        (
            "unknown_flag",
            &["plan", "--env", "messages", "--bogus"],
            &[],
        ),
    ];
    for (name, args, env) in cases {
        let out = t.medtech_with(args, env);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        insta::assert_snapshot!(format!("message_{name}"), stderr(&out));
    }
}

/// Completion scripts and the man page come from the definition that parses the command line:
/// each names every subcommand and the options a user types.
#[tokio::test]
async fn completions_and_the_man_page_cover_every_subcommand() {
    let t = TestContext::new("complete").await;
    let subcommands = [
        "up", "plan", "verify", "outputs", "destroy", "graph", "state",
    ];
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = t.medtech(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in subcommands.iter().chain(&["detailed-exitcode", "vpc-cidr"]) {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bash = stdout(&t.medtech(&["completions", "bash"]));
    assert!(bash.contains("complete -F"), "not a bash completion script");
    let out = t.medtech(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let man = stdout(&t.medtech(&["man"]));
    assert!(
        man.starts_with(".ie") || man.contains(".TH medtech 1"),
        "not roff: {man}"
    );
    for name in subcommands {
        assert!(man.contains(name), "the man page lacks {name}");
    }
}

/// `graph --output json` is versioned like every JSON document, and lists the whole stack.
#[tokio::test]
async fn graph_json_carries_its_format_version() {
    let t = TestContext::new("graph").await;
    let out = t.run_ok(&["graph", "--output", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(doc["format_version"], 1, "{doc}");
    let nodes = doc["nodes"].as_array().expect("nodes");
    assert!(nodes.len() > 40, "{} nodes", nodes.len());
    assert!(
        nodes
            .iter()
            .all(|n| n["name"].is_string() && n["depends_on"].is_array())
    );
}
