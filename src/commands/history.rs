//! `medtech state history` and `state show --version`: the versions of an environment's S3
//! state object, who wrote each, and the state any one of them holds. No lock is taken and no
//! AWS call is made but S3's; the local backend keeps no versions.

use comfy_table::Table;

use crate::cli::{GlobalArgs, OutputMode, StackArgs};
use crate::config::{ConfigError, Settings};
use crate::error::{Error, exit};
use crate::state::history::{self, Version, VersionRead};
use crate::state::s3::S3Store;

/// Versions listed; older ones are counted, not shown.
const SHOWN: usize = 20;

pub(super) async fn run(global: &GlobalArgs) -> Result<u8, Error> {
    let store = open(global, "state history").await?;
    let found = history::list(store.client(), store.location(), store.env(), SHOWN).await?;
    if global.output == OutputMode::Json {
        let text = serde_json::to_string_pretty(&found.versions).map_err(|e| Error::Io {
            path: store.url(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        crate::outln!("{text}");
    } else if found.versions.is_empty() {
        if !global.quiet {
            eprintln!(
                "{} has no versions: no run has written the state of {} to this backend",
                store.url(),
                store.env()
            );
        }
    } else {
        crate::stdout::write(&table(&found.versions));
    }
    if found.older > 0 && !global.quiet {
        eprintln!("({} older versions not shown)", found.older);
    }
    Ok(exit::OK)
}

pub(super) async fn show_version(global: &GlobalArgs, version: &str) -> Result<u8, Error> {
    let pick = |problem: String| ConfigError::new(format!("--version {version:?}"), problem);
    if version.trim().is_empty() {
        return Err(
            pick("is empty; give a version id that `medtech state history` lists".into()).into(),
        );
    }
    let store = open(global, "state show --version").await?;
    let env = store.env();
    let state = match history::read_version(store.client(), store.location(), env, version).await? {
        VersionRead::State(state) => state,
        VersionRead::Unknown => {
            return Err(pick(format!(
                "{} has no such version; `medtech state history --env {env}` lists them",
                store.url()
            ))
            .into());
        }
        VersionRead::DeleteMarker => {
            return Err(pick(format!(
                "marks where the state of {env} was deleted, and holds none; pick a version listed below it by `medtech state history --env {env}`"
            ))
            .into());
        }
    };
    // As `state show` prints the current state.
    let text = serde_json::to_string_pretty(&state).map_err(|e| Error::Io {
        path: store.url(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    crate::outln!("{text}");
    Ok(exit::OK)
}

/// The S3 store of `--env`, its bucket checked; the local backend is refused, having no
/// versions.
async fn open(global: &GlobalArgs, command: &str) -> Result<S3Store, Error> {
    let settings = Settings::resolve(global, &StackArgs::default())?;
    let Some(location) = &settings.state_backend else {
        return Err(ConfigError::new(
            "--state-backend",
            format!(
                "not set: `medtech {command}` reads the versions of an S3 state object, and only the S3 backend keeps versions; pass --state-backend s3://BUCKET/PREFIX (or set MEDTECH_STATE_BACKEND, or [state] backend in medtech.toml)"
            ),
        )
        .into());
    };
    let client = crate::aws::state_client(&settings.aws).await;
    Ok(S3Store::open(client, location.clone(), settings.env().clone()).await?)
}

/// One row a version, newest first; the current one marked.
fn table(versions: &[Version]) -> String {
    let mut table = Table::new();
    table.set_header(["TIME (UTC)", "VERSION", "COMMAND", "HOST", "LOCK ID"]);
    for v in versions {
        let id = if v.latest {
            format!("{} (current)", v.version_id)
        } else {
            v.version_id.clone()
        };
        let time = v.time.format("%Y-%m-%d %H:%M:%S").to_string();
        // A delete marker carries no metadata: who deleted it is not recorded.
        let (command, host, lock_id) = match (&v.written_by, v.deleted) {
            (_, true) => ("deleted (by destroy or migrate)", "", ""),
            (None, false) => ("written outside medtech", "", ""),
            (Some(w), false) => (w.command.as_str(), w.host.as_str(), w.lock_id.as_str()),
        };
        table.add_row([time.as_str(), id.as_str(), command, host, lock_id]);
    }
    crate::table::plain(table)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::state::history::Writer;

    #[test]
    fn the_table_names_each_writer_and_marks_the_current_version() {
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let versions = [
            Version {
                version_id: "m1".into(),
                time: at(30),
                latest: true,
                deleted: true,
                written_by: None,
            },
            Version {
                version_id: "v2".into(),
                time: at(20),
                latest: false,
                deleted: false,
                written_by: None,
            },
            Version {
                version_id: "v1".into(),
                time: at(10),
                latest: false,
                deleted: false,
                written_by: Some(Writer {
                    command: "up".into(),
                    host: "ci-7".into(),
                    lock_id: "3f1c".into(),
                }),
            },
        ];
        let text = table(&versions);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("TIME (UTC)"), "{text}");
        assert!(
            lines[1].contains("m1 (current)") && lines[1].contains("deleted (by destroy"),
            "{text}"
        );
        assert!(lines[2].contains("written outside medtech"), "{text}");
        assert!(
            lines[3].starts_with("2023-11-14 22:13:30")
                && lines[3].contains(" up ")
                && lines[3].ends_with("ci-7  3f1c"),
            "{text}"
        );
    }
}
