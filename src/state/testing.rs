//! Fixtures the state tests share: the environment they keep state for, and a state small
//! enough that two of them are told apart by one id.

use super::{Record, State};
use crate::naming::EnvName;

pub(crate) fn env() -> EnvName {
    EnvName::parse("dev").unwrap()
}

/// A state of `env()` holding one VPC, `vpc`, stamped with a fixed time so that two built
/// alike compare equal.
pub(crate) fn with_vpc(vpc: &str) -> State {
    let mut state = State::new(&env(), "us-east-1", "123456789012");
    state.updated_at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    state.resources.insert("vpc".into(), Record::new(vpc));
    state
}
