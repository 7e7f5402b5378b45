//! `destroy` of the whole stack: nothing left in any service, the key pending deletion, the
//! secrets gone when forced, a final RDS snapshot unless told not to take one, and the backup
//! vault kept with its recovery points unless told to delete them.

use std::path::Path;
use std::process::Command;

use crate::backup::back_up_now;
use crate::common::sent;
use crate::common::{TestContext, stderr};
use crate::lifecycle::assert_full_sweep;
use crate::lookup::{secret_names, stack_key};
use crate::runs::DESTROY_NOW;

/// Runs `medtech destroy` with stdin and stderr on a pseudo-terminal, as a person at a shell
/// does, answers its prompt with `answer`, and returns its exit code and what the terminal
/// showed. Python's `pty` drives it: the emulator's venv is there already, and a crate for it
/// would be one more to compile.
fn destroy_on_a_terminal(t: &TestContext, answer: &str) -> (Option<i32>, String) {
    const DRIVE: &str = r#"
import os, subprocess, sys
master, slave = os.openpty()
child = subprocess.Popen(sys.argv[2:], stdin=slave, stderr=slave, stdout=subprocess.DEVNULL)
os.close(slave)
def read():
    try:
        return os.read(master, 4096)
    except OSError:
        return b""
shown = b""
while b"to confirm: " not in shown:
    chunk = read()
    if not chunk:
        break
    shown += chunk
os.write(master, sys.argv[1].encode() + b"\n")
while chunk := read():
    shown += chunk
sys.stderr.write(shown.decode(errors="replace"))
sys.exit(child.wait())
"#;
    let medtech = t.command(t.dir.path(), &["destroy", "--env", &t.env], &[]);
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let mut drive = Command::new(python);
    drive
        .args(["-c", DRIVE, answer])
        .arg(medtech.get_program())
        .args(medtech.get_args())
        .current_dir(t.dir.path())
        .env_clear();
    for (key, value) in medtech.get_envs() {
        if let Some(value) = value {
            drive.env(key, value);
        }
    }
    let out = drive.output().unwrap();
    (out.status.code(), stderr(&out))
}

#[tokio::test]
async fn destroy_leaves_nothing_in_any_service() {
    let t = TestContext::new("wipe").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    assert_full_sweep(&env, &t.sweep_all(&env).await);
    let key_id = stack_key(&t, &env).await.key_id().to_owned();
    // A backup has run: the vault holds a recovery point, which only the flag deletes.
    back_up_now(&t, &env).await;

    let mut everything = DESTROY_NOW.to_vec();
    everything.push("--delete-recovery-points");
    t.run_ok(&everything);
    t.assert_nothing_left(&env).await;
    assert!(!t.state_file().exists(), "state file still there");
    assert!(
        !t.path("cfn-outputs/flat-outputs.json").exists(),
        "the outputs file names what is gone"
    );
    let rds_logs = sent!(
        t.logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/rds/instance/medtech-rds-{env}/"))
    );
    assert!(
        rds_logs.log_groups().is_empty(),
        "destroy left the RDS log groups: {:?}",
        rds_logs.log_groups()
    );

    // KMS cannot delete at once: the key must be pending deletion.
    let key = sent!(t.kms.describe_key().key_id(&key_id));
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    // --force-delete-secrets: gone at once, not merely scheduled.
    for name in secret_names(&env) {
        let d = t.secrets.describe_secret().secret_id(&name).send().await;
        assert!(d.is_err(), "{name} still exists: {d:?}");
    }
    // --skip-final-snapshot: no snapshot.
    let snaps = sent!(t.rds.describe_db_snapshots());
    let snaps: Vec<&str> = snaps
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .filter(|s| s.starts_with(&format!("medtech-rds-{env}")))
        .collect();
    assert!(
        snaps.is_empty(),
        "snapshots despite --skip-final-snapshot: {snaps:?}"
    );
}

#[tokio::test]
async fn destroy_takes_a_final_snapshot_unless_told_not_to() {
    let t = TestContext::new("snap").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let instance = format!("medtech-rds-{env}");
    let key_arn = stack_key(&t, &env).await.arn().unwrap().to_owned();
    back_up_now(&t, &env).await;

    // At a terminal, destroy asks for the environment's name: another answer deletes
    // nothing, the name goes ahead.
    let (code, shown) = destroy_on_a_terminal(&t, "prod");
    assert_eq!(code, Some(2), "{shown}");
    assert!(shown.contains("nothing was deleted"), "{shown}");
    assert_full_sweep(&env, &t.sweep_all(&env).await);
    let started = chrono::Utc::now();
    let (code, shown) = destroy_on_a_terminal(&t, &env);
    assert_eq!(code, Some(0), "{shown}");
    let finished = chrono::Utc::now();

    let out = sent!(t.rds.describe_db_snapshots());
    let prefix = format!("{instance}-final-");
    let finals: Vec<_> = out
        .db_snapshots()
        .iter()
        .filter(|s| {
            s.db_snapshot_identifier()
                .is_some_and(|id| id.to_ascii_lowercase().starts_with(&prefix))
        })
        .collect();
    assert_eq!(
        finals.len(),
        1,
        "final snapshots: {:?}",
        out.db_snapshots()
            .iter()
            .map(|s| s.db_snapshot_identifier())
            .collect::<Vec<_>>()
    );
    let snap = finals[0];
    let id = snap.db_snapshot_identifier().unwrap();
    let stamp = &id[prefix.len()..];
    assert!(
        !stamp.is_empty()
            && stamp.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !stamp.contains("--")
            && !stamp.ends_with('-'),
        "{id}: not a valid snapshot identifier suffix"
    );
    // The timestamp: its digits start with the date of the run (UTC).
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let dates = [
        started.format("%Y%m%d").to_string(),
        finished.format("%Y%m%d").to_string(),
    ];
    assert!(
        digits.len() >= 12 && dates.iter().any(|d| digits.starts_with(d.as_str())),
        "{id}: suffix is not a timestamp of this run"
    );
    assert_eq!(snap.db_instance_identifier(), Some(instance.as_str()));
    assert_eq!(snap.snapshot_type(), Some("manual"));
    assert_eq!(snap.encrypted(), Some(true), "final snapshot encrypted");
    assert_eq!(
        snap.kms_key_id(),
        Some(key_arn.as_str()),
        "final snapshot key"
    );

    // Everything else is gone but the backup vault, kept with its recovery point as the
    // snapshot is (a snapshot is not in sweep_all: it is meant to stay).
    t.assert_only_the_vault_left(&env).await;
}
