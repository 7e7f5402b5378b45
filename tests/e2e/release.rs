//! Installing without compiling: the release workflow, the `cargo binstall` metadata, the
//! container image and the pipeline in docs/ci.md must name the same archives at the same
//! addresses. None of them can run here (no GitHub, no Docker), so each is read as data and
//! checked against the others: a renamed archive, a moved binary or a changed organisation
//! in one place fails here instead of on the first release.
//!
//! YAML is read by PyYAML from the emulator's virtualenv (moto depends on it), the one YAML
//! parser this machine already has; Cargo.toml by the `toml` crate.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

const TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// YAML text as JSON, through PyYAML's `safe_load`.
fn yaml(text: &str) -> Value {
    let python: PathBuf = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/emulator-setup",
        python.display()
    );
    let mut child = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write YAML");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "not valid YAML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from python")
}

/// The crate's manifest fields that download addresses are made of.
struct Package {
    name: String,
    version: String,
    repository: String,
    binstall: toml::Table,
}

fn package() -> Package {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let package = manifest["package"].as_table().expect("[package]");
    let field = |key: &str| {
        package
            .get(key)
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("[package] {key} is missing"))
            .to_owned()
    };
    let binstall = package
        .get("metadata")
        .and_then(|m| m.get("binstall"))
        .and_then(toml::Value::as_table)
        .expect("[package.metadata.binstall]")
        .clone();
    Package {
        name: field("name"),
        version: field("version"),
        repository: field("repository"),
        binstall,
    }
}

impl Package {
    fn template(&self, key: &str) -> &str {
        self.binstall
            .get(key)
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("[package.metadata.binstall] {key} is missing"))
    }

    /// A binstall template (`{ repo }/…/{ name }-{ target }…`) as binstall fills it in for
    /// `target`; a variable binstall would not know fails the test.
    fn render(&self, key: &str, target: &str) -> String {
        let template = self.template(key);
        let mut rendered = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            rendered.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .unwrap_or_else(|| panic!("{key}: unclosed '{{' in {template}"))
                + open;
            rendered.push_str(match rest[open + 1..close].trim() {
                "repo" => &self.repository,
                "name" => &self.name,
                "version" => &self.version,
                "target" => target,
                "bin" => "medtech",
                "binary-ext" => "",
                other => panic!("{key}: binstall has no variable {other:?} ({template})"),
            });
            rest = &rest[close + 1..];
        }
        rendered.push_str(rest);
        rendered
    }
}

fn release_workflow() -> Value {
    yaml(&read(".github/workflows/release.yml"))
}

/// `on:` is YAML 1.1's `true` to PyYAML; GitHub reads it as the key "on".
fn triggers(workflow: &Value) -> &Value {
    workflow
        .get("on")
        .or_else(|| workflow.get("true"))
        .expect("on:")
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_array().expect("steps")
}

/// The `run:` script of the step named `name`.
fn script<'a>(job: &'a Value, name: &str) -> &'a str {
    steps(job)
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step {name:?} with a run script"))
}

fn matrix_targets(workflow: &Value) -> Vec<String> {
    workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("build matrix")
        .iter()
        .map(|entry| entry["target"].as_str().expect("target").to_owned())
        .collect()
}

/// The archive stem the build job names for `target` (`ARCHIVE`, from the matrix).
fn archive_stem(workflow: &Value, target: &str) -> String {
    workflow["jobs"]["build"]["env"]["ARCHIVE"]
        .as_str()
        .expect("build env ARCHIVE")
        .replace("${{ matrix.target }}", target)
}

#[test]
fn the_release_workflow_builds_four_targets_from_a_v_tag_with_pinned_actions() {
    let workflow = release_workflow();
    assert_eq!(
        triggers(&workflow)["push"]["tags"],
        serde_json::json!(["v*"]),
        "releases start from a pushed v* tag"
    );
    assert_eq!(
        matrix_targets(&workflow)
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(TARGETS),
    );
    // Every binary is built (and run) on a runner of its own architecture.
    for entry in workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix")
    {
        let (target, runner) = (
            entry["target"].as_str().expect("target"),
            entry["runner"].as_str().expect("runner"),
        );
        let arm_runner = runner.ends_with("-arm") || runner == "macos-15";
        assert_eq!(
            target.starts_with("aarch64"),
            arm_runner,
            "{target} on {runner}"
        );
        assert_eq!(
            target.contains("apple"),
            runner.starts_with("macos"),
            "{target} on {runner}"
        );
    }
    // Read-only, but for the job that makes the release.
    assert_eq!(workflow["permissions"]["contents"], "read");
    for (name, job) in workflow["jobs"].as_object().expect("jobs") {
        let writes = job["permissions"]["contents"] == "write";
        assert_eq!(writes, name == "release", "job {name}: contents permission");
        for step in steps(job) {
            if let Some(uses) = step["uses"].as_str() {
                let sha = uses.rsplit_once('@').map_or("", |(_, r)| r);
                assert!(
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "job {name}: {uses} is not pinned to a commit"
                );
            }
        }
    }
    let build = &workflow["jobs"]["build"];
    assert!(
        script(build, "Check the binary").contains("statically linked"),
        "a musl binary must be checked to be static"
    );
}

#[test]
fn every_archive_the_workflow_publishes_is_where_binstall_looks_for_it() {
    let workflow = release_workflow();
    let package = package();
    assert_eq!(package.template("pkg-fmt"), "tgz");
    let build = &workflow["jobs"]["build"];
    let package_script = script(build, "Package");
    assert!(package_script.contains(r#"tar -czf "$ARCHIVE.tar.gz" "$ARCHIVE""#));
    assert!(package_script.contains(r#"> "$ARCHIVE.tar.gz.sha256""#));
    let uploaded = steps(build)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("upload step");
    assert_eq!(uploaded["with"]["name"], "${{ env.ARCHIVE }}");

    for target in matrix_targets(&workflow) {
        let stem = archive_stem(&workflow, &target);
        // The release is tagged v<version> (the `version` job refuses any other tag).
        let published = format!(
            "{}/releases/download/v{}/{stem}.tar.gz",
            package.repository, package.version
        );
        assert_eq!(package.render("pkg-url", &target), published, "{target}");
        // What binstall extracts must be what the Package step put in the archive.
        let in_archive = package_script.replace("$ARCHIVE", &stem);
        let binary = package.render("bin-dir", &target);
        assert_eq!(binary, format!("{stem}/medtech"), "{target}");
        assert!(
            in_archive.contains(&format!(
                r#"cp "target/$TARGET/release/medtech" README.md "{stem}/""#
            )),
            "{target}: the binary is not copied to {binary}"
        );
        for extra in [
            "man",
            "bash-completion",
            "zsh-completion",
            "fish-completion",
        ] {
            let path = package.render(extra, &target);
            assert!(
                in_archive.contains(&format!(r#"> "{path}""#)),
                "{target}: binstall's {extra} {path} is not written by the Package step"
            );
        }
    }

    // The release job collects exactly those uploads and checks one SHA256SUMS over them.
    let release = &workflow["jobs"]["release"];
    let download = steps(release)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .expect("download step");
    assert_eq!(download["with"]["pattern"], "medtech-*");
    let sums = script(release, "Write and check SHA256SUMS");
    assert!(sums.contains("cat medtech-*.tar.gz.sha256 > SHA256SUMS"));
    assert!(sums.contains("sha256sum --check --strict SHA256SUMS"));
    assert!(sums.contains(&format!("-eq {}", TARGETS.len())));
}

/// Dockerfile instructions, comments dropped and `\` continuations joined, split into stages.
fn dockerfile_stages() -> Vec<Vec<(String, String)>> {
    let text = read("Dockerfile");
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(continued) => logical.push_str(continued),
            None => {
                logical.push_str(line);
                let (instruction, arguments) =
                    logical.split_once(' ').unwrap_or((logical.as_str(), ""));
                let instruction = instruction.to_ascii_uppercase();
                if instruction == "FROM" {
                    stages.push(Vec::new());
                }
                stages
                    .last_mut()
                    .expect("an instruction before the first FROM")
                    .push((instruction, arguments.trim().to_owned()));
                logical.clear();
            }
        }
    }
    stages
}

#[test]
fn the_container_image_is_the_checked_release_binary_on_a_minimal_non_root_base() {
    let stages = dockerfile_stages();
    let last = stages.last().expect("a FROM");
    let arguments = |stage: &[(String, String)], instruction: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(i, _)| i == instruction)
            .map(|(_, a)| a.clone())
            .collect()
    };
    let base = &arguments(last, "FROM")[0];
    assert!(
        base == "scratch" || base.starts_with("gcr.io/distroless/static"),
        "final stage FROM {base}: want scratch or distroless/static"
    );
    // medtech verifies AWS's TLS certificates against the system bundle (rustls-native-certs).
    if base == "scratch" {
        assert!(
            arguments(last, "COPY")
                .iter()
                .any(|a| a.contains("ca-certificates")),
            "FROM scratch without CA certificates"
        );
    }
    let users = arguments(last, "USER");
    let user = users
        .last()
        .expect("the final stage sets no USER: it runs as root");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !matches!(name, "" | "root" | "0"),
        "final stage runs as {user}"
    );
    assert_eq!(
        arguments(last, "ENTRYPOINT"),
        vec![r#"["/usr/local/bin/medtech"]"#.to_owned()]
    );

    // The binary comes from a release of this repository, checked before it is used, and is
    // one of the archives the workflow publishes.
    let fetch: String = stages[..stages.len() - 1]
        .iter()
        .flatten()
        .map(|(i, a)| format!("{i} {a}\n"))
        .collect();
    let package = package();
    assert!(
        fetch.contains(&format!(
            "RELEASES={}/releases/download",
            package.repository
        )),
        "the Dockerfile downloads from elsewhere than {}",
        package.repository
    );
    assert!(fetch.contains(r#"sha256sum --check "$archive.tar.gz.sha256""#));
    let workflow = release_workflow();
    for (platform, arch) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        assert!(
            fetch.contains(&format!("{platform}) arch={arch} ;;")),
            "{platform}"
        );
        let stem = fetch
            .split("archive=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("archive=\"…\"")
            .replace("${arch}", arch);
        assert_eq!(
            stem,
            archive_stem(&workflow, &format!("{arch}-unknown-linux-musl"))
        );
    }
}

#[test]
fn the_pipeline_in_docs_ci_installs_a_pinned_checked_release_one_run_per_environment() {
    let doc = read("docs/ci.md");
    assert!(
        doc.contains("[docs/json.md](json.md)"),
        "docs/ci.md links docs/json.md"
    );
    assert!(doc.contains("medtech outputs NAME --raw"));
    let block = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```yaml block in docs/ci.md");
    let pipeline = yaml(block);

    assert_eq!(
        pipeline["concurrency"]["group"],
        "medtech-${{ inputs.env || 'dev' }}"
    );
    assert_eq!(pipeline["concurrency"]["cancel-in-progress"], false);
    let job = &pipeline["jobs"]["stack"];
    // The group is per environment only if it is the environment the job runs against.
    assert_eq!(job["env"]["MEDTECH_ENV"], "${{ inputs.env || 'dev' }}");
    let version = job["env"]["MEDTECH_VERSION"]
        .as_str()
        .expect("MEDTECH_VERSION, a quoted or x.y.z version");
    assert!(
        version.split('.').count() == 3
            && version
                .split('.')
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())),
        "MEDTECH_VERSION {version:?} is not a pinned x.y.z"
    );

    let runs: Vec<&str> = steps(job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter().all(|r| !r.contains("cargo ")),
        "the pipeline still compiles medtech"
    );
    let install = script(job, "Install medtech ${{ env.MEDTECH_VERSION }}");
    let package = package();
    let workflow = release_workflow();
    let stem = archive_stem(&workflow, "x86_64-unknown-linux-musl");
    for needed in [
        format!("archive={stem}.tar.gz"),
        format!(
            "base={}/releases/download/v$MEDTECH_VERSION",
            package.repository
        ),
        r#""$base/$archive" "$base/$archive.sha256""#.to_owned(),
        r#"sha256sum --check "$archive.sha256""#.to_owned(),
        format!("install -m 0755 {stem}/medtech"),
    ] {
        assert!(install.contains(&needed), "install step lacks {needed:?}");
    }
}

#[test]
fn the_readme_installs_from_the_same_releases() {
    let readme = read("README.md");
    let package = package();
    let install = readme
        .split("## Install\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("## Install in README.md");
    for needed in [
        format!("base={}/releases/download/v$version", package.repository),
        r#"sha256sum -c "medtech-$target.tar.gz.sha256""#.to_owned(),
        "cargo binstall".to_owned(),
        "docker build --build-arg MEDTECH_VERSION=".to_owned(),
        "cargo install --locked --path .".to_owned(),
    ] {
        assert!(
            install.contains(&needed),
            "README's Install lacks {needed:?}"
        );
    }
    let workflow = release_workflow();
    for target in matrix_targets(&workflow) {
        assert!(install.contains(&target), "README's Install omits {target}");
        assert_eq!(
            archive_stem(&workflow, &target),
            format!("medtech-{target}"),
            "README names archives medtech-$target"
        );
    }
}
