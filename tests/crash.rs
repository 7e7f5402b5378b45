//! Crash safety: `up` killed with SIGKILL right after each step boundary in turn — every step
//! of the graph — then run again, converges with exactly one of every resource and a valid
//! state file.
//!
//! The boundary is seen from outside, as a user would see it: the state file gains a record
//! after every step, so the test watches it and kills the process the moment it holds N
//! records. With `--parallelism 1` the next step has just begun.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestContext, stderr};
use serde_json::Value;

fn records(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["resources"].as_object().map(|r| r.len()))
        .unwrap_or(0)
}

fn counts(sweep: &BTreeMap<&'static str, Vec<String>>) -> BTreeMap<&'static str, usize> {
    sweep.iter().map(|(k, v)| (*k, v.len())).collect()
}

/// Kills `up` after `boundary` steps for each boundary in `range`, re-runs it, and checks.
async fn kill_at(boundaries: std::ops::RangeInclusive<usize>, prefix: &str) {
    let t = TestContext::new(&format!("{prefix}ref")).await;
    t.run_ok(&["up", "--parallelism", "1"]);
    let reference = counts(&t.sweep_all(&t.env).await);
    let steps = t.state()["resources"].as_object().unwrap().len();
    assert!(steps >= 40, "only {steps} steps");

    let mut missed = Vec::new();
    for n in boundaries.filter(|n| *n < steps) {
        let env = format!("{prefix}{n}");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(format!("state/{env}.json"));
        let mut child = t
            .command(
                dir.path(),
                &["up", "--env", &env, "--parallelism", "1"],
                &[],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            if records(&state) >= n {
                // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "up never reached {n} steps"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        let status = child.wait().unwrap();
        if status.code().is_some() {
            // Finished before the kill landed; the boundary was not exercised.
            missed.push(n);
        }
        // The state left behind is valid, whatever the moment of the kill.
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        if !text.is_empty() {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("kill at {n}: corrupt state: {e}"));
        }

        let again = t.medtech_in(dir.path(), &["up", "--env", &env], &[]);
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
    assert!(
        missed.len() <= 2,
        "the kill came too late at boundaries {missed:?}"
    );
}

#[tokio::test]
async fn killed_in_the_first_half_resumes_with_one_of_everything() {
    kill_at(1..=20, "ka").await;
}

#[tokio::test]
async fn killed_in_the_second_half_resumes_with_one_of_everything() {
    kill_at(21..=45, "kb").await;
}
