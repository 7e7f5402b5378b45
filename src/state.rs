//! The state file `state/<env>.json`: which AWS ids belong to which logical resource. Typed and
//! versioned, written atomically (0600) after every step, with the previous good copy kept as
//! `<env>.json.bak`, and guarded by a lock so two runs cannot interleave. It never holds a
//! secret value: only ids, ARNs and names.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fsutil::write_private_atomic;
use crate::naming::EnvName;

pub(crate) const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub schema_version: u32,
    pub environment: String,
    pub region: String,
    pub account_id: String,
    pub updated_at: DateTime<Utc>,
    pub resources: BTreeMap<String, Record>,
}

/// One logical resource's identity in AWS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Record {
    pub id: String,
    /// Further non-secret identifiers (ARNs, association ids, endpoints).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

impl Record {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            attrs: BTreeMap::new(),
        }
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "{path} is locked by {holder}; wait for that run to finish (a lock held by a process that died is released by the system)"
    )]
    Locked { path: String, holder: String },
    #[error(
        "{path} is not a readable medtech state file ({detail}); it was left untouched: restore {path}.bak, or move it aside and run again to adopt the resources by their tags"
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "{path} has schema version {found}, newer than this medtech understands ({SCHEMA_VERSION}); upgrade medtech"
    )]
    NewerSchema { path: String, found: u32 },
    #[error(
        "{path} belongs to {field} {found:?}, not {expected:?}; point --state-dir elsewhere or use the matching {field}"
    )]
    Mismatch {
        path: String,
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl StateError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl State {
    pub(crate) fn new(env: &EnvName, region: &str, account_id: &str) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            environment: env.to_string(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            updated_at: Utc::now(),
            resources: BTreeMap::new(),
        }
    }
}

/// Paths of one environment's state files.
#[derive(Clone, Debug)]
pub(crate) struct StatePaths {
    pub file: PathBuf,
    pub backup: PathBuf,
    pub lock: PathBuf,
}

impl StatePaths {
    pub(crate) fn new(dir: &Path, env: &EnvName) -> Self {
        Self {
            file: dir.join(format!("{env}.json")),
            backup: dir.join(format!("{env}.json.bak")),
            lock: dir.join(format!("{env}.lock")),
        }
    }

    /// Reads the state without checking whose it is (for `outputs` and tests).
    pub(crate) fn read(&self) -> Result<Option<State>, StateError> {
        let text = match fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(&self.file, e)),
        };
        let shown = self.file.display().to_string();
        // Read the version first, so a newer file is named as such rather than as corrupt.
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        if version.schema_version > SCHEMA_VERSION {
            return Err(StateError::NewerSchema {
                path: shown,
                found: version.schema_version,
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: shown,
                detail: e.to_string(),
            })
    }

    /// Reads the state and refuses one that belongs to another environment, region or account.
    pub(crate) fn load(
        &self,
        env: &EnvName,
        region: &str,
        account_id: &str,
    ) -> Result<Option<State>, StateError> {
        let Some(state) = self.read()? else {
            return Ok(None);
        };
        let path = self.file.display().to_string();
        for (field, expected, found) in [
            ("environment", env.as_str(), state.environment.as_str()),
            ("region", region, state.region.as_str()),
            ("account", account_id, state.account_id.as_str()),
        ] {
            if expected != found {
                return Err(StateError::Mismatch {
                    path,
                    field,
                    expected: expected.to_owned(),
                    found: found.to_owned(),
                });
            }
        }
        Ok(Some(state))
    }

    /// Atomically replaces the state file, keeping the previous one as the backup.
    pub(crate) fn save(&self, state: &State) -> Result<(), StateError> {
        let mut json = serde_json::to_vec_pretty(state).map_err(|e| {
            StateError::io(&self.file, io::Error::new(io::ErrorKind::InvalidData, e))
        })?;
        json.push(b'\n');
        match fs::read(&self.file) {
            Ok(previous) => write_private_atomic(&self.backup, &previous)
                .map_err(|e| StateError::io(&self.backup, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::io(&self.file, e)),
        }
        write_private_atomic(&self.file, &json).map_err(|e| StateError::io(&self.file, e))
    }

    /// Removes the state and its backup (after a complete `destroy`).
    pub(crate) fn clear(&self) -> Result<(), StateError> {
        for path in [&self.file, &self.backup] {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::io(path, e)),
            }
        }
        Ok(())
    }
}

/// Who holds a lock; written into the lock file so a blocked run can name it.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    command: String,
    started_at: DateTime<Utc>,
}

/// An exclusive advisory lock on one environment's state, released when dropped or when the
/// process dies (the kernel drops `flock` locks with the file descriptor, so a crashed run
/// never leaves a lock behind on a local disk).
#[derive(Debug)]
pub(crate) struct StateLock {
    _file: File,
}

impl StateLock {
    pub(crate) fn acquire(paths: &StatePaths, command: &str) -> Result<Self, StateError> {
        let path = &paths.lock;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| StateError::io(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode_private()
            .open(path)
            .map_err(|e| StateError::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str::<Holder>(&text)
                    .map(|h| {
                        format!(
                            "pid {} on {} (medtech {}, started {})",
                            h.pid,
                            h.host,
                            h.command,
                            h.started_at.format("%Y-%m-%d %H:%M:%S UTC")
                        )
                    })
                    .unwrap_or_else(|_| "another medtech run".to_owned());
                return Err(StateError::Locked {
                    path: paths.file.display().to_string(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(StateError::io(path, e)),
        }
        let holder = Holder {
            pid: std::process::id(),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown host".into()),
            command: command.to_owned(),
            started_at: Utc::now(),
        };
        let body = serde_json::to_vec(&holder)
            .map_err(|e| StateError::io(path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let write = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&body))
            .and_then(|()| file.sync_all());
        write.map_err(|e| StateError::io(path, e))?;
        Ok(Self { _file: file })
    }
}

trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvName {
        EnvName::parse("dev").unwrap()
    }

    fn sample() -> State {
        let mut state = State::new(&env(), "us-east-1", "123456789012");
        state.resources.insert(
            "vpc".into(),
            Record::new("vpc-1").with("cidr", "10.0.0.0/16"),
        );
        state
    }

    #[test]
    fn round_trips_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path(), &env());
        assert!(
            paths
                .load(&env(), "us-east-1", "123456789012")
                .unwrap()
                .is_none()
        );
        let first = sample();
        paths.save(&first).unwrap();
        let mut second = first.clone();
        second.resources.insert("igw".into(), Record::new("igw-1"));
        paths.save(&second).unwrap();
        assert_eq!(
            paths.load(&env(), "us-east-1", "123456789012").unwrap(),
            Some(second)
        );
        let backup: State = serde_json::from_slice(&fs::read(&paths.backup).unwrap()).unwrap();
        assert_eq!(backup, first);
    }

    #[test]
    fn refuses_corrupt_newer_and_foreign_state_without_touching_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path(), &env());

        fs::write(&paths.file, "{ not json").unwrap();
        let err = paths.load(&env(), "us-east-1", "1").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read_to_string(&paths.file).unwrap(), "{ not json");

        let mut newer = serde_json::to_value(sample()).unwrap();
        newer["schema_version"] = 99.into();
        fs::write(&paths.file, newer.to_string()).unwrap();
        let err = paths.load(&env(), "us-east-1", "123456789012").unwrap_err();
        assert!(
            matches!(err, StateError::NewerSchema { found: 99, .. }),
            "{err}"
        );

        paths.save(&sample()).unwrap();
        let mismatched = |region, account| match paths.load(&env(), region, account) {
            Err(StateError::Mismatch { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(mismatched("eu-west-1", "123456789012"), "region");
        assert_eq!(mismatched("us-east-1", "999999999999"), "account");
    }

    #[test]
    fn second_lock_names_the_holder_and_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path(), &env());
        let held = StateLock::acquire(&paths, "up").unwrap();
        let err = StateLock::acquire(&paths, "destroy").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("medtech up"), "{text}");
        drop(held);
        StateLock::acquire(&paths, "destroy").unwrap();
    }
}
