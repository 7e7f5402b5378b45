//! End to end, the network tier: the real binary against the emulator, every STACK.md setting
//! read back through the SDK.

use std::collections::BTreeMap;

use crate::common::sent;
use crate::common::{TestContext, assert_standard_tags, stderr, stdout, tags};
use crate::lookup::{default_security_group, endpoints_with_id};
use crate::runs::failed;
use aws_sdk_ec2::types::Filter;
use serde_json::Value;

fn by_name(name: &str) -> Filter {
    Filter::builder().name("tag:Name").values(name).build()
}

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not a list"))
        .iter()
        .map(|v| v.as_str().expect("list of strings").to_owned())
        .collect()
}

#[tokio::test]
async fn up_creates_one_of_each_network_resource_with_every_setting() {
    let t = TestContext::new("net").await;
    t.run_ok(&["up"]);
    let env = &t.env;
    let ec2 = &t.ec2;
    let outputs = t.outputs();

    // Exactly one of every kind (two subnets each tier, two route tables and network ACLs, three
    // groups).
    let swept = t.sweep(env).await;
    let counts: BTreeMap<&str, usize> = swept.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("elastic_ip", 1),
            ("internet_gateway", 1),
            ("network_acl", 2),
            ("nat_gateway", 1),
            ("route_table", 2),
            ("security_group", 3),
            ("subnet", 4),
            ("vpc", 1),
        ])
    );

    // VPC: CIDR, DNS support and hostnames, tags.
    let vpc_id = outputs["vpc_id"].as_str().unwrap().to_owned();
    let vpcs = sent!(ec2.describe_vpcs().vpc_ids(&vpc_id));
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_standard_tags("vpc", &tags(vpc.tags()), env, &format!("medtech-vpc-{env}"));
    for attribute in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let out = sent!(
            ec2.describe_vpc_attribute()
                .vpc_id(&vpc_id)
                .attribute(attribute.clone())
        );
        let value = out
            .enable_dns_support()
            .or(out.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(value, Some(true), "{attribute:?}");
    }

    // Subnets: one per tier per AZ, in the two first available AZs, no public IPs on launch.
    let zones = sent!(ec2.describe_availability_zones());
    let mut zone_names: Vec<&str> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    zone_names.sort();
    for (key, tier, cidrs) in [
        (
            "public_subnet_ids",
            "public",
            ["10.0.0.0/20", "10.0.16.0/20"],
        ),
        (
            "private_subnet_ids",
            "private",
            ["10.0.32.0/20", "10.0.48.0/20"],
        ),
    ] {
        let subnet_ids = ids(&outputs[key]);
        assert_eq!(subnet_ids.len(), 2);
        for (i, id) in subnet_ids.iter().enumerate() {
            let out = sent!(ec2.describe_subnets().subnet_ids(id));
            let subnet = &out.subnets()[0];
            assert_eq!(subnet.vpc_id(), Some(vpc_id.as_str()));
            assert_eq!(subnet.cidr_block(), Some(cidrs[i]));
            assert_eq!(subnet.availability_zone(), Some(zone_names[i]));
            assert_eq!(subnet.map_public_ip_on_launch(), Some(false));
            let letter = ['a', 'b'][i];
            assert_standard_tags(
                id,
                &tags(subnet.tags()),
                env,
                &format!("medtech-{tier}-{letter}-{env}"),
            );
        }
    }

    // Internet gateway attached to the VPC.
    let igws = sent!(
        ec2.describe_internet_gateways()
            .filters(by_name(&format!("medtech-igw-{env}")))
    );
    let igw = &igws.internet_gateways()[0];
    assert_eq!(igw.attachments()[0].vpc_id(), Some(vpc_id.as_str()));
    let igw_id = igw.internet_gateway_id().unwrap();

    // NAT gateway: in public subnet a, with the EIP, available.
    let nat_id = outputs["nat_gateway_id"].as_str().unwrap();
    let nats = sent!(ec2.describe_nat_gateways().nat_gateway_ids(nat_id));
    let nat = &nats.nat_gateways()[0];
    assert_eq!(
        nat.subnet_id(),
        Some(ids(&outputs["public_subnet_ids"])[0].as_str())
    );
    assert_eq!(nat.state().map(|s| s.as_str()), Some("available"));
    assert_eq!(
        nat.nat_gateway_addresses()[0].allocation_id(),
        outputs["nat_eip_id"].as_str()
    );
    assert_standard_tags("nat", &tags(nat.tags()), env, &format!("medtech-nat-{env}"));

    // Route tables: default route to IGW / NAT, explicit associations with their subnets.
    for (key, subnets_key, target) in [
        ("public_route_table_id", "public_subnet_ids", igw_id),
        ("private_route_table_id", "private_subnet_ids", nat_id),
    ] {
        let out = sent!(
            ec2.describe_route_tables()
                .route_table_ids(outputs[key].as_str().unwrap())
        );
        let table = &out.route_tables()[0];
        let default_route = table
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap_or_else(|| panic!("{key}: no default route"));
        assert_eq!(
            default_route
                .gateway_id()
                .or(default_route.nat_gateway_id()),
            Some(target)
        );
        let mut associated: Vec<String> = table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| a.subnet_id().map(Into::into))
            .collect();
        associated.sort();
        let mut expected = ids(&outputs[subnets_key]);
        expected.sort();
        assert_eq!(associated, expected, "{key}");
    }

    // The VPC's default security group: no rules at all.
    let default = default_security_group(&t, &vpc_id).await;
    assert!(
        default.ip_permissions().is_empty(),
        "{:?}",
        default.ip_permissions()
    );
    assert!(
        default.ip_permissions_egress().is_empty(),
        "{:?}",
        default.ip_permissions_egress()
    );

    // Data-tier groups: only their port, only from the VPC CIDR, no egress.
    for (key, port, name) in [
        ("rds_security_group_id", 5432, "rds-sg"),
        ("redis_security_group_id", 6379, "redis-sg"),
    ] {
        let out = sent!(
            ec2.describe_security_groups()
                .group_ids(outputs[key].as_str().unwrap())
        );
        let group = &out.security_groups()[0];
        assert_eq!(group.vpc_id(), Some(vpc_id.as_str()));
        let ingress = group.ip_permissions();
        assert_eq!(ingress.len(), 1, "{key}: {ingress:?}");
        assert_eq!(ingress[0].ip_protocol(), Some("tcp"));
        assert_eq!(
            (ingress[0].from_port(), ingress[0].to_port()),
            (Some(port), Some(port))
        );
        let cidrs: Vec<&str> = ingress[0]
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip())
            .collect();
        assert_eq!(cidrs, ["10.0.0.0/16"]);
        assert!(
            group.ip_permissions_egress().is_empty(),
            "{key}: {:?}",
            group.ip_permissions_egress()
        );
        assert_standard_tags(
            key,
            &tags(group.tags()),
            env,
            &format!("medtech-{name}-{env}"),
        );
    }

    // Outputs: the network keys, right types, pointing at what the emulator holds.
    assert_eq!(outputs["environment"], Value::from(env.as_str()));
    assert_eq!(outputs["region"], Value::from(crate::common::REGION));
    assert_eq!(swept["vpc"], std::slice::from_ref(&vpc_id));
    assert_eq!(swept["nat_gateway"], [nat_id.to_owned()]);
    assert_eq!(
        swept["elastic_ip"],
        [outputs["nat_eip_id"].as_str().unwrap().to_owned()]
    );

    // State: private, and its ids are the emulator's.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.state_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(t.state()["resources"]["vpc"]["id"], Value::from(vpc_id));
}

#[tokio::test]
async fn second_up_changes_nothing_and_lost_state_is_adopted() {
    let t = TestContext::new("again").await;
    t.run_ok(&["up"]);
    let first = t.sweep(&t.env).await;
    let first_state = t.state()["resources"].clone();

    let out = t.run_ok(&["up", "--output", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let actions: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert!(actions.iter().all(|a| *a == "unchanged"), "{actions:?}");
    assert_eq!(
        t.sweep(&t.env).await,
        first,
        "second up changed the emulator"
    );
    assert_eq!(t.state()["resources"], first_state);

    // A lost state file: up finds everything by its tags instead of creating copies.
    std::fs::remove_file(t.state_file()).unwrap();
    t.run_ok(&["up"]);
    assert_eq!(
        t.sweep(&t.env).await,
        first,
        "up without state duplicated resources"
    );
    assert_eq!(t.state()["resources"], first_state);
}

#[tokio::test]
async fn destroy_leaves_nothing_and_twice_is_calm() {
    let t = TestContext::new("gone").await;
    t.run_ok(&["up"]);
    // Without --yes and without a terminal, destroy refuses before touching anything.
    let refused = t.medtech(&["destroy", "--env", &t.env]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"));
    assert_eq!(t.sweep(&t.env).await["vpc"].len(), 1);

    t.run_ok(&["destroy", "--yes"]);
    t.assert_nothing_left(&t.env).await;
    assert!(!t.state_file().exists());

    let again = t.run_ok(&["destroy", "--yes"]);
    assert!(
        stderr(&again).contains("nothing to destroy"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test]
async fn destroy_without_state_finds_resources_by_tag() {
    let t = TestContext::new("lost").await;
    t.run_ok(&["up"]);
    // Every service, not only EC2: the sweep finds each kind before, and none after.
    let before = t.sweep_all(&t.env).await;
    let empty: Vec<&str> = before
        .iter()
        .filter(|(_, ids)| ids.is_empty())
        .map(|(kind, _)| *kind)
        .collect();
    assert!(empty.is_empty(), "up made no {empty:?}");
    std::fs::remove_file(t.state_file()).unwrap();
    t.run_ok(&["destroy", "--yes"]);
    t.assert_nothing_left(&t.env).await;
}

#[tokio::test]
async fn plan_predicts_and_verify_catches_drift_that_up_repairs() {
    let t = TestContext::new("drift").await;
    let plan = t.medtech(&["plan", "--env", &t.env, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", stderr(&plan));
    assert!(stdout(&plan).contains("+ vpc"), "{}", stdout(&plan));
    assert!(
        t.sweep(&t.env).await["vpc"].is_empty(),
        "plan created something"
    );

    t.run_ok(&["up"]);
    t.run_ok(&["plan", "--detailed-exitcode"]);
    t.run_ok(&["verify"]);

    // Someone opens PostgreSQL to the world behind medtech's back.
    let sg = t.outputs()["rds_security_group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sent!(
        t.ec2
            .authorize_security_group_ingress()
            .group_id(&sg)
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .cidr_ip("0.0.0.0/0")
    );
    let verify = t.medtech(&["verify", "--env", &t.env, "--output", "json"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stderr(&verify));
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    let failed: Vec<&str> = failed(&report).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["rds-sg.ingress"]);
    let plan = t.medtech(&["plan", "--env", &t.env, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(stdout(&plan).contains("~ rds-sg"), "{}", stdout(&plan));

    t.run_ok(&["up"]);
    let group = sent!(t.ec2.describe_security_groups().group_ids(&sg));
    let cidrs: Vec<&str> = group.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(cidrs, ["10.0.0.0/16"]);
    t.run_ok(&["verify"]);
}

#[tokio::test]
async fn two_environments_side_by_side_do_not_touch_each_other() {
    let t = TestContext::new("left").await;
    t.run_ok(&["up"]);
    let right = t.medtech(&[
        "up",
        "--env",
        "right",
        "--vpc-cidr",
        "10.1.0.0/16",
        "--outputs-file",
        "right.json",
    ]);
    assert!(right.status.success(), "{}", stderr(&right));
    let left_before = t.sweep("left").await;
    assert_eq!(t.sweep("right").await["vpc"].len(), 1);

    let destroyed = t.medtech(&["destroy", "--env", "right", "--yes"]);
    assert!(destroyed.status.success(), "{}", stderr(&destroyed));
    assert!(t.sweep("right").await.values().all(Vec::is_empty));
    assert_eq!(t.sweep("left").await, left_before);
}

#[tokio::test]
async fn outputs_command_prints_json_and_shell_forms() {
    let t = TestContext::new("outs").await;
    t.run_ok(&["up"]);
    let json = t.medtech(&["outputs"]);
    let printed: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(printed, Value::Object(t.outputs()));
    let shell = stdout(&t.run_ok(&["outputs", "--format", "shell"]));
    let vpc = t.outputs()["vpc_id"].as_str().unwrap().to_owned();
    assert!(shell.contains(&format!("export VPC_ID='{vpc}'")), "{shell}");
}

/// A NAT gateway deleted by hand is replaced by a new one. EC2 answers a reused client token
/// with the original gateway even once it is deleted, so the replacement's token must differ
/// from the first create's.
#[tokio::test]
async fn a_nat_gateway_deleted_by_hand_is_replaced_with_a_new_token() {
    let t = TestContext::new("natre").await;
    t.run_ok(&["up"]);
    let first = t.state()["resources"]["nat"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sent!(t.ec2.delete_nat_gateway().nat_gateway_id(&first));

    t.run_ok(&["up"]);
    let live: Vec<_> = sent!(
        t.ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("state").values("available").build())
    )
    .nat_gateways()
    .iter()
    .filter(|n| tags(n.tags()).get("Environment").map(String::as_str) == Some("natre"))
    .filter_map(|n| n.nat_gateway_id().map(str::to_owned))
    .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_ne!(live[0], first, "the deleted gateway came back");
    let private = t.state()["resources"]["private-rt"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables = sent!(t.ec2.describe_route_tables().route_table_ids(&private));
    let default_route = tables.route_tables()[0]
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .and_then(|r| r.nat_gateway_id().map(str::to_owned));
    assert_eq!(default_route.as_deref(), Some(live[0].as_str()));
}

/// Likewise an interface endpoint, where the emulator honours client tokens as EC2 does (with
/// its latency model on): the replacement gets a token of its own.
#[tokio::test]
async fn an_endpoint_deleted_by_hand_is_replaced_with_a_new_token() {
    let t = TestContext::with_behaviour("vpcere", serde_json::json!({"time_scale": 0.001})).await;
    t.run_ok(&["up"]);
    let first = t.state()["resources"]["secretsmanager-endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sent!(t.ec2.delete_vpc_endpoints().vpc_endpoint_ids(&first));
    // Gone once its modeled deletion is over.
    let started = std::time::Instant::now();
    while t
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&first)
        .send()
        .await
        .is_ok()
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    t.run_ok(&["up"]);
    let now = t.state()["resources"]["secretsmanager-endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(now, first, "the deleted endpoint came back");
    let described = sent!(t.ec2.describe_vpc_endpoints().vpc_endpoint_ids(&now));
    let state = described.vpc_endpoints()[0]
        .state()
        .map(|s| s.as_str().to_lowercase());
    assert_eq!(state.as_deref(), Some("available"));
}

/// EC2 answers `AuthFailure` to `ReleaseAddress` for a while after the NAT gateway that mapped
/// the address is `deleted`. That is not a credentials problem: `destroy` retries it and
/// releases the address.
#[tokio::test]
async fn destroy_releases_the_address_through_auth_failure_after_the_nat_gateway() {
    // Modeled: NAT create and delete 0.9 s and 0.6 s, then 3 s of AuthFailure on the address;
    // the slow databases shortened to 1 s.
    let behaviour = serde_json::json!({
        "time_scale": 0.01,
        "durations": {
            "eip_release_after_nat": 300, "iam_propagation": 0, "eni_linger": 100,
            "rds_create": 100, "rds_delete": 100, "redis_create": 100, "redis_delete": 100
        }
    });
    let t = TestContext::with_behaviour("eipauth", behaviour).await;
    let scale = [("MEDTECH_TIME_SCALE", "0.01")];
    let up = t.medtech_with(&["up", "--env", &t.env], &scale);
    assert!(up.status.success(), "{}", stderr(&up));
    let destroy = t.medtech_with(
        &[
            "destroy",
            "--env",
            &t.env,
            "--yes",
            "--skip-final-snapshot",
            "--force-delete-secrets",
        ],
        &scale,
    );
    assert!(
        destroy.status.success(),
        "destroy exited {:?}: {}",
        destroy.status.code(),
        stderr(&destroy)
    );
    assert!(
        t.sweep(&t.env).await["elastic_ip"].is_empty(),
        "the address was not released"
    );
    let stats = t.emulator_stats();
    assert!(
        stats["operations"]["ec2:ReleaseAddress"]["refused"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the emulator never refused the release: {}",
        stats["operations"]
    );
}

/// Tags the recorded endpoint so that the emulator reports its deletion `Unsuccessful` with
/// `refusal` (`<Code>` or `<Code>:<times>`; see tests/emulator/README.md).
async fn refuse_endpoint_delete(t: &TestContext, refusal: &str) -> String {
    let id = t.state()["resources"]["secretsmanager-endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sent!(
        t.ec2.create_tags().resources(&id).tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("medtech-emulator:refuse-delete")
                .value(refusal)
                .build(),
        )
    );
    id
}

/// `DeleteVpcEndpoints` lists the endpoints it did not delete in `Unsuccessful` instead of
/// failing: a refusal that may pass is asked again, and the endpoint is gone after destroy.
#[tokio::test]
async fn destroy_asks_again_when_an_endpoint_delete_is_unsuccessful_for_now() {
    let t = TestContext::new("vpceagain").await;
    t.run_ok(&["up"]);
    let id = refuse_endpoint_delete(&t, "IncorrectState:2").await;
    let scale = [("MEDTECH_TIME_SCALE", "0.01")];
    let destroy = t.medtech_with(&["destroy", "--env", &t.env, "--yes"], &scale);
    assert!(destroy.status.success(), "{}", stderr(&destroy));
    let left = endpoints_with_id(&t, &id).await;
    assert!(
        left.iter()
            .all(|e| e.state().map(|s| s.as_str().to_lowercase()) == Some("deleted".into())),
        "{left:?}"
    );
}

/// A refusal that will not pass is reported at once, in AWS's words, not as a timeout.
#[tokio::test]
async fn destroy_reports_an_endpoint_delete_aws_refuses_in_its_words() {
    let t = TestContext::new("vpcerefuse").await;
    t.run_ok(&["up"]);
    let id = refuse_endpoint_delete(&t, "OperationNotPermitted").await;
    let scale = [("MEDTECH_TIME_SCALE", "0.01")];
    let destroy = t.medtech_with(&["destroy", "--env", &t.env, "--yes"], &scale);
    assert!(!destroy.status.success());
    let err = stderr(&destroy);
    assert!(
        err.contains("OperationNotPermitted")
            && err.contains("managed by another service")
            && err.contains(&id)
            && !err.contains("timed out"),
        "{err}"
    );
}
