//! RDS event notifications: four subscriptions to the alarm topic (the instance's critical
//! events, its failovers and low storage, its parameter group's changes, DB security groups'),
//! the key policy statement without which RDS drops their events on the encrypted topic, their
//! drift and repair, and `destroy`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::types::EventSubscription;
use serde_json::{Value, json};

use crate::common::{REGION, TestContext, sent, stderr};
use crate::kms_secrets::key_policy;
use crate::lookup::{assert_tagged, stack_key, topic_arn, write_user_config};
use crate::policy_doc::{as_list, as_strings, glob};
use crate::runs::{DESTROY_NOW, failed_checks, planned_changes};
use crate::sweep::TagSource;

/// Each subscription's logical name, AWS name part, source type, sources and categories.
struct Expected {
    logical: &'static str,
    source_type: &'static str,
    source: Option<&'static str>,
    categories: &'static [&'static str],
}

const SUBSCRIPTIONS: [Expected; 4] = [
    Expected {
        logical: "rds-events",
        source_type: "db-instance",
        source: Some("rds"),
        categories: &["configuration change", "failure", "maintenance"],
    },
    Expected {
        logical: "rds-availability-events",
        source_type: "db-instance",
        source: Some("rds"),
        categories: &["failover", "low storage"],
    },
    Expected {
        logical: "rds-params-events",
        source_type: "db-parameter-group",
        source: Some("pg"),
        categories: &["configuration change"],
    },
    Expected {
        logical: "rds-sg-events",
        source_type: "db-security-group",
        source: None,
        categories: &["configuration change", "failure"],
    },
];

const RDS_EVENTS: &str = "events.rds.amazonaws.com";

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

/// The subscriptions of `env`, by name.
async fn subscriptions(t: &TestContext, env: &str) -> BTreeMap<String, EventSubscription> {
    let out = sent!(t.rds.describe_event_subscriptions().max_records(100));
    out.event_subscriptions_list()
        .iter()
        .filter_map(|s| Some((s.cust_subscription_id()?.to_owned(), s.clone())))
        .filter(|(name, _)| name.starts_with("medtech-") && name.ends_with(&format!("-{env}")))
        .collect()
}

async fn subscription(t: &TestContext, name: &str) -> EventSubscription {
    let out = sent!(t.rds.describe_event_subscriptions().subscription_name(name));
    out.event_subscriptions_list()[0].clone()
}

/// Asserts that the four subscriptions are as the stack declares them, and delivering.
async fn assert_subscribed(t: &TestContext, env: &str) {
    let topic = topic_arn(t, env).await;
    let found = subscriptions(t, env).await;
    let names: BTreeSet<String> = SUBSCRIPTIONS
        .iter()
        .map(|e| format!("medtech-{}-{env}", e.logical))
        .collect();
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        names,
        "subscriptions"
    );
    for expected in &SUBSCRIPTIONS {
        let name = format!("medtech-{}-{env}", expected.logical);
        let s = &found[&name];
        assert_eq!(s.source_type(), Some(expected.source_type), "{name}");
        let sources: Vec<String> = expected
            .source
            .map(|part| format!("medtech-{part}-{env}"))
            .into_iter()
            .collect();
        assert_eq!(sorted(s.source_ids_list()), sources, "{name}");
        assert_eq!(
            sorted(s.event_categories_list()),
            expected.categories,
            "{name}"
        );
        assert_eq!(s.sns_topic_arn(), Some(topic.as_str()), "{name}");
        assert_eq!(s.enabled(), Some(true), "{name}");
        // The emulator reports what RDS does: `no-permission` while the key would refuse it.
        assert_eq!(s.status(), Some("active"), "{name}");
    }
}

/// The key policy's statements that let RDS events use the key.
async fn rds_statements(t: &TestContext, env: &str) -> Vec<Value> {
    let key = stack_key(t, env).await;
    as_list(key_policy(t, key.key_id()).await.get("Statement"))
        .into_iter()
        .filter(|s| as_strings(s["Principal"].get("Service")).contains(&RDS_EVENTS.to_owned()))
        .collect()
}

/// Asserts the key policy's RDS statement: allowed to encrypt for the topic and decrypt, only
/// for this account's RDS resources in this region.
async fn assert_key_lets_rds_publish(t: &TestContext, env: &str) {
    let account = t.account_id().await;
    let statements = rds_statements(t, env).await;
    assert_eq!(statements.len(), 1, "{statements:?}");
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow", "{s}");
    let actions = as_strings(s.get("Action"));
    for needed in ["kms:GenerateDataKey", "kms:Decrypt"] {
        assert!(
            actions.iter().any(|a| glob(a, needed)),
            "{needed} not allowed: {s}"
        );
    }
    assert!(
        actions
            .iter()
            .all(|a| a.starts_with("kms:") && a != "kms:*"),
        "more than the two uses: {s}"
    );
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!(account),
        "{s}"
    );
    assert_eq!(
        s["Condition"]["ArnLike"]["aws:SourceArn"],
        json!(format!("arn:aws:rds:{REGION}:{account}:*")),
        "{s}"
    );
}

#[tokio::test]
async fn up_subscribes_the_alarm_topic_to_rds_events_and_destroy_unsubscribes() {
    let t = TestContext::new("rdsev").await;
    write_user_config(&t, "");
    t.run_ok(&["up"]);
    let env = t.env.clone();
    assert_subscribed(&t, &env).await;
    assert_key_lets_rds_publish(&t, &env).await;
    for expected in &SUBSCRIPTIONS {
        let name = format!("medtech-{}-{env}", expected.logical);
        let arn = subscription(&t, &name)
            .await
            .event_subscription_arn()
            .expect("arn")
            .to_owned();
        assert_tagged(&t, TagSource::Rds(arn), &env, &name).await;
    }
    assert!(failed_checks(&t, 0).is_empty());

    t.run_ok(&DESTROY_NOW);
    assert!(
        subscriptions(&t, &env).await.is_empty(),
        "destroy left subscriptions"
    );
}

#[tokio::test]
async fn drifted_subscriptions_and_key_statement_are_named_and_repaired() {
    let t = TestContext::new("rdsevdrift").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let name = |logical: &str| format!("medtech-{logical}-{env}");

    // 1. The critical subscription disabled.
    sent!(
        t.rds
            .modify_event_subscription()
            .subscription_name(name("rds-events"))
            .enabled(false)
    );
    // 2. A category removed: failovers are no longer sent.
    sent!(
        t.rds
            .modify_event_subscription()
            .subscription_name(name("rds-availability-events"))
            .source_type("db-instance")
            .event_categories("low storage")
    );
    // 3. The parameter group no longer a source.
    sent!(
        t.rds
            .remove_source_identifier_from_subscription()
            .subscription_name(name("rds-params-events"))
            .source_identifier(format!("medtech-pg-{env}"))
    );
    // 4. The key statement dropped: RDS can no longer use the topic's key, so every
    // subscription is still accepted and delivers nothing.
    let key = stack_key(&t, &env).await;
    let mut policy = key_policy(&t, key.key_id()).await;
    let statements = as_list(policy.get("Statement"));
    policy["Statement"] = Value::Array(
        statements
            .into_iter()
            .filter(|s| !as_strings(s["Principal"].get("Service")).contains(&RDS_EVENTS.to_owned()))
            .collect(),
    );
    sent!(
        t.kms
            .put_key_policy()
            .key_id(key.key_id())
            .policy_name("default")
            .policy(policy.to_string())
    );
    assert_eq!(
        subscription(&t, &name("rds-sg-events")).await.status(),
        Some("no-permission")
    );

    let mut expected: BTreeSet<String> = [
        "rds-events.enabled",
        "rds-availability-events.event_categories",
        "rds-params-events.source_ids",
        "kms.policy",
    ]
    .map(str::to_owned)
    .into();
    expected.extend(
        SUBSCRIPTIONS
            .iter()
            .map(|e| format!("{}.status", e.logical)),
    );
    assert_eq!(failed_checks(&t, 1), expected, "verify");
    assert_eq!(planned_changes(&t), expected, "plan");

    t.run_ok(&["up"]);
    assert!(failed_checks(&t, 0).is_empty(), "up did not repair");
    // Read back through the SDK: the repairs are real.
    assert_subscribed(&t, &env).await;
    assert_key_lets_rds_publish(&t, &env).await;
}

/// A lost answer to CreateEventSubscription: RDS made the subscription, and the retry meets
/// `SubscriptionAlreadyExist`; `up` takes it as its own, and there is one of each.
#[tokio::test]
async fn a_lost_answer_to_a_create_makes_no_second_subscription() {
    let t = TestContext::with_behaviour(
        "rdsevlost",
        json!({
            "seed": 3,
            "fault_rate": 1.0,
            "faults": ["lost_response"],
            "fault_operations": ["rds:CreateEventSubscription"],
            "max_consecutive_faults": 1,
        }),
    )
    .await;
    t.run_ok(&["up"]);
    let lost =
        &t.emulator_stats()["operations"]["rds:CreateEventSubscription"]["faults"]["lost_response"];
    assert!(lost.as_u64().unwrap_or(0) >= 4, "answers lost: {lost}");
    assert_subscribed(&t, &t.env).await;
    assert!(failed_checks(&t, 0).is_empty());
}

/// A topic policy that shuts RDS out is nothing `up` may rewrite: `verify` names every
/// subscription's status, and `up` fails saying what RDS needs, until the policy lets RDS
/// publish again.
#[tokio::test]
async fn a_topic_policy_that_shuts_rds_out_fails_up_with_what_rds_needs() {
    let t = TestContext::new("rdsevtopic").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let topic = topic_arn(&t, &env).await;
    let attributes = sent!(t.sns.get_topic_attributes().topic_arn(&topic));
    let default_policy = attributes.attributes().unwrap()["Policy"].clone();
    let account = t.account_id().await;
    let owner_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "SNS:Publish", "Resource": topic}]});
    let set_policy = |policy: String| {
        t.sns
            .set_topic_attributes()
            .topic_arn(&topic)
            .attribute_name("Policy")
            .attribute_value(policy)
    };
    sent!(set_policy(owner_only.to_string()));

    let expected: BTreeSet<String> = SUBSCRIPTIONS
        .iter()
        .map(|e| format!("{}.status", e.logical))
        .collect();
    assert_eq!(failed_checks(&t, 1), expected, "verify");
    // The failure as a CI gate sees it: exit 1, one JSON document naming each failed step
    // and why, the rest of the stack carried on, and no outputs file for a stack that is not
    // all in place.
    let outputs = t.path("cfn-outputs/flat-outputs.json");
    std::fs::remove_file(&outputs).unwrap();
    let up = t.medtech(&["up", "--env", &env, "--output", "json"]);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    let run: Value = serde_json::from_slice(&up.stdout).expect("one JSON document on stdout");
    assert_eq!(run["ok"], false, "{run}");
    let steps = run["steps"].as_array().expect("steps");
    let failed: BTreeSet<&str> = steps
        .iter()
        .filter(|s| s["status"] != "ok")
        .map(|s| s["resource"].as_str().unwrap())
        .collect();
    let subscriptions: BTreeSet<&str> = SUBSCRIPTIONS.iter().map(|e| e.logical).collect();
    assert_eq!(failed, subscriptions, "{run}");
    for step in steps
        .iter()
        .filter(|s| failed.contains(s["resource"].as_str().unwrap()))
    {
        let error = step["error"].as_str().unwrap_or_default();
        assert!(
            step["status"] == "failed"
                && error.contains("no-permission")
                && error.contains("let this account's RDS publish"),
            "{step}"
        );
    }
    assert!(!outputs.exists(), "a failed up wrote the outputs file");

    sent!(set_policy(default_policy));
    t.run_ok(&["up"]);
    assert!(
        failed_checks(&t, 0).is_empty(),
        "verify after the policy came back"
    );
    assert_subscribed(&t, &env).await;
}
