//! The log groups (audit, VPC flow, RDS exports) and the VPC's flow log: encrypted, kept,
//! tagged, delivering; a flow log that cannot deliver is caught by `verify` and repaired by `up`.

use aws_sdk_ec2::types::Filter;

use crate::common::sent;
use crate::common::{REGION, TestContext};
use crate::kms_secrets::key_policy;
use crate::lookup::{assert_tags, log_group, log_group_arn, role, stack_key, vpc_id};
use crate::runs::{assert_verify_passes, failed_checks};
use crate::sweep::TagSource;

/// Asserts that the log group `name` is encrypted with `key_arn`, kept `retention` days and
/// tagged with its name.
async fn assert_log_group(
    t: &TestContext,
    env: &str,
    name: &str,
    key_arn: &str,
    retention: Option<i32>,
) {
    let group = log_group(t, name).await;
    assert_eq!(group.kms_key_id(), Some(key_arn), "{name}: key");
    assert_eq!(group.retention_in_days(), retention, "{name}: retention");
    let tags = t.tags_of(&TagSource::LogGroup(log_group_arn(&group))).await;
    assert_tags(name, &tags, env, Some(name));
}

/// The flow logs of a VPC.
async fn vpc_flow_logs(t: &TestContext, vpc: &str) -> Vec<aws_sdk_ec2::types::FlowLog> {
    let out = sent!(
        t.ec2
            .describe_flow_logs()
            .filter(Filter::builder().name("resource-id").values(vpc).build())
    );
    out.flow_logs().to_vec()
}

pub(crate) async fn check_log_groups_and_flow_logs(t: &TestContext, env: &str) {
    let key = stack_key(t, env).await;
    let key_arn = key.arn().unwrap();

    // The audit group keeps 365 days by default; the flow log group and the groups RDS
    // exports into (made before it) are encrypted and kept like it.
    let audit = format!("/medtech/{env}/audit");
    assert_log_group(t, env, &audit, key_arn, Some(365)).await;
    let flow_group_name = format!("/medtech/{env}/vpc-flow");
    for name in [
        flow_group_name.clone(),
        format!("/aws/rds/instance/medtech-rds-{env}/postgresql"),
        format!("/aws/rds/instance/medtech-rds-{env}/upgrade"),
    ] {
        assert_log_group(t, env, &name, key_arn, Some(365)).await;
    }
    let policy = key_policy(t, key.key_id()).await;
    let logs_statement = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "CloudWatchLogsForThisEnvironment")
        .unwrap();
    let arns =
        logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].to_string();
    assert!(
        arns.contains(&format!("log-group:/aws/rds/instance/medtech-rds-{env}/*")),
        "the key policy does not let CloudWatch Logs encrypt the RDS exports: {arns}"
    );

    let vpc = vpc_id(t, env).await;
    let role = role(t, &format!("medtech-flow-logs-{env}")).await;
    let flows = vpc_flow_logs(t, &vpc).await;
    assert_eq!(flows.len(), 1, "flow logs of the VPC: {flows:?}");
    let flow = &flows[0];
    assert_eq!(flow.traffic_type().map(|x| x.as_str()), Some("ALL"));
    assert_eq!(
        flow.log_destination_type().map(|x| x.as_str()),
        Some("cloud-watch-logs")
    );
    assert_eq!(flow.log_group_name(), Some(flow_group_name.as_str()));
    assert_eq!(flow.deliver_logs_permission_arn(), Some(role.arn()));
    // The emulator reports FAILED when the group did not exist at creation.
    // GAP: no traffic flows in the emulator, so actual delivery into the encrypted group
    // through the role (which needs the key policy's logs statement) is not exercised.
    assert_eq!(flow.deliver_logs_status(), Some("SUCCESS"));
    assert_eq!(flow.flow_log_status(), Some("ACTIVE"));
    assert_tags("flow log", &crate::common::tags(flow.tags()), env, None);
}

/// The flow-logs role must let the service find its log group (`logs:DescribeLogGroups`), or
/// the flow log exists and delivers nothing (`DeliverLogsStatus` FAILED). `verify` reads that
/// status, and `up` repairs the role.
#[tokio::test]
async fn flow_log_delivery_is_verified_and_repaired() {
    let t = TestContext::new("deliver").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let vpc = vpc_id(&t, &env).await;
    let delivery = || async {
        let logs = vpc_flow_logs(&t, &vpc).await;
        (
            logs[0].deliver_logs_status().map(str::to_owned),
            logs[0].deliver_logs_error_message().map(str::to_owned),
        )
    };
    assert_eq!(delivery().await, (Some("SUCCESS".to_owned()), None));

    // Someone trims the role's policy to the three stream actions.
    let account = t.account_id().await;
    let group = format!("arn:aws:logs:{REGION}:{account}:log-group:/medtech/{env}/vpc-flow");
    let trimmed = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [group.clone(), format!("{group}:*")]
    }]});
    sent!(
        t.iam
            .create_policy_version()
            .policy_arn(format!(
                "arn:aws:iam::{account}:policy/medtech-flow-logs-{env}"
            ))
            .policy_document(trimmed.to_string())
            .set_as_default(true)
    );
    assert_eq!(
        delivery().await,
        (Some("FAILED".to_owned()), Some("Access error".to_owned()))
    );
    let failed = failed_checks(&t, 1);
    assert!(failed.contains("flow-logs.delivery"), "{failed:?}");

    t.run_ok(&["up"]);
    assert_eq!(delivery().await, (Some("SUCCESS".to_owned()), None));
    assert_verify_passes(&t, &env);
}
