//! Real-AWS behaviour through the emulator's latency and fault layer: slow intermediate
//! states, dependencies that linger after deletes, IAM propagation delays, throttling, 5xx
//! and lost responses (applied, but the client sees a 500). medtech must finish with exactly
//! one of everything, and `destroy` must leave nothing.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestContext, stderr};
use serde_json::{Value, json};

fn counts(sweep: &BTreeMap<&'static str, Vec<String>>) -> BTreeMap<&'static str, usize> {
    sweep.iter().map(|(k, v)| (*k, v.len())).collect()
}

/// What a full environment holds, per kind, as swept from a fault-free emulator.
async fn reference() -> BTreeMap<&'static str, usize> {
    let t = TestContext::new("ref").await;
    t.run_ok(&["up"]);
    counts(&t.sweep_all("ref").await)
}

/// Real AWS durations scaled by 1/200: RDS 4.5 s, Redis 3 s, NAT 0.45 s; network interfaces
/// linger 1.5 s after RDS and ElastiCache deletes; a new IAM role is refused for 2 s.
fn latency() -> Value {
    json!({"time_scale": 0.005, "durations": {"iam_propagation": 400}})
}

#[tokio::test]
async fn up_and_destroy_wait_through_real_intermediate_states() {
    let expected = reference().await;
    let t = TestContext::with_behaviour("slow", latency()).await;
    let started = Instant::now();
    t.run_ok(&["up"]);
    let up_took = started.elapsed();
    assert_eq!(counts(&t.sweep_all("slow").await), expected);
    t.run_ok(&["verify"]);

    let stats = t.emulator_stats();
    // The layer was in play: states were shown in between, and calls refused for them.
    assert!(
        stats["totals"]["rewritten"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    let timeline = stats["timeline"].as_array().cloned().unwrap_or_default();
    for kind in ["rds", "redis", "nat", "kinesis", "vpce"] {
        assert!(
            timeline
                .iter()
                .any(|e| e["kind"] == kind && e["event"] == "create"),
            "no {kind} create modeled"
        );
    }
    // RDS was seen available only after its modeled 4.5 s: medtech waited, it did not guess.
    assert!(up_took >= Duration::from_secs(4), "up took {up_took:?}");

    t.run_ok(&[
        "destroy",
        "--yes",
        "--skip-final-snapshot",
        "--force-delete-secrets",
    ]);
    let left: Vec<String> = t.sweep_all("slow").await.into_values().flatten().collect();
    assert!(left.is_empty(), "destroy left {left:?}");
    let stats = t.emulator_stats();
    // Deletes met lingering dependencies (subnets, groups, subnet groups) and retried.
    assert!(
        stats["totals"]["refused"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
}

#[tokio::test]
async fn a_tenth_of_all_calls_failing_still_converges_to_one_of_everything() {
    let expected = reference().await;
    for seed in [1, 2, 3] {
        let env = format!("f{seed}");
        let t = TestContext::with_behaviour(
            &env,
            json!({"seed": seed, "fault_rate": 0.1, "faults": ["throttle", "server_error", "lost_response"]}),
        )
        .await;
        t.run_ok(&["up"]);
        assert_eq!(
            counts(&t.sweep_all(&env).await),
            expected,
            "seed {seed}: not exactly one of everything"
        );
        t.run_ok(&[
            "destroy",
            "--yes",
            "--skip-final-snapshot",
            "--force-delete-secrets",
        ]);
        let left: Vec<String> = t.sweep_all(&env).await.into_values().flatten().collect();
        assert!(left.is_empty(), "seed {seed}: destroy left {left:?}");
        let faults = &t.emulator_stats()["totals"]["faults"];
        for kind in ["throttle", "server_error", "lost_response"] {
            assert!(
                faults[kind].as_u64().unwrap_or(0) > 0,
                "seed {seed}: no {kind} injected: {faults}"
            );
        }
    }
}

#[tokio::test]
async fn ctrl_c_stops_waiting_saves_state_and_the_next_run_resumes() {
    let t = TestContext::with_behaviour("intr", json!({"time_scale": 0.02})).await;
    let state = t.state_file();
    let child = t
        .command(t.dir.path(), &["up", "--env", "intr"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // RDS takes 18 s here: interrupt once its creation has begun (its id is in state).
    let started = Instant::now();
    while !std::fs::read_to_string(&state)
        .unwrap_or_default()
        .contains("\"rds\"")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "RDS creation never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run the same command again to resume"),
        "{}",
        stderr(&out)
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved["resources"]["rds"]["id"].is_string());

    t.run_ok(&["up"]);
    let all = t.sweep_all("intr").await;
    assert_eq!(all["db_instance"].len(), 1, "{all:?}");
    t.run_ok(&["verify"]);
}
