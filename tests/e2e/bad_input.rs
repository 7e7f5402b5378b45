//! The bad-input catalogue: each case is a one-line error naming the field and the fix, a
//! documented non-zero exit code, before any AWS call (counted at the emulator), with no AWS
//! resource created and no state written.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{TestContext, stderr};

struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Written into the working directory first: (relative path, contents).
    files: Vec<(&'static str, String)>,
    code: i32,
    /// Text the one-line error must contain (the field, and a word of the fix).
    mentions: Vec<&'static str>,
}

fn case(name: &'static str, args: &[&str], code: i32, mentions: &[&'static str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        env: vec![],
        files: vec![],
        code,
        mentions: mentions.to_vec(),
    }
}

fn with_file(mut c: Case, path: &'static str, body: &str) -> Case {
    c.files.push((path, body.to_owned()));
    c
}

fn with_env(mut c: Case, key: &'static str, value: &str) -> Case {
    c.env.push((key, value.to_owned()));
    c
}

fn catalogue(env: &str) -> Vec<Case> {
    let config = |body: &str| {
        with_file(
            case("", &["up", "--env", "bad", "--config", "bad.toml"], 2, &[]),
            "bad.toml",
            body,
        )
    };
    let named = |mut c: Case, name: &'static str, mentions: &[&'static str]| {
        c.name = name;
        c.mentions = mentions.to_vec();
        c
    };
    let other_state = format!(
        r#"{{"schema_version":1,"environment":"{env}","region":"us-east-1","account_id":"123456789012","updated_at":"2026-01-01T00:00:00Z","resources":{{}}}}"#
    );
    vec![
        case("empty env", &["up", "--env", ""], 2, &["--env", "empty"]),
        case(
            "uppercase env",
            &["up", "--env", "Dev"],
            2,
            &["--env", "lowercase"],
        ),
        case(
            "env too long",
            &["up", "--env", "abcdefghijklmnopqrstu"],
            2,
            &["--env", "at most 20"],
        ),
        case(
            "double hyphen",
            &["up", "--env", "a--b"],
            2,
            &["--env", "single hyphens"],
        ),
        case(
            "trailing hyphen",
            &["up", "--env", "dev-"],
            2,
            &["--env", "ends with"],
        ),
        case(
            "leading digit",
            &["up", "--env", "1dev"],
            2,
            &["--env", "start with"],
        ),
        case("missing env", &["up"], 2, &["--env", "MEDTECH_ENV"]),
        case(
            "CIDR prefix 33",
            &["up", "--env", "bad", "--vpc-cidr", "10.0.0.0/33"],
            2,
            &["--vpc-cidr", "10.0.0.0/16"],
        ),
        case(
            "CIDR garbage",
            &["up", "--env", "bad", "--vpc-cidr", "ten.zero"],
            2,
            &["--vpc-cidr", "CIDR"],
        ),
        case(
            "public CIDR",
            &["up", "--env", "bad", "--vpc-cidr", "8.8.0.0/16"],
            2,
            &["--vpc-cidr", "RFC 1918"],
        ),
        case(
            "CIDR too large",
            &["up", "--env", "bad", "--vpc-cidr", "10.0.0.0/8"],
            2,
            &["--vpc-cidr", "/16"],
        ),
        case(
            "host bits set",
            &["up", "--env", "bad", "--vpc-cidr", "10.0.0.1/16"],
            2,
            &["--vpc-cidr", "did you mean"],
        ),
        named(
            config(
                "[network]\npublic_subnet_cidrs = [\"10.0.0.0/24\", \"10.0.1.0/24\"]\nprivate_subnet_cidrs = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\n",
            ),
            "overlapping subnets",
            &["network", "overlap"],
        ),
        named(
            config("[network]\nprivate_subnet_cidrs = [\"10.0.32.0/20\", \"10.9.0.0/24\"]\n"),
            "subnet outside the VPC",
            &["network.private_subnet_cidrs", "outside"],
        ),
        case(
            "parallelism 0",
            &["up", "--env", "bad", "--parallelism", "0"],
            2,
            &["parallelism", "1 to 64"],
        ),
        case(
            "no shards",
            &["up", "--env", "bad", "--kinesis-shards", "0"],
            2,
            &["--kinesis-shards", "1 to 500"],
        ),
        case(
            "retention past a year",
            &["up", "--env", "bad", "--kinesis-retention-hours", "9000"],
            2,
            &["--kinesis-retention-hours", "8760"],
        ),
        case(
            "audit logs under 90 days",
            &["up", "--env", "bad", "--log-retention-days", "30"],
            2,
            &["--log-retention-days", "90"],
        ),
        case(
            "tiny database",
            &["up", "--env", "bad", "--rds-storage-gb", "5"],
            2,
            &["--rds-storage-gb", "20"],
        ),
        case(
            "bad instance class",
            &["up", "--env", "bad", "--rds-instance-class", "m5.large"],
            2,
            &["--rds-instance-class", "db.t4g.medium"],
        ),
        named(
            config("[redis]\nnum_cache_clusters = 1\n"),
            "single cache node",
            &["redis.num_cache_clusters", "at least 2"],
        ),
        named(
            config("[redis]\nmaintenance_window = \"sun:06:30-sun:07:00\"\n"),
            "short cache maintenance window",
            &["redis.maintenance_window", "60 minutes"],
        ),
        named(
            config("[rds]\nmaster_username = \"rdsadmin\"\n"),
            "reserved master user",
            &["rds.master_username", "reserved"],
        ),
        named(
            config("[rds]\nmaster_username = \"user\"\n"),
            "SQL key word as master user",
            &["rds.master_username", "reserved", "medtech_admin"],
        ),
        named(
            config("[rds]\nengine_version = \"16.4.1\"\n"),
            "engine version with a patch level",
            &["rds.engine_version", "\"16\"", "\"16.8\""],
        ),
        named(
            config("[tags]\nEnvironment = \"prod\"\n"),
            "reserved tag",
            &["tags.Environment", "remove it"],
        ),
        named(
            config("[network]\nvpc_cidr = \"10.0.0.0/16\"\nsubnets = 4\n"),
            "unknown config key",
            &["bad.toml line 3", "unknown field"],
        ),
        named(
            config("[network\nvpc_cidr = 1"),
            "malformed TOML",
            &["bad.toml line 1", "configuration"],
        ),
        case(
            "missing config file",
            &["up", "--env", "bad", "--config", "nowhere.toml"],
            2,
            &["--config nowhere.toml", "check the path"],
        ),
        case(
            "unknown region flag",
            &["up", "--env", "bad", "--region", "us-nowhere-1"],
            2,
            &["--region", "us-east-1"],
        ),
        with_env(
            case(
                "unknown region in AWS_REGION",
                &["up", "--env", "bad"],
                2,
                &["AWS_REGION", "us-east-1"],
            ),
            "AWS_REGION",
            "mars-north-1",
        ),
        case(
            "endpoint not a URL",
            &["up", "--env", "bad", "--endpoint-url", "ftp://x"],
            2,
            &["--endpoint-url", "http"],
        ),
        case(
            "unreachable endpoint",
            &["up", "--env", "bad", "--endpoint-url", "http://127.0.0.1:1"],
            4,
            &["cannot reach AWS", "--endpoint-url"],
        ),
        with_env(
            with_env(
                case(
                    "missing credentials",
                    &["up", "--env", "bad"],
                    4,
                    &["no AWS credentials", "AWS_PROFILE"],
                ),
                "AWS_ACCESS_KEY_ID",
                "",
            ),
            "AWS_SECRET_ACCESS_KEY",
            "",
        ),
        with_env(
            with_env(
                case(
                    "unknown profile",
                    &["up", "--env", "bad", "--profile", "nosuch"],
                    4,
                    &["profile \"nosuch\"", "--profile"],
                ),
                "AWS_ACCESS_KEY_ID",
                "",
            ),
            "AWS_SECRET_ACCESS_KEY",
            "",
        ),
        with_file(
            case(
                "state of another environment",
                &["up", "--env", "bad"],
                3,
                &["state/bad.json", "environment"],
            ),
            "state/bad.json",
            &other_state,
        ),
        with_file(
            case(
                "corrupt state",
                &["up", "--env", "bad"],
                3,
                &["state/bad.json", "left untouched"],
            ),
            "state/bad.json",
            "{ not json",
        ),
        with_file(
            case(
                "state from a newer medtech",
                &["up", "--env", "bad"],
                3,
                &["schema version 9", "upgrade"],
            ),
            "state/bad.json",
            &other_state
                .replace("\"schema_version\":1", "\"schema_version\":9")
                .replace(&format!("\"{env}\""), "\"bad\""),
        ),
        case(
            "destroy without --yes in CI",
            &["destroy", "--env", "bad"],
            2,
            &["--yes", "terminal"],
        ),
        case(
            "unknown output mode",
            &["up", "--env", "bad", "--output", "xml"],
            2,
            &["--output", "json"],
        ),
    ]
}

#[tokio::test]
async fn bad_input_catalogue() {
    let t = TestContext::new("other").await;
    let cases = catalogue("other");
    let mut failures = Vec::new();
    // Each case's message as a user reads it, snapshotted below (paths redacted).
    let mut messages = Vec::new();
    for c in &cases {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in &c.files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            File::create(&path)
                .unwrap()
                .write_all(body.as_bytes())
                .unwrap();
        }
        let before: Vec<_> = walk(dir.path());
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = c.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        t.reset_emulator_stats();
        let started = Instant::now();
        let out = t.medtech_in(dir.path(), &args, &env);
        let took = started.elapsed();
        let calls = t.emulator_stats()["totals"]["requests"]
            .as_u64()
            .expect("the emulator's request count");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains(" WARN ")).collect();
        let shown = lines
            .join("\n")
            .replace(&dir.path().display().to_string(), "[WORKDIR]")
            .replace(&t.dir.path().display().to_string(), "[TESTDIR]");
        messages.push(format!(
            "{} (exit {:?}):\n  {shown}",
            c.name,
            out.status.code()
        ));
        let problems: Vec<String> = [
            (out.status.code() != Some(c.code))
                .then(|| format!("exit {:?}, want {}", out.status.code(), c.code)),
            (lines.len() != 1).then(|| format!("{} lines on stderr", lines.len())),
            c.mentions
                .iter()
                .find(|m| !err.contains(*m))
                .map(|m| format!("error does not mention {m:?}")),
            // Bad input is refused before any AWS call; a state check may first ask who
            // the caller is (the state names its account).
            (calls > u64::from(c.code != 2)).then(|| format!("{calls} calls reached AWS")),
            // Only a guard against a hang: what the cases cost is counted in calls (and the
            // first call's attempts, below), which a loaded machine does not change.
            (took > Duration::from_secs(60)).then(|| format!("took {took:?}")),
            (walk(dir.path()) != before)
                .then(|| "files changed in the working directory".to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — stderr: {}",
                c.name,
                problems.join("; "),
                err.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    insta::assert_snapshot!("bad_input_messages", messages.join("\n"));
    // Nothing reached AWS as a change.
    let left: Vec<String> = t.sweep_all("bad").await.into_values().flatten().collect();
    assert!(left.is_empty(), "bad input created {left:?}");
}

/// A bare `medtech` (or `medtech state`) answers with the help, one entry per line as clap lays
/// it out, not squashed into one line as a usage error is; exit 2, as for any usage error.
#[test]
fn a_command_without_its_subcommand_prints_the_help_laid_out() {
    for (args, entry) in [(&[][..], "verify"), (&["state"][..], "refresh")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_medtech"))
            .args(args)
            .env_clear()
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.lines().any(|l| l.trim() == "Commands:"),
            "{args:?}: no \"Commands:\" heading line: {err}"
        );
        assert!(
            err.lines().any(|l| l.trim_start().starts_with(entry)),
            "{args:?}: {entry} is not on a line of its own: {err}"
        );
        assert!(err.lines().count() > 5, "{args:?}: {err}");
    }
}

/// An unreachable endpoint is reported within seconds because medtech's first call makes two
/// attempts, not the ten of every other call (a minute of backoff). Counted at an endpoint that
/// drops every connection without an answer, as a dead proxy does. (One that answers, even
/// with a 500, is reachable: `faults::a_failing_first_call_is_retried_like_any_other`.)
#[tokio::test]
async fn the_first_call_gives_up_after_two_attempts() {
    let t = TestContext::new("tries").await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            counted.fetch_add(1, Ordering::SeqCst);
            drop_after_request(stream);
        }
    });
    let out = t.medtech(&["plan", "--env", "tries", "--endpoint-url", &endpoint]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach AWS"),
        "{}",
        stderr(&out)
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "{}", stderr(&out));
}

/// Reads one HTTP request (headers and a Content-Length body) and closes the connection
/// without an answer.
fn drop_after_request(mut stream: std::net::TcpStream) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let body = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + body {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_locked_environment_names_the_holder() {
    let t = TestContext::new("locked").await;
    std::fs::create_dir_all(t.path("state")).unwrap();
    let lock = File::create(t.path("state/locked.lock")).unwrap();
    lock.try_lock().expect("take the lock as another run would");
    std::fs::write(
        t.path("state/locked.lock"),
        r#"{"pid":4242,"host":"ci-runner-7","command":"up","started_at":"2026-11-23T01:02:03Z"}"#,
    )
    .unwrap();
    let out = t.medtech(&["up", "--env", "locked"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("pid 4242 on ci-runner-7 (medtech up, started 2026-11-23 01:02:03 UTC)"),
        "{err}"
    );
    insta::assert_snapshot!("locked_environment", err);
    assert!(!t.state_file().exists());
    drop(lock);
    // Released (as when the holder exits or dies): the next run goes ahead.
    t.run_ok(&["plan"]);
}

#[tokio::test]
async fn a_second_up_while_one_runs_names_the_real_holder() {
    // RDS takes 9 s here, so the first run holds the lock for that long at least.
    let scale = [("MEDTECH_TIME_SCALE", "0.01")];
    let t = TestContext::with_behaviour("busy", serde_json::json!({"time_scale": 0.01})).await;
    let mut first = t
        .command(t.dir.path(), &["up", "--env", "busy"], &scale)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first progress line comes once it holds the lock and has written its name there.
    let mut progress = BufReader::new(first.stderr.take().unwrap()).lines();
    progress
        .next()
        .expect("the first run ended without a word")
        .unwrap();

    let second = t.medtech_with(&["up", "--env", "busy"], &scale);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended before the second was answered"
    );
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(3), "{err}");
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let holder = format!("pid {} on {host} (medtech up, started ", first.id());
    assert!(err.contains(&holder), "{holder:?} not in {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // The pid, host and start time are this run's own.
    let started = err[err.find(&holder).expect("holder") + holder.len()..]
        .split(')')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(!started.is_empty(), "no start time: {err}");
    let shown = err
        .replace(&holder, "pid [PID] on [HOST] (medtech up, started ")
        .replace(&started, "[TIME]");
    insta::assert_snapshot!("second_up_while_one_runs", shown);

    // The refused run changed nothing: the first finishes and the stack is whole.
    let rest: Vec<String> = progress.map_while(Result::ok).collect();
    assert!(first.wait().unwrap().success(), "{}", rest.join("\n"));
    t.run_ok(&["verify"]);
}

fn walk(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with("state/bad.lock") {
                out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}
