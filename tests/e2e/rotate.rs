//! `medtech rotate`: the Secrets Manager staging protocol against the emulator, which keeps
//! what AWS keeps (the RDS master password, the one or two AUTH tokens a replication group
//! accepts, each version's labels and creation date). Every assertion reads what the emulator
//! holds, never what medtech printed.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestContext, stderr, stdout};
use crate::runs::{check, failed};

const RDS: &str = "rds-secret";
const REDIS: &str = "redis-secret";
/// The emulator's latency model at this scale: an RDS or Redis modification takes 0.6 s.
const SCALE: f64 = 0.01;

/// One version of a secret as Secrets Manager lists it.
struct Version {
    id: String,
    stages: Vec<String>,
}

impl TestContext {
    /// The secret's ARN, as `up` recorded it.
    fn secret_name(&self, secret: &str) -> String {
        self.state()["resources"][secret]["attrs"]["arn"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn versions(&self, secret: &str) -> Vec<Version> {
        let out = self
            .secrets
            .list_secret_version_ids()
            .secret_id(self.secret_name(secret))
            .send()
            .await
            .unwrap();
        out.versions()
            .iter()
            .map(|v| Version {
                id: v.version_id().unwrap().to_owned(),
                stages: v.version_stages().to_vec(),
            })
            .collect()
    }

    async fn holding(&self, secret: &str, stage: &str) -> Option<String> {
        self.versions(secret)
            .await
            .into_iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
            .map(|v| v.id)
    }

    /// The JSON value of the version holding `stage`.
    async fn value_at(&self, secret: &str, stage: &str) -> serde_json::Map<String, Value> {
        let out = self
            .secrets
            .get_secret_value()
            .secret_id(self.secret_name(secret))
            .version_stage(stage)
            .send()
            .await
            .unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    }

    /// The credential the version holding `stage` carries.
    async fn credential_at(&self, secret: &str, stage: &str) -> String {
        let key = if secret == RDS {
            "password"
        } else {
            "auth_token"
        };
        self.value_at(secret, stage).await[key]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Whether the service would accept `value` now, and how many values it accepts.
    fn accepts(&self, secret: &str, value: &str) -> (bool, u64) {
        let (service, resource) = match secret {
            RDS => ("rds", "rds"),
            _ => ("redis", "redis"),
        };
        let id = self.state()["resources"][resource]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = json!({"service": service, "id": id, "value": value}).to_string();
        let (status, body) = self.emulator_control(
            "POST",
            "/_medtech/credentials/check",
            Some(("application/json", &body)),
        );
        assert!(
            status.contains(" 200 "),
            "credentials check: {status} {body}"
        );
        let answer: Value = serde_json::from_str(&body).unwrap();
        (
            answer["accepted"].as_bool().unwrap(),
            answer["accepted_count"].as_u64().unwrap(),
        )
    }

    /// Makes every version of `secret` `days` older, as if written then.
    fn backdate(&self, secret: &str, days: u32) {
        let body = json!({"secret_id": self.secret_name(secret), "days": days}).to_string();
        let (status, body) = self.emulator_control(
            "POST",
            "/_medtech/secrets/backdate",
            Some(("application/json", &body)),
        );
        assert!(status.contains(" 200 "), "backdate: {status} {body}");
    }

    fn rotation_in_state(&self, secret: &str) -> Value {
        self.state()["rotations"][secret].clone()
    }
}

/// A stack up on an emulator whose modifications take time, as on AWS.
async fn stack(env: &str) -> TestContext {
    stack_with(env, json!({ "time_scale": SCALE })).await
}

async fn stack_with(env: &str, behaviour: Value) -> TestContext {
    let t = TestContext::with_behaviour(env, behaviour).await;
    run(&t, &["up"]);
    t
}

fn run(t: &TestContext, args: &[&str]) -> std::process::Output {
    let out = try_run(t, args);
    assert!(
        out.status.success(),
        "medtech {args:?}: {}\n{}",
        out.status,
        stderr(&out)
    );
    out
}

fn try_run(t: &TestContext, args: &[&str]) -> std::process::Output {
    let scale = SCALE.to_string();
    let mut all = args.to_vec();
    all.extend(["--env", &t.env]);
    t.medtech_with(&all, &[("MEDTECH_TIME_SCALE", &scale)])
}

/// `rotate --output json`'s document (docs/json.md): each secret's action and the version
/// AWSCURRENT holds afterwards, in the order printed.
fn rotation_actions(out: &std::process::Output, env: &str) -> Vec<(String, String, String)> {
    let doc: Value = serde_json::from_str(&stdout(out)).expect("one JSON document");
    assert_eq!(
        (&doc["format_version"], &doc["command"], &doc["environment"]),
        (&json!(1), &json!("rotate"), &json!(env)),
        "{doc}"
    );
    doc["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| {
            let field = |k: &str| {
                s[k].as_str()
                    .unwrap_or_else(|| panic!("{k}: {s}"))
                    .to_owned()
            };
            (field("secret"), field("action"), field("version_id"))
        })
        .collect()
}

#[tokio::test]
async fn rotate_moves_awscurrent_to_values_the_services_accept() {
    let t = stack("rot-basic").await;
    let old_password = t.credential_at(RDS, "AWSCURRENT").await;
    let old_token = t.credential_at(REDIS, "AWSCURRENT").await;
    let old_rds = t.value_at(RDS, "AWSCURRENT").await;
    assert_eq!(t.accepts(RDS, &old_password), (true, 1));
    assert_eq!(t.accepts(REDIS, &old_token), (true, 1));

    let rotated = run(&t, &["rotate", "--output", "json"]);

    let password = t.credential_at(RDS, "AWSCURRENT").await;
    let token = t.credential_at(REDIS, "AWSCURRENT").await;
    assert_ne!(password, old_password);
    assert_ne!(token, old_token);
    assert_eq!(t.credential_at(RDS, "AWSPREVIOUS").await, old_password);
    assert_eq!(t.credential_at(REDIS, "AWSPREVIOUS").await, old_token);
    // The services hold the new values: RDS only the new password, Redis both tokens until SET.
    assert_eq!(t.accepts(RDS, &password), (true, 1));
    assert!(!t.accepts(RDS, &old_password).0);
    assert_eq!(t.accepts(REDIS, &token), (true, 2));
    assert!(t.accepts(REDIS, &old_token).0);
    // Same shape, same connection details, the same character rules as at creation.
    let new_rds = t.value_at(RDS, "AWSCURRENT").await;
    for key in ["username", "engine", "host", "port", "dbname"] {
        assert_eq!(new_rds[key], old_rds[key], "{key}");
    }
    assert_eq!(
        new_rds.keys().collect::<Vec<_>>(),
        old_rds.keys().collect::<Vec<_>>()
    );
    assert!(password.len() >= 32 && !password.contains(['/', '@', '"', ' ']));
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_alphanumeric()));
    for secret in [RDS, REDIS] {
        assert_eq!(t.holding(secret, "AWSPENDING").await, None, "{secret}");
    }
    // The document says what each secret went through and the version AWSCURRENT holds now.
    let current = [
        t.holding(RDS, "AWSCURRENT").await.unwrap(),
        t.holding(REDIS, "AWSCURRENT").await.unwrap(),
    ];
    assert_eq!(
        rotation_actions(&rotated, &t.env),
        [
            (
                "rds-secret".to_owned(),
                "rotated".to_owned(),
                current[0].clone()
            ),
            (
                "redis-secret".to_owned(),
                "set-pending".to_owned(),
                current[1].clone()
            ),
        ]
    );
    // The pending SET is in state (without a value), in plan and in verify.
    assert_eq!(t.rotation_in_state(RDS), Value::Null);
    let pending = t.rotation_in_state(REDIS);
    assert_eq!(pending["step"], "promoted", "{pending}");
    assert!(pending["set_pending_since"].is_string(), "{pending}");
    let plan = run(&t, &["plan"]);
    assert!(
        stdout(&plan).contains("redis-secret: the old Redis AUTH token is still accepted"),
        "{}",
        stdout(&plan)
    );
    let plan = run(&t, &["plan", "--output", "json"]);
    let plan: Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let rotations = plan["rotations"].as_object().expect("rotations");
    assert_eq!(
        rotations.keys().collect::<Vec<_>>(),
        ["redis-secret"],
        "{plan}"
    );
    assert_eq!(rotations["redis-secret"]["step"], "promoted", "{plan}");
    assert_eq!(
        rotations["redis-secret"]["set_pending_since"], pending["set_pending_since"],
        "{plan}"
    );
    let verify = run(&t, &["verify", "--output", "json"]);
    let report: Value = serde_json::from_str(&stdout(&verify)).unwrap();
    for id in [
        "redis-secret.old_token_retired",
        "rds-secret.rotation_age",
        "rds-secret.rotation_unfinished",
    ] {
        assert_eq!(check(&report, id)["passed"], true, "{id}");
    }
    // With no grace at all, the old token still accepted is a failure.
    std::fs::write(t.path("medtech.toml"), "[secrets]\nredis_grace_hours = 0\n").unwrap();
    let strict = try_run(&t, &["verify", "--output", "json"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    let report: Value = serde_json::from_str(&stdout(&strict)).unwrap();
    let failed: Vec<&str> = failed(&report).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["redis-secret.old_token_retired"], "{report}");
    std::fs::remove_file(t.path("medtech.toml")).unwrap();

    // `up` never rotates: the values, their versions and the pending SET stay as they are.
    let versions = [
        t.holding(RDS, "AWSCURRENT").await,
        t.holding(REDIS, "AWSCURRENT").await,
    ];
    run(&t, &["up"]);
    assert_eq!(
        [
            t.holding(RDS, "AWSCURRENT").await,
            t.holding(REDIS, "AWSCURRENT").await
        ],
        versions
    );
    assert_eq!(t.accepts(REDIS, &old_token), (true, 2));
    assert_eq!(t.rotation_in_state(REDIS), pending);

    // The next run retires the old token and, the secret being fresh, rotates nothing more.
    let out = run(
        &t,
        &[
            "rotate",
            "--secret",
            "redis",
            "--if-older-than",
            "30d",
            "--output",
            "json",
        ],
    );
    assert_eq!(
        rotation_actions(&out, &t.env),
        [(
            "redis-secret".to_owned(),
            "finished".to_owned(),
            current[1].clone()
        )]
    );
    assert_eq!(t.accepts(REDIS, &token), (true, 1), "{}", stderr(&out));
    assert!(!t.accepts(REDIS, &old_token).0);
    assert_eq!(t.credential_at(REDIS, "AWSCURRENT").await, token);
    assert_eq!(t.state()["rotations"], Value::Null);
}

#[tokio::test]
async fn grace_retires_the_old_token_in_the_same_run() {
    let t = stack("rot-grace").await;
    let old_token = t.credential_at(REDIS, "AWSCURRENT").await;
    run(&t, &["rotate", "--secret", "redis", "--grace", "2s"]);
    let token = t.credential_at(REDIS, "AWSCURRENT").await;
    assert_eq!(t.accepts(REDIS, &token), (true, 1));
    assert!(!t.accepts(REDIS, &old_token).0);
    assert_eq!(t.state()["rotations"], Value::Null);
}

#[tokio::test]
async fn if_older_than_skips_fresh_secrets_and_rotates_old_ones() {
    let t = stack("rot-age").await;
    let rds_before = t.holding(RDS, "AWSCURRENT").await.unwrap();
    let redis_before = t.holding(REDIS, "AWSCURRENT").await.unwrap();
    let out = run(&t, &["rotate", "--if-older-than", "30d"]);
    assert!(
        stderr(&out).contains("nothing to rotate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.holding(RDS, "AWSCURRENT").await.unwrap(), rds_before);
    assert_eq!(t.holding(REDIS, "AWSCURRENT").await.unwrap(), redis_before);
    let fresh = run(
        &t,
        &["rotate", "--if-older-than", "30d", "--output", "json"],
    );
    assert_eq!(
        rotation_actions(&fresh, &t.env),
        [
            (
                "rds-secret".to_owned(),
                "fresh".to_owned(),
                rds_before.clone()
            ),
            (
                "redis-secret".to_owned(),
                "fresh".to_owned(),
                redis_before.clone()
            ),
        ]
    );

    t.backdate(RDS, 40);
    run(&t, &["rotate", "--if-older-than", "30d"]);
    assert_ne!(t.holding(RDS, "AWSCURRENT").await.unwrap(), rds_before);
    assert_eq!(t.holding(REDIS, "AWSCURRENT").await.unwrap(), redis_before);
}

#[tokio::test]
async fn verify_fails_a_secret_older_than_rotation_days() {
    let t = stack("rot-verify").await;
    t.backdate(REDIS, 91);
    let out = try_run(&t, &["verify", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let failed: Vec<&str> = failed(&report).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["redis-secret.rotation_age"], "{report}");

    // A longer limit in the config passes it; rotating makes it young again.
    std::fs::write(t.path("medtech.toml"), "[secrets]\nrotation_days = 120\n").unwrap();
    run(&t, &["verify"]);
    std::fs::remove_file(t.path("medtech.toml")).unwrap();
    run(&t, &["rotate", "--secret", "redis", "--grace", "0s"]);
    run(&t, &["verify"]);
}

#[tokio::test]
async fn no_secret_value_appears_in_any_output_at_the_highest_verbosity() {
    let t = stack("rot-quiet").await;
    let old = [
        t.credential_at(RDS, "AWSCURRENT").await,
        t.credential_at(REDIS, "AWSCURRENT").await,
    ];
    let first = run(&t, &["rotate", "-vvv"]);
    let second = run(&t, &["rotate", "-vvv", "--output", "json"]);
    let mut values = old.to_vec();
    values.push(t.credential_at(RDS, "AWSCURRENT").await);
    values.push(t.credential_at(REDIS, "AWSCURRENT").await);
    values.push(t.credential_at(RDS, "AWSPREVIOUS").await);
    values.push(t.credential_at(REDIS, "AWSPREVIOUS").await);
    let state = std::fs::read_to_string(t.state_file()).unwrap();
    for out in [&first, &second] {
        let text = format!("{}{}", stdout(out), stderr(out));
        assert!(
            text.contains("ModifyReplicationGroup") || text.contains("modify_replication_group"),
            "-vvv shows the calls"
        );
        for v in &values {
            assert!(!text.contains(v.as_str()), "a secret value in the output");
            assert!(!state.contains(v.as_str()), "a secret value in state");
        }
    }
}

/// Steps as the state records them, in order.
const STEPS: [&str; 4] = ["begun", "staged", "sent", "promoted"];

fn only(secret: &str) -> &'static str {
    if secret == RDS { "rds" } else { "redis" }
}

/// Starts `rotate --secret <secret>` and kills it the moment state records `step` (or a
/// later one) of a rotation other than `previous`. A Redis run waits out a grace of a minute
/// (0.6 s here) after its promotion, so a kill there lands before its `SET`. Returns the step
/// state held after the kill.
fn kill_at(t: &TestContext, secret: &str, step: &str, previous: &Value) -> String {
    let scale = SCALE.to_string();
    let mut child = t
        .command(
            t.dir.path(),
            &[
                "rotate",
                "--secret",
                only(secret),
                "--grace",
                "60s",
                "--env",
                &t.env,
            ],
            &[("MEDTECH_TIME_SCALE", &scale)],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wanted = STEPS.iter().position(|s| *s == step).unwrap();
    let started = Instant::now();
    loop {
        let rotation = std::fs::read_to_string(t.state_file())
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .map(|s| s["rotations"][secret].clone())
            .unwrap_or(Value::Null);
        let at = rotation["step"].as_str();
        if rotation["version_id"] != previous["version_id"]
            && let Some(at) = at
            && STEPS.iter().position(|s| *s == at).unwrap() >= wanted
        {
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let status = child.wait().unwrap();
            assert_eq!(
                status.signal(),
                Some(libc::SIGKILL),
                "rotate ended before the kill at {step}"
            );
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rotate ended ({status}) before state showed {step}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {step} within a minute"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    t.rotation_in_state(secret)["step"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Kills `rotate` of `secret` at every step boundary in turn, each time re-running it, and
/// checks what AWS holds at the kill and after the re-run: the value in `AWSCURRENT` accepted
/// at every kill (RDS excepted in its documented window), and after the re-run exactly the
/// one new version the killed run began, accepted, with no `AWSPENDING` left.
async fn killed_at_every_step(secret: &'static str, env: &str) {
    // Secrets Manager answers in 50 ms, as across a region: the steps between two of its
    // calls last long enough for the kill to land in them.
    let t = stack_with(
        env,
        json!({ "time_scale": SCALE, "service_latency": { "secretsmanager": 0.05 } }),
    )
    .await;
    let steps: &[&str] = if secret == RDS { &STEPS[..3] } else { &STEPS };
    let mut killed_at = Vec::new();
    for step in steps {
        let before = t.holding(secret, "AWSCURRENT").await.unwrap();
        let old = t.credential_at(secret, "AWSCURRENT").await;
        let at = kill_at(&t, secret, step, &t.rotation_in_state(secret));
        killed_at.push(at.clone());
        let version = t.rotation_in_state(secret)["version_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let current = t.credential_at(secret, "AWSCURRENT").await;
        if secret == RDS && at == "sent" {
            // The documented window of a single-user rotation: once RDS has the new password
            // and until AWSCURRENT moves, only the pending one is accepted.
            let pending = t.credential_at(secret, "AWSPENDING").await;
            assert!(
                t.accepts(secret, &pending).0 || t.accepts(secret, &current).0,
                "killed at {at}: neither value accepted"
            );
        } else {
            assert!(
                t.accepts(secret, &current).0,
                "{secret} killed at {at}: AWSCURRENT refused"
            );
        }

        // The scheduled job's re-run: it finishes what was begun and, the secret being fresh
        // then, begins nothing more.
        let out = run(
            &t,
            &[
                "rotate",
                "--secret",
                only(secret),
                "--if-older-than",
                "30d",
                "--grace",
                "0s",
            ],
        );
        let now = t.holding(secret, "AWSCURRENT").await.unwrap();
        assert_eq!(now, version, "killed at {at}: {}", stderr(&out));
        assert_eq!(
            t.holding(secret, "AWSPREVIOUS").await.unwrap(),
            before,
            "killed at {at}"
        );
        assert_eq!(
            t.holding(secret, "AWSPENDING").await,
            None,
            "killed at {at}"
        );
        let value = t.credential_at(secret, "AWSCURRENT").await;
        assert_eq!(
            t.accepts(secret, &value),
            (true, 1),
            "killed at {at}: the new value alone is accepted"
        );
        assert!(
            !t.accepts(secret, &old).0,
            "killed at {at}: old value still accepted"
        );
        assert_eq!(t.state()["rotations"], Value::Null, "killed at {at}");
    }
    assert_eq!(killed_at, steps, "kills landed late");
}

/// A rotation the state lost track of (its file deleted or rebuilt, or another machine's run
/// killed) is found by its `AWSPENDING` version: `verify` fails it as unfinished, and the next
/// run finishes that version instead of beginning another.
#[tokio::test]
async fn a_pending_version_no_state_knows_is_found_and_finished() {
    let t = stack_with(
        "rot-lost",
        json!({ "time_scale": SCALE, "service_latency": { "secretsmanager": 0.05 } }),
    )
    .await;
    let old = t.credential_at(RDS, "AWSCURRENT").await;
    kill_at(&t, RDS, "staged", &Value::Null);
    let pending = t
        .holding(RDS, "AWSPENDING")
        .await
        .expect("a staged version");
    let mut state = t.state();
    state.as_object_mut().unwrap().remove("rotations");
    std::fs::write(t.state_file(), state.to_string()).unwrap();

    let out = try_run(&t, &["verify", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let failed: Vec<&str> = failed(&report).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["rds-secret.rotation_unfinished"], "{report}");

    let out = run(&t, &["rotate", "--secret", "rds", "--if-older-than", "30d"]);
    assert_eq!(
        t.holding(RDS, "AWSCURRENT").await,
        Some(pending),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.holding(RDS, "AWSPENDING").await, None);
    let password = t.credential_at(RDS, "AWSCURRENT").await;
    assert_eq!(t.accepts(RDS, &password), (true, 1));
    assert!(!t.accepts(RDS, &old).0, "the old password still works");
    run(&t, &["verify"]);
}

#[tokio::test]
async fn rds_rotation_killed_at_every_step_is_finished_by_the_next_run() {
    killed_at_every_step(RDS, "rot-kill-rds").await;
}

#[tokio::test]
async fn redis_rotation_killed_at_every_step_is_finished_by_the_next_run() {
    killed_at_every_step(REDIS, "rot-kill-redis").await;
}
