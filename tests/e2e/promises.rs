//! Behaviour the documentation promises (README, `docs/`), each checked end to end against the
//! emulator and read back through the SDK.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, stderr, stdout};
use crate::lookup::{cache_cluster, endpoints_with_id};
use crate::runs::DESTROY_NOW;

/// `medtech <args> --env <env>`'s exit code, with its stderr for the failure message.
fn code(t: &TestContext, args: &[&str]) -> (Option<i32>, String) {
    let mut all = args.to_vec();
    if !args.contains(&"--env") {
        all.extend(["--env", &t.env]);
    }
    let out = t.medtech(&all);
    (out.status.code(), stderr(&out))
}

fn assert_code(t: &TestContext, args: &[&str], want: i32) {
    let (got, err) = code(t, args);
    assert_eq!(got, Some(want), "medtech {args:?}: {err}");
}

/// The documented shape of `up`/`destroy`/`plan --output json` (docs/ci.md): every key, with
/// its type; `plan` adds `orphans`.
fn assert_run_json(out: &std::process::Output, command: &str, env: &str) -> Value {
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command} --output json: {e}\n{}", stdout(out)));
    assert_eq!(json["command"], command, "{json}");
    assert_eq!(json["environment"], env, "{json}");
    assert!(json["ok"].is_boolean(), "ok: {json}");
    let steps = json["steps"].as_array().expect("steps");
    assert!(steps.len() > 40, "{} steps", steps.len());
    for step in steps {
        for key in ["resource", "kind", "status"] {
            assert!(step[key].is_string(), "{command}: step {key}: {step}");
        }
        for (key, ok) in [
            ("id", step["id"].is_string() || step["id"].is_null()),
            (
                "action",
                step["action"].is_string() || step["action"].is_null(),
            ),
            (
                "error",
                step["error"].is_string() || step["error"].is_null(),
            ),
            ("seconds", step["seconds"].is_number()),
            ("changes", step["changes"].is_array()),
        ] {
            assert!(
                step.get(key).is_some() && ok,
                "{command}: step {key}: {step}"
            );
        }
        for change in step["changes"].as_array().unwrap() {
            assert!(change["property"].is_string(), "{change}");
            for key in ["from", "to"] {
                assert!(
                    change.get(key).is_some(),
                    "{command}: change {key}: {change}"
                );
            }
        }
    }
    let calls = &json["api_calls"];
    for key in ["total", "reads", "mutating"] {
        assert!(calls[key].is_u64(), "{command}: api_calls.{key}: {calls}");
    }
    let by_operation = calls["by_operation"].as_object().expect("by_operation");
    let sum: u64 = by_operation.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(calls["total"].as_u64(), Some(sum), "{calls}");
    assert_eq!(
        calls["reads"].as_u64().unwrap() + calls["mutating"].as_u64().unwrap(),
        sum,
        "{calls}"
    );
    assert_eq!(
        json.get("orphans").is_some(),
        command == "plan",
        "{command}: orphans only in plan: {json}"
    );
    json
}

/// docs/ci.md's exit-code table, row by row for `plan --detailed-exitcode`, `verify`,
/// `destroy`, `state refresh`, `outputs` and `state show` (the interrupted and failed-step
/// codes have their own tests below); the `--output json` shapes of `plan`, `up` and
/// `destroy`; and the Markdown job summary that `verify` appends in every format.
#[tokio::test]
async fn exit_codes_json_shapes_and_the_job_summary_are_as_documented() {
    let t = TestContext::new("promise").await;
    let env = t.env.clone();

    // Nothing up yet: no state, no outputs file.
    assert_code(&t, &["outputs"], 2);
    let out = t.medtech(&["outputs"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_code(&t, &["state", "show"], 2);
    // Invalid input, for each command.
    for args in [
        &["outputs", "--env", "Bad"][..],
        &["state", "show", "--env", "Bad"],
        &["state", "refresh", "--env", "Bad"],
        &["destroy", "--yes", "--env", "Bad"],
        &["verify", "--env", "Bad"],
        &["plan", "--env", "Bad"],
    ] {
        assert_code(&t, args, 2);
    }
    // `plan --detailed-exitcode`: 1 on an error, here a bad config, never the 2 of "changes".
    std::fs::write(t.path("bad.toml"), "[kinesis]\nshard_count = 0\n").unwrap();
    assert_code(
        &t,
        &["plan", "--detailed-exitcode", "--config", "bad.toml"],
        1,
    );

    // plan before up: changes pending (2), and its JSON.
    assert_code(&t, &["plan", "--detailed-exitcode"], 2);
    let plan = t.run_ok(&["plan", "--output", "json"]);
    let json = assert_run_json(&plan, "plan", &env);
    assert_eq!(
        json["api_calls"]["mutating"], 0,
        "plan changed something: {json}"
    );
    assert!(
        json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "create"),
        "{json}"
    );
    assert_eq!(json["orphans"], Value::Array(vec![]));
    assert!(t.sweep(&env).await["vpc"].is_empty(), "plan created a VPC");

    let up = t.run_ok(&["up", "--output", "json"]);
    let json = assert_run_json(&up, "up", &env);
    assert_eq!(json["ok"], true);
    let steps = json["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .all(|s| s["status"] == "ok" && (s["action"] == "created" || s["action"] == "updated")),
        "{json}"
    );
    // The ids it reports are the ones the emulator holds.
    let vpc = steps
        .iter()
        .find(|s| s["resource"] == "vpc")
        .expect("vpc step");
    assert_eq!(t.sweep(&env).await["vpc"], [vpc["id"].as_str().unwrap()]);
    assert!(
        json["api_calls"]["mutating"].as_u64().unwrap() > 40,
        "{json}"
    );

    assert_code(&t, &["plan", "--detailed-exitcode"], 0);
    assert_code(&t, &["state", "show"], 0);
    assert_code(&t, &["outputs"], 0);
    assert_code(&t, &["state", "refresh"], 0);

    // A record in state that is no longer part of the stack: `plan` lists it in `orphans`.
    let recorded = std::fs::read_to_string(t.state_file()).unwrap();
    let mut state: Value = serde_json::from_str(&recorded).unwrap();
    state["resources"]["retired-thing"] = state["resources"]["vpc"].clone();
    std::fs::write(t.state_file(), state.to_string()).unwrap();
    let plan = t.run_ok(&["plan", "--output", "json"]);
    let json = assert_run_json(&plan, "plan", &env);
    assert_eq!(
        json["orphans"],
        serde_json::json!([{"resource": "retired-thing", "id": vpc["id"], "action": "delete"}])
    );
    std::fs::write(t.state_file(), &recorded).unwrap();

    // State locked by another run: 3.
    let lock_path = t.path(&format!("state/{env}.lock"));
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.try_lock().expect("take the lock as another run would");
    assert_code(&t, &["destroy", "--yes"], 3);
    assert_code(&t, &["state", "refresh"], 3);
    assert_code(&t, &["rotate"], 3);
    // What only reads takes no lock: it runs beside the holder.
    for args in [&["plan"][..], &["verify"], &["outputs"], &["state", "show"]] {
        assert_code(&t, args, 0);
    }
    // A wait that runs out gives up as a locked state does, from the flag or its variable.
    assert_code(&t, &["state", "refresh", "--lock-timeout", "1s"], 3);
    let waited = t.medtech_with(
        &["state", "refresh", "--env", &env],
        &[("MEDTECH_LOCK_TIMEOUT", "1s")],
    );
    assert_eq!(waited.status.code(), Some(3), "{}", stderr(&waited));
    // A wait the holder ends in time goes on.
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(lock);
    });
    assert_code(&t, &["state", "refresh", "--lock-timeout", "30s"], 0);
    holder.join().unwrap();
    // State unusable: 3.
    std::fs::write(t.state_file(), "{ not a state").unwrap();
    for args in [
        &["state", "show"][..],
        &["outputs", "--env", "promise"],
        &["state", "refresh"],
        &["destroy", "--yes"],
    ] {
        assert_code(&t, args, 3);
    }
    std::fs::write(t.state_file(), &recorded).unwrap();
    // AWS unreachable: 4.
    for args in [
        &["destroy", "--yes", "--endpoint-url", "http://127.0.0.1:1"][..],
        &["state", "refresh", "--endpoint-url", "http://127.0.0.1:1"],
    ] {
        assert_code(&t, args, 4);
    }
    assert_eq!(t.sweep(&env).await["vpc"], [vpc["id"].as_str().unwrap()]);

    // A control fails (rotation switched off behind medtech's back): `verify` exits 1 in every
    // format and appends the same Markdown summary each time.
    let key = t.outputs()["kms_key_id"].as_str().unwrap().to_owned();
    sent!(t.kms.disable_key_rotation().key_id(&key));
    let markdown = t.medtech(&["verify", "--env", &env, "--format", "markdown"]);
    assert_eq!(markdown.status.code(), Some(1), "{}", stderr(&markdown));
    let markdown = stdout(&markdown);
    assert!(
        markdown.contains("controls FAIL") && markdown.contains("`kms.rotation_enabled`"),
        "{markdown}"
    );
    for format in [
        &["--format", "table"][..],
        &["--format", "json"],
        &["--format", "junit"],
        &["--format", "markdown"],
        &["--output", "json"],
        &[],
    ] {
        let summary = t.path(&format!("summary{}.md", format.join("")));
        let mut args = vec!["verify", "--env", &env];
        args.extend(format);
        let out = t.medtech_with(&args, &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "verify {format:?}: {}",
            stderr(&out)
        );
        let written = std::fs::read_to_string(&summary)
            .unwrap_or_else(|e| panic!("verify {format:?} wrote no job summary: {e}"));
        assert_eq!(written, markdown, "verify {format:?}");
    }

    let destroy = t.run_ok(&[
        "destroy",
        "--yes",
        "--skip-final-snapshot",
        "--force-delete-secrets",
        "--output",
        "json",
    ]);
    let json = assert_run_json(&destroy, "destroy", &env);
    assert_eq!(json["ok"], true);
    assert!(
        json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "ok" && (s["action"] == "deleted" || s["action"] == "absent")),
        "{json}"
    );
    t.assert_nothing_left(&env).await;
}

/// A proxy in front of the emulator that holds the first request whose bytes contain
/// `pattern` until released: a step is then provably under way when the test interrupts,
/// however fast the emulator answers, with no latency model and no sleep.
struct HoldingProxy {
    endpoint: String,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Default)]
struct Gate {
    held: bool,
    released: bool,
}

impl HoldingProxy {
    fn start(upstream: &str, pattern: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let gate = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
        let shared = Arc::clone(&gate);
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut answers, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    std::io::copy(&mut answers, &mut to_client).ok();
                    to_client.shutdown(Shutdown::Both).ok();
                });
                let gate = Arc::clone(&shared);
                std::thread::spawn(move || forward(client, server, pattern, &gate));
            }
        });
        Self { endpoint, gate }
    }

    /// Returns once a matching request is being held.
    fn wait_until_held(&self) {
        let (lock, changed) = &*self.gate;
        let (gate, waited) = changed
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(120), |g| !g.held)
            .unwrap();
        assert!(!waited.timed_out() && gate.held, "no request was held");
    }

    fn release(&self) {
        let (lock, changed) = &*self.gate;
        lock.lock().unwrap().released = true;
        changed.notify_all();
    }
}

fn forward(
    mut client: TcpStream,
    mut server: TcpStream,
    pattern: &str,
    gate: &(Mutex<Gate>, Condvar),
) {
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match client.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if String::from_utf8_lossy(&chunk[..n]).contains(pattern) {
            let (lock, changed) = gate;
            let mut state = lock.lock().unwrap();
            if !state.released {
                state.held = true;
                changed.notify_all();
                drop(changed.wait_while(state, |g| !g.released).unwrap());
            }
        }
        if server.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    server.shutdown(Shutdown::Write).ok();
}

/// Runs `medtech <args> --env <env>` through `proxy`, interrupts it (SIGINT) while the held
/// request is under way, and lets that request go once medtech has taken the interrupt.
/// Returns the exit code, stderr and stdout.
fn interrupt_while_held(
    t: &TestContext,
    proxy: &HoldingProxy,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut all = args.to_vec();
    all.extend(["--env", &t.env]);
    let mut child: Child = t
        .command(t.dir.path(), &all, &[("AWS_ENDPOINT_URL", &proxy.endpoint)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let mut out = child.stdout.take().unwrap();
    let printed = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).map(|_| text)
    });
    proxy.wait_until_held();
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut text = String::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("medtech did not take the interrupt ({e}):\n{text}"));
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("interrupt:") {
            break;
        }
    }
    proxy.release();
    text.extend(lines.iter().map(|l| l + "\n"));
    let status = child.wait().unwrap();
    (status.code(), text, printed.join().unwrap().unwrap())
}

fn stderr_lines(child: &mut Child) -> Receiver<String> {
    let (send, lines) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Ctrl-C during `destroy` (while RDS is being deleted) and during `state refresh` (while it
/// reads the instance): exit 130, told to run again, and the next run finishes the job.
#[tokio::test]
async fn ctrl_c_during_destroy_and_refresh_exits_130_and_the_next_run_finishes() {
    let t = TestContext::new("ctrlc").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let recorded = t.state();

    let proxy = HoldingProxy::start(&t.emulator.endpoint, "Action=DescribeDBInstances");
    let (status, err, _) = interrupt_while_held(&t, &proxy, &["state", "refresh"]);
    assert_eq!(status, Some(130), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    t.run_ok(&["state", "refresh"]);
    assert_eq!(t.state()["resources"], recorded["resources"]);

    let proxy = HoldingProxy::start(&t.emulator.endpoint, "Action=DeleteDBInstance&");
    let (status, err, printed) = interrupt_while_held(
        &t,
        &proxy,
        &[
            "destroy",
            "--yes",
            "--skip-final-snapshot",
            "--output",
            "json",
        ],
    );
    assert_eq!(status, Some(130), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    // One document, as docs/json.md has it: not ok, the steps the interrupt kept from
    // starting are `not_started`, and a step it cut short says so.
    let run: Value = serde_json::from_str(&printed).expect("one JSON document on stdout");
    assert_eq!(run["ok"], false, "{run}");
    let steps = run["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|s| s["status"] == "not_started"), "{run}");
    for failed in steps.iter().filter(|s| s["status"] == "failed") {
        let error = failed["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("interrupted"), "{failed}");
    }
    // It stopped: what comes after RDS in the teardown is still there, and still recorded.
    let sweep = t.sweep(&env).await;
    assert_eq!(sweep["vpc"].len(), 1, "{sweep:?}");
    assert!(t.state()["resources"]["vpc"]["id"].is_string());

    t.run_ok(&DESTROY_NOW);
    t.assert_nothing_left(&env).await;
    assert!(!t.state_file().exists());
}

/// A delete AWS keeps refusing with a reason that may pass is asked again until the configured
/// timeout, then reported in AWS's words (exit 1, state kept); once the block is lifted, the
/// next `destroy` finishes.
#[tokio::test]
async fn a_delete_blocked_past_its_timeout_is_reported_in_aws_words() {
    let t = TestContext::new("blocked").await;
    std::fs::write(t.path("medtech.toml"), "[timeouts]\nendpoint_minutes = 1\n").unwrap();
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let id = t.state()["resources"]["secretsmanager-endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refuse = |value: &str| {
        aws_sdk_ec2::types::Tag::builder()
            .key("medtech-emulator:refuse-delete")
            .value(value)
            .build()
    };
    sent!(
        t.ec2
            .create_tags()
            .resources(&id)
            .tags(refuse("IncorrectState:100000"))
    );
    // AWS's words for this refusal, asked through the SDK.
    let asked = sent!(t.ec2.delete_vpc_endpoints().vpc_endpoint_ids(&id));
    let words = asked.unsuccessful()[0]
        .error()
        .and_then(|e| e.message())
        .expect("a reason")
        .to_owned();

    t.reset_emulator_stats();
    let scale = [("MEDTECH_TIME_SCALE", "0.01")];
    let destroy = t.medtech_with(&["destroy", "--env", &env, "--yes"], &scale);
    let err = stderr(&destroy);
    assert_eq!(destroy.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("AWS did not delete {id}: IncorrectState: {words}"))
            && err.contains("run the command again"),
        "{err}"
    );
    // It asked again until the timeout rather than giving up at the first refusal.
    let asks = t.emulator_stats()["operations"]["ec2:DeleteVpcEndpoints"]["requests"]
        .as_u64()
        .unwrap_or(0);
    assert!(asks > 2, "DeleteVpcEndpoints asked {asks} times");
    let endpoint = endpoints_with_id(&t, &id).await;
    assert_eq!(endpoint.len(), 1, "{endpoint:?}");
    assert_eq!(
        t.state()["resources"]["secretsmanager-endpoint"]["id"],
        id.as_str()
    );

    sent!(
        t.ec2
            .delete_tags()
            .resources(&id)
            .tags(refuse("IncorrectState:100000"))
    );
    let again = t.medtech_with(
        &["destroy", "--env", &env, "--yes", "--force-delete-secrets"],
        &scale,
    );
    assert!(again.status.success(), "{}", stderr(&again));
    t.assert_nothing_left(&env).await;
}

/// Every non-default setting of docs/configuration.md that reaches AWS, through one `up`, read
/// back from the emulator; `plan` and `verify` then agree that nothing differs.
#[tokio::test]
async fn non_default_settings_reach_aws() {
    let t = TestContext::new("custom").await;
    std::fs::write(
        t.path("medtech.toml"),
        r#"
[logs]
retention_days = 400

[kinesis]
shard_count = 3
retention_hours = 336

[rds]
instance_class = "db.m6g.large"
allocated_storage_gb = 50
backup_retention_days = 33
monitoring_interval_seconds = 30
performance_insights_retention_days = 31
backup_window = "01:00-01:30"
maintenance_window = "tue:02:00-tue:02:30"

[redis]
node_type = "cache.m6g.large"
num_cache_clusters = 3
snapshot_retention_days = 10
snapshot_window = "02:00-03:00"
maintenance_window = "wed:04:00-wed:05:00"

[alarms]
kinesis_iterator_age_ms = 120000
kinesis_write_throttled_records = 5
rds_cpu_percent = 70
rds_free_storage_gb = 5
redis_cpu_percent = 65
redis_replication_lag_seconds = 20
"#,
    )
    .unwrap();
    t.run_ok(&["up"]);
    let env = t.env.clone();

    let db = sent!(
        t.rds
            .describe_db_instances()
            .db_instance_identifier(format!("medtech-rds-{env}"))
    );
    let db = &db.db_instances()[0];
    assert_eq!(db.db_instance_class(), Some("db.m6g.large"));
    assert_eq!(db.allocated_storage(), Some(50));
    assert_eq!(db.backup_retention_period(), Some(33));
    assert_eq!(db.monitoring_interval(), Some(30));
    assert_eq!(db.performance_insights_retention_period(), Some(31));
    assert_eq!(db.preferred_backup_window(), Some("01:00-01:30"));
    assert_eq!(
        db.preferred_maintenance_window(),
        Some("tue:02:00-tue:02:30")
    );

    let group = sent!(
        t.elasticache
            .describe_replication_groups()
            .replication_group_id(format!("medtech-redis-{env}"))
    );
    let group = &group.replication_groups()[0];
    assert_eq!(group.cache_node_type(), Some("cache.m6g.large"));
    assert_eq!(group.member_clusters().len(), 3, "{group:?}");
    assert_eq!(group.snapshot_retention_limit(), Some(10));
    assert_eq!(group.snapshot_window(), Some("02:00-03:00"));
    for member in group.member_clusters() {
        let cluster = cache_cluster(&t, member).await;
        assert_eq!(
            cluster.cache_node_type(),
            Some("cache.m6g.large"),
            "{member}"
        );
        assert_eq!(
            cluster.preferred_maintenance_window(),
            Some("wed:04:00-wed:05:00"),
            "{member}"
        );
    }

    let stream = sent!(
        t.kinesis
            .describe_stream_summary()
            .stream_name(format!("medtech-kinesis-{env}"))
    );
    let stream = stream.stream_description_summary().unwrap();
    assert_eq!(stream.open_shard_count(), 3);
    assert_eq!(stream.retention_period_hours(), 336);

    let groups = sent!(
        t.logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/medtech/{env}/"))
    );
    assert!(!groups.log_groups().is_empty());
    for group in groups.log_groups() {
        assert_eq!(
            group.retention_in_days(),
            Some(400),
            "{:?}",
            group.log_group_name()
        );
    }

    let alarms = sent!(t.cloudwatch.describe_alarms().alarm_name_prefix("medtech-"));
    // Named medtech-<what>-<env> (STACK.md); the Redis ones watch every member through metric
    // math, so their threshold is found by name rather than by metric.
    let thresholds: BTreeMap<String, f64> = alarms
        .metric_alarms()
        .iter()
        .filter_map(|a| {
            let what = a
                .alarm_name()?
                .strip_prefix("medtech-")?
                .strip_suffix(&format!("-{env}"))?;
            Some((what.to_owned(), a.threshold()?))
        })
        .collect();
    let gib = 1024.0 * 1024.0 * 1024.0;
    let want: BTreeMap<String, f64> = [
        ("kinesis-iterator-age", 120_000.0),
        ("kinesis-write-throttled", 5.0),
        ("rds-cpu", 70.0),
        ("rds-free-storage", 5.0 * gib),
        ("redis-cpu", 65.0),
        ("redis-replication-lag", 20.0),
    ]
    .into_iter()
    .map(|(what, threshold)| (what.to_owned(), threshold))
    .collect();
    assert_eq!(thresholds, want);

    assert_code(&t, &["plan", "--detailed-exitcode"], 0);
    t.run_ok(&["verify"]);
}
