//! The one test context every end-to-end test uses: its own emulator (moto with medtech's
//! patches, `tests/emulator/`) on a free loopback port, its own working directory, the real
//! `medtech` binary, and SDK clients pointed at the same emulator to read back what the
//! binary did. Tests assert on what the emulator reports, never on what medtech says.
#![allow(dead_code)]

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
pub struct TestContext {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    pub env: String,
    /// The SDK configuration every client below is built from (region, emulator endpoint,
    /// fake credentials).
    pub config: aws_config::SdkConfig,
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
}

impl TestContext {
    pub async fn new(env: &str) -> Self {
        let emulator = Emulator::start();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&emulator.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
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
            config,
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            env: env.to_owned(),
        }
    }

    /// Runs the real binary against the emulator in this test's directory, with nothing of
    /// the developer's own AWS setup leaking in.
    pub fn medtech(&self, args: &[&str]) -> Output {
        self.medtech_with(args, &[])
    }

    pub fn medtech_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let home = self.dir.path().join("home");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_medtech"));
        cmd.args(args)
            .current_dir(self.dir.path())
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
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run medtech")
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
