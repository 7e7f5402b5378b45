//! Every AWS name medtech uses, derived from the environment name in one place, so that the
//! limits in `shared/STACK.md` (the tightest: 40 characters for an ElastiCache replication
//! group id) are checked once, before any AWS call.

use std::fmt;

/// Longest environment name: `medtech-redis-` + 20 characters stays well inside every limit.
pub const MAX_ENV_LEN: usize = 20;

/// A validated environment name (`^[a-z][a-z0-9-]{0,19}$`, no `--`, no trailing `-`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvName(String);

impl EnvName {
    /// Validates `raw`; the error says what is wrong in words a user can act on.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("is empty; pass a name such as dev or staging".into());
        }
        if raw.len() > MAX_ENV_LEN {
            return Err(format!(
                "is {} characters long; use at most {MAX_ENV_LEN} (derived AWS names have length limits)",
                raw.len()
            ));
        }
        let first = raw.chars().next().unwrap_or_default();
        if !first.is_ascii_lowercase() {
            return Err("must start with a lowercase letter a-z".into());
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "contains {bad:?}; use only lowercase letters, digits and single hyphens"
            ));
        }
        if raw.contains("--") {
            return Err("contains \"--\"; use single hyphens".into());
        }
        if raw.ends_with('-') {
            return Err("ends with '-'; end it with a letter or digit".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deterministic names of the stack's resources for one environment.
#[derive(Clone, Debug)]
pub struct Names {
    env: EnvName,
}

impl Names {
    pub fn new(env: EnvName) -> Self {
        Self { env }
    }

    pub fn env(&self) -> &EnvName {
        &self.env
    }

    /// `medtech-<part>-<env>`, the shape of almost every name in STACK.md.
    pub fn resource(&self, part: &str) -> String {
        format!("medtech-{part}-{}", self.env)
    }

    pub fn vpc(&self) -> String {
        self.resource("vpc")
    }
    pub fn igw(&self) -> String {
        self.resource("igw")
    }
    pub fn nat(&self) -> String {
        self.resource("nat")
    }
    pub fn nat_eip(&self) -> String {
        self.resource("nat-eip")
    }
    pub fn public_subnet(&self, zone: Zone) -> String {
        self.resource(&format!("public-{}", zone.letter()))
    }
    pub fn private_subnet(&self, zone: Zone) -> String {
        self.resource(&format!("private-{}", zone.letter()))
    }
    pub fn public_route_table(&self) -> String {
        self.resource("public-rt")
    }
    pub fn private_route_table(&self) -> String {
        self.resource("private-rt")
    }
    pub fn rds_security_group(&self) -> String {
        self.resource("rds-sg")
    }
    pub fn redis_security_group(&self) -> String {
        self.resource("redis-sg")
    }
    pub fn redis_replication_group(&self) -> String {
        self.resource("redis")
    }
    pub fn endpoints_security_group(&self) -> String {
        self.resource("endpoints-sg")
    }
    pub fn endpoint(&self, service: &str) -> String {
        self.resource(&format!("{service}-endpoint"))
    }
    pub fn kms_alias(&self) -> String {
        format!("alias/medtech-{}", self.env)
    }
    pub fn kms_key(&self) -> String {
        self.resource("kms")
    }
    pub fn audit_log_group(&self) -> String {
        format!("/medtech/{}/audit", self.env)
    }
    pub fn flow_log_group(&self) -> String {
        format!("/medtech/{}/vpc-flow", self.env)
    }
    /// Where RDS puts the log `kind` it exports: the name is RDS's, not ours.
    pub fn rds_log_group(&self, kind: &str) -> String {
        format!("{}{kind}", self.rds_log_prefix())
    }
    pub fn rds_log_prefix(&self) -> String {
        format!("/aws/rds/instance/{}/", self.rds_instance())
    }
    pub fn flow_logs_role(&self) -> String {
        self.resource("flow-logs")
    }
    pub fn flow_log(&self) -> String {
        self.resource("flow-log")
    }
    pub fn kinesis_stream(&self) -> String {
        self.resource("kinesis")
    }
    pub fn rds_secret(&self) -> String {
        self.resource("rds-credentials")
    }
    pub fn redis_secret(&self) -> String {
        self.resource("redis-credentials")
    }
    pub fn db_parameter_group(&self) -> String {
        self.resource("pg")
    }
    pub fn db_subnet_group(&self) -> String {
        self.resource("db-subnets")
    }
    pub fn rds_instance(&self) -> String {
        self.resource("rds")
    }
    pub fn rds_monitoring_role(&self) -> String {
        self.resource("rds-monitoring")
    }
    /// `medtech-rds-E-final-20261123T021700`: unique per destroy, sortable.
    pub fn rds_final_snapshot(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        format!(
            "{}-final-{}",
            self.rds_instance(),
            at.format("%Y%m%dT%H%M%S")
        )
    }
    pub fn cache_subnet_group(&self) -> String {
        self.resource("redis-subnets")
    }
    pub fn kinesis_producer_role(&self) -> String {
        self.resource("kinesis-producer")
    }
    pub fn secrets_reader_role(&self) -> String {
        self.resource("secrets-reader")
    }
    pub fn alarm_topic(&self) -> String {
        self.resource("alarms")
    }
    pub fn alarm(&self, metric: &str) -> String {
        self.resource(metric)
    }
}

/// The two availability zones the stack spans, in the order the region reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    A,
    B,
}

impl Zone {
    pub const ALL: [Zone; 2] = [Zone::A, Zone::B];

    pub fn letter(self) -> char {
        match self {
            Zone::A => 'a',
            Zone::B => 'b',
        }
    }

    pub fn index(self) -> usize {
        match self {
            Zone::A => 0,
            Zone::B => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_from_the_contract() {
        for ok in ["dev", "a", "prod-eu-1", "x1234567890123456789"] {
            assert!(EnvName::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_names_outside_the_contract() {
        for bad in [
            "",
            "Dev",
            "1dev",
            "-dev",
            "dev-",
            "de--v",
            "dev_1",
            "dev.1",
            "x12345678901234567890",
        ] {
            assert!(EnvName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn longest_env_fits_the_tightest_aws_limit() {
        let env = EnvName::parse(&"a".repeat(MAX_ENV_LEN)).unwrap();
        let names = Names::new(env);
        // ElastiCache replication group ids: at most 40 characters.
        assert!(names.redis_replication_group().len() <= 40);
        // RDS instance ids: 63; final snapshot ids: 255, letters, digits and hyphens only.
        assert!(names.rds_instance().len() <= 63);
        let snapshot = names.rds_final_snapshot(chrono::Utc::now());
        assert!(
            snapshot.len() <= 255
                && snapshot
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
        // IAM role names: 64.
        assert!(names.kinesis_producer_role().len() <= 64);
        // ElastiCache subnet group names: 255; KMS aliases: 256.
        assert!(names.cache_subnet_group().len() <= 255);
        assert_eq!(
            names.public_subnet(Zone::B),
            format!("medtech-public-b-{}", "a".repeat(20))
        );
    }
}
