//! The stack key and the two secrets it encrypts: every STACK.md setting read back, no secret
//! value anywhere medtech writes, the key taken back after a non-forced `destroy`, and a new
//! key waited for while KMS propagates it.
//!
//! Where the emulator cannot report a setting, the test asserts what it can and says so in a
//! comment starting with `GAP:`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::sent;
use crate::common::{REGION, TestContext, stderr, stdout, tail};
use crate::lookup::{
    assert_tags, is_key, rds_instance, secret, secret_json, secret_names, stack_key,
};
use crate::policy_doc::{as_list, as_strings, assert_not_public, glob, policy_json};
use crate::runs::DESTROY_NOW;
use crate::sweep::TagSource;

pub(crate) async fn check_kms(t: &TestContext, env: &str) {
    let account = t.account_id().await;
    let key = stack_key(t, env).await;
    let key_id = key.key_id();

    // One alias for the environment, pointing at this key.
    let aliases = sent!(t.kms.list_aliases().key_id(key_id));
    let names: Vec<&str> = aliases
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(
        names,
        [format!("alias/medtech-{env}")],
        "aliases of the key"
    );

    // Symmetric, enabled, customer managed, rotation on.
    assert!(key.enabled(), "key disabled");
    assert_eq!(key.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(
        key.key_spec().map(|s| s.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );
    assert_eq!(key.key_usage().map(|s| s.as_str()), Some("ENCRYPT_DECRYPT"));
    assert_eq!(key.key_manager().map(|s| s.as_str()), Some("CUSTOMER"));
    assert!(rotation_enabled(t, key_id).await, "key rotation is off");

    // GAP: the emulator does not evaluate key policies (a key CloudWatch Logs may not use
    // still works there), so the policy is checked as a document.
    // Key policy: the account administers the key; CloudWatch Logs of this region may use it,
    // but only for log groups of this account and region (encryption context condition).
    let policy = key_policy(t, key_id).await;
    let statements = as_list(policy.get("Statement"));
    assert!(
        !statements.is_empty(),
        "key policy without statements: {policy}"
    );
    let root = format!("arn:aws:iam::{account}:root");
    let logs_principal = format!("logs.{REGION}.amazonaws.com");
    let mut account_admin = false;
    let mut logs_ok = false;
    for s in &statements {
        let allow = s.get("Effect") == Some(&Value::from("Allow"));
        assert_not_public(s, "key policy grants to everyone");
        let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
        let actions = as_strings(s.get("Action"));
        let aws = as_strings(principal.get("AWS"));
        if allow
            && aws.iter().any(|p| *p == root || *p == account)
            && actions.iter().any(|a| a == "kms:*" || a == "*")
        {
            account_admin = true;
        }
        let services = as_strings(principal.get("Service"));
        if allow && services.contains(&logs_principal) {
            for needed in ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"] {
                assert!(
                    actions.iter().any(|a| glob(a, needed)),
                    "logs statement does not allow {needed}: {s}"
                );
            }
            assert_logs_condition_scoped(s, &account);
            logs_ok = true;
        }
        // Other service principals are not forbidden by the contract (CloudWatch alarms,
        // for one, need kms:Decrypt/GenerateDataKey* to publish to the encrypted topic).
    }
    assert!(
        account_admin,
        "no statement lets the account ({root}) administer the key: {policy}"
    );
    assert!(logs_ok, "no statement for {logs_principal}: {policy}");

    let tags = t.tags_of(&TagSource::KmsKey(key_id.to_owned())).await;
    assert_tags("kms key", &tags, env, None);
}

/// The condition of the logs statement: kms:EncryptionContext:aws:logs:arn, scoped to this
/// account and region.
fn assert_logs_condition_scoped(statement: &Value, account: &str) {
    let conditions = statement
        .get("Condition")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut scoped = false;
    for (_operator, body) in conditions {
        for (k, v) in body.as_object().cloned().unwrap_or_default() {
            if k.eq_ignore_ascii_case("kms:EncryptionContext:aws:logs:arn") {
                let values = as_strings(Some(&v));
                let prefix = format!("arn:aws:logs:{REGION}:{account}:");
                assert!(
                    !values.is_empty() && values.iter().all(|x| x.starts_with(&prefix)),
                    "logs encryption-context condition not scoped to {prefix}: {statement}"
                );
                scoped = true;
            }
        }
    }
    assert!(
        scoped,
        "logs statement lacks a kms:EncryptionContext:aws:logs:arn condition: {statement}"
    );
}

/// The key's default policy, parsed.
pub(crate) async fn key_policy(t: &TestContext, key_id: &str) -> Value {
    let policy = sent!(t.kms.get_key_policy().key_id(key_id).policy_name("default"));
    policy_json(policy.policy().expect("key policy"))
}

pub(crate) async fn rotation_enabled(t: &TestContext, key_id: &str) -> bool {
    sent!(t.kms.get_key_rotation_status().key_id(key_id)).key_rotation_enabled()
}

pub(crate) async fn check_secrets(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    for name in secret_names(env) {
        let d = secret(t, &name).await;
        // GAP: the emulator does not check that a Secrets Manager KmsKeyId exists, so any
        // reference to the stack key (id, ARN, alias) is accepted.
        assert!(
            is_key(d.kms_key_id(), &key, env),
            "{name}: key {:?}",
            d.kms_key_id()
        );
        assert!(
            d.deleted_date().is_none(),
            "{name} is scheduled for deletion"
        );
        let tags = d
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())));
        assert_tags(&name, &tags.collect(), env, Some(&name));
    }
    let [rds_name, redis_name] = secret_names(env);

    // RDS credentials: exactly the documented fields, host/port the live endpoint.
    let db = rds_instance(t, env).await;
    let endpoint = db.endpoint().expect("RDS endpoint");
    let (_, rds) = secret_json(t, &rds_name).await;
    let keys: BTreeSet<&str> = rds.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["dbname", "engine", "host", "password", "port", "username"]),
        "RDS secret fields"
    );
    assert_eq!(rds["engine"], Value::from("postgres"));
    assert_eq!(
        rds["host"].as_str(),
        endpoint.address(),
        "secret host = endpoint"
    );
    let port = rds["port"]
        .as_i64()
        .or_else(|| rds["port"].as_str().and_then(|p| p.parse().ok()));
    assert_eq!(
        port,
        endpoint.port().map(i64::from),
        "secret port = endpoint port"
    );
    assert_eq!(
        rds["username"].as_str(),
        db.master_username(),
        "secret username"
    );
    // Without DBName, RDS PostgreSQL has only its default database `postgres`.
    assert_eq!(
        rds["dbname"].as_str(),
        Some(db.db_name().unwrap_or("postgres")),
        "secret dbname"
    );
    let password = rds["password"].as_str().expect("password is a string");
    assert!(
        password.chars().count() >= 32,
        "password has {} chars",
        password.len()
    );
    for bad in ['/', '@', '"', ' '] {
        assert!(!password.contains(bad), "password contains {bad:?}");
    }
    assert!(
        password.is_ascii() && password.chars().all(|c| !c.is_control()),
        "password not printable ASCII"
    );
    // GAP: RDS never returns MasterUserPassword, so that the instance uses this password
    // cannot be read back; the emulator does apply RDS's password rules on create.

    // Redis credentials: auth_token, 64 alphanumerics.
    let (_, redis) = secret_json(t, &redis_name).await;
    let keys: Vec<&str> = redis.keys().map(String::as_str).collect();
    assert_eq!(keys, ["auth_token"], "Redis secret fields");
    let token = redis["auth_token"]
        .as_str()
        .expect("auth_token is a string");
    assert_eq!(token.len(), 64, "auth_token length");
    assert!(
        token.chars().all(|c| c.is_ascii_alphanumeric()),
        "auth_token not alphanumeric"
    );
    // GAP: ElastiCache never returns the AUTH token; only AuthTokenEnabled can be read back
    // (checked with the replication group).
}

/// Percent-encoding of every byte outside RFC 3986's unreserved set (how a form body or
/// a URL would carry the value).
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every file under `dir` (recursively), with its text.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn no_secret_value_reaches_outputs_state_or_logs() {
    let t = TestContext::new("hush").await;
    let env = t.env.clone();
    let trace = [("RUST_LOG", "trace")];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--env", &env, "-vvv"]);
        let out = t.medtech_with(&all, &trace);
        assert!(
            out.status.success(),
            "medtech {all:?} failed with {}\n{}",
            out.status,
            tail(&stderr(&out), 40)
        );
        out
    };
    let mut transcripts: Vec<(String, String)> = Vec::new();
    let mut record = |what: &str, out: &std::process::Output| {
        transcripts.push((format!("{what} stdout"), stdout(out)));
        transcripts.push((format!("{what} stderr"), stderr(out)));
    };
    record("up", &run(&["up"]));

    // The secret values, as Secrets Manager holds them.
    let [rds_name, redis_name] = secret_names(&env);
    let (rds_text, rds) = secret_json(&t, &rds_name).await;
    let (redis_text, redis) = secret_json(&t, &redis_name).await;
    let mut needles = vec![rds_text, redis_text];
    needles.extend(rds["password"].as_str().map(str::to_owned));
    needles.extend(redis["auth_token"].as_str().map(str::to_owned));
    let encoded: Vec<String> = needles.iter().map(|n| percent_encoded(n)).collect();
    needles.extend(encoded);
    needles.retain(|n| n.len() >= 16);
    assert!(needles.len() >= 4, "could not read the two secret values");

    record("up again", &run(&["up"]));
    record("verify", &run(&["verify"]));
    record("outputs", &run(&["outputs"]));
    record("outputs env", &run(&["outputs", "--format", "env"]));
    record("outputs shell", &run(&["outputs", "--format", "shell"]));
    let written_before_destroy = files_under(t.dir.path());
    assert!(
        written_before_destroy
            .iter()
            .any(|(p, _)| p.ends_with("flat-outputs.json")),
        "no outputs file"
    );
    assert!(
        written_before_destroy
            .iter()
            .any(|(p, _)| p.ends_with(&format!("state/{env}.json"))),
        "no state file"
    );
    record("destroy", &run(&DESTROY_NOW));
    // Trace logging really happened (otherwise this test proves little).
    let up_log = &transcripts[1].1;
    assert!(
        up_log.lines().count() > 20,
        "up -vvv with RUST_LOG=trace logged almost nothing:\n{up_log}"
    );

    let mut leaks = Vec::new();
    let all_text = written_before_destroy
        .into_iter()
        .map(|(p, text)| (format!("file {p}"), text))
        .chain(
            files_under(t.dir.path())
                .into_iter()
                .map(|(p, text)| (format!("file {p} (after destroy)"), text)),
        )
        .chain(transcripts);
    for (what, text) in all_text {
        for (i, needle) in needles.iter().enumerate() {
            if text.contains(needle.as_str()) {
                leaks.push(format!("{what} contains secret value #{i}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secret values leaked:\n{}",
        leaks.join("\n")
    );
}

/// Issue 11 (item 2) and issue 18: a non-forced `destroy` keeps the secrets recoverable and the
/// key pending deletion for the configured windows; the next `up` takes the key back, so the
/// restored secrets (encrypted with it) are readable, with the same ARN and value.
#[tokio::test]
async fn up_after_destroy_takes_the_key_back_and_restores_readable_secrets() {
    const KEY_DAYS: i64 = 8;
    const SECRET_DAYS: i64 = 9;
    let t = TestContext::new("reborn").await;
    std::fs::write(
        t.path("medtech.toml"),
        format!(
            "[destroy]\nkms_deletion_window_days = {KEY_DAYS}\nsecret_recovery_window_days = {SECRET_DAYS}\n"
        ),
    )
    .unwrap();
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let key_before = stack_key(&t, &env).await;
    let names = secret_names(&env);
    let mut before = Vec::new();
    for name in &names {
        let (text, _) = secret_json(&t, name).await;
        before.push((secret(&t, name).await.arn().unwrap().to_owned(), text));
    }

    let destroyed = t.run_ok(&["destroy", "--yes"]);
    let now = chrono::Utc::now().timestamp();
    let near = |date: Option<&aws_smithy_types::DateTime>, days: i64, what: &str| {
        let at = date.unwrap_or_else(|| panic!("{what}: no date")).secs();
        let want = now + days * 86_400;
        assert!(
            (at - want).abs() < 600,
            "{what}: {at}, not {days} days from now ({want})"
        );
    };
    for name in &names {
        near(secret(&t, name).await.deleted_date(), SECRET_DAYS, name);
    }
    let pending = sent!(t.kms.describe_key().key_id(key_before.key_id()))
        .key_metadata()
        .unwrap()
        .clone();
    assert_eq!(
        pending.key_state().map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    near(pending.deletion_date(), KEY_DAYS, "KMS key deletion date");
    let warned = stderr(&destroyed);
    assert!(
        warned.contains("warning:")
            && warned.contains(key_before.key_id())
            && warned.contains(&format!("scheduled for deletion in {KEY_DAYS} days")),
        "no KMS warning from destroy:\n{}",
        tail(&warned, 40)
    );

    t.run_ok(&["up"]);
    let key_after = stack_key(&t, &env).await;
    assert_eq!(
        key_after.key_id(),
        key_before.key_id(),
        "a new key was made"
    );
    assert_eq!(key_after.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(key_after.deletion_date(), None);
    for (name, (arn, text)) in names.iter().zip(&before) {
        let described = secret(&t, name).await;
        assert_eq!(
            described.arn(),
            Some(arn.as_str()),
            "{name}: another secret"
        );
        assert_eq!(described.deleted_date(), None, "{name}: still scheduled");
        assert!(
            is_key(described.kms_key_id(), &key_after, &env),
            "{name}: encrypted with {:?}",
            described.kms_key_id()
        );
        // Read through the SDK: the value must decrypt, and be the one from before destroy.
        let (now_text, _) = secret_json(&t, name).await;
        assert!(now_text == *text, "{name}: the value changed");
    }
}

/// Issue 11 (item 5): KMS is eventually consistent. With the latency model on, a new key is
/// NotFound to EnableKeyRotation/CreateAlias/PutKeyPolicy/TagResource for a few seconds; `up`
/// waits for it (bounded) instead of failing, and the key ends rotated and aliased.
#[tokio::test]
async fn up_waits_for_a_new_key_to_propagate() {
    // The other waits short, so the run is about the key.
    let quick: serde_json::Map<String, Value> = [
        "rds_create",
        "redis_create",
        "nat_create",
        "kinesis_create",
        "vpce_create",
        "iam_propagation",
    ]
    .iter()
    .map(|d| ((*d).to_owned(), Value::from(100)))
    .collect();
    let mut durations = quick;
    durations.insert("kms_propagation".into(), Value::from(60));
    let t = TestContext::with_behaviour(
        "kmsprop",
        serde_json::json!({"time_scale": 0.01, "durations": durations}),
    )
    .await;
    let out = t.medtech_with(
        &["up", "--env", "kmsprop"],
        &[("MEDTECH_TIME_SCALE", "0.01")],
    );
    assert!(out.status.success(), "up: {}", tail(&stderr(&out), 40));
    let key = stack_key(&t, &t.env).await;
    assert!(rotation_enabled(&t, key.key_id()).await);
    // The model did refuse: the run met the propagation delay and waited it out.
    let stats = t.emulator_stats();
    let refused = stats["operations"]["kms:EnableKeyRotation"]["refused"]
        .as_u64()
        .unwrap_or(0)
        + stats["operations"]["kms:CreateAlias"]["refused"]
            .as_u64()
            .unwrap_or(0);
    assert!(refused >= 1, "no propagation refusal met: {stats}");
}
