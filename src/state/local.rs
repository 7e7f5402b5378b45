//! The local backend: `state/<env>.json`, written atomically (0600) after every step with the
//! previous good copy kept as `<env>.json.bak`, and an OS file lock beside it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{Holder, State, StateError};
use crate::fsutil::write_private_atomic;
use crate::naming::EnvName;

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

    /// Reads the state without checking whose it is (`State::check_owner` does).
    pub(crate) fn read(&self) -> Result<Option<State>, StateError> {
        let text = match fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(&self.file, e)),
        };
        State::parse(&text, &self.file.display().to_string()).map(Some)
    }

    /// Atomically replaces the state file, keeping the previous one as the backup.
    pub(crate) fn save(&self, state: &State) -> Result<(), StateError> {
        let json = state
            .to_json()
            .map_err(|e| StateError::unserializable(self.file.display(), e))?;
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
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "another medtech run".to_owned());
                return Err(StateError::Locked {
                    path: paths.file.display().to_string(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(StateError::io(path, e)),
        }
        let holder = Holder::this_process(command, Utc::now());
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
    use crate::state::Record;
    use crate::state::testing::env;

    /// What a session does with the file: read it, then check whose it is.
    fn load(paths: &StatePaths, region: &str, account: &str) -> Result<Option<State>, StateError> {
        let state = paths.read()?;
        if let Some(state) = &state {
            state.check_owner(&paths.file.display().to_string(), &env(), region, account)?;
        }
        Ok(state)
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
        assert!(load(&paths, "us-east-1", "123456789012").unwrap().is_none());
        let first = sample();
        paths.save(&first).unwrap();
        let mut second = first.clone();
        second.resources.insert("igw".into(), Record::new("igw-1"));
        paths.save(&second).unwrap();
        assert_eq!(
            load(&paths, "us-east-1", "123456789012").unwrap(),
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
        let err = load(&paths, "us-east-1", "1").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "restore {}.bak, or move it aside",
                paths.file.display()
            )),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&paths.file).unwrap(), "{ not json");

        let mut newer = serde_json::to_value(sample()).unwrap();
        newer["schema_version"] = 99.into();
        fs::write(&paths.file, newer.to_string()).unwrap();
        let err = load(&paths, "us-east-1", "123456789012").unwrap_err();
        assert!(
            matches!(err, StateError::NewerSchema { found: 99, .. }),
            "{err}"
        );

        paths.save(&sample()).unwrap();
        let mismatched = |region, account| match load(&paths, region, account) {
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
        assert!(text.contains("released by the system"), "{text}");
        drop(held);
        StateLock::acquire(&paths, "destroy").unwrap();
    }
}
