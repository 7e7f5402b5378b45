//! The end-to-end suite: the real `medtech` binary against the emulator, one module per
//! concern. One test binary, so the SDK is linked into tests once.

// Test code: a failed unwrap is a failed assertion, and the crash tests send signals
// (kill(2)) to the binary under test.
#![allow(clippy::unwrap_used, unsafe_code)]

mod common;
mod fingerprint;
mod lookup;
mod policy_doc;
mod runs;
mod sweep;

mod account;
mod alarms;
mod backup;
mod bad_input;
mod conventions;
mod crash;
mod destroy;
mod docs;
mod drift;
mod endpoints;
mod faults;
mod iam;
mod kinesis;
mod kms_secrets;
mod layout;
mod lifecycle;
mod logs;
mod network;
mod network_acl;
mod outputs_cli;
mod outputs_contract;
mod promises;
mod rds;
mod rds_events;
mod redis;
mod release;
mod rendering;
mod rotate;
mod scale;
mod secret_policy;
mod team_bootstrap;
mod team_faults;
mod team_history;
mod team_migrate;
mod team_state;
