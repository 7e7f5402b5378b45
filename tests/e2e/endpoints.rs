//! The VPC endpoints: one per service of STACK.md (S3 gateway, Kinesis and Secrets Manager
//! interfaces), in the private tier, reachable over HTTPS from the VPC and from nowhere else.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use crate::common::sent;
use crate::common::{REGION, TestContext};
use crate::lookup::{assert_tags, route_table_id, sorted, subnet_ids, vpc_id};

pub(crate) async fn check_endpoints(t: &TestContext, env: &str) {
    let vpc = vpc_id(t, env).await;
    let private = sorted(subnet_ids(t, env, "private").await);
    let private_rt = route_table_id(t, &format!("medtech-private-rt-{env}")).await;
    let vpcs = sent!(t.ec2.describe_vpcs().vpc_ids(&vpc));
    let vpc_cidr = vpcs.vpcs()[0].cidr_block().unwrap().to_owned();
    let out = sent!(
        t.ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(&vpc).build())
    );
    let endpoints: Vec<_> = out
        .vpc_endpoints()
        .iter()
        .filter(|e| !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "Deleted")))
        .collect();
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
    for e in endpoints {
        let what = e.service_name().unwrap_or_default();
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
