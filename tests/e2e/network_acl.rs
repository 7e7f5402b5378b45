//! End to end, the network ACLs: each tier's subnets behind an ACL of its own whose entries are
//! exactly the designed table, nothing open to the internet on every port, SSH or RDP, and the
//! VPC's default ACL stripped to its `*` deny entries. Drift in entries and associations made
//! through the SDK is named by `verify`, planned and repaired by `up`; `destroy` leaves no ACL.
//! The emulator sends no packets: what these entries let through is argued in
//! `src/resources/ec2/network_acl.rs` and checked there by unit tests, not here.

use aws_sdk_ec2::types::{Filter, NetworkAcl, PortRange, RuleAction};
use serde_json::Value;

use crate::common::sent;
use crate::common::{TestContext, assert_standard_tags, tags};
use crate::runs::{DESTROY_NOW, assert_no_changes, failed_checks, planned_changes};

const VPC: &str = "10.0.0.0/16";
const ANYWHERE: &str = "0.0.0.0/0";
/// EC2's number for the `*` entry every ACL keeps.
const STAR: i32 = 32767;

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The entries the design asks for: `in`/`out`, number, protocol, ports or ICMP type:code,
/// block. Every one allows.
fn designed(tier: &str) -> Vec<String> {
    let inbound = [
        format!("in 100 -1 - {VPC}"),
        format!("in 110 6 1024-3388 {ANYWHERE}"),
        format!("in 120 6 3390-65535 {ANYWHERE}"),
        format!("in 130 1 3:4 {ANYWHERE}"),
    ];
    let outbound = match tier {
        "public" => vec![
            format!("out 100 6 443-443 {ANYWHERE}"),
            format!("out 110 6 1024-65535 {VPC}"),
            format!("out 120 1 3:4 {VPC}"),
        ],
        _ => vec![
            format!("out 100 -1 - {VPC}"),
            format!("out 110 6 443-443 {ANYWHERE}"),
        ],
    };
    inbound.into_iter().chain(outbound).collect()
}

/// The entries of `acl` but the `*` ones, as [`designed`] writes them, plus `deny` ones.
fn entries(acl: &NetworkAcl) -> Vec<String> {
    let mut out: Vec<(bool, i32, String)> = acl
        .entries()
        .iter()
        .filter(|e| e.rule_number() != Some(STAR))
        .map(|e| {
            let direction = if e.egress() == Some(true) {
                "out"
            } else {
                "in"
            };
            let action = match e.rule_action() {
                Some(RuleAction::Allow) => "",
                _ => "deny ",
            };
            let detail = match (e.port_range(), e.icmp_type_code()) {
                (Some(p), _) => format!("{}-{}", p.from().unwrap(), p.to().unwrap()),
                (None, Some(i)) => format!("{}:{}", i.r#type().unwrap(), i.code().unwrap()),
                (None, None) => "-".to_owned(),
            };
            let block = e.cidr_block().or(e.ipv6_cidr_block()).unwrap();
            let number = e.rule_number().unwrap();
            let line = format!(
                "{action}{direction} {number} {} {detail} {block}",
                e.protocol().unwrap()
            );
            (e.egress() == Some(true), number, line)
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, _, line)| line).collect()
}

/// The `*` entries: deny everything, both ways.
fn star_entries(acl: &NetworkAcl) -> Vec<(bool, String, String)> {
    let mut out: Vec<(bool, String, String)> = acl
        .entries()
        .iter()
        .filter(|e| e.rule_number() == Some(STAR))
        .map(|e| {
            let action = e.rule_action().map(|a| a.as_str().to_owned());
            (
                e.egress().unwrap(),
                action.unwrap(),
                e.protocol().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The ACL of `tier` (`public`, `private`), found by its contract name and environment.
async fn tier_acl(t: &TestContext, env: &str, tier: &str) -> NetworkAcl {
    let out = sent!(
        t.ec2
            .describe_network_acls()
            .filters(filter("tag:Name", &format!("medtech-{tier}-nacl-{env}")))
            .filters(filter("tag:Environment", env))
    );
    assert_eq!(out.network_acls().len(), 1, "{tier}: {out:?}");
    out.network_acls()[0].clone()
}

async fn default_acl(t: &TestContext, vpc: &str) -> NetworkAcl {
    let out = sent!(
        t.ec2
            .describe_network_acls()
            .filters(filter("vpc-id", vpc))
            .filters(filter("default", "true"))
    );
    assert_eq!(out.network_acls().len(), 1, "{out:?}");
    out.network_acls()[0].clone()
}

fn associated(acl: &NetworkAcl) -> Vec<String> {
    let mut subnets: Vec<String> = acl
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_owned))
        .collect();
    subnets.sort();
    subnets
}

fn subnet_ids(outputs: &serde_json::Map<String, Value>, tier: &str) -> Vec<String> {
    let mut ids: Vec<String> = outputs[&format!("{tier}_subnet_ids")]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Asserts what `up` must leave: each tier's subnets on its ACL with exactly the designed
/// entries, the `*` entries kept, and the default ACL holding nothing but its own.
async fn assert_as_designed(t: &TestContext) {
    let (env, outputs) = (&t.env, t.outputs());
    let vpc = outputs["vpc_id"].as_str().unwrap();
    for tier in ["public", "private"] {
        let acl = tier_acl(t, env, tier).await;
        assert_eq!(acl.vpc_id(), Some(vpc));
        assert_eq!(acl.is_default(), Some(false));
        assert_eq!(associated(&acl), subnet_ids(&outputs, tier), "{tier}");
        assert_eq!(entries(&acl), designed(tier), "{tier}");
        assert_eq!(
            star_entries(&acl),
            [
                (false, "deny".to_owned(), "-1".to_owned()),
                (true, "deny".to_owned(), "-1".to_owned())
            ],
            "{tier}"
        );
        let name = format!("medtech-{tier}-nacl-{env}");
        assert_standard_tags(&name, &tags(acl.tags()), env, &name);
        // Prowler's ec2_networkacl_allow_ingress_any_port: no inbound allow of everything
        // from anywhere.
        let open = acl.entries().iter().filter(|e| {
            e.egress() == Some(false)
                && e.rule_action() == Some(&RuleAction::Allow)
                && e.protocol() == Some("-1")
                && (e.cidr_block() == Some(ANYWHERE) || e.ipv6_cidr_block() == Some("::/0"))
        });
        assert_eq!(open.count(), 0, "{tier} admits everything from anywhere");
    }
    let default = default_acl(t, vpc).await;
    assert_eq!(entries(&default), Vec::<String>::new(), "default ACL");
    assert_eq!(star_entries(&default).len(), 2, "default ACL");
    assert_eq!(associated(&default), Vec::<String>::new(), "default ACL");
}

#[tokio::test]
async fn up_puts_each_tier_behind_its_acl_and_closes_the_default_one() {
    let t = TestContext::new("nacl").await;
    t.run_ok(&["up"]);
    assert_as_designed(&t).await;
    assert!(failed_checks(&t, 0).is_empty());
    assert_no_changes(&t, &t.env);

    // Without state, `up` finds the ACLs by their tags instead of making second ones.
    let before = [
        tier_acl(&t, &t.env, "public").await,
        tier_acl(&t, &t.env, "private").await,
    ];
    std::fs::remove_file(t.state_file()).unwrap();
    t.run_ok(&["up"]);
    for (tier, acl) in ["public", "private"].into_iter().zip(before) {
        let found = tier_acl(&t, &t.env, tier).await;
        assert_eq!(found.network_acl_id(), acl.network_acl_id(), "{tier}");
    }
    assert_as_designed(&t).await;
}

#[tokio::test]
async fn drift_in_entries_and_associations_is_named_planned_and_repaired() {
    let t = TestContext::new("nacldrift").await;
    t.run_ok(&["up"]);
    let (env, outputs) = (t.env.clone(), t.outputs());
    let public = tier_acl(&t, &env, "public").await;
    let public = public.network_acl_id().unwrap().to_owned();
    let private = tier_acl(&t, &env, "private").await;
    let private = private.network_acl_id().unwrap().to_owned();
    let default = default_acl(&t, outputs["vpc_id"].as_str().unwrap()).await;
    let default = default.network_acl_id().unwrap().to_owned();
    let mut drifts: Vec<&str> = Vec::new();

    // 1. The NAT's HTTPS out turned into plain HTTP.
    sent!(
        t.ec2
            .replace_network_acl_entry()
            .network_acl_id(&public)
            .rule_number(100)
            .egress(true)
            .protocol("6")
            .rule_action(RuleAction::Allow)
            .cidr_block(ANYWHERE)
            .port_range(PortRange::builder().from(80).to(80).build())
    );
    drifts.push("public-nacl.egress");
    // 2. Path MTU discovery's entry deleted.
    sent!(
        t.ec2
            .delete_network_acl_entry()
            .network_acl_id(&private)
            .rule_number(130)
            .egress(false)
    );
    drifts.push("private-nacl.ingress");
    // 3. Everything from everywhere let in, ahead of every other entry.
    sent!(
        t.ec2
            .create_network_acl_entry()
            .network_acl_id(&private)
            .rule_number(50)
            .egress(false)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .cidr_block(ANYWHERE)
    );
    drifts.extend([
        "private-nacl.internet_any_port",
        "private-nacl.internet_ssh",
        "private-nacl.internet_rdp",
    ]);
    // 4. The default ACL opened again.
    sent!(
        t.ec2
            .create_network_acl_entry()
            .network_acl_id(&default)
            .rule_number(100)
            .egress(false)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .cidr_block(ANYWHERE)
    );
    drifts.push("default-nacl.ingress");
    // 5. A public subnet moved back onto the default ACL.
    let subnet = &subnet_ids(&outputs, "public")[1];
    let found = sent!(
        t.ec2
            .describe_network_acls()
            .filters(filter("association.subnet-id", subnet))
    );
    let association = found.network_acls()[0]
        .associations()
        .iter()
        .find(|a| a.subnet_id() == Some(subnet.as_str()))
        .and_then(|a| a.network_acl_association_id())
        .unwrap()
        .to_owned();
    sent!(
        t.ec2
            .replace_network_acl_association()
            .association_id(association)
            .network_acl_id(&default)
    );
    drifts.push("public-nacl.associated_subnets");

    let expected = drifts.iter().map(|d| (*d).to_owned()).collect();
    assert_eq!(
        failed_checks(&t, 1),
        expected,
        "verify must name exactly these"
    );
    assert_eq!(
        planned_changes(&t),
        expected,
        "plan must name exactly these"
    );
    t.run_ok(&["up"]);
    assert!(
        failed_checks(&t, 0).is_empty(),
        "up did not repair everything"
    );
    assert_no_changes(&t, &env);
    assert_as_designed(&t).await;
}

#[tokio::test]
async fn destroy_leaves_no_acl_of_the_environment() {
    let t = TestContext::new("nacldel").await;
    t.run_ok(&["up"]);
    let vpc = t.outputs()["vpc_id"].as_str().unwrap().to_owned();
    t.run_ok(&DESTROY_NOW);
    let tagged = sent!(
        t.ec2
            .describe_network_acls()
            .filters(filter("tag:Environment", &t.env))
    );
    assert!(tagged.network_acls().is_empty(), "{tagged:?}");
    let in_vpc = sent!(
        t.ec2
            .describe_network_acls()
            .filters(filter("vpc-id", &vpc))
    );
    assert!(in_vpc.network_acls().is_empty(), "{in_vpc:?}");
}
