//! `medtech outputs NAME [--raw]` after a real `up`, checked against what the emulator holds;
//! and the message when no credentials exist anywhere, which must not blame AWS.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;

use crate::common::{TestContext, stderr, stdout};

/// The ids the emulator reports for EC2 resources named `name`, sorted.
async fn ids_named(t: &TestContext, kind: &str, name: &str) -> Vec<String> {
    let filter = Filter::builder().name("tag:Name").values(name).build();
    let mut ids: Vec<String> = match kind {
        "vpc" => t
            .ec2
            .describe_vpcs()
            .filters(filter)
            .send()
            .await
            .expect("describe vpcs")
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_owned))
            .collect(),
        _ => t
            .ec2
            .describe_subnets()
            .filters(filter)
            .send()
            .await
            .expect("describe subnets")
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect(),
    };
    ids.sort();
    ids
}

#[tokio::test]
async fn outputs_name_prints_one_value_as_json_raw_env_or_shell() {
    let t = TestContext::new("outname").await;
    t.run_ok(&["up"]);
    let env = t.env.clone();
    let vpc = ids_named(&t, "vpc", &format!("medtech-vpc-{env}")).await;
    assert_eq!(vpc.len(), 1, "the emulator holds one VPC of {env}: {vpc:?}");
    let vpc = &vpc[0];
    let mut private = ids_named(&t, "subnet", &format!("medtech-private-a-{env}")).await;
    private.extend(ids_named(&t, "subnet", &format!("medtech-private-b-{env}")).await);

    let run = |args: &[&str]| {
        let mut all = vec!["outputs"];
        all.extend(args);
        all.extend(["--env", env.as_str()]);
        let out = t.medtech(&all);
        assert!(out.status.success(), "{all:?}: {}", stderr(&out));
        stdout(&out)
    };

    // JSON by default: a string is quoted, a list is an array, a port a number.
    assert_eq!(run(&["vpc_id"]), format!("\"{vpc}\"\n"));
    let listed: Vec<String> =
        serde_json::from_str(&run(&["private_subnet_ids"])).expect("a JSON array");
    assert_eq!(listed, private);
    assert_eq!(run(&["rds_port"]), "5432\n");

    // --raw: the bare string; a list one item a line; whatever --format says.
    assert_eq!(run(&["vpc_id", "--raw"]), format!("{vpc}\n"));
    assert_eq!(
        run(&["vpc_id", "--raw", "--format", "shell"]),
        format!("{vpc}\n")
    );
    assert_eq!(
        run(&["private_subnet_ids", "--raw"]),
        format!("{}\n", private.join("\n"))
    );

    // env and shell: the one line of that output.
    assert_eq!(
        run(&["vpc_id", "--format", "env"]),
        format!("VPC_ID={vpc}\n")
    );
    assert_eq!(
        run(&["private_subnet_ids", "--format", "shell"]),
        format!("export PRIVATE_SUBNET_IDS='{}'\n", private.join(","))
    );

    // From the outputs file as well as from state.
    let out = t.medtech(&["outputs", "vpc_id", "--raw"]);
    assert_eq!(stdout(&out), format!("{vpc}\n"), "{}", stderr(&out));

    // --raw without a name: invalid input, nothing printed.
    let out = t.medtech(&["outputs", "--raw", "--env", &env]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    // An unknown name: invalid input, one line naming it and every valid name.
    let out = t.medtech(&["outputs", "vpc", "--env", &env]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    insta::assert_snapshot!("outputs_unknown_name", stderr(&out));
}

#[test]
fn no_credentials_anywhere_says_so_and_lists_where_medtech_looked() {
    let home = tempfile::tempdir().expect("temp dir");
    // A port nobody listens on: nothing may be sent anyway, and the test must not hang on it.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let started = Instant::now();
    // Not TestContext::command: it sets credentials, and this test needs none at all.
    let out = Command::new(env!("CARGO_BIN_EXE_medtech"))
        .args(["plan", "--env", "nocreds", "--region", "us-east-1"])
        .args(["--endpoint-url", &closed])
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .expect("run medtech");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let message = stderr(&out).replace(&home.path().display().to_string(), "[HOME]");
    assert!(!message.contains("rejected"), "{message}");
    insta::assert_snapshot!("no_credentials", message);
}
