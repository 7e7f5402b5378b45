//! The one test context every end-to-end test uses: its own emulator (moto with medtech's
//! patches, `tests/emulator/`) on a free loopback port, its own working directory, the real
//! `medtech` binary, and SDK clients pointed at the same emulator to read back what the
//! binary did. Tests assert on what the emulator reports, never on what medtech says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;
use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// A running emulator, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl Emulator {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// With a latency/fault behaviour (see tests/emulator/README.md).
    pub fn start_with(behaviour: Option<&serde_json::Value>) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/emulator-setup (scripts/test does it)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("emulator.log")).expect("log file");
        let mut child = Command::new(python)
            .arg(root.join("tests/emulator/server.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .args(
                behaviour
                    .map(|b| vec!["--behaviour".to_owned(), b.to_string()])
                    .unwrap_or_default(),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the emulator");
        let started = Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.trim().parse::<u16>().ok())
            {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(dir.path().join("emulator.log")).unwrap_or_default();
                panic!("emulator exited with {status}:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "emulator did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's world: an emulator, a working directory, an environment name.
/// medtech's time scale against an emulator whose changes are instant: polls 100 times
/// denser, timeouts as long as real AWS's divided by 100 (RDS's hour: 36 s).
const INSTANT_SCALE: &str = "0.01";

pub struct TestContext {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    pub env: String,
    pub ec2: aws_sdk_ec2::Client,
    pub sts: aws_sdk_sts::Client,
    pub kms: aws_sdk_kms::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub rds: aws_sdk_rds::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// `MEDTECH_TIME_SCALE` for every run: an emulator without a latency model finishes
    /// everything at once, so medtech's pauses between polls (15 s on the RDS and Redis grid)
    /// would only be idle time; one with a model sets its own scale per run.
    time_scale: Option<&'static str>,
}

impl TestContext {
    pub async fn new(env: &str) -> Self {
        let mut t = Self::with_emulator(env, Emulator::start()).await;
        t.time_scale = Some(INSTANT_SCALE);
        t
    }

    /// A context whose emulator behaves like real AWS in time and under faults.
    pub async fn with_behaviour(env: &str, behaviour: serde_json::Value) -> Self {
        Self::with_emulator(env, Emulator::start_with(Some(&behaviour))).await
    }

    /// One request to the emulator's control endpoints (`/_medtech/*`, `/moto-api/*`), which
    /// speak plain HTTP outside AWS's protocols: the status line and the body.
    pub fn emulator_control(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (String, String) {
        use std::io::{Read, Write};
        let address = self.emulator.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect to the emulator");
        let (content_type, body) = body.unwrap_or(("text/plain", ""));
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.lines().next().unwrap_or_default().to_owned();
        (status, body.to_owned())
    }

    /// The emulator's request counts, faults and resource timelines.
    pub fn emulator_stats(&self) -> Value {
        let (_, body) = self.emulator_control("GET", "/_medtech/stats", None);
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Zeroes the emulator's request counts and timeline, so the next stats are one run's.
    pub fn reset_emulator_stats(&self) {
        let (status, body) = self.emulator_control("POST", "/_medtech/stats/reset", None);
        assert!(status.contains(" 200 "), "stats reset: {status} {body}");
    }

    async fn with_emulator(env: &str, emulator: Emulator) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&emulator.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            // The emulator draws no faults for this app id: the test reads back, it is not tested.
            .app_name(aws_config::AppName::new("medtech-test-observer").expect("a valid app name"))
            .load()
            .await;
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            kinesis: aws_sdk_kinesis::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            elasticache: aws_sdk_elasticache::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            env: env.to_owned(),
            time_scale: None,
        }
    }

    /// Runs the real binary against the emulator in this test's directory, with nothing of
    /// the developer's own AWS setup leaking in.
    pub fn medtech(&self, args: &[&str]) -> Output {
        self.medtech_with(args, &[])
    }

    pub fn medtech_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        self.medtech_in(self.dir.path(), args, extra_env)
    }

    /// Runs the binary in another working directory (own state and config files).
    pub fn medtech_in(&self, cwd: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        self.command(cwd, args, extra_env)
            .output()
            .expect("run medtech")
    }

    /// The command line of a run, for tests that start it and act on it while it runs.
    pub fn command(&self, cwd: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
        let home = self.dir.path().join("home");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_medtech"));
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", &self.emulator.endpoint)
            .env("AWS_CONFIG_FILE", home.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        if let Some(scale) = self.time_scale {
            cmd.env("MEDTECH_TIME_SCALE", scale);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `medtech <args> --env <env>` and insists on success.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--env", &self.env]);
        let out = self.medtech(&all);
        assert!(
            out.status.success(),
            "medtech {all:?} failed with {}\nstdout:\n{}\nstderr:\n{}\nemulator log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.emulator.log(), 40),
        );
        out
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn state_file(&self) -> PathBuf {
        self.path(&format!("state/{}.json", self.env))
    }

    pub fn state(&self) -> Value {
        read_json(&self.state_file())
    }

    pub fn outputs(&self) -> serde_json::Map<String, Value> {
        match read_json(&self.path("cfn-outputs/flat-outputs.json")) {
            Value::Object(map) => map,
            other => panic!("outputs file is not an object: {other}"),
        }
    }

    /// Every EC2 resource the emulator holds that is tagged with `env`, by kind, ids sorted.
    pub async fn sweep(&self, env: &str) -> BTreeMap<&'static str, Vec<String>> {
        let by_env = || {
            Filter::builder()
                .name("tag:Environment")
                .values(env)
                .build()
        };
        let mut found: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let ec2 = &self.ec2;
        let vpcs = ec2.describe_vpcs().filters(by_env()).send().await.unwrap();
        found.insert(
            "vpc",
            vpcs.vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(Into::into))
                .collect(),
        );
        let subnets = ec2
            .describe_subnets()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.insert(
            "subnet",
            subnets
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_id().map(Into::into))
                .collect(),
        );
        let igws = ec2
            .describe_internet_gateways()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.insert(
            "internet_gateway",
            igws.internet_gateways()
                .iter()
                .filter_map(|g| g.internet_gateway_id().map(Into::into))
                .collect(),
        );
        let addresses = ec2
            .describe_addresses()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.insert(
            "elastic_ip",
            addresses
                .addresses()
                .iter()
                .filter_map(|a| a.allocation_id().map(Into::into))
                .collect(),
        );
        // Tags checked here too: an emulator's tag filter on NAT gateways is not trusted.
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        found.insert(
            "nat_gateway",
            nats.nat_gateways()
                .iter()
                .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                .filter(|n| {
                    n.tags()
                        .iter()
                        .any(|t| t.key() == Some("Environment") && t.value() == Some(env))
                })
                .filter_map(|n| n.nat_gateway_id().map(Into::into))
                .collect(),
        );
        let tables = ec2
            .describe_route_tables()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.insert(
            "route_table",
            tables
                .route_tables()
                .iter()
                .filter_map(|t| t.route_table_id().map(Into::into))
                .collect(),
        );
        let groups = ec2
            .describe_security_groups()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.insert(
            "security_group",
            groups
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(Into::into))
                .collect(),
        );
        for ids in found.values_mut() {
            ids.sort();
        }
        found
    }
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The tag map of an EC2 resource.
pub fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

/// Asserts the six tags STACK.md requires, with `name` as Name.
pub fn assert_standard_tags(what: &str, tags: &BTreeMap<String, String>, env: &str, name: &str) {
    let expected = [
        ("Project", "medtech"),
        ("Environment", env),
        ("ManagedBy", "medtech"),
        ("Compliance", "HIPAA"),
        ("DataClassification", "PHI"),
        ("Name", name),
    ];
    for (key, value) in expected {
        assert_eq!(
            tags.get(key).map(String::as_str),
            Some(value),
            "{what}: tag {key} in {tags:?}"
        );
    }
}

/// Whether an AWS name belongs to `env` by the naming rule of STACK.md: it ends in `-<env>`
/// or has `/<env>/` as a path segment.
pub fn named_for(name: &str, env: &str) -> bool {
    name.ends_with(&format!("-{env}")) || name.contains(&format!("/{env}/"))
}

fn env_tag<'a>(mut pairs: impl Iterator<Item = (&'a str, &'a str)>, env: &str) -> bool {
    pairs.any(|(k, v)| k == "Environment" && v == env)
}

impl TestContext {
    /// Everything the emulator holds, in every service the stack uses, that carries the tag
    /// `Environment=<env>` or a name ending in `-<env>` / containing `/<env>/`: the EC2 kinds of
    /// [`TestContext::sweep`] plus KMS, CloudWatch Logs, Kinesis, Secrets Manager, RDS,
    /// ElastiCache, IAM, SNS, CloudWatch alarms, VPC endpoints and flow logs. Ids (or ARNs
    /// where there is no id) by kind, sorted; every kind is present, empty when nothing is
    /// found, so two sweeps compare as a whole. Things already on their way out and no
    /// longer billable or usable are left out: KMS keys pending deletion, secrets scheduled
    /// for deletion, deleted VPC endpoints and NAT gateways.
    pub async fn sweep_all(&self, env: &str) -> BTreeMap<&'static str, Vec<String>> {
        let mut found = self.sweep(env).await;
        let mut put = |kind: &'static str, ids: Vec<String>| {
            found.insert(kind, ids);
        };

        // KMS: aliases by name; customer keys by tag (ListResourceTags), not pending deletion.
        let aliases: Vec<_> = self
            .kms
            .list_aliases()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("kms ListAliases");
        put(
            "kms_alias",
            aliases
                .iter()
                .flat_map(|p| p.aliases())
                .filter_map(|a| a.alias_name())
                .filter(|n| n == &format!("alias/medtech-{env}") || named_for(n, env))
                .map(str::to_owned)
                .collect(),
        );
        let keys: Vec<_> = self
            .kms
            .list_keys()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("kms ListKeys");
        let mut kms_keys = Vec::new();
        for key_id in keys
            .iter()
            .flat_map(|p| p.keys())
            .filter_map(|k| k.key_id())
        {
            let described = self.kms.describe_key().key_id(key_id).send().await;
            let meta = described.expect("kms DescribeKey");
            let meta = meta.key_metadata().expect("key metadata");
            if meta.key_state().map(|s| s.as_str()) == Some("PendingDeletion")
                || meta.key_manager().map(|m| m.as_str()) == Some("AWS")
            {
                continue;
            }
            let tags = self
                .kms
                .list_resource_tags()
                .key_id(key_id)
                .send()
                .await
                .expect("kms ListResourceTags");
            if env_tag(
                tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())),
                env,
            ) {
                kms_keys.push(key_id.to_owned());
            }
        }
        put("kms_key", kms_keys);

        // CloudWatch Logs: log groups by name or tag.
        let groups: Vec<_> = self
            .logs
            .describe_log_groups()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("logs DescribeLogGroups");
        let mut log_groups = Vec::new();
        for group in groups.iter().flat_map(|p| p.log_groups()) {
            let name = group.log_group_name().unwrap_or_default();
            let mut hit = named_for(name, env);
            if !hit {
                let arn = group
                    .log_group_arn()
                    .map(str::to_owned)
                    .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
                    .expect("log group arn");
                let tags = self
                    .logs
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .expect("logs ListTagsForResource");
                hit = tags
                    .tags()
                    .is_some_and(|t| t.get("Environment").map(String::as_str) == Some(env));
            }
            if hit {
                log_groups.push(name.to_owned());
            }
        }
        put("log_group", log_groups);

        // Kinesis streams.
        let streams: Vec<_> = self
            .kinesis
            .list_streams()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("kinesis ListStreams");
        let mut kinesis = Vec::new();
        for name in streams.iter().flat_map(|p| p.stream_names()) {
            let mut hit = named_for(name, env);
            if !hit {
                let tags = self
                    .kinesis
                    .list_tags_for_stream()
                    .stream_name(name)
                    .send()
                    .await
                    .expect("kinesis ListTagsForStream");
                hit = env_tag(
                    tags.tags()
                        .iter()
                        .map(|t| (t.key(), t.value().unwrap_or_default())),
                    env,
                );
            }
            if hit {
                kinesis.push(name.clone());
            }
        }
        put("kinesis_stream", kinesis);

        // Secrets Manager: skip secrets scheduled for deletion.
        let secrets: Vec<_> = self
            .secrets
            .list_secrets()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("secretsmanager ListSecrets");
        put(
            "secret",
            secrets
                .iter()
                .flat_map(|p| p.secret_list())
                .filter(|s| s.deleted_date().is_none())
                .filter(|s| {
                    s.name().is_some_and(|n| named_for(n, env))
                        || env_tag(
                            s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))),
                            env,
                        )
                })
                .filter_map(|s| s.arn().map(str::to_owned))
                .collect(),
        );

        // RDS: instances, parameter groups, subnet groups.
        let instances: Vec<_> = self
            .rds
            .describe_db_instances()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("rds DescribeDBInstances");
        put(
            "db_instance",
            instances
                .iter()
                .flat_map(|p| p.db_instances())
                .filter(|i| {
                    i.db_instance_identifier()
                        .is_some_and(|n| named_for(n, env))
                        || env_tag(
                            i.tag_list()
                                .iter()
                                .filter_map(|t| Some((t.key()?, t.value()?))),
                            env,
                        )
                })
                .filter_map(|i| i.db_instance_identifier().map(str::to_owned))
                .collect(),
        );
        let param_groups: Vec<_> = self
            .rds
            .describe_db_parameter_groups()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("rds DescribeDBParameterGroups");
        let mut pgs = Vec::new();
        for group in param_groups.iter().flat_map(|p| p.db_parameter_groups()) {
            let name = group.db_parameter_group_name().unwrap_or_default();
            if named_for(name, env) || self.rds_tagged(group.db_parameter_group_arn(), env).await {
                pgs.push(name.to_owned());
            }
        }
        put("db_parameter_group", pgs);
        let subnet_groups: Vec<_> = self
            .rds
            .describe_db_subnet_groups()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("rds DescribeDBSubnetGroups");
        let mut sgs = Vec::new();
        for group in subnet_groups.iter().flat_map(|p| p.db_subnet_groups()) {
            let name = group.db_subnet_group_name().unwrap_or_default();
            if named_for(name, env) || self.rds_tagged(group.db_subnet_group_arn(), env).await {
                sgs.push(name.to_owned());
            }
        }
        put("db_subnet_group", sgs);

        // ElastiCache: replication groups, their member clusters, subnet groups.
        let groups: Vec<_> = self
            .elasticache
            .describe_replication_groups()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("elasticache DescribeReplicationGroups");
        let mut rgs = Vec::new();
        for group in groups.iter().flat_map(|p| p.replication_groups()) {
            let id = group.replication_group_id().unwrap_or_default();
            if named_for(id, env) || self.elasticache_tagged(group.arn(), env).await {
                rgs.push(id.to_owned());
            }
        }
        let clusters: Vec<_> = self
            .elasticache
            .describe_cache_clusters()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("elasticache DescribeCacheClusters");
        let mut ccs = Vec::new();
        for cluster in clusters.iter().flat_map(|p| p.cache_clusters()) {
            let id = cluster.cache_cluster_id().unwrap_or_default();
            let in_group = cluster
                .replication_group_id()
                .is_some_and(|g| named_for(g, env) || rgs.iter().any(|r| r == g));
            if named_for(id, env) || in_group || self.elasticache_tagged(cluster.arn(), env).await {
                ccs.push(id.to_owned());
            }
        }
        put("replication_group", rgs);
        put("cache_cluster", ccs);
        let cache_subnets: Vec<_> = self
            .elasticache
            .describe_cache_subnet_groups()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("elasticache DescribeCacheSubnetGroups");
        let mut csgs = Vec::new();
        for group in cache_subnets.iter().flat_map(|p| p.cache_subnet_groups()) {
            let name = group.cache_subnet_group_name().unwrap_or_default();
            if named_for(name, env) || self.elasticache_tagged(group.arn(), env).await {
                csgs.push(name.to_owned());
            }
        }
        put("cache_subnet_group", csgs);

        // IAM: roles and customer-managed policies.
        let roles: Vec<_> = self
            .iam
            .list_roles()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("iam ListRoles");
        let mut iam_roles = Vec::new();
        for role in roles.iter().flat_map(|p| p.roles()) {
            let name = role.role_name();
            let mut hit = named_for(name, env);
            if !hit {
                let tags = self
                    .iam
                    .list_role_tags()
                    .role_name(name)
                    .send()
                    .await
                    .expect("iam ListRoleTags");
                hit = env_tag(tags.tags().iter().map(|t| (t.key(), t.value())), env);
            }
            if hit {
                iam_roles.push(role.arn().to_owned());
            }
        }
        put("iam_role", iam_roles);
        let policies: Vec<_> = self
            .iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("iam ListPolicies");
        let mut iam_policies = Vec::new();
        for policy in policies.iter().flat_map(|p| p.policies()) {
            let name = policy.policy_name().unwrap_or_default();
            let arn = policy.arn().expect("policy arn");
            let mut hit = named_for(name, env);
            if !hit {
                let tags = self
                    .iam
                    .list_policy_tags()
                    .policy_arn(arn)
                    .send()
                    .await
                    .expect("iam ListPolicyTags");
                hit = env_tag(tags.tags().iter().map(|t| (t.key(), t.value())), env);
            }
            if hit {
                iam_policies.push(arn.to_owned());
            }
        }
        put("iam_policy", iam_policies);

        // SNS topics.
        let topics: Vec<_> = self
            .sns
            .list_topics()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("sns ListTopics");
        let mut sns_topics = Vec::new();
        for arn in topics
            .iter()
            .flat_map(|p| p.topics())
            .filter_map(|t| t.topic_arn())
        {
            let name = arn.rsplit(':').next().unwrap_or_default();
            let mut hit = named_for(name, env);
            if !hit {
                let tags = self
                    .sns
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .expect("sns ListTagsForResource");
                hit = env_tag(tags.tags().iter().map(|t| (t.key(), t.value())), env);
            }
            if hit {
                sns_topics.push(arn.to_owned());
            }
        }
        put("sns_topic", sns_topics);

        // CloudWatch alarms (metric and composite).
        let alarms: Vec<_> = self
            .cloudwatch
            .describe_alarms()
            .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
            .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("cloudwatch DescribeAlarms");
        let mut cw_alarms = Vec::new();
        let all: Vec<(Option<&str>, Option<&str>)> = alarms
            .iter()
            .flat_map(|p| {
                p.metric_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.alarm_arn()))
                    .chain(
                        p.composite_alarms()
                            .iter()
                            .map(|a| (a.alarm_name(), a.alarm_arn())),
                    )
            })
            .collect();
        for (name, arn) in all {
            let name = name.unwrap_or_default();
            let mut hit = named_for(name, env);
            if !hit && let Some(arn) = arn {
                let tags = self
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .expect("cloudwatch ListTagsForResource");
                hit = env_tag(
                    tags.tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value()?))),
                    env,
                );
            }
            if hit {
                cw_alarms.push(name.to_owned());
            }
        }
        put("alarm", cw_alarms);

        // EC2 VPC endpoints: by tag or Name, or in one of this environment's VPCs.
        let env_vpcs = found.get("vpc").cloned().unwrap_or_default();
        let endpoints: Vec<_> = self
            .ec2
            .describe_vpc_endpoints()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("ec2 DescribeVpcEndpoints");
        let vpc_endpoints: Vec<String> = endpoints
            .iter()
            .flat_map(|p| p.vpc_endpoints())
            .filter(|e| {
                !matches!(
                    e.state()
                        .map(|s| s.as_str().to_ascii_lowercase())
                        .as_deref(),
                    Some("deleted") | Some("deleting")
                )
            })
            .filter(|e| {
                let t = tags(e.tags());
                t.get("Environment").map(String::as_str) == Some(env)
                    || t.get("Name").is_some_and(|n| named_for(n, env))
                    || e.vpc_id().is_some_and(|v| env_vpcs.iter().any(|x| x == v))
            })
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
            .collect();
        let flows: Vec<_> = self
            .ec2
            .describe_flow_logs()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .expect("ec2 DescribeFlowLogs");
        let flow_logs: Vec<String> = flows
            .iter()
            .flat_map(|p| p.flow_logs())
            .filter(|f| {
                let t = tags(f.tags());
                t.get("Environment").map(String::as_str) == Some(env)
                    || t.get("Name").is_some_and(|n| named_for(n, env))
                    || f.log_group_name().is_some_and(|n| named_for(n, env))
                    || f.resource_id()
                        .is_some_and(|v| env_vpcs.iter().any(|x| x == v))
                    || f.deliver_logs_permission_arn()
                        .is_some_and(|a| named_for(a, env))
            })
            .filter_map(|f| f.flow_log_id().map(str::to_owned))
            .collect();
        found.insert("vpc_endpoint", vpc_endpoints);
        found.insert("flow_log", flow_logs);

        for ids in found.values_mut() {
            ids.sort();
            ids.dedup();
        }
        found
    }

    async fn rds_tagged(&self, arn: Option<&str>, env: &str) -> bool {
        let Some(arn) = arn else { return false };
        let tags = self
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("rds ListTagsForResource {arn}: {e:?}"));
        env_tag(
            tags.tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
            env,
        )
    }

    async fn elasticache_tagged(&self, arn: Option<&str>, env: &str) -> bool {
        let Some(arn) = arn else { return false };
        let tags = self
            .elasticache
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("elasticache ListTagsForResource {arn}: {e:?}"));
        env_tag(
            tags.tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
            env,
        )
    }

    /// The account the emulator answers for.
    pub async fn account_id(&self) -> String {
        self.sts
            .get_caller_identity()
            .send()
            .await
            .expect("sts GetCallerIdentity")
            .account()
            .expect("account")
            .to_owned()
    }
}

/// IAM enforcement (tests/emulator/medtech_emulator/patches_iam_auth.py): users are held to
/// their policies, while the context's own `testing` keys act as the account's root user.
impl TestContext {
    /// Switches the emulator's policy evaluation on or off (moto's `/moto-api/reset-auth`,
    /// whose body is the number of requests still let through unchecked).
    pub fn set_iam_enforcement(&self, on: bool) {
        let body = if on { "0" } else { "inf" };
        let (status, response) =
            self.emulator_control("POST", "/moto-api/reset-auth", Some(("text/plain", body)));
        assert!(status.contains(" 200 "), "reset-auth: {status} {response}");
    }

    /// Creates an IAM user whose only permissions are `policy`; returns its access key id and
    /// secret, for `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    pub async fn create_user_with_policy(&self, user: &str, policy: &Value) -> (String, String) {
        self.iam.create_user().user_name(user).send().await.unwrap();
        self.put_user_policy(user, policy).await;
        let key = self
            .iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap();
        let key = key.access_key().expect("access key");
        (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        )
    }

    /// Replaces the user's permissions with `policy`.
    pub async fn put_user_policy(&self, user: &str, policy: &Value) {
        self.iam
            .put_user_policy()
            .user_name(user)
            .policy_name("medtech-runner")
            .policy_document(policy.to_string())
            .send()
            .await
            .unwrap();
    }
}
