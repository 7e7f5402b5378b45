//! `verify --account`: the account's baseline around the stack. A fresh account fails exactly
//! the account checks; a baseline set up through the SDK (a multi-region trail that validates,
//! encrypts and feeds CloudWatch Logs, a GuardDuty detector, Security Hub, a Config recorder
//! with its channel, a password policy, the CIS metric filters and their alarms) passes them,
//! each as the emulator reports it. Without `--account` none runs; a read the identity may not
//! make stops `verify` with exit 4 naming the action and docs/iam-policy-account.json.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{REGION, TestContext, sent, stderr, stdout};
use crate::runs::{check, checks, failed};

/// Every account check, as `verify --account` names it.
const ACCOUNT_CHECKS: [&str; 20] = [
    "account.alarm_authentication_failures",
    "account.alarm_network_acl_changes",
    "account.alarm_network_gateway_changes",
    "account.alarm_root_usage",
    "account.alarm_route_table_changes",
    "account.alarm_security_group_changes",
    "account.alarm_vpc_changes",
    "account.cloudtrail_kms_encryption",
    "account.cloudtrail_log_file_validation",
    "account.cloudtrail_multi_region",
    "account.config_recorder",
    "account.guardduty_enabled",
    "account.password_lowercase",
    "account.password_max_age",
    "account.password_min_length",
    "account.password_numbers",
    "account.password_reuse_prevention",
    "account.password_symbols",
    "account.password_uppercase",
    "account.securityhub_enabled",
];

/// The CIS metric filters as AWS's Security Hub remediation writes them (no spaces around
/// `=`, `eventSource` in the route-table one), not in medtech's own spelling: the patterns are
/// compared by meaning. Each with its metric name.
const FILTERS: [(&str, &str); 7] = [
    (
        "RootUsage",
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
    ),
    (
        "ConsoleSigninFailures",
        r#"{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}"#,
    ),
    (
        "NaclChanges",
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}",
    ),
    (
        "GatewayChanges",
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",
    ),
    (
        "RouteTableChanges",
        "{($.eventSource=ec2.amazonaws.com) && (($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable))}",
    ),
    (
        "VpcChanges",
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}",
    ),
    (
        "SecurityGroupChanges",
        "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",
    ),
];

const TRAIL_GROUP: &str = "CloudTrail/baseline";
const NAMESPACE: &str = "CISBenchmark";

/// The account's services, as a test sets them up (medtech only reads them).
struct Baseline {
    cloudtrail: aws_sdk_cloudtrail::Client,
    guardduty: aws_sdk_guardduty::Client,
    securityhub: aws_sdk_securityhub::Client,
    config: aws_sdk_config::Client,
}

impl Baseline {
    async fn new(t: &TestContext) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&t.emulator.endpoint)
            .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .app_name(aws_config::AppName::new("medtech-test-observer").expect("app name"))
            .load()
            .await;
        Self {
            cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
            guardduty: aws_sdk_guardduty::Client::new(&config),
            securityhub: aws_sdk_securityhub::Client::new(&config),
            config: aws_sdk_config::Client::new(&config),
        }
    }
}

/// `verify --account` (or, with `account` false, plain `verify`) as JSON: exit code and report.
fn verify(t: &TestContext, account: bool) -> (Option<i32>, Value) {
    let mut args = vec!["verify", "--env", t.env.as_str(), "--output", "json"];
    if account {
        args.push("--account");
    }
    let out = t.medtech(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify JSON: {e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), report)
}

fn ids<'a>(checks: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    checks
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

fn account_checks(report: &Value) -> Vec<&Value> {
    checks(report)
        .filter(|c| c["resource"] == "account")
        .collect()
}

fn observed<'a>(report: &'a Value, id: &str) -> &'a Value {
    &check(report, id)["observed"]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_account_fails_the_account_checks_and_a_baseline_passes_them() {
    let t = TestContext::new("acct").await;
    t.run_ok(&["up"]);
    // What the stack's own checks say (all pass on a healthy stack): `--account` adds its
    // checks to these and changes none of them.
    let (stack_code, report) = verify(&t, false);
    assert!(account_checks(&report).is_empty(), "{report}");
    let stack_failed = ids(failed(&report));

    // The same flag from the environment.
    let out = t.medtech_with(
        &["verify", "--env", &t.env, "--output", "json"],
        &[("MEDTECH_VERIFY_ACCOUNT", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: BTreeSet<String> = ACCOUNT_CHECKS.iter().map(|&id| id.to_owned()).collect();
    assert_eq!(ids(failed(&report)), &stack_failed | &expected, "{report}");
    assert_eq!(ids(account_checks(&report).into_iter()), expected);
    assert_eq!(
        observed(&report, "account.cloudtrail_multi_region"),
        "no trail"
    );
    assert_eq!(
        observed(&report, "account.securityhub_enabled"),
        "not enabled"
    );
    assert_eq!(
        observed(&report, "account.password_min_length"),
        "no password policy"
    );
    assert_listed_by_controls(&t, &expected);

    let b = Baseline::new(&t).await;
    let topic = set_up_baseline(&t, &b).await;
    // Two flaws first: the route-table filter misses DeleteRoute, the security-group alarm
    // has no action.
    let routes = FILTERS[4].1.replace(" || ($.eventName=DeleteRoute)", "");
    put_filter(&t, "RouteTableChanges", &routes).await;
    put_alarm(&t, "SecurityGroupChanges", None).await;
    let (code, report) = verify(&t, true);
    assert_eq!(code, Some(1), "{report}");
    let flawed = BTreeSet::from([
        "account.alarm_route_table_changes".to_owned(),
        "account.alarm_security_group_changes".to_owned(),
    ]);
    assert_eq!(ids(failed(&report)), &stack_failed | &flawed, "{report}");
    let sg = observed(&report, "account.alarm_security_group_changes");
    assert!(
        sg.as_str().unwrap().contains("no alarm with an action"),
        "{sg}"
    );

    put_filter(&t, "RouteTableChanges", FILTERS[4].1).await;
    put_alarm(&t, "SecurityGroupChanges", Some(&topic)).await;
    let (code, report) = verify(&t, true);
    assert_eq!(
        (code, ids(failed(&report))),
        (stack_code, stack_failed),
        "{report}"
    );
    let passed = account_checks(&report);
    assert_eq!(passed.len(), ACCOUNT_CHECKS.len(), "{report}");
    assert!(passed.iter().all(|c| c["passed"] == true), "{report}");
    let trail = sent!(b.cloudtrail.describe_trails());
    let key = trail.trail_list()[0].kms_key_id().expect("the trail's key");
    assert_eq!(
        observed(&report, "account.cloudtrail_kms_encryption")["baseline"],
        key
    );
}

/// `medtech controls` lists every account check, under the section of its own.
fn assert_listed_by_controls(t: &TestContext, expected: &BTreeSet<String>) {
    let listed: Value =
        serde_json::from_slice(&t.medtech(&["controls", "--format", "json"]).stdout).unwrap();
    let rows = listed["controls"].as_array().expect("controls");
    let accounts = ids(rows.iter().filter(|r| r["resource"] == "account"));
    assert_eq!(&accounts, expected);
    let markdown = stdout(&t.medtech(&["controls"]));
    let section = markdown
        .split_once("## Account baseline (`verify --account`)")
        .expect("the account section")
        .1;
    for id in expected {
        assert!(
            section.contains(&format!("`{id}`")),
            "{id} not in the section"
        );
    }
}

/// Every piece of the baseline but the metric filters' two flaws; the alarm topic's ARN.
async fn set_up_baseline(t: &TestContext, b: &Baseline) -> String {
    let account = t.account_id().await;
    let bucket = "audit-trail-baseline";
    sent!(t.s3.create_bucket().bucket(bucket));
    let key = sent!(t.kms.create_key().description("CloudTrail logs"));
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    sent!(t.logs.create_log_group().log_group_name(TRAIL_GROUP));
    sent!(
        b.cloudtrail
            .create_trail()
            .name("baseline")
            .s3_bucket_name(bucket)
            .is_multi_region_trail(true)
            .enable_log_file_validation(true)
            .kms_key_id(&key_id)
            .cloud_watch_logs_log_group_arn(format!(
                "arn:aws:logs:{REGION}:{account}:log-group:{TRAIL_GROUP}:*"
            ))
            .cloud_watch_logs_role_arn(format!("arn:aws:iam::{account}:role/CloudTrailLogs"))
    );
    sent!(b.cloudtrail.start_logging().name("baseline"));
    sent!(b.guardduty.create_detector().enable(true));
    sent!(b.securityhub.enable_security_hub());
    set_up_config(b, &account, bucket).await;
    sent!(
        t.iam
            .update_account_password_policy()
            .minimum_password_length(14)
            .password_reuse_prevention(24)
            .max_password_age(90)
            .require_symbols(true)
            .require_numbers(true)
            .require_uppercase_characters(true)
            .require_lowercase_characters(true)
    );
    let topic = sent!(t.sns.create_topic().name("security-alarms"));
    let topic = topic.topic_arn().unwrap().to_owned();
    for (metric, pattern) in FILTERS {
        put_filter(t, metric, pattern).await;
        put_alarm(t, metric, Some(&topic)).await;
    }
    topic
}

async fn set_up_config(b: &Baseline, account: &str, bucket: &str) {
    use aws_sdk_config::types::{ConfigurationRecorder, DeliveryChannel, RecordingGroup};
    let recorder = ConfigurationRecorder::builder()
        .name("default")
        .role_arn(format!("arn:aws:iam::{account}:role/aws-config"))
        .recording_group(RecordingGroup::builder().all_supported(true).build())
        .build();
    sent!(
        b.config
            .put_configuration_recorder()
            .configuration_recorder(recorder)
    );
    let channel = DeliveryChannel::builder()
        .name("default")
        .s3_bucket_name(bucket)
        .build();
    sent!(b.config.put_delivery_channel().delivery_channel(channel));
    sent!(
        b.config
            .start_configuration_recorder()
            .configuration_recorder_name("default")
    );
}

/// Creates or replaces the metric filter `metric` on the trail's group.
async fn put_filter(t: &TestContext, metric: &str, pattern: &str) {
    let transformation = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_name(metric)
        .metric_namespace(NAMESPACE)
        .metric_value("1")
        .build()
        .unwrap();
    sent!(
        t.logs
            .put_metric_filter()
            .log_group_name(TRAIL_GROUP)
            .filter_name(metric)
            .filter_pattern(pattern)
            .metric_transformations(transformation)
    );
}

/// Creates or replaces the alarm on `metric`, notifying `topic` (or no one).
async fn put_alarm(t: &TestContext, metric: &str, topic: Option<&str>) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    sent!(
        t.cloudwatch
            .put_metric_alarm()
            .alarm_name(format!("cis-{metric}"))
            .metric_name(metric)
            .namespace(NAMESPACE)
            .statistic(Statistic::Sum)
            .period(300)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .set_alarm_actions(topic.map(|t| vec![t.to_owned()]))
    );
}

/// The runner's policy with docs/iam-policy-account.json's reads, as the emulator can check it,
/// without `without`.
fn auditor_policy(without: Option<&str>) -> Value {
    let mut policy = crate::iam::shipped_policy_for_the_emulator(None);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/iam-policy-account.json");
    let account: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut reads = account["Statement"].as_array().unwrap().clone();
    let mut found = without.is_none();
    for statement in &mut reads {
        let actions = statement["Action"].as_array_mut().unwrap();
        let before = actions.len();
        actions.retain(|a| Some(a.as_str().unwrap()) != without);
        found |= actions.len() != before;
    }
    assert!(found, "{without:?} is not in docs/iam-policy-account.json");
    policy["Statement"].as_array_mut().unwrap().extend(reads);
    policy
}

/// The runner's policy alone may not read the baseline; with the account document's reads it
/// may, and without one of them `verify --account` stops with exit 4 naming the action and the
/// document. Plain `verify` needs none of them.
#[tokio::test(flavor = "multi_thread")]
async fn the_account_reads_are_the_account_policys() {
    let t = TestContext::new("acctpol").await;
    let user = "auditor";
    let (key_id, secret) = t.create_user_with_policy(user, &auditor_policy(None)).await;
    let keys = [
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let run = |args: &[&str]| {
        let mut all = vec!["verify", "--env", t.env.as_str()];
        all.extend(args);
        t.medtech_with(&all, &keys)
    };
    t.set_iam_enforcement(true);
    // Nothing is deployed: both fail their checks (exit 1), neither is refused.
    for args in [&[][..], &["--account"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("access denied"), "{}", stderr(&out));
    }
    // Reads a fresh account needs (with no trail, nothing reads its status or filters).
    for action in [
        "cloudtrail:DescribeTrails",
        "guardduty:ListDetectors",
        "securityhub:DescribeHub",
        "config:DescribeDeliveryChannels",
        "iam:GetAccountPasswordPolicy",
    ] {
        t.put_user_policy(user, &auditor_policy(Some(action))).await;
        let plain = run(&[]);
        assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
        let out = run(&["--account"]);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "without {action}: {said}");
        let last = said.lines().last().unwrap_or_default();
        assert!(
            last.contains(&format!("may not call {action}"))
                && last.contains("docs/iam-policy-account.json"),
            "without {action}: last line {last:?}\n{said}"
        );
    }
    t.set_iam_enforcement(false);
}
