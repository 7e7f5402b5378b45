//! `medtech state bootstrap` (issue 12): the bucket a team keeps its state in, made or
//! adopted, each setting read back from the emulator; and docs/iam-policy-bootstrap.json, the
//! admin's policy for it, run under the emulator's IAM enforcement.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObjectOwnership, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use serde_json::Value;

use crate::common::sent;
use crate::common::*;
use crate::policy_doc::{as_list, as_strings};

const STATE_TAGS: [(&str, &str); 3] = [
    ("Project", "medtech"),
    ("ManagedBy", "medtech"),
    ("Purpose", "state"),
];

fn alias_of(bucket: &str) -> String {
    format!("alias/medtech-state-{bucket}")
}

/// Runs `state bootstrap` with `--output json`; the exit code, the report and stderr.
fn bootstrap(t: &TestContext, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["state", "bootstrap", "--output", "json"];
    all.extend(args);
    let out = t.medtech(&all);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), report, stderr(&out))
}

/// Each setting's action, by name, from the JSON report.
fn actions(report: &Value) -> BTreeMap<String, String> {
    report["settings"]
        .as_array()
        .unwrap_or_else(|| panic!("no settings in {report}"))
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The bucket's default encryption.
async fn default_encryption(t: &TestContext, bucket: &str) -> ServerSideEncryptionByDefault {
    let encryption = sent!(t.s3.get_bucket_encryption().bucket(bucket));
    encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone()
}

async fn bucket_tags(t: &TestContext, bucket: &str) -> BTreeMap<String, String> {
    let tags = sent!(t.s3.get_bucket_tagging().bucket(bucket));
    tags.tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn assert_state_tags(tags: &BTreeMap<String, String>, what: &str) {
    for (key, value) in STATE_TAGS {
        assert_eq!(
            tags.get(key).map(String::as_str),
            Some(value),
            "{what}: {tags:?}"
        );
    }
    assert!(!tags.contains_key("Environment"), "{what}: {tags:?}");
}

/// The bucket policy's statements that deny every request made without TLS, to the bucket
/// and to its objects; 0 when the bucket has no policy (any other error fails the test).
async fn tls_denials(t: &TestContext, bucket: &str) -> usize {
    let policy = match t.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(policy) => policy,
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => return 0,
        Err(e) => panic!("GetBucketPolicy {bucket}: {e:?}"),
    };
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let resources = [
        format!("arn:aws:s3:::{bucket}"),
        format!("arn:aws:s3:::{bucket}/*"),
    ];
    as_list(policy.get("Statement"))
        .iter()
        .filter(|s| {
            let covered = as_strings(s.get("Resource"));
            s["Effect"] == "Deny"
                && s["Principal"] == "*"
                && as_strings(s.get("Action")) == ["s3:*"]
                && resources.iter().all(|r| covered.contains(r))
                && s.pointer("/Condition/Bool/aws:SecureTransport") == Some(&Value::from("false"))
        })
        .count()
}

/// Keys in the emulator, and aliases that name a state bucket's key.
async fn keys_and_aliases(t: &TestContext) -> (usize, Vec<String>) {
    let keys = sent!(t.kms.list_keys().limit(1000)).keys().len();
    let aliases = sent!(t.kms.list_aliases().limit(1000))
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .filter(|a| a.starts_with("alias/medtech-state-"))
        .map(str::to_owned)
        .collect();
    (keys, aliases)
}

/// A new bucket gets every setting, read back here one by one; `up` then keeps its state in
/// it, encrypted with the bucket's own key.
#[tokio::test]
async fn a_new_bucket_gets_every_setting_and_up_keeps_its_state_there() {
    let t = TestContext::new("boot").await;
    let bucket = format!("medtech-state-{}", t.env);
    let backend = format!("s3://{bucket}/teams/data");
    let out = t.medtech(&["state", "bootstrap", &backend, "--noncurrent-days", "30"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("versioning            set (Enabled)"),
        "{said}"
    );
    assert!(
        said.trim_end()
            .ends_with(&format!("medtech up --env ENV --state-backend {backend}")),
        "the last line names the next command: {said}"
    );

    sent!(t.s3.head_bucket().bucket(&bucket));
    let versioning = sent!(t.s3.get_bucket_versioning().bucket(&bucket));
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));

    let key = sent!(t.kms.describe_key().key_id(alias_of(&bucket)));
    let key = key.key_metadata().unwrap();
    let key_arn = key.arn().unwrap();
    let rotation = sent!(t.kms.get_key_rotation_status().key_id(key.key_id()));
    assert!(rotation.key_rotation_enabled(), "the key does not rotate");
    let key_tags = sent!(t.kms.list_resource_tags().key_id(key.key_id()));
    let key_tags = key_tags
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    assert_state_tags(&key_tags, "the key's tags");

    let encryption = sent!(t.s3.get_bucket_encryption().bucket(&bucket));
    let rules = encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let default = rules[0].apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm(), &ServerSideEncryption::AwsKms);
    assert_eq!(default.kms_master_key_id(), Some(key_arn));
    assert_eq!(rules[0].bucket_key_enabled(), Some(true));

    let block = sent!(t.s3.get_public_access_block().bucket(&bucket));
    let block = block.public_access_block_configuration().unwrap();
    for (setting, on) in [
        ("BlockPublicAcls", block.block_public_acls()),
        ("IgnorePublicAcls", block.ignore_public_acls()),
        ("BlockPublicPolicy", block.block_public_policy()),
        ("RestrictPublicBuckets", block.restrict_public_buckets()),
    ] {
        assert_eq!(on, Some(true), "{setting}");
    }
    let ownership = sent!(t.s3.get_bucket_ownership_controls().bucket(&bucket));
    let ownership: Vec<_> = ownership
        .ownership_controls()
        .unwrap()
        .rules()
        .iter()
        .map(|r| r.object_ownership().clone())
        .collect();
    assert_eq!(ownership, [ObjectOwnership::BucketOwnerEnforced]);
    assert_eq!(tls_denials(&t, &bucket).await, 1, "no TLS-only policy");

    let lifecycle = sent!(t.s3.get_bucket_lifecycle_configuration().bucket(&bucket));
    let [rule] = lifecycle.rules() else {
        panic!("one rule expected: {:?}", lifecycle.rules());
    };
    assert_eq!(rule.status(), &ExpirationStatus::Enabled);
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("teams/data/"));
    assert_eq!(
        rule.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(30)
    );
    assert!(
        rule.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation())
            .is_some_and(|days| days > 0),
        "{rule:?}"
    );
    assert_state_tags(&bucket_tags(&t, &bucket).await, "the bucket's tags");

    // The backend takes the bucket as it is; the state object is encrypted with its key.
    t.run_ok(&["up", "--state-backend", &backend]);
    let state = sent!(
        t.s3.head_object()
            .bucket(&bucket)
            .key(format!("teams/data/{}.json", t.env))
    );
    assert_eq!(
        state.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(state.ssekms_key_id(), Some(key_arn));
}

/// A second run changes nothing and makes no second key; a bucket made by hand is adopted:
/// what it lacks is set, what others put on it stays, and its own KMS key is kept.
#[tokio::test]
async fn bootstrap_is_idempotent_and_adopts_a_bucket_made_by_hand() {
    let t = TestContext::new("again").await;
    let bucket = format!("medtech-state-{}", t.env);
    let backend = format!("s3://{bucket}");
    let (code, first, said) = bootstrap(&t, &[&backend]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(actions(&first)["bucket"], "created", "{first}");
    let before = keys_and_aliases(&t).await;
    assert_eq!(before.1, [alias_of(&bucket)]);

    let (code, second, said) = bootstrap(&t, &[&backend]);
    assert_eq!(code, Some(0), "{said}");
    let second = actions(&second);
    assert_eq!(second.len(), 11, "{second:?}");
    for (name, action) in &second {
        assert_eq!(action, "kept", "{name} on the second run");
    }
    assert_eq!(keys_and_aliases(&t).await, before, "a second key was made");

    // By hand: no versioning, no policy, someone's tag and lifecycle rule, and SSE-KMS with
    // a key of its own.
    let by_hand = format!("medtech-hand-{}", t.env);
    sent!(t.s3.create_bucket().bucket(&by_hand));
    let their_key = sent!(t.kms.create_key().description("by hand"));
    let their_key = their_key.key_metadata().unwrap().arn().unwrap().to_owned();
    sent!(
        t.s3.put_bucket_encryption()
            .bucket(&by_hand)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .kms_master_key_id(&their_key)
                                    .build()
                                    .unwrap()
                            )
                            .build()
                    )
                    .build()
                    .unwrap()
            )
    );
    sent!(
        t.s3.put_bucket_tagging().bucket(&by_hand).tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("Owner").value("ops").build().unwrap())
                .build()
                .unwrap()
        )
    );
    sent!(
        t.s3.put_bucket_lifecycle_configuration()
            .bucket(&by_hand)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(
                        LifecycleRule::builder()
                            .id("logs")
                            .status(ExpirationStatus::Enabled)
                            .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
                            .noncurrent_version_expiration(
                                NoncurrentVersionExpiration::builder()
                                    .noncurrent_days(7)
                                    .build()
                            )
                            .build()
                            .unwrap()
                    )
                    .build()
                    .unwrap()
            )
    );
    let (code, adopted, said) = bootstrap(&t, &[&format!("s3://{by_hand}/team")]);
    assert_eq!(code, Some(0), "{said}");
    let actions = actions(&adopted);
    for (name, action) in [
        ("bucket", "kept"),
        ("versioning", "set"),
        ("bucket policy", "set"),
        ("encryption", "kept"),
    ] {
        assert_eq!(actions[name], action, "{name}: {adopted}");
    }
    assert!(
        said.contains(&format!("encryption            kept (key {their_key})")),
        "{said}"
    );
    let versioning = sent!(t.s3.get_bucket_versioning().bucket(&by_hand));
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(tls_denials(&t, &by_hand).await, 1);
    let default = default_encryption(&t, &by_hand).await;
    assert_eq!(default.kms_master_key_id(), Some(their_key.as_str()));
    let tags = bucket_tags(&t, &by_hand).await;
    assert_state_tags(&tags, "the adopted bucket's tags");
    assert_eq!(tags.get("Owner").map(String::as_str), Some("ops"));
    let lifecycle = sent!(t.s3.get_bucket_lifecycle_configuration().bucket(&by_hand));
    let mut prefixes: Vec<_> = lifecycle
        .rules()
        .iter()
        .filter_map(|r| r.filter().and_then(|f| f.prefix()))
        .collect();
    prefixes.sort_unstable();
    assert_eq!(prefixes, ["logs/", "team/"]);
    // Its encryption needs no key of medtech's.
    assert_eq!(keys_and_aliases(&t).await.1, [alias_of(&bucket)]);
}

/// Bad input and another account's bucket: one line, exit 2, nothing made.
#[tokio::test]
async fn bad_input_and_a_foreign_bucket_are_refused_in_one_line() {
    let t = TestContext::new("badboot").await;
    let bucket = format!("medtech-state-{}", t.env);
    let good = format!("s3://{bucket}");
    let foreign = format!("medtech-theirs-{}", t.env);
    sent!(
        t.s3.create_bucket()
            .bucket(&foreign)
            .customize()
            .mutate_request(|request| {
                request
                    .headers_mut()
                    .insert("x-moto-account-id", "111122223333");
            })
    );
    for (args, names) in [
        (
            vec![good.as_str(), "--noncurrent-days", "0"],
            "--noncurrent-days",
        ),
        (vec!["s3://Bad_Bucket"], "Bad_Bucket"),
        (vec![&format!("s3://{foreign}/team")], foreign.as_str()),
    ] {
        let (code, report, said) = bootstrap(&t, &args);
        assert_eq!(code, Some(2), "{args:?}: {said}");
        assert_eq!(said.trim().lines().count(), 1, "{args:?}: {said}");
        assert!(said.contains(names), "{args:?}: {said}");
        assert_eq!(
            report["error"]["kind"], "invalid_input",
            "{args:?}: {report}"
        );
    }
    let made = t.s3.head_bucket().bucket(&bucket).send().await;
    assert!(made.is_err(), "a refused run made its bucket");
    assert_eq!(keys_and_aliases(&t).await, (0, Vec::new()));
}

fn bootstrap_policy() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/iam-policy-bootstrap.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("policy JSON")
}

/// The IAM actions bootstrap names its calls by (what a denied call tells the user to allow):
/// each `"s3:Action"` or `"kms:Action"` literal outside the unit tests of
/// src/state/bootstrap/.
fn actions_bootstrap_calls() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/state/bootstrap");
    let mut actions = BTreeSet::new();
    for file in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for service in ["\"s3:", "\"kms:"] {
            for (at, _) in code.match_indices(service) {
                let literal = &code[at + 1..];
                let end = literal.find('"').unwrap();
                let (prefix, name) = literal[..end].split_once(':').unwrap();
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) {
                    actions.insert(format!("{prefix}:{name}"));
                }
            }
        }
    }
    actions
}

/// The policy allows every action bootstrap calls and nothing else (but `sts:GetCallerIdentity`,
/// every command's first call), each bucket action on the bucket alone.
#[test]
fn the_bootstrap_policy_lists_exactly_the_actions_bootstrap_calls() {
    let policy = bootstrap_policy();
    let statements = as_list(policy.get("Statement"));
    let allowed: BTreeSet<String> = statements
        .iter()
        .flat_map(|s| as_strings(s.get("Action")))
        .collect();
    let mut called = actions_bootstrap_calls();
    assert!(
        called.contains("s3:CreateBucket") && called.contains("kms:CreateKey"),
        "{called:?}"
    );
    called.insert("sts:GetCallerIdentity".to_owned());
    assert_eq!(
        allowed, called,
        "docs/iam-policy-bootstrap.json against the code"
    );
    for statement in &statements {
        let actions = as_strings(statement.get("Action"));
        if actions.iter().any(|a| a.starts_with("s3:")) {
            assert_eq!(
                as_strings(statement.get("Resource")),
                ["arn:aws:s3:::STATE_BUCKET"],
                "{statement}"
            );
        }
    }
}

/// docs/iam-policy-bootstrap.json as the emulator can check it, without the action `without`
/// (taken out of every statement). moto evaluates the Resource element only for IAM, and no
/// condition, so resources are widened to `*` (as `crate::iam::shipped_policy_for_the_emulator`
/// does) and the tag and alias conditions pass. The emulator checks each S3 call as the IAM
/// action AWS checks (tests/emulator/medtech_emulator/patches_s3.py).
fn bootstrap_policy_for_the_emulator(without: Option<&str>) -> Value {
    let mut policy = bootstrap_policy();
    let mut found = without.is_none();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        statement["Resource"] = Value::from("*");
        let actions = statement["Action"].as_array_mut().unwrap();
        let before = actions.len();
        actions.retain(|a| Some(a.as_str().unwrap()) != without);
        found |= actions.len() != before;
    }
    assert!(
        found,
        "{without:?} is not in docs/iam-policy-bootstrap.json"
    );
    policy
}

/// An admin holding only docs/iam-policy-bootstrap.json makes a new state bucket with every
/// setting; without one of the sampled actions, bootstrap of a fresh bucket stops with exit 4
/// naming the action, and the setting it would have written is not there.
#[tokio::test(flavor = "multi_thread")]
async fn the_bootstrap_policy_makes_a_bucket_and_each_sampled_action_is_needed() {
    let t = TestContext::new("bootpol").await;
    let user = "medtech-admin";
    let (key_id, secret) = t
        .create_user_with_policy(user, &bootstrap_policy_for_the_emulator(None))
        .await;
    let keys = [
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let bucket = format!("medtech-state-{}", t.env);
    let backend = format!("s3://{bucket}/teams");
    t.set_iam_enforcement(true);
    let out = t.medtech_with(&["state", "bootstrap", &backend, "--output", "json"], &keys);
    t.set_iam_enforcement(false);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let made = actions(&report);
    assert_eq!(made.len(), 11, "{made:?}");
    assert!(made.values().all(|a| a != "kept"), "{made:?}");
    let versioning = sent!(t.s3.get_bucket_versioning().bucket(&bucket));
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    assert_eq!(tls_denials(&t, &bucket).await, 1, "no TLS-only policy");
    let key = sent!(t.kms.describe_key().key_id(alias_of(&bucket)));
    let key = key.key_metadata().unwrap();
    let rotation = sent!(t.kms.get_key_rotation_status().key_id(key.key_id()));
    assert!(rotation.key_rotation_enabled(), "the key does not rotate");
    let default = default_encryption(&t, &bucket).await;
    assert_eq!(default.kms_master_key_id(), key.arn());
    assert_state_tags(&bucket_tags(&t, &bucket).await, "the bucket's tags");

    for (n, action) in [
        "s3:PutBucketVersioning",
        "kms:EnableKeyRotation",
        "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock",
    ]
    .into_iter()
    .enumerate()
    {
        t.put_user_policy(user, &bootstrap_policy_for_the_emulator(Some(action)))
            .await;
        let fresh = format!("medtech-state-{}-{n}", t.env);
        t.set_iam_enforcement(true);
        let out = t.medtech_with(&["state", "bootstrap", &format!("s3://{fresh}")], &keys);
        t.set_iam_enforcement(false);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "without {action}: {said}");
        let last = said.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ")
                && last.contains(&format!("may not call {action}"))
                && last.contains("docs/iam-policy-bootstrap.json"),
            "without {action}: last line {last:?}\n{said}"
        );
        // Refused by the emulator, not skipped: the bucket lacks what the action would set.
        let lacks = match action {
            "s3:PutBucketVersioning" => {
                let versioning = sent!(t.s3.get_bucket_versioning().bucket(&fresh));
                versioning.status().is_none()
            }
            "kms:EnableKeyRotation" => {
                let key = sent!(t.kms.describe_key().key_id(alias_of(&fresh)));
                let id = key.key_metadata().unwrap().key_id();
                !sent!(t.kms.get_key_rotation_status().key_id(id)).key_rotation_enabled()
            }
            "s3:PutBucketPolicy" => tls_denials(&t, &fresh).await == 0,
            _ => match t.s3.get_public_access_block().bucket(&fresh).send().await {
                Ok(_) => false,
                Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => true,
                Err(e) => panic!("GetPublicAccessBlock {fresh}: {e:?}"),
            },
        };
        assert!(lacks, "without {action}, {fresh} has what it would set");
    }
}
