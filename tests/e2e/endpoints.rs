//! The VPC endpoints: one per service of STACK.md (S3 gateway, Kinesis and Secrets Manager
//! interfaces), in the private tier, reachable over HTTPS from the VPC and from nowhere else,
//! and each with a policy that admits only the account's own principals (Prowler
//! `vpc_endpoint_connections_trust_boundaries`), its drift named by `verify` and `plan` and
//! repaired by `up`.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, VpcEndpoint};
use serde_json::{Value, json};

use crate::common::sent;
use crate::common::{REGION, TestContext};
use crate::lookup::{assert_tags, route_table_id, sorted, subnet_ids, vpc_id};
use crate::policy_doc::policy_json;
use crate::runs::{failed_checks, planned_changes};

/// The policy medtech puts on every endpoint: anything, for principals of `account` only.
fn this_account_only(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ThisAccountOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": account}}
        }]
    })
}

/// The endpoints of `env`'s VPC that are not deleted.
async fn stack_endpoints(t: &TestContext, env: &str) -> Vec<VpcEndpoint> {
    let vpc = vpc_id(t, env).await;
    let out = sent!(
        t.ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(&vpc).build())
    );
    out.vpc_endpoints()
        .iter()
        .filter(|e| !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "Deleted")))
        .cloned()
        .collect()
}

/// The endpoint's policy as EC2 describes it; `None` without one.
fn policy_of(endpoint: &VpcEndpoint) -> Option<Value> {
    endpoint.policy_document().map(policy_json)
}

/// Asserts that every endpoint of the environment carries exactly `want`.
async fn assert_policies(t: &TestContext, want: &Value) {
    let endpoints = stack_endpoints(t, &t.env).await;
    assert_eq!(endpoints.len(), 3, "one endpoint per service");
    for e in &endpoints {
        let what = e.service_name().unwrap_or_default();
        assert_eq!(policy_of(e).as_ref(), Some(want), "{what}: endpoint policy");
    }
}

pub(crate) async fn check_endpoints(t: &TestContext, env: &str) {
    let vpc = vpc_id(t, env).await;
    let private = sorted(subnet_ids(t, env, "private").await);
    let private_rt = route_table_id(t, &format!("medtech-private-rt-{env}")).await;
    let vpcs = sent!(t.ec2.describe_vpcs().vpc_ids(&vpc));
    let vpc_cidr = vpcs.vpcs()[0].cidr_block().unwrap().to_owned();
    let endpoints = stack_endpoints(t, env).await;
    let only_us = this_account_only(&t.account_id().await);
    let kinds: BTreeSet<(String, String)> = endpoints
        .iter()
        .map(|e| {
            (
                e.vpc_endpoint_type()
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_default(),
                e.service_name().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("Gateway".to_owned(), format!("com.amazonaws.{REGION}.s3")),
            (
                "Interface".to_owned(),
                format!("com.amazonaws.{REGION}.kinesis-streams")
            ),
            (
                "Interface".to_owned(),
                format!("com.amazonaws.{REGION}.secretsmanager")
            ),
        ]),
        "VPC endpoints"
    );
    assert_eq!(endpoints.len(), 3, "one endpoint per service");
    for e in &endpoints {
        let what = e.service_name().unwrap_or_default();
        assert_eq!(
            policy_of(e).as_ref(),
            Some(&only_us),
            "{what}: endpoint policy"
        );
        assert_eq!(
            e.state()
                .map(|s| s.as_str().to_ascii_lowercase())
                .as_deref(),
            Some("available"),
            "{what}"
        );
        if e.vpc_endpoint_type().map(|x| x.as_str()) == Some("Interface") {
            assert_eq!(sorted(e.subnet_ids().to_vec()), private, "{what}: subnets");
            assert_eq!(e.private_dns_enabled(), Some(true), "{what}: private DNS");
            // Not a STACK.md row, but implied by it: the VPC's default group has no rules,
            // so an interface endpoint is usable only through a group that admits HTTPS from
            // the VPC, and (like rds-sg/redis-sg) it must not be open to the world.
            let groups: Vec<String> = e
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect();
            assert!(!groups.is_empty(), "{what}: no security group");
            let described = sent!(
                t.ec2
                    .describe_security_groups()
                    .set_group_ids(Some(groups.clone()))
            );
            let mut https_from_vpc = false;
            for g in described.security_groups() {
                assert_ne!(
                    g.group_name(),
                    Some("default"),
                    "{what}: uses the locked-down default group"
                );
                for p in g.ip_permissions() {
                    for r in p.ip_ranges() {
                        assert_ne!(r.cidr_ip(), Some("0.0.0.0/0"), "{what}: open to the world");
                        let covers_443 = p.ip_protocol() == Some("-1")
                            || (p.ip_protocol() == Some("tcp")
                                && p.from_port().unwrap_or(0) <= 443
                                && p.to_port().unwrap_or(0) >= 443);
                        if covers_443 && r.cidr_ip() == Some(vpc_cidr.as_str()) {
                            https_from_vpc = true;
                        }
                    }
                }
            }
            assert!(
                https_from_vpc,
                "{what}: no group admits tcp 443 from {vpc_cidr}"
            );
        } else {
            assert_eq!(
                e.route_table_ids(),
                std::slice::from_ref(&private_rt),
                "{what}: route tables"
            );
        }
        assert_tags(what, &crate::common::tags(e.tags()), env, None);
    }
}

#[tokio::test]
async fn each_endpoint_admits_only_this_account_and_its_drift_is_repaired() {
    let t = TestContext::new("vpcepol").await;
    t.run_ok(&["up"]);
    let want = this_account_only(&t.account_id().await);
    assert_policies(&t, &want).await;
    assert!(failed_checks(&t, 0).is_empty());

    // Behind medtech's back: AWS's default policy, which admits any account's credentials.
    let anyone = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
        "Resource": "*"}]});
    for e in stack_endpoints(&t, &t.env).await {
        sent!(
            t.ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(e.vpc_endpoint_id().expect("endpoint id"))
                .policy_document(anyone.to_string())
        );
    }
    assert_policies(&t, &anyone).await;
    let drifted = BTreeSet::from([
        "kinesis-endpoint.policy".to_owned(),
        "s3-endpoint.policy".to_owned(),
        "secretsmanager-endpoint.policy".to_owned(),
    ]);
    assert_eq!(failed_checks(&t, 1), drifted, "verify names the drift");
    assert_eq!(planned_changes(&t), drifted, "plan names the drift");

    t.run_ok(&["up"]);
    assert_policies(&t, &want).await;
    assert!(
        failed_checks(&t, 0).is_empty(),
        "up did not repair the policies"
    );
}
