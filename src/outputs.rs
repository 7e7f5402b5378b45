//! `cfn-outputs/flat-outputs.json`: one flat JSON object with exactly the keys of
//! `shared/STACK.md` (strings; lists as arrays of strings; ports as integers), built from the
//! records in state, and its renderings for shells. Never a secret value.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::ConfigError;
use crate::error::Error;
use crate::fsutil::write_private_atomic;
use crate::logical::{Guards, Holds, Logical, Purpose, RoleFor, Tier};
use crate::state::Record;

/// One output key and where its value comes from.
enum Source {
    /// A resource's id.
    Id(Logical),
    /// The ids of the subnets of a tier, as a list.
    Ids(Tier),
    /// A recorded attribute of a resource.
    Attr(Logical, &'static str),
    /// A recorded attribute that is a port: written as an integer.
    Port(Logical, &'static str),
}

/// The contract of `shared/STACK.md`: output key → where its value is recorded.
const OUTPUTS: &[(&str, Source)] = &[
    ("vpc_id", Source::Id(Logical::Vpc)),
    ("public_subnet_ids", Source::Ids(Tier::Public)),
    ("private_subnet_ids", Source::Ids(Tier::Private)),
    ("nat_eip_id", Source::Id(Logical::NatEip)),
    ("nat_gateway_id", Source::Id(Logical::NatGateway)),
    (
        "public_route_table_id",
        Source::Id(Logical::RouteTable(Tier::Public)),
    ),
    (
        "private_route_table_id",
        Source::Id(Logical::RouteTable(Tier::Private)),
    ),
    ("kms_key_id", Source::Id(Logical::KmsKey)),
    ("kms_key_arn", Source::Attr(Logical::KmsKey, "arn")),
    ("kms_alias", Source::Attr(Logical::KmsKey, "alias")),
    (
        "audit_log_group_name",
        Source::Id(Logical::LogGroup(Purpose::Audit)),
    ),
    ("kinesis_stream_name", Source::Id(Logical::KinesisStream)),
    (
        "kinesis_stream_arn",
        Source::Attr(Logical::KinesisStream, "arn"),
    ),
    ("rds_instance_identifier", Source::Id(Logical::RdsInstance)),
    (
        "rds_endpoint",
        Source::Attr(Logical::RdsInstance, "endpoint"),
    ),
    ("rds_port", Source::Port(Logical::RdsInstance, "port")),
    (
        "rds_secret_arn",
        Source::Attr(Logical::Secret(Holds::RdsCredentials), "arn"),
    ),
    (
        "rds_security_group_id",
        Source::Id(Logical::SecurityGroup(Guards::Postgres)),
    ),
    (
        "redis_primary_endpoint",
        Source::Attr(Logical::ReplicationGroup, "primary_endpoint"),
    ),
    (
        "redis_reader_endpoint",
        Source::Attr(Logical::ReplicationGroup, "reader_endpoint"),
    ),
    (
        "redis_port",
        Source::Port(Logical::ReplicationGroup, "port"),
    ),
    (
        "redis_secret_arn",
        Source::Attr(Logical::Secret(Holds::RedisAuthToken), "arn"),
    ),
    (
        "redis_security_group_id",
        Source::Id(Logical::SecurityGroup(Guards::Redis)),
    ),
    ("db_subnet_group_name", Source::Id(Logical::DbSubnetGroup)),
    (
        "elasticache_subnet_group_name",
        Source::Id(Logical::CacheSubnetGroup),
    ),
    (
        "kinesis_producer_role_arn",
        Source::Attr(Logical::Role(RoleFor::KinesisProducer), "arn"),
    ),
    (
        "secrets_reader_role_arn",
        Source::Attr(Logical::Role(RoleFor::SecretsReader), "arn"),
    ),
    ("alarm_topic_arn", Source::Attr(Logical::AlarmTopic, "arn")),
];

/// The outputs for the resources present in `records`; keys whose resources are missing are
/// left out rather than written empty.
pub(crate) fn build(
    environment: &str,
    region: &str,
    records: &BTreeMap<String, Record>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("environment".into(), environment.into());
    out.insert("region".into(), region.into());
    for (key, source) in OUTPUTS {
        let value = match source {
            Source::Id(name) => records
                .get(name.as_str())
                .map(|r| Value::from(r.id.clone())),
            Source::Ids(tier) => Logical::subnets(*tier)
                .iter()
                .map(|n| records.get(n.as_str()).map(|r| Value::from(r.id.clone())))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Source::Attr(name, attr) => records
                .get(name.as_str())
                .and_then(|r| r.attr(attr))
                .map(Value::from),
            Source::Port(name, attr) => records
                .get(name.as_str())
                .and_then(|r| r.attr(attr))
                .and_then(|p| p.parse::<u16>().ok())
                .map(Value::from),
        };
        if let Some(value) = value {
            out.insert((*key).to_owned(), value);
        }
    }
    out
}

pub(crate) fn write(path: &Path, outputs: &Map<String, Value>) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut body = serde_json::to_vec_pretty(outputs)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    body.push(b'\n');
    write_private_atomic(path, &body).map_err(io)
}

pub(crate) fn read(path: &Path) -> Result<Map<String, Value>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Deletes the outputs file at `path` when it is `environment`'s, once that environment is
/// destroyed: its ids name resources that are gone, and a pipeline step that reads it after
/// the destroy would act on them. Another environment's file, or one that is not an outputs
/// file, is left alone. Whether it deleted the file.
pub(crate) fn remove_destroyed(path: &Path, environment: &str) -> Result<bool, Error> {
    let ours = read(path).is_ok_and(|outputs| {
        outputs.get("environment").and_then(Value::as_str) == Some(environment)
    });
    if !ours {
        return Ok(false);
    }
    std::fs::remove_file(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(true)
}

/// Only the output `name`, as a one-key map, so that every rendering below applies to it; an
/// unknown name is an input error that lists the names there are.
pub(crate) fn select(
    outputs: &Map<String, Value>,
    name: &str,
) -> Result<Map<String, Value>, ConfigError> {
    match outputs.get(name) {
        Some(value) => Ok(Map::from_iter([(name.to_owned(), value.clone())])),
        None => Err(ConfigError::new(
            format!("NAME {name:?}"),
            format!(
                "not an output; valid names: {}",
                outputs
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// A value as a script wants it: a string bare, a list one item a line, anything else in JSON.
pub(crate) fn to_raw(value: &Value) -> String {
    let mut text = match value {
        Value::Array(items) => items.iter().map(bare).collect::<Vec<_>>().join("\n"),
        other => bare(other),
    };
    text.push('\n');
    text
}

fn bare(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// `KEY=value` lines (dotenv), keys upper-cased, lists comma-joined.
pub(crate) fn to_env(outputs: &Map<String, Value>, export: bool) -> String {
    let mut text = String::new();
    for (key, value) in outputs {
        let value = match value {
            Value::Array(items) => items.iter().map(bare).collect::<Vec<_>>().join(","),
            other => bare(other),
        };
        let key = key.to_ascii_uppercase();
        if export {
            // Single quotes keep the shell from expanding anything; a quote inside is closed,
            // escaped and reopened.
            text.push_str(&format!(
                "export {key}='{}'\n",
                value.replace('\'', r"'\''")
            ));
        } else {
            text.push_str(&format!("{key}={value}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_names_a_resource_of_the_stack() {
        let names: Vec<Logical> = crate::resources::stack().iter().map(|r| r.name()).collect();
        for (key, source) in OUTPUTS {
            let needed: Vec<Logical> = match source {
                Source::Id(n) | Source::Attr(n, _) | Source::Port(n, _) => vec![*n],
                Source::Ids(tier) => Logical::subnets(*tier).to_vec(),
            };
            for n in needed {
                assert!(names.contains(&n), "{key} refers to unknown resource {n}");
            }
        }
    }

    #[test]
    fn lists_are_arrays_and_shell_form_is_quoted() {
        let mut records = BTreeMap::new();
        records.insert("vpc".to_owned(), Record::new("vpc-1"));
        records.insert("public-subnet-a".to_owned(), Record::new("subnet-a"));
        records.insert("public-subnet-b".to_owned(), Record::new("subnet-b"));
        let out = build("dev", "us-east-1", &records);
        assert_eq!(
            out["public_subnet_ids"],
            serde_json::json!(["subnet-a", "subnet-b"])
        );
        assert!(!out.contains_key("private_subnet_ids"));
        let shell = to_env(&out, true);
        assert!(
            shell.contains("export PUBLIC_SUBNET_IDS='subnet-a,subnet-b'\n"),
            "{shell}"
        );
        assert!(to_env(&out, false).contains("VPC_ID=vpc-1\n"));
    }

    #[test]
    fn one_output_is_selected_or_the_valid_names_are_listed() {
        let mut records = BTreeMap::new();
        records.insert("vpc".to_owned(), Record::new("vpc-1"));
        let out = build("dev", "us-east-1", &records);
        assert_eq!(
            select(&out, "vpc_id").map(|m| to_env(&m, false)).ok(),
            Some("VPC_ID=vpc-1\n".to_owned())
        );
        let err = select(&out, "vpc").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"NAME "vpc": not an output; valid names: environment, region, vpc_id"#)
        );
    }

    #[test]
    fn raw_values_are_bare_and_lists_one_item_a_line() {
        assert_eq!(to_raw(&Value::from("vpc-1")), "vpc-1\n");
        assert_eq!(to_raw(&Value::from(5432)), "5432\n");
        assert_eq!(
            to_raw(&serde_json::json!(["subnet-a", "subnet-b"])),
            "subnet-a\nsubnet-b\n"
        );
    }
}
