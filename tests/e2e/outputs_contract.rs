//! The flat outputs file of STACK.md after `up`: every key, with its JSON type, pointing at
//! what the emulator holds.

use serde_json::Value;

use crate::common::sent;
use crate::common::{REGION, TestContext};
use crate::lookup::{
    log_group, rds_instance, replication_group, role, route_table_id, secret, secret_names,
    security_group_id, stack_key, stream_summary, subnet_ids, topic_arn, vpc_id,
};

/// The output keys of STACK.md, with their JSON types.
const STRING_OUTPUTS: &[&str] = &[
    "environment",
    "region",
    "vpc_id",
    "nat_eip_id",
    "nat_gateway_id",
    "public_route_table_id",
    "private_route_table_id",
    "kms_key_id",
    "kms_key_arn",
    "kms_alias",
    "audit_log_group_name",
    "kinesis_stream_name",
    "kinesis_stream_arn",
    "rds_instance_identifier",
    "rds_endpoint",
    "rds_secret_arn",
    "rds_security_group_id",
    "redis_primary_endpoint",
    "redis_reader_endpoint",
    "redis_secret_arn",
    "redis_security_group_id",
    "db_subnet_group_name",
    "elasticache_subnet_group_name",
    "kinesis_producer_role_arn",
    "secrets_reader_role_arn",
    "alarm_topic_arn",
];
const LIST_OUTPUTS: &[&str] = &["public_subnet_ids", "private_subnet_ids"];
const INTEGER_OUTPUTS: &[&str] = &["rds_port", "redis_port"];

pub(crate) async fn check_outputs(t: &TestContext, env: &str) {
    let outputs = t.outputs();
    let s = |k: &str| -> String {
        outputs
            .get(k)
            .unwrap_or_else(|| panic!("outputs: {k} missing"))
            .as_str()
            .unwrap_or_else(|| panic!("outputs: {k} is not a string: {}", outputs[k]))
            .to_owned()
    };
    let mut problems = Vec::new();
    for k in STRING_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::String(v)) if !v.is_empty() => {}
            other => problems.push(format!("{k}: {other:?} (want a non-empty string)")),
        }
    }
    for k in LIST_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::Array(v)) if v.len() == 2 && v.iter().all(Value::is_string) => {}
            other => problems.push(format!("{k}: {other:?} (want two strings)")),
        }
    }
    for k in INTEGER_OUTPUTS {
        match outputs.get(*k) {
            Some(Value::Number(n)) if n.is_u64() => {}
            other => problems.push(format!("{k}: {other:?} (want an integer)")),
        }
    }
    assert!(
        problems.is_empty(),
        "outputs file:\n{}",
        problems.join("\n")
    );

    // Each points at what the emulator holds.
    assert_eq!(s("environment"), env);
    assert_eq!(s("region"), REGION);
    assert_eq!(s("vpc_id"), vpc_id(t, env).await);
    let list = |k: &str| -> Vec<String> {
        outputs[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        list("public_subnet_ids"),
        subnet_ids(t, env, "public").await
    );
    assert_eq!(
        list("private_subnet_ids"),
        subnet_ids(t, env, "private").await
    );
    let nat = sent!(
        t.ec2
            .describe_nat_gateways()
            .nat_gateway_ids(s("nat_gateway_id"))
    );
    let nat = &nat.nat_gateways()[0];
    assert_eq!(nat.state().map(|x| x.as_str()), Some("available"));
    assert_eq!(
        nat.nat_gateway_addresses()[0].allocation_id(),
        Some(s("nat_eip_id").as_str())
    );
    assert_eq!(
        s("public_route_table_id"),
        route_table_id(t, &format!("medtech-public-rt-{env}")).await
    );
    assert_eq!(
        s("private_route_table_id"),
        route_table_id(t, &format!("medtech-private-rt-{env}")).await
    );
    let key = stack_key(t, env).await;
    assert_eq!(s("kms_key_id"), key.key_id());
    assert_eq!(Some(s("kms_key_arn").as_str()), key.arn());
    assert_eq!(s("kms_alias"), format!("alias/medtech-{env}"));
    let audit = log_group(t, &s("audit_log_group_name")).await;
    assert_eq!(
        audit.log_group_name(),
        Some(format!("/medtech/{env}/audit").as_str())
    );
    let stream = stream_summary(t, env).await;
    assert_eq!(s("kinesis_stream_name"), stream.stream_name());
    assert_eq!(s("kinesis_stream_arn"), stream.stream_arn());
    let db = rds_instance(t, env).await;
    assert_eq!(
        Some(s("rds_instance_identifier").as_str()),
        db.db_instance_identifier()
    );
    let endpoint = db.endpoint().expect("endpoint");
    assert_eq!(Some(s("rds_endpoint").as_str()), endpoint.address());
    assert_eq!(outputs["rds_port"].as_i64(), endpoint.port().map(i64::from));
    for (k, name) in ["rds_secret_arn", "redis_secret_arn"]
        .into_iter()
        .zip(secret_names(env))
    {
        assert_eq!(Some(s(k).as_str()), secret(t, &name).await.arn(), "{k}");
    }
    assert_eq!(
        s("rds_security_group_id"),
        security_group_id(t, &format!("medtech-rds-sg-{env}")).await
    );
    assert_eq!(
        s("redis_security_group_id"),
        security_group_id(t, &format!("medtech-redis-sg-{env}")).await
    );
    let rg = replication_group(t, env).await;
    let ng = &rg.node_groups()[0];
    assert_eq!(
        Some(s("redis_primary_endpoint").as_str()),
        ng.primary_endpoint().and_then(|e| e.address())
    );
    assert_eq!(
        Some(s("redis_reader_endpoint").as_str()),
        ng.reader_endpoint().and_then(|e| e.address())
    );
    assert_eq!(outputs["redis_port"].as_i64(), Some(6379));
    assert_eq!(
        outputs["redis_port"].as_i64(),
        ng.primary_endpoint().and_then(|e| e.port()).map(i64::from)
    );
    let dbsg = sent!(
        t.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(s("db_subnet_group_name"))
    );
    assert_eq!(
        dbsg.db_subnet_groups()[0].db_subnet_group_name(),
        Some(format!("medtech-db-subnets-{env}").as_str())
    );
    let csg = sent!(
        t.elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(s("elasticache_subnet_group_name"))
    );
    assert_eq!(
        csg.cache_subnet_groups()[0].cache_subnet_group_name(),
        Some(format!("medtech-redis-subnets-{env}").as_str())
    );
    assert_eq!(
        s("kinesis_producer_role_arn"),
        role(t, &format!("medtech-kinesis-producer-{env}"))
            .await
            .arn()
    );
    assert_eq!(
        s("secrets_reader_role_arn"),
        role(t, &format!("medtech-secrets-reader-{env}"))
            .await
            .arn()
    );
    assert_eq!(s("alarm_topic_arn"), topic_arn(t, env).await);
}
