//! Crash safety: `up` killed with SIGKILL right after each step boundary in turn — every step
//! of the graph — then run again, converges with exactly one of every resource and a valid
//! state file.
//!
//! The boundary is seen from outside, as a user would see it: the state file gains a record
//! after every step, so the test watches it and kills the process the moment it holds N
//! records. With `--parallelism 1` the next step has just begun. The emulator runs its latency
//! model, so the kills after RDS, Redis, the NAT gateway, the endpoints and the stream land
//! while AWS is still creating them, as a real crash would; the `killed_while_*` tests kill
//! a third of the way through each of those creates on purpose.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TestContext, stderr};
use crate::runs::failed;
use crate::sweep::counts;
use serde_json::Value;

fn records(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["resources"].as_object().map(|r| r.len()))
        .unwrap_or(0)
}

/// Modeled durations for the kill points: small enough that the ~40 runs of a test stay short
/// (RDS 0.9 s, Redis 0.6 s, NAT and endpoints 90 ms, the stream 30 ms), long enough that a kill
/// after such a step lands while AWS is still creating it.
const KILL_SCALE: f64 = 0.001;

/// How many tests share the kill points: they run side by side, and each kill and resume is
/// a run of its own.
const PARTS: usize = 4;

/// The boundaries the `part`-th test kills at: every `PARTS`-th, so that each test gets early
/// and late steps alike (a late kill costs a longer run). Derived from the real step count, so
/// that together the tests kill after every step but the last, whatever the stack grows to.
fn boundaries(steps: usize, part: usize) -> impl Iterator<Item = usize> {
    (1..steps).filter(move |n| n % PARTS == part)
}

#[test]
fn the_parts_kill_after_every_step_but_the_last() {
    for steps in 2..100 {
        let mut all: Vec<usize> = (0..PARTS).flat_map(|p| boundaries(steps, p)).collect();
        all.sort_unstable();
        assert_eq!(all, (1..steps).collect::<Vec<_>>(), "{steps} steps");
    }
}

/// Kills `up` after every boundary of `part`, re-runs it, and checks.
async fn kill_at(part: usize, prefix: &str) {
    let scale = KILL_SCALE.to_string();
    let scale = [("MEDTECH_TIME_SCALE", scale.as_str())];
    let reference_env = format!("{prefix}ref");
    let t = TestContext::with_behaviour(
        &reference_env,
        serde_json::json!({ "time_scale": KILL_SCALE }),
    )
    .await;
    let reference_run = t.medtech_with(
        &["up", "--env", &reference_env, "--parallelism", "1"],
        &scale,
    );
    assert!(
        reference_run.status.success(),
        "reference up: {}",
        stderr(&reference_run)
    );
    let reference = counts(&t.sweep_all(&t.env).await);
    let steps = t.state()["resources"].as_object().unwrap().len();
    assert!(steps >= 40, "only {steps} steps");

    // Boundaries where `up` ended before the kill, and kills that found more than N records.
    let mut missed = Vec::new();
    let mut late = Vec::new();
    // The modeled creates that a kill interrupted.
    let mut inside_waits = BTreeSet::new();
    for n in boundaries(steps, part) {
        let env = format!("{prefix}{n}");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(format!("state/{env}.json"));
        let spawned_at = now();
        let mut child = t
            .command(
                dir.path(),
                &["up", "--env", &env, "--parallelism", "1"],
                &scale,
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut killed_at = None;
        while child.try_wait().unwrap().is_none() {
            if records(&state) >= n {
                killed_at = Some(now());
                // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "up never reached {n} steps"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        let status = child.wait().unwrap();
        // The file the killed process left is the one it had at the moment of the kill.
        let at_kill = records(&state);
        match killed_at {
            Some(killed_at) if status.signal() == Some(libc::SIGKILL) => {
                if at_kill != n {
                    late.push((n, at_kill));
                }
                inside_waits.extend(interrupted_creates(&t, spawned_at, killed_at));
            }
            _ => missed.push((n, status)),
        }
        // The state left behind is valid, whatever the moment of the kill.
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        if !text.is_empty() {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("kill at {n}: corrupt state: {e}"));
        }

        let again = t.medtech_in(dir.path(), &["up", "--env", &env], &scale);
        assert!(
            again.status.success(),
            "kill at {n}: resume failed: {}",
            stderr(&again)
        );
        assert_eq!(
            counts(&t.sweep_all(&env).await),
            reference,
            "kill at {n}: not exactly one of everything"
        );
        let resumed: Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(
            resumed["resources"].as_object().unwrap().len(),
            steps,
            "kill at {n}: state incomplete"
        );
    }
    eprintln!(
        "{prefix}: killed at boundaries {:?}, inside the creates of {inside_waits:?}",
        boundaries(steps, part).collect::<Vec<_>>()
    );
    assert!(
        missed.is_empty(),
        "up ended before the kill at boundaries (boundary, exit) {missed:?}"
    );
    assert!(
        late.is_empty(),
        "the kill came after the next step had been recorded (boundary, records at the kill): {late:?}"
    );
    // Which kills land inside a create depends on where the slow steps fall among this part's
    // boundaries; the `killed_while_*` tests below kill inside every wait by design.
}

/// The kinds whose modeled create, begun by the run started at `spawned_at`, was still under
/// way at `killed_at`.
fn interrupted_creates(t: &TestContext, spawned_at: f64, killed_at: f64) -> Vec<String> {
    let stats = t.emulator_stats();
    let Some(timeline) = stats["timeline"].as_array() else {
        return Vec::new();
    };
    timeline
        .iter()
        .filter(|e| e["event"] == "create" && e["started_at"].as_f64() >= Some(spawned_at))
        .filter(|e| {
            let (from, to) = ready_window(e);
            from <= killed_at && killed_at < to
        })
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn killed_after_steps_4k_plus_1_resumes_with_one_of_everything() {
    kill_at(1, "ka").await;
}

#[tokio::test]
async fn killed_after_steps_4k_plus_2_resumes_with_one_of_everything() {
    kill_at(2, "kb").await;
}

#[tokio::test]
async fn killed_after_steps_4k_plus_3_resumes_with_one_of_everything() {
    kill_at(3, "kc").await;
}

#[tokio::test]
async fn killed_after_steps_4k_resumes_with_one_of_everything() {
    kill_at(0, "kd").await;
}

/// Modeled durations for the kills inside waits: every wait lasts seconds at this scale, so a
/// kill lands well inside it (RDS and Redis 9 s, NAT, endpoints and the stream 3 s).
const WAIT_SCALE: &str = "0.005";

fn slow_waits() -> Value {
    serde_json::json!({
        "time_scale": 0.005,
        "durations": {
            "rds_create": 1800, "redis_create": 1800, "nat_create": 600,
            "vpce_create": 600, "kinesis_create": 600, "iam_propagation": 200
        }
    })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// When a modeled transition started, and when it is due to end (epoch seconds).
fn ready_window(entry: &Value) -> (f64, f64) {
    let from = entry["started_at"].as_f64().unwrap();
    (from, from + entry["modeled_seconds"].as_f64().unwrap())
}

/// The emulator's first modeled create of `kind` that started after `since`.
fn create_of(t: &TestContext, kind: &str, since: f64) -> Option<Value> {
    t.emulator_stats()["timeline"]
        .as_array()?
        .iter()
        .find(|e| {
            e["kind"] == kind
                && e["event"] == "create"
                && e["started_at"].as_f64().is_some_and(|s| s >= since)
                && e["modeled_seconds"].as_f64().is_some_and(|m| m >= 2.0)
        })
        .cloned()
}

/// Kills `up` a third of the way through AWS's create of `kind`, while medtech waits for it;
/// `plan` and `verify` then say it is still being created rather than drifted, and `up` again
/// converges with exactly one of everything.
async fn kill_inside_wait(kind: &str) {
    let reference = TestContext::reference_counts().await;
    let env = format!("w{kind}");
    let t = TestContext::with_behaviour(&env, slow_waits()).await;
    let scale = [("MEDTECH_TIME_SCALE", WAIT_SCALE)];
    let since = now();
    let mut child = t
        .command(t.dir.path(), &["up", "--env", &env], &scale)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let entry = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "up ended before the {kind} create was a third done"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no {kind} create was modeled"
        );
        if let Some(e) = create_of(&t, kind, since) {
            let (from, to) = ready_window(&e);
            if now() >= from + (to - from) / 3.0 {
                // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break e;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed_at = now();
    // AWS goes on creating while nobody runs: the emulator's clock stops so that it is still
    // creating when plan and verify ask, however long a loaded machine takes to start them.
    t.emulator_clock(true);
    child.wait().unwrap();
    let (_, ready_at) = ready_window(&entry);
    assert!(
        killed_at < ready_at,
        "the kill came after the {kind} create was done"
    );

    // While it is still being created, plan and verify say so, and call nothing drift.
    if matches!(kind, "rds" | "redis") {
        let name = if kind == "rds" { "rds" } else { "redis" };
        let plan = t.medtech_with(
            &[
                "plan",
                "--env",
                &env,
                "--detailed-exitcode",
                "--output",
                "json",
            ],
            &scale,
        );
        let verify = t.medtech_with(&["verify", "--env", &env, "--format", "json"], &scale);
        assert!(
            create_of(&t, kind, since).is_some_and(|e| e["ready_at"].is_null()),
            "plan and verify ran after the create was done"
        );
        assert_eq!(plan.status.code(), Some(2), "plan: {}", stderr(&plan));
        let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
        let step = plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["resource"] == name)
            .unwrap();
        assert_eq!(step["action"], "settling", "{step}");
        assert_eq!(step["aws_status"], "creating", "{step}");
        assert_eq!(verify.status.code(), Some(1), "verify: {}", stderr(&verify));
        let verify: Value = serde_json::from_slice(&verify.stdout).unwrap();
        let failed: Vec<&Value> = failed(&verify).filter(|c| c["resource"] == name).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["id"], format!("{name}.settled"));
        assert_eq!(failed[0]["observed"], "still creating");
    }

    t.emulator_clock(false);
    let again = t.medtech_with(&["up", "--env", &env], &scale);
    assert!(
        again.status.success(),
        "killed inside the {kind} wait: resume failed: {}",
        stderr(&again)
    );
    assert_eq!(
        counts(&t.sweep_all(&env).await),
        reference,
        "killed inside the {kind} wait: not exactly one of everything"
    );
    let verify = t.medtech_with(&["verify", "--env", &env], &scale);
    assert!(
        verify.status.success(),
        "verify after resuming the {kind} wait: {}",
        stderr(&verify)
    );
}

#[tokio::test]
async fn killed_while_redis_is_creating_resumes() {
    kill_inside_wait("redis").await;
}

#[tokio::test]
async fn killed_while_rds_is_creating_resumes() {
    kill_inside_wait("rds").await;
}

#[tokio::test]
async fn killed_while_the_nat_gateway_is_pending_resumes() {
    kill_inside_wait("nat").await;
}

#[tokio::test]
async fn killed_while_an_endpoint_is_pending_resumes() {
    kill_inside_wait("vpce").await;
}

#[tokio::test]
async fn killed_while_the_stream_is_creating_resumes() {
    kill_inside_wait("kinesis").await;
}
