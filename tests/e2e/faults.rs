//! Real-AWS behaviour through the emulator's latency and fault layer: slow intermediate
//! states, dependencies that linger after deletes, IAM propagation delays, throttling, 5xx
//! and lost responses (applied, but the client sees a 500). medtech must finish with exactly
//! one of everything, and `destroy` must leave nothing.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::common::sent;
use crate::runs::DESTROY_NOW;
use crate::sweep::counts;
use serde_json::{Value, json};

/// Real AWS durations scaled by 1/200: RDS 4.5 s, Redis 3 s, NAT 0.45 s; network interfaces
/// linger 10 s after RDS, ElastiCache and endpoint deletes (AWS: up to about 45 min; long
/// enough here that medtech's subnet and group deletes meet them); a new IAM role is refused
/// for 2 s.
fn latency() -> Value {
    json!({"time_scale": 0.005, "durations": {"iam_propagation": 400, "eni_linger": 2000}})
}

#[tokio::test]
async fn up_and_destroy_wait_through_real_intermediate_states() {
    let expected = TestContext::reference_counts().await;
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

    // Counted from here: the refusals `up` met (IAM propagation) must not count for destroy.
    t.reset_emulator_stats();
    t.run_ok(&DESTROY_NOW);
    t.assert_nothing_left("slow").await;
    let stats = t.emulator_stats();
    // Deletes met the network interfaces that linger after RDS, ElastiCache and the endpoints,
    // were refused, and retried until they went through (the sweep above). The subnets go
    // after the groups, whose retries outlast the linger, so the groups are the ones refused.
    assert!(
        stats["operations"]["ec2:DeleteSecurityGroup"]["refused"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "DeleteSecurityGroup never refused: {stats}"
    );
}

#[tokio::test]
async fn a_tenth_of_all_calls_failing_still_converges_to_one_of_everything() {
    let expected = TestContext::reference_counts().await;
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
        t.run_ok(&DESTROY_NOW);
        t.assert_nothing_left(&env).await;
        let faults = &t.emulator_stats()["totals"]["faults"];
        for kind in ["throttle", "server_error", "lost_response"] {
            assert!(
                faults[kind].as_u64().unwrap_or(0) > 0,
                "seed {seed}: no {kind} injected: {faults}"
            );
        }
    }
}

/// Every call that makes something, each losing its first answer: AWS applied it, medtech saw a
/// 500. The retry must find what the lost call made instead of making a second one — whether
/// the API takes a client token or not (CreateKey takes none, and the key's alias, by which it
/// is found, comes only after).
#[tokio::test]
async fn a_lost_answer_to_any_create_makes_no_second_resource() {
    const CREATES: [&str; 25] = [
        "ec2:AllocateAddress",
        "ec2:CreateFlowLogs",
        "ec2:CreateInternetGateway",
        "ec2:CreateNatGateway",
        "ec2:CreateRouteTable",
        "ec2:CreateSecurityGroup",
        "ec2:CreateSubnet",
        "ec2:CreateVpc",
        "ec2:CreateVpcEndpoint",
        "cloudwatch:PutMetricAlarm",
        "elasticache:CreateCacheSubnetGroup",
        "elasticache:CreateReplicationGroup",
        "iam:CreatePolicy",
        "iam:CreateRole",
        "kinesis:CreateStream",
        "kms:CreateAlias",
        "kms:CreateKey",
        "logs:CreateLogGroup",
        "rds:CreateDBInstance",
        "rds:CreateDBParameterGroup",
        "rds:CreateDBSubnetGroup",
        "secretsmanager:CreateSecret",
        "sns:CreateTopic",
        "kms:PutKeyPolicy",
        "secretsmanager:PutSecretValue",
    ];
    let expected = TestContext::reference_counts().await;
    let t = TestContext::with_behaviour(
        "lost",
        json!({
            "seed": 7,
            "fault_rate": 1.0,
            "faults": ["lost_response"],
            "fault_operations": CREATES,
            "max_consecutive_faults": 1,
        }),
    )
    .await;
    t.run_ok(&["up"]);
    assert_eq!(
        counts(&t.sweep_all("lost").await),
        expected,
        "not exactly one of everything"
    );
    let lost = &t.emulator_stats()["totals"]["faults"]["lost_response"];
    assert!(
        lost.as_u64().unwrap_or(0) >= 20,
        "too few answers lost: {lost}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_waiting_saves_state_and_the_next_run_resumes() {
    let t = TestContext::with_behaviour("intr", json!({"time_scale": 0.02})).await;
    let state = t.state_file();
    let mut child = t
        .command(t.dir.path(), &["up", "--env", "intr"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // medtech's progress lines as they come; the whole text once it has exited.
    let (send, lines) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            // The test stops listening once medtech has stopped; the text is still kept.
            send.send(line).ok();
        }
        all
    });
    // RDS takes 18 s here: interrupt while medtech waits for it, as it reports.
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("medtech never reported waiting for RDS");
        if line.split_whitespace().nth(1) == Some("rds") && line.contains("creating (") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // Stopped means its stderr closed; a minute is only there so a hang fails, not hangs.
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                child.kill().ok();
                panic!("medtech did not stop within a minute of SIGINT");
            }
        }
    }
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let rds = saved["resources"]["rds"]["id"]
        .as_str()
        .expect("the RDS id in state");
    // It stopped waiting rather than waiting the creation out: AWS is still creating.
    let db = sent!(t.rds.describe_db_instances().db_instance_identifier(rds));
    assert_eq!(
        db.db_instances()[0].db_instance_status(),
        Some("creating"),
        "medtech stopped only after RDS was created"
    );

    t.run_ok(&["up"]);
    let all = t.sweep_all("intr").await;
    assert_eq!(all["db_instance"].len(), 1, "{all:?}");
    t.run_ok(&["verify"]);
}

/// The first call, `sts:GetCallerIdentity`, is answered 500 or throttled three times running
/// (the layer's longest streak). A reachable AWS that errs is retried like every other call;
/// only an unreachable endpoint is reported after two attempts.
#[tokio::test]
async fn a_failing_first_call_is_retried_like_any_other() {
    for fault in ["server_error", "throttle"] {
        let t = TestContext::with_behaviour(
            "sts",
            json!({
                "seed": 1,
                "fault_rate": 1.0,
                "faults": [fault],
                "fault_operations": ["sts:GetCallerIdentity"],
                "max_consecutive_faults": 3,
            }),
        )
        .await;
        t.run_ok(&["plan"]);
        let stats = t.emulator_stats();
        assert_eq!(
            stats["operations"]["sts:GetCallerIdentity"]["faults"][fault].as_u64(),
            Some(3),
            "{fault}: {stats}"
        );
    }
}
