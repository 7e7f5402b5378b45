//! The one test context every end-to-end test uses: its own emulator (moto with medtech's
//! patches, `tests/emulator/`) on a free loopback port, its own working directory, the real
//! `medtech` binary, and SDK clients pointed at the same emulator to read back what the
//! binary did. Tests assert on what the emulator reports, never on what medtech says.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) const REGION: &str = "us-east-1";

/// Sends an SDK request; an error fails the test, naming the request.
macro_rules! sent {
    ($request:expr) => {
        $request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", stringify!($request)))
    };
}
pub(crate) use sent;

/// A running emulator, stopped when dropped.
pub(crate) struct Emulator {
    pid: i32,
    pub endpoint: String,
    dir: tempfile::TempDir,
}

/// The fork server (`server.py --fork-server`): one Python process that loads moto and the
/// patches once and forks a ready emulator per test, instead of about two seconds of CPU per
/// start. It lives as long as this test process, whose end closes its stdin; then it kills
/// what it forked and exits.
struct Zygote {
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
    _process: Child,
}

static ZYGOTE: OnceLock<Mutex<Zygote>> = OnceLock::new();

impl Zygote {
    fn start() -> Mutex<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/emulator-setup (scripts/test does it)",
            python.display()
        );
        let mut process = Command::new(python)
            .arg(root.join("tests/emulator/server.py"))
            .arg("--fork-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the emulator's fork server");
        let requests = process.stdin.take().expect("fork server stdin");
        let replies = BufReader::new(process.stdout.take().expect("fork server stdout"));
        Mutex::new(Self {
            requests,
            replies,
            _process: process,
        })
    }

    /// Forks an emulator running `server.py ARGS` with its stderr in `log`; its pid.
    fn fork(args: &[String], log: &Path) -> i32 {
        let mut zygote = ZYGOTE
            .get_or_init(Self::start)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let request = serde_json::json!({"args": args, "stderr": log});
        writeln!(zygote.requests, "{request}").expect("ask the fork server for an emulator");
        let mut reply = String::new();
        zygote
            .replies
            .read_line(&mut reply)
            .expect("the fork server's answer");
        let reply: Value = serde_json::from_str(&reply)
            .unwrap_or_else(|e| panic!("fork server answered {reply:?}: {e}"));
        reply["pid"]
            .as_i64()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or_else(|| panic!("fork server answered {reply}"))
    }
}

impl Emulator {
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// With a latency/fault behaviour (see tests/emulator/README.md).
    pub(crate) fn start_with(behaviour: Option<&serde_json::Value>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let log = dir.path().join("emulator.log");
        let mut args = vec![
            "--port".to_owned(),
            "0".to_owned(),
            "--port-file".to_owned(),
            port_file.display().to_string(),
        ];
        if let Some(b) = behaviour {
            args.extend(["--behaviour".to_owned(), b.to_string()]);
        }
        let pid = Zygote::fork(&args, &log);
        let started = Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.trim().parse::<u16>().ok())
            {
                break port;
            }
            // The fork server reaps its children, so a pid that is gone has exited.
            if unsafe { libc::kill(pid, 0) } != 0 {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("emulator exited before it listened:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "emulator did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Self {
            pid,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }
}

/// One test's world: an emulator, a working directory, an environment name.
/// medtech's time scale against an emulator whose changes are instant: polls 100 times
/// denser, timeouts as long as real AWS's divided by 100 (RDS's hour: 36 s).
const INSTANT_SCALE: &str = "0.01";

pub(crate) struct TestContext {
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
    pub s3: aws_sdk_s3::Client,
    /// `MEDTECH_TIME_SCALE` for every run: an emulator without a latency model finishes
    /// everything at once, so medtech's pauses between polls (15 s on the RDS and Redis grid)
    /// would only be idle time; one with a model sets its own scale per run.
    time_scale: Option<&'static str>,
}

impl TestContext {
    pub(crate) async fn new(env: &str) -> Self {
        let mut t = Self::with_emulator(env, Emulator::start()).await;
        t.time_scale = Some(INSTANT_SCALE);
        t
    }

    /// A context whose emulator behaves like real AWS in time and under faults.
    pub(crate) async fn with_behaviour(env: &str, behaviour: serde_json::Value) -> Self {
        Self::with_emulator(env, Emulator::start_with(Some(&behaviour))).await
    }

    /// One request to the emulator's control endpoints (`/_medtech/*`, `/moto-api/*`), which
    /// speak plain HTTP outside AWS's protocols: the status line and the body.
    pub(crate) fn emulator_control(
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
    pub(crate) fn emulator_stats(&self) -> Value {
        let (_, body) = self.emulator_control("GET", "/_medtech/stats", None);
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Stops or starts the emulator's model clock: while it is stopped, every modeled state
    /// under way lasts, however slow the machine running the test.
    pub(crate) fn emulator_clock(&self, stopped: bool) {
        let body = format!("{{\"stopped\": {stopped}}}");
        let (status, body) =
            self.emulator_control("POST", "/_medtech/clock", Some(("application/json", &body)));
        assert!(status.contains(" 200 "), "clock: {status} {body}");
    }

    /// Zeroes the emulator's request counts and timeline, so the next stats are one run's.
    pub(crate) fn reset_emulator_stats(&self) {
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
            // The emulator serves paths, not bucket-named hosts.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            ),
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            env: env.to_owned(),
            time_scale: None,
        }
    }

    /// Runs the real binary against the emulator in this test's directory, with nothing of
    /// the developer's own AWS setup leaking in.
    pub(crate) fn medtech(&self, args: &[&str]) -> Output {
        self.medtech_with(args, &[])
    }

    pub(crate) fn medtech_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        self.medtech_in(self.dir.path(), args, extra_env)
    }

    /// Runs the binary in another working directory (own state and config files).
    pub(crate) fn medtech_in(
        &self,
        cwd: &Path,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Output {
        self.command(cwd, args, extra_env)
            .output()
            .expect("run medtech")
    }

    /// The command line of a run, for tests that start it and act on it while it runs.
    pub(crate) fn command(&self, cwd: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
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
    pub(crate) fn run_ok(&self, args: &[&str]) -> Output {
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

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn state_file(&self) -> PathBuf {
        self.path(&format!("state/{}.json", self.env))
    }

    pub(crate) fn state(&self) -> Value {
        read_json(&self.state_file())
    }

    pub(crate) fn outputs(&self) -> serde_json::Map<String, Value> {
        match read_json(&self.path("cfn-outputs/flat-outputs.json")) {
            Value::Object(map) => map,
            other => panic!("outputs file is not an object: {other}"),
        }
    }
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The last `lines` lines of a text.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The tag map of an EC2 resource.
pub(crate) fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

/// Asserts the six tags STACK.md requires, with `name` as Name.
pub(crate) fn assert_standard_tags(
    what: &str,
    tags: &BTreeMap<String, String>,
    env: &str,
    name: &str,
) {
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
pub(crate) fn named_for(name: &str, env: &str) -> bool {
    name.ends_with(&format!("-{env}")) || name.contains(&format!("/{env}/"))
}

impl TestContext {
    /// The account the emulator answers for.
    pub(crate) async fn account_id(&self) -> String {
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
    /// Whether the environment's S3 lock object is in `bucket` under `prefix` ("" for none).
    /// Any answer but found or not found fails the test.
    pub(crate) async fn s3_lock_exists(&self, bucket: &str, prefix: &str) -> bool {
        let key = match prefix {
            "" => format!("{}.lock", self.env),
            prefix => format!("{prefix}/{}.lock", self.env),
        };
        match self.s3.head_object().bucket(bucket).key(&key).send().await {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(e) => panic!("HeadObject {bucket}/{key}: {e:?}"),
        }
    }

    /// A versioned bucket of the test's own for the S3 state backend, as `state bootstrap`
    /// makes one.
    pub(crate) async fn state_bucket(&self) -> String {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        let name = format!("medtech-state-{}", self.env);
        sent!(self.s3.create_bucket().bucket(&name));
        sent!(
            self.s3
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build()
                )
        );
        name
    }

    /// Switches the emulator's policy evaluation on or off (moto's `/moto-api/reset-auth`,
    /// whose body is the number of requests still let through unchecked).
    pub(crate) fn set_iam_enforcement(&self, on: bool) {
        let body = if on { "0" } else { "inf" };
        let (status, response) =
            self.emulator_control("POST", "/moto-api/reset-auth", Some(("text/plain", body)));
        assert!(status.contains(" 200 "), "reset-auth: {status} {response}");
    }

    /// Creates an IAM user whose only permissions are `policy`; returns its access key id and
    /// secret, for `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    pub(crate) async fn create_user_with_policy(
        &self,
        user: &str,
        policy: &Value,
    ) -> (String, String) {
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
    pub(crate) async fn put_user_policy(&self, user: &str, policy: &Value) {
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
